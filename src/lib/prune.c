#include "prune.h"
#include "error.h"
#include "fsx.h"
#include "lifecycle.h"
#include "runner.h"
#include "timefmt.h"
#include "xalloc.h"

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

/* remove one archive; its token directory too once it is empty */
static int prune_one(struct ns_runner *r, const struct ns_env *e, json_t *row,
		     const char *base, struct tally *t)
{
	const char *dir = ns_row_str(row, "rundir");
	const char *last = ns_row_str(row, "last");
	long long enh = json_integer_value(json_object_get(row, "enhancement"));
	int rev = (int)json_integer_value(json_object_get(row, "revision"));
	char *size, *detail, *parent, *slash;
	struct stat st;
	long long freed;
	int ret = 0;

	if (!inside(dir, base)) {
		ns_runner_tell(
			r, 1,
			"%s: not pruned: %s (ENH-%lld r%d) is not below the "
			"environment's archive %s (was [paths] archive moved?)",
			e->name, dir, enh, rev, base);
		return NS_EFAILED;
	}
	if (lstat(dir, &st) < 0) {
		if (errno == ENOENT)
			return 0; /* gone already */
		ns_runner_tell(r, 1, "%s: not pruned: %s: %s", e->name, dir,
			       strerror(errno));
		return NS_EFAILED;
	}
	if (!S_ISDIR(st.st_mode)) {
		ns_runner_tell(
			r, 1,
			"%s: not pruned: %s (ENH-%lld r%d) is not a directory",
			e->name, dir, enh, rev);
		return NS_EFAILED;
	}
	freed = freed_by(dir);
	size = size_text(freed);
	if (!r->dry_run && ns_fsx_remove_tree(dir) < 0) {
		ns_runner_tell(r, 1, "%s: not pruned: %s", e->name,
			       ns_error_last());
		free(size);
		return NS_EFAILED;
	}
	if (!r->dry_run) {
		parent = xstrdup(dir);
		if ((slash = strrchr(parent, '/')) &&
		    (size_t)(slash - parent) > strlen(base)) {
			*slash = '\0';
			rmdir(parent); /* another site's may still be there */
		}
		free(parent);
		detail = xprintf("%s, last run finished %s (%s freed)", dir,
				 last, size);
		ret = ns_registry_event(r->reg, r->user, enh, rev, e->name,
					"archive-pruned", detail);
		free(detail);
	}
	ns_runner_tell(r, 0,
		       "%s: %s %s (ENH-%lld r%d, last run finished %s; %s%s)",
		       e->name, r->dry_run ? "would remove" : "removed", dir,
		       enh, rev, last, size, r->dry_run ? "" : " freed");
	t->removed++;
	t->freed += freed;
	free(size);
	return ret < 0 ? NS_ERROR : 0;
}

int ns_prune_env(struct ns_runner *r, const struct ns_env *e)
{
	char cut[NS_TIME_LEN], *base, *size;
	json_t *needed, *rows = NULL, *row;
	struct tally t = { 0 };
	size_t i;
	int ret, worst = 0;

	if (r->cfg->archive_keep_s < 0) {
		ns_runner_tell(
			r, 0,
			"%s: [policy] archive-keep = forever: nothing pruned",
			e->name);
		return 0;
	}
	ns_time_iso(cut, ns_now() - (time_t)r->cfg->archive_keep_s);
	needed = json_object();
	ret = needed_dirs(r, e, needed);
	/* an unfinished run sorts after every time: never older */
	if (!ret)
		ret = ns_registry_query(
			r->reg, &rows,
			"SELECT rs.rundir AS rundir, MIN(r.enhancement) AS "
			"enhancement, MIN(r.revision) AS revision, "
			"MAX(COALESCE(r.finished_at, '~')) AS last FROM "
			"run_sites rs JOIN runs r ON r.id = rs.run WHERE "
			"r.environment = ? AND rs.rundir IS NOT NULL GROUP BY "
			"rs.rundir ORDER BY MIN(r.id)",
			"s", e->name);
	base = ns_env_dir(r->cfg->archive, e);
	json_array_foreach(rows, i, row)
	{
		const char *dir = ns_row_str(row, "rundir");
		int rc;

		if (ret < 0)
			break;
		if (json_object_get(needed, dir)) {
			t.kept++;
			continue;
		}
		if (strcmp(ns_row_str(row, "last"), cut) >= 0) {
			t.young++;
			continue;
		}
		rc = prune_one(r, e, row, base, &t);
		if (rc == NS_ERROR)
			ret = rc;
		else if (rc < 0)
			worst = rc;
	}
	if (!ret) {
		size = size_text(t.freed);
		ns_runner_tell(
			r, 0,
			"%s: %zu archive%s %s (%s %s); %zu kept for a "
			"rollback; "
			"%zu with a run since %s ([policy] archive-keep)",
			e->name, t.removed, t.removed == 1 ? "" : "s",
			r->dry_run ? "to remove" : "removed", size,
			r->dry_run ? "to free" : "freed", t.kept, t.young, cut);
		free(size);
	}
	json_decref(needed);
	json_decref(rows);
	free(base);
	return ret < 0 ? ret : worst;
}
