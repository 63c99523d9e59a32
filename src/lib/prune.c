#include "prune.h"
#include "error.h"
#include "fsx.h"
#include "lifecycle.h"
#include "runner.h"
#include "timefmt.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tally {
	size_t removed, kept, young;
	long long freed;
};

/* "12.3 MiB", "4.0 KiB", "512 bytes" */
static char *size_text(long long n)
{
	if (n >= 1024LL * 1024 * 1024)
		return xprintf("%.1f GiB", (double)n / (1024.0 * 1024 * 1024));
	if (n >= 1024LL * 1024)
		return xprintf("%.1f MiB", (double)n / (1024.0 * 1024));
	if (n >= 1024)
		return xprintf("%.1f KiB", (double)n / 1024.0);
	return xprintf("%lld bytes", n);
}

/* what removing a tree frees: the files that have no other name (an
 * archived file still in the site shares its inode with it) */
static long long walked;

static int add_size(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F && S_ISREG(st->st_mode) && st->st_nlink == 1)
		walked += st->st_size;
	return 0;
}

static long long freed_by(const char *dir)
{
	walked = 0;
	nftw(dir, add_size, 16, FTW_PHYS);
	return walked;
}

/* the archives a rollback may still take: of each enhancement that may be
 * backed out of e (which covers the acceptance test's refusal), those of
 * its latest migration there — as `rollback` picks them */
static int needed_dirs(struct ns_runner *r, const struct ns_env *e, json_t *set)
{
	json_t *runs = NULL, *dirs = NULL, *row, *d;
	size_t i, k;
	int ret = ns_registry_query(r->reg, &runs,
				    "SELECT enhancement, MAX(id) AS run FROM "
				    "runs WHERE environment = ? AND kind = "
				    "'migrate' AND outcome = 'migrated' GROUP "
				    "BY enhancement",
				    "s", e->name);

	json_array_foreach(runs, i, row)
	{
		long long enh =
			json_integer_value(json_object_get(row, "enhancement"));
		int rc;

		if (ret < 0)
			break;
		rc = ns_lifecycle_check(r->reg, enh, "back-out", e->name);
		if (rc == NS_EFAILED)
			continue; /* nothing can back it out of e any more */
		if ((ret = rc) < 0)
			break;
		ret = ns_registry_query(
			r->reg, &dirs,
			"SELECT rundir FROM run_sites WHERE "
			"run = ? AND rundir IS NOT NULL",
			"I", json_integer_value(json_object_get(row, "run")));
		json_array_foreach(dirs, k, d) json_object_set_new(
			set, json_string_value(json_object_get(d, "rundir")),
			json_true());
		json_decref(dirs);
		dirs = NULL;
	}
	json_decref(runs);
	return ret;
}

/* below the environment's archive directory, without a step up or aside */
static int inside(const char *dir, const char *base)
{
	size_t n = strlen(base);

	return !strncmp(dir, base, n) && dir[n] == '/' && dir[n + 1] &&
	       !strstr(dir + n, "/.") && !strstr(dir + n, "//") &&
	       dir[strlen(dir) - 1] != '/';
}

/* what is pruned: the archives of runs, the trigger files that ran */
struct kind {
	const char *noun;  /* "archive" */
	const char *held;  /* what keeps one: "kept for a rollback" */
	const char *where; /* "[paths] archive" */
	const char *event; /* the audit event */
	mode_t type;	   /* S_IFDIR, S_IFREG */
};

static const struct kind archives = { "archive", "kept for a rollback",
				      "[paths] archive", "archive-pruned",
				      S_IFDIR };
static const struct kind triggers = { "trigger file", "waiting to run",
				      "[paths] spool", "trigger-pruned",
				      S_IFREG };

/* remove one archive (its token directory too once it is empty) or one
 * trigger file */
static int prune_one(struct ns_runner *r, const struct ns_env *e, json_t *row,
		     const char *base, const struct kind *k, struct tally *t)
{
	const char *path = ns_row_str(row, "path");
	const char *last = ns_row_str(row, "last");
	long long enh = json_integer_value(json_object_get(row, "enhancement"));
	int rev = (int)json_integer_value(json_object_get(row, "revision"));
	char *size, *detail, *parent, *slash;
	struct stat st;
	long long freed;
	int ret = 0;

	if (!inside(path, base)) {
		ns_runner_tell(r, 1,
			       "%s: not pruned: %s (ENH-%lld r%d) is not below "
			       "the environment's %s %s (was %s moved?)",
			       e->name, path, enh, rev, k->where, base,
			       k->where);
		return NS_EFAILED;
	}
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0; /* gone already */
		ns_runner_tell(r, 1, "%s: not pruned: %s: %s", e->name, path,
			       strerror(errno));
		return NS_EFAILED;
	}
	if ((st.st_mode & S_IFMT) != k->type) {
		ns_runner_tell(
			r, 1, "%s: not pruned: %s (ENH-%lld r%d) is not a %s",
			e->name, path, enh, rev,
			k->type == S_IFDIR ? "directory" : "regular file");
		return NS_EFAILED;
	}
	freed = freed_by(path);
	size = size_text(freed);
	if (!r->dry_run && ns_fsx_remove_tree(path) < 0) {
		ns_runner_tell(r, 1, "%s: not pruned: %s", e->name,
			       ns_error_last());
		free(size);
		return NS_EFAILED;
	}
	if (!r->dry_run) {
		parent = xstrdup(path);
		if ((slash = strrchr(parent, '/')) &&
		    (size_t)(slash - parent) > strlen(base)) {
			*slash = '\0';
			rmdir(parent); /* another site's may still be there */
		}
		free(parent);
		detail = xprintf("%s, last run finished %s (%s freed)", path,
				 last, size);
		ret = ns_registry_event(r->reg, r->user, enh, rev, e->name,
					k->event, detail);
		free(detail);
	}
	ns_runner_tell(r, 0,
		       "%s: %s %s (ENH-%lld r%d, last run finished %s; %s%s)",
		       e->name, r->dry_run ? "would remove" : "removed", path,
		       enh, rev, last, size, r->dry_run ? "" : " freed");
	t->removed++;
	t->freed += freed;
	free(size);
	return ret < 0 ? NS_ERROR : 0;
}

/* rows of path, enhancement, revision, last (the finish of the last run
 * that used it; '~', after every time, while one is unfinished) and held
 * (nonzero: kept whatever its age) */
static int prune_rows(struct ns_runner *r, const struct ns_env *e,
		      const struct kind *k, json_t *rows, const char *cut)
{
	char *base = ns_env_dir(
		     k->type == S_IFDIR ? r->cfg->archive : r->cfg->spool, e),
	     *size;
	struct tally t = { 0 };
	json_t *row;
	size_t i;
	int ret = 0, worst = 0;

	json_array_foreach(rows, i, row)
	{
		int rc;

		if (json_integer_value(json_object_get(row, "held"))) {
			t.kept++;
			continue;
		}
		if (strcmp(ns_row_str(row, "last"), cut) >= 0) {
			t.young++;
			continue;
		}
		rc = prune_one(r, e, row, base, k, &t);
		if (rc == NS_ERROR) {
			ret = rc;
			break;
		}
		if (rc < 0)
			worst = rc;
	}
	if (!ret) {
		size = size_text(t.freed);
		ns_runner_tell(r, 0,
			       "%s: %zu %s%s %s (%s %s); %zu %s; %zu with a "
			       "run since %s ([policy] archive-keep)",
			       e->name, t.removed, k->noun,
			       t.removed == 1 ? "" : "s",
			       r->dry_run ? "to remove" : "removed", size,
			       r->dry_run ? "to free" : "freed", t.kept,
			       k->held, t.young, cut);
		free(size);
	}
	free(base);
	return ret < 0 ? ret : worst;
}

/* NS_ERROR stops the pruning; NS_EFAILED (something not removed) is
 * remembered in *worst and the pruning goes on */
static int prune_kind(struct ns_runner *r, const struct ns_env *e,
		      const struct kind *k, json_t *rows, const char *cut,
		      int *worst)
{
	int rc = prune_rows(r, e, k, rows, cut);

	if (rc == NS_ERROR)
		return rc;
	if (rc < 0)
		*worst = rc;
	return 0;
}

/* the trigger files in the environment's spool that no trigger of the
 * registry names: a `schedule` stopped between writing one and recording
 * it leaves one. None of them runs and none is pruned: the person is told
 * they are there. */
static int tell_strays(struct ns_runner *r, const struct ns_env *e)
{
	char *dir = ns_env_dir(r->cfg->spool, e);
	json_t *known = json_object(), *rows = NULL, *row;
	DIR *d = NULL;
	struct dirent *de;
	size_t i;
	int ret = ns_registry_query(
		r->reg, &rows,
		"SELECT DISTINCT path FROM triggers WHERE environment = ?", "s",
		e->name);

	if (!ret)
		d = opendir(dir);
	json_array_foreach(rows, i, row)
	{
		json_object_set_new(known, ns_row_str(row, "path"),
				    json_true());
	}
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char *path;

		if (n <= 8 || strcmp(de->d_name + n - 8, ".trigger"))
			continue;
		path = xprintf("%s/%s", dir, de->d_name);
		if (!json_object_get(known, path))
			ns_runner_tell(r, 0,
				       "%s: %s: no trigger in the registry "
				       "names it, so it never runs: left "
				       "alone (a schedule stopped before it "
				       "recorded it leaves one; scheduling "
				       "that enhancement again writes it "
				       "anew, or remove it by hand)",
				       e->name, path);
		free(path);
	}
	if (d)
		closedir(d);
	json_decref(known);
	json_decref(rows);
	free(dir);
	return ret;
}

int ns_prune_env(struct ns_runner *r, const struct ns_env *e)
{
	char cut[NS_TIME_LEN];
	json_t *needed, *rows = NULL, *row;
	size_t i;
	int ret, worst = 0;

	if (r->cfg->archive_keep_s < 0) {
		ns_runner_tell(
			r, 0,
			"%s: [policy] archive-keep = forever: nothing pruned",
			e->name);
		return tell_strays(r, e);
	}
	ns_time_iso(cut, ns_now() - (time_t)r->cfg->archive_keep_s);
	needed = json_object();
	ret = needed_dirs(r, e, needed);
	if (!ret)
		ret = ns_registry_query(
			r->reg, &rows,
			"SELECT rs.rundir AS path, MIN(r.enhancement) AS "
			"enhancement, MIN(r.revision) AS revision, "
			"MAX(COALESCE(r.finished_at, '~')) AS last FROM "
			"run_sites rs JOIN runs r ON r.id = rs.run WHERE "
			"r.environment = ? AND rs.rundir IS NOT NULL GROUP BY "
			"rs.rundir ORDER BY MIN(r.id)",
			"s", e->name);
	json_array_foreach(rows, i, row)
		json_object_set_new(row, "held",
				    json_integer(!!json_object_get(
					    needed, ns_row_str(row, "path"))));
	if (!ret)
		ret = prune_kind(r, e, &archives, rows, cut, &worst);
	json_decref(rows);
	rows = NULL;
	/*
	 * A trigger file is read by its run only. Its name is that of the
	 * enhancement, revision and environment kind, and a trigger made
	 * again for them is written under it: a name is held while any
	 * trigger of it waits or runs. The age is that of its last run, or
	 * of its making when it never ran (withdrawn).
	 */
	if (!ret)
		ret = ns_registry_query(
			r->reg, &rows,
			"SELECT t.path AS path, MIN(t.enhancement) AS "
			"enhancement, MAX(t.revision) AS revision, "
			"MAX(COALESCE((SELECT MAX(COALESCE(finished_at, '~')) "
			"FROM runs WHERE trigger = t.id), t.created_at)) AS "
			"last, SUM(t.state IN ('pending', 'running')) AS held "
			"FROM triggers t WHERE t.environment = ? GROUP BY "
			"t.path ORDER BY MIN(t.id)",
			"s", e->name);
	if (!ret)
		ret = prune_kind(r, e, &triggers, rows, cut, &worst);
	if (!ret)
		ret = tell_strays(r, e);
	json_decref(needed);
	json_decref(rows);
	return ret < 0 ? ret : worst;
}
