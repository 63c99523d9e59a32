#include "migrate.h"
#include "archive.h"
#include "error.h"
#include "hashq.h"
#include "journal.h"
#include "par.h"
#include "reaper.h"
#include "step.h"
#include "target.h"
#include "timefmt.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct run {
	struct ns_plan plan;
	struct ns_root root;
	struct ns_target *db;
	char *rundir, *journal;
	const struct ns_trigger *t; /* NULL in recovery */
	long long start;
	int cause; /* the code of what made the run fail */
	/* transaction = none: the journal says AUTOCOMMIT, the database may
	 * be changed although the commit point has not passed */
	int unshielded;
	/* a backout: the paths found as before the run, not as it left them
	 * (a person put them back by hand) */
	size_t by_hand;
};

#define RUN_INIT                                                               \
	{                                                                      \
		NS_PLAN_INIT, NS_ROOT_INIT, NULL, NULL, NULL, NULL, 0, 0, 0, 0 \
	}

static void run_release(struct run *r)
{
	ns_plan_release(&r->plan);
	ns_fsx_root_release(&r->root);
	ns_target_free(r->db);
	free(r->rundir);
	free(r->journal);
}

void ns_outcome_release(struct ns_outcome *o)
{
	free(o->message);
	free(o->token);
	free(o->enhancement);
	free(o->environment);
	free(o->site);
	free(o->rundir);
	free(o->journal);
	memset(o, 0, sizeof(*o));
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static int finish(struct ns_outcome *out, struct run *r,
		  enum ns_outcome_kind kind, int code, const char *msg)
{
	out->kind = kind;
	out->code = code;
	free(out->message);
	out->message = xstrdup(msg);
	if (r->plan.token) {
		free(out->token);
		free(out->enhancement);
		free(out->environment);
		free(out->site);
		out->token = xstrdup(r->plan.token);
		out->enhancement = xstrdup(r->plan.enhancement);
		out->environment = xstrdup(r->plan.environment);
		out->site = xstrdup(r->plan.site);
		out->revision = r->plan.revision;
	}
	free(out->rundir);
	free(out->journal);
	out->rundir = dup_or_null(r->rundir);
	/* a run that failed before its journal existed has none to retire */
	out->journal = r->journal && access(r->journal, F_OK) == 0
			       ? xstrdup(r->journal)
			       : NULL;
	out->ms = ns_mono_ms() - r->start;
	return code;
}

/* ---- building the plan and checking the target ---------------------- */

static size_t plan_index(const struct ns_plan *p, const char *path);

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct ns_plan_file *)a)->path,
		      ((const struct ns_plan_file *)b)->path);
}

static void add_file(struct ns_plan *p, size_t *alloc, const char *path,
		     enum ns_op op)
{
	struct ns_plan_file *f;

	ALLOC_GROW(p->files, p->nr, *alloc);
	f = &p->files[p->nr++];
	memset(f, 0, sizeof(*f));
	f->path = xstrdup(path);
	f->op = op;
}

/* a delete may name a directory, which must then be emptied: nothing may
 * be put below a path deleted (the plan is in path order, so what is
 * below a path follows it) */
static int below_deleted(const struct ns_plan *p)
{
	for (size_t i = 0; i < p->nr; i++) {
		const char *d = p->files[i].path;
		size_t n = strlen(d);

		if (p->files[i].op != NS_OP_DELETE)
			continue;
		for (size_t k = i + 1;
		     k < p->nr && !strncmp(p->files[k].path, d, n) &&
		     p->files[k].path[n] <= '/';
		     k++)
			if (p->files[k].path[n] == '/' &&
			    p->files[k].op == NS_OP_PUT) {
				ns_error_set("[files] delete '%s': the "
					     "enhancement puts '%s' below it",
					     d, p->files[k].path);
				return NS_EINVALID;
			}
	}
	return 0;
}

static int plan_files(struct ns_plan *p, const struct ns_trigger *t,
		      size_t max_path)
{
	size_t alloc = 0;
	int ret;

	for (size_t i = 0; i < t->nr; i++) {
		const struct ns_member *m = &t->members[i];
		if (strncmp(m->path, "files/", 6))
			continue;
		if ((ret = ns_path_check(m->path, m->path + 6, max_path)) < 0)
			return ret;
		add_file(p, &alloc, m->path + 6, NS_OP_PUT);
		memcpy(p->files[p->nr - 1].sha256, m->sha256, NS_HEX_LEN + 1);
		p->files[p->nr - 1].mode = m->mode;
		p->files[p->nr - 1].size = m->size;
	}
	for (size_t i = 0; i < t->manifest.deletes_nr; i++) {
		const char *d = t->manifest.deletes[i];
		if ((ret = ns_path_check("[files] delete", d, max_path)) < 0)
			return ret;
		add_file(p, &alloc, d, NS_OP_DELETE);
	}
	if (p->nr)
		qsort(p->files, p->nr, sizeof(*p->files), cmp_file);
	for (size_t i = 1; i < p->nr; i++)
		if (!strcmp(p->files[i].path, p->files[i - 1].path)) {
			ns_error_set("%s: both replaced and deleted",
				     p->files[i].path);
			return NS_EINVALID;
		}
	return below_deleted(p);
}

static int make_plan(struct run *r, const struct ns_trigger *t,
		     const struct ns_site *site,
		     const struct ns_migrate_ctx *ctx)
{
	struct ns_plan *p = &r->plan;
	const char *cmds[2] = { t->manifest.verify_command, ctx->env_verify };

	p->token = xstrdup(ctx->token);
	p->enhancement = xstrdup(t->id);
	p->revision = t->revision;
	memcpy(p->payload_sha256, t->payload_sha256, NS_HEX_LEN + 1);
	p->environment = xstrdup(ctx->env_name);
	p->site = xstrdup(site->name);
	p->root = xstrdup(site->root);
	p->database = dup_or_null(site->database);
	p->user = xstrdup(ctx->user);
	p->revert_sql = dup_or_null(t->revert_sql);
	p->verify = xcalloc(2, sizeof(*p->verify));
	for (size_t i = 0; i < 2; i++)
		if (cmds[i] && *cmds[i])
			p->verify[p->verify_nr++] = xstrdup(cmds[i]);
	p->verify_timeout_ms = site->verify_timeout_ms;
	if (t->deploy_sql && !t->revert_sql) {
		ns_error_set("%s: sql/deploy.sql without sql/revert.sql",
			     t->path);
		return NS_EINVALID;
	}
	if ((t->deploy_sql || t->verify_sql) && !site->database) {
		ns_error_set("%s: the enhancement has SQL but site '%s' has "
			     "no database",
			     t->id, site->name);
		return NS_EINVALID;
	}
	/* without deploy SQL the mode changes nothing */
	p->tx_none = t->manifest.transaction == NS_TX_NONE && t->deploy_sql;
	if (p->tx_none && !strncmp(site->database, "sqlite:", 7)) {
		ns_error_set("%s: enhancement.ini: transaction = none needs a "
			     "PostgreSQL database; site '%s' has %s",
			     t->id, site->name, site->database);
		return NS_EINVALID;
	}
	return plan_files(p, t, ctx->max_path);
}

/* what the drift check's first look knows of the directories added
 * files need: the list's allocation, and the last added file looked at */
struct dirs_seen {
	size_t alloc;
	const char *prev;
};

/* the directories an added file needs that are not there yet. The plan
 * is in path order, so the files below one directory come one after
 * another: the directories path shares with the added file looked at
 * before it were looked at then, and are not looked for again (searching
 * the list for each cost n² at 100,000 files). */
static int want_mkdirs(struct ns_plan *p, struct dirs_seen *seen,
		       const struct ns_root *root, const char *path)
{
	size_t shared = 0; /* path[0, shared) ends with a directory seen */

	for (size_t i = 0; seen->prev && path[i] && path[i] == seen->prev[i];
	     i++)
		if (path[i] == '/')
			shared = i + 1;
	seen->prev = path;
	for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		char *dir;
		struct stat st;
		int ret;

		if ((size_t)(s - path) < shared)
			continue;
		dir = xstrndup(path, (size_t)(s - path));
		ret = ns_fsx_stat(&st, root, dir);
		if (ret == 0 && !S_ISDIR(st.st_mode)) {
			ns_error_set("%s/%s: not a directory in the target, "
				     "but the enhancement puts '%s' below it",
				     root->path, dir, path);
			ret = NS_EINVALID;
		}
		if (ret == 1) {
			ALLOC_GROW(p->mkdirs, p->mkdirs_nr, seen->alloc);
			p->mkdirs[p->mkdirs_nr++] = dir;
			dir = NULL;
			ret = 0;
		}
		free(dir);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* a directory to delete holds nothing the enhancement does not delete */
struct emptying {
	const struct ns_plan *p;
	const struct ns_root *root;
	const char *dir;
};

static int deleted_too(void *ctx, const char *name)
{
	struct emptying *e = ctx;
	char *in = xprintf("%s/%s", e->dir, name);
	size_t i = plan_index(e->p, in);
	int ret = 0;

	if (i == (size_t)-1 || e->p->files[i].op != NS_OP_DELETE) {
		ns_error_set("%s/%s: drift: the directory to delete holds "
			     "'%s', which the enhancement does not delete",
			     e->root->path, e->dir, name);
		ret = NS_EDRIFT;
	}
	free(in);
	return ret;
}

static int emptied(const struct ns_plan *p, const struct ns_root *root,
		   const struct ns_plan_file *f)
{
	struct emptying e = { p, root, f->path };

	return ns_fsx_each_entry(root, f->path, deleted_too, &e);
}

/* the first look at a file: present as the plan needs it, a regular file
 * or absent; *hash set when its content must be compared with the base */
static int drift_stat(struct ns_plan *p, struct dirs_seen *seen,
		      const struct ns_root *root, struct ns_plan_file *f,
		      const char *base, int *hash)
{
	struct stat st;
	int ret = ns_fsx_stat(&st, root, f->path);

	*hash = 0;
	if (ret < 0)
		return ret;
	if (ret == 1) {
		if (f->op == NS_OP_DELETE || base) {
			ns_error_set("%s/%s: drift: %s, but it is absent",
				     root->path, f->path,
				     base ? "the enhancement has a base for it"
					  : "to be deleted");
			return NS_EDRIFT;
		}
		return want_mkdirs(p, seen, root, f->path);
	}
	if (S_ISDIR(st.st_mode) && f->op == NS_OP_DELETE && !base) {
		f->dir = 1;
		return emptied(p, root, f);
	}
	if (!S_ISREG(st.st_mode)) {
		ns_error_set("%s/%s: not a regular file in the target%s",
			     root->path, f->path,
			     S_ISDIR(st.st_mode) ? " but a directory" : "");
		return NS_EINVALID;
	}
	*hash = base != NULL;
	return 0;
}

/* the files with a base hashed on the second core as the first look goes
 * on, then on both (par.h): reading and hashing them is most of the drift
 * check's time, and changes nothing. What was hashed is noted in each
 * file's seen: the archive reuses the hash when it links the same,
 * unchanged file. */
struct hasher {
	struct run *r;
	char (*now)[NS_HEX_LEN + 1];
	int *rc;
};

static void hash_based(void *ctx, size_t i)
{
	struct hasher *h = ctx;
	struct ns_plan_file *f = &h->r->plan.files[i];

	h->rc[i] = ns_fsx_hash_seen(h->now[i], &f->seen, &h->r->root, f->path);
}

static int check_drift(struct run *r)
{
	struct ns_plan *p = &r->plan;
	struct dirs_seen seen = { 0, NULL };
	size_t nr = p->nr ? p->nr : 1;
	unsigned char *want = xcalloc(nr, 1);
	char(*now)[NS_HEX_LEN + 1] = xcalloc(nr, sizeof(*now));
	int *rc = xcalloc(nr, sizeof(*rc)), ret = 0;
	struct hasher h = { r, now, rc };
	struct ns_par_feed *feed = ns_par_feed_start(p->nr, hash_based, &h);

	for (size_t i = 0; i < p->nr && !ret; i++) {
		int hash;

		ret = drift_stat(
			p, &seen, &r->root, &p->files[i],
			ns_manifest_base(&r->t->manifest, p->files[i].path),
			&hash);
		want[i] = (unsigned char)hash;
		if (hash)
			ns_par_feed_give(feed, i);
	}
	ns_par_feed_finish(feed);
	if (ret)
		goto done;
	for (size_t i = 0; i < p->nr && !ret; i++) {
		const char *base =
			ns_manifest_base(&r->t->manifest, p->files[i].path);

		if (!want[i])
			continue;
		/* a failure on the worker left its message there: ask
		 * again here for it */
		if (rc[i])
			rc[i] = ns_fsx_hash_seen(now[i], &p->files[i].seen,
						 &r->root, p->files[i].path);
		if ((ret = rc[i]) < 0)
			break;
		if (ret == 1) {
			ns_error_set("%s/%s: drift: the enhancement has a base "
				     "for it, but it is absent",
				     r->root.path, p->files[i].path);
			ret = NS_EDRIFT;
		} else if (strcmp(now[i], base)) {
			ns_error_set("%s/%s: drift: changed since the base "
				     "the developer used (base %.12s…, now "
				     "%.12s…)",
				     r->root.path, p->files[i].path, base,
				     now[i]);
			ret = NS_EDRIFT;
		}
	}
done:
	free(want);
	free(now);
	free(rc);
	return ret;
}

/* ---- archive and staging ------------------------------------------- */

static int fsync_path(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	if (fd < 0) {
		ns_error_set("cannot open '%s': %s", dir, strerror(errno));
		return NS_ERROR;
	}
	ret = ns_fsx_fsync_dir(fd, dir);
	close(fd);
	return ret;
}

static int prepare(struct run *r, const struct ns_migrate_ctx *ctx,
		   const char *label)
{
	char *parent = xprintf("%s/%s", ctx->archive_dir, r->plan.token);
	char *db = NULL;
	int ret, has;

	r->rundir = xprintf("%s/%s", parent, label);
	r->journal =
		xprintf("%s/%s.%s.jnl", ctx->journal_dir, r->plan.token, label);
	ret = ns_fsx_mkdir_p(ctx->journal_dir, 0755);
	if (!ret)
		ret = ns_fsx_mkdir_p(r->rundir, 0700);
	if (!ret)
		ret = fsync_path(parent);
	if (!ret)
		ret = fsync_path(ctx->archive_dir);
	if (!ret)
		ret = ns_journal_begin(r->journal, r->rundir);
	if (!ret)
		ret = ns_archive_take(&r->plan, &r->root, r->rundir);
	if (!ret && r->db && (ret = r->db->ops->has_table(r->db, &has)) == 0) {
		r->plan.table_existed = has;
		db = xprintf("%s/database.sqlite", r->rundir);
		if (!strncmp(r->plan.database, "sqlite:", 7))
			ret = r->db->ops->backup(r->db, db);
	}
	if (!ret)
		ret = ns_plan_save(&r->plan, r->rundir);
	if (!ret)
		ret = ns_journal_mark(r->journal, NS_J_PREPARED, NULL);
	free(db);
	free(parent);
	return ret;
}

static size_t plan_index(const struct ns_plan *p, const char *path)
{
	size_t lo = 0, hi = p->nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(p->files[mid].path, path);
		if (!c)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (size_t)-1;
}

static ssize_t tar_src(void *ctx, void *buf, size_t n)
{
	return ns_tar_read(ctx, buf, n);
}

static int stage_one(struct run *r, struct ns_tar_reader *tr,
		     struct ns_hashq *q, size_t i)
{
	const struct ns_plan_file *f = &r->plan.files[i];
	char *name = ns_plan_stage_name(&r->plan, i, 's');
	char *what = xprintf("%s/%s", r->root.path, f->path);
	const char *base;
	struct ns_owner own;
	int old = -1, dfd, ret = ns_fsx_parent(&dfd, &r->root, f->path, &base);

	if (ret == 0) {
		/* a file put in place of another is the old one's owner's and
		 * has its ACL (or none), a new one its directory's owner and
		 * default ACL; an old file nightshift may not read keeps its
		 * ACL to itself */
		if (f->before_present) {
			own = f->before_owner;
			old = openat(dfd, base,
				     O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
					     O_NOCTTY | O_CLOEXEC);
			if (old < 0 && errno != EACCES) {
				ns_error_set("cannot open '%s' to read its "
					     "ACL: %s",
					     what, strerror(errno));
				ret = NS_ERROR;
			}
		} else {
			ns_fsx_new_owner(&own, dfd);
		}
		if (ret == 0)
			ret = ns_fsx_write_hashq(dfd, name, f->mode, &own, old,
						 tar_src, tr, q, i, what);
		if (old >= 0)
			close(old);
		close(dfd);
	} else if (ret == 1) {
		ns_error_set("%s: its directory vanished", what);
		ret = NS_ERROR;
	}
	free(name);
	free(what);
	return ret;
}

static int stage(struct run *r)
{
	struct ns_tar_reader *tr = NULL;
	struct ns_hashq *q = NULL;
	const char *name;
	uint64_t size;
	unsigned mode;
	int regular, ret;
	char *staged = xcalloc(r->plan.nr + 1, 1);
	struct ns_fsx_flusher *fl = NULL;

	for (size_t i = 0; i < r->plan.mkdirs_nr; i++)
		if ((ret = ns_fsx_mkdir(&r->root, r->plan.mkdirs[i])) < 0)
			goto done;
	if ((ret = ns_tar_open(&tr, r->t->path)) < 0)
		goto done;
	q = ns_hashq_new(r->plan.nr);
	fl = ns_fsx_flusher_start(r->root.fd);
	while ((ret = ns_tar_next(tr, &name, &size, &mode, &regular)) == 1) {
		size_t i;
		if (strncmp(name, "payload/files/", 14))
			continue;
		i = plan_index(&r->plan, name + 14);
		if (i == (size_t)-1 || r->plan.files[i].op != NS_OP_PUT ||
		    staged[i]) {
			ns_error_set("%s: %s: not in the plan%s", r->t->path,
				     name,
				     i != (size_t)-1 && staged[i]
					     ? " (a second time)"
					     : "");
			ret = NS_EINVALID;
			break;
		}
		if ((ret = stage_one(r, tr, q, i)) < 0)
			break;
		staged[i] = 1;
	}
	ns_tar_close(tr);
	ns_fsx_flusher_stop(fl);
	/* each member's own check (see NS_TRIGGER_DEFER_FILES), its hash
	 * taken beside the writing: a mismatch throws the staging away */
	ns_hashq_finish(q);
	for (size_t i = 0; i < r->plan.nr && !ret; i++) {
		const struct ns_plan_file *f = &r->plan.files[i];
		const char *got = ns_hashq_digest(q, i);

		if (staged[i] && (!got || strcmp(got, f->sha256))) {
			ns_error_set("%s: payload/files/%s: hash mismatch: the "
				     "trigger was altered after it was made",
				     r->t->path, f->path);
			ret = NS_EINVALID;
		}
	}
	/* the trigger may have changed since it was loaded: every file to
	 * put must have been staged, and checked, from this reading of it */
	for (size_t i = 0; i < r->plan.nr && !ret; i++)
		if (r->plan.files[i].op == NS_OP_PUT && !staged[i]) {
			ns_error_set("%s: payload/files/%s: member missing",
				     r->t->path, r->plan.files[i].path);
			ret = NS_EINVALID;
		}
	/* the staging is durable — data and names — before the commit point
	 * can pass: one flush for the whole phase, not one per file */
	if (!ret)
		ret = ns_fsx_syncfs(r->root.fd, r->root.path);
done:
	ns_hashq_free(q);
	free(staged);
	return ret;
}

/* ---- undo, apply, verify, roll back -------------------------------- */

static int undo_staging(struct run *r)
{
	int ret = 0;

	for (size_t i = 0; i < r->plan.nr && !ret; i++) {
		const struct ns_plan_file *f = &r->plan.files[i];
		char *name;
		const char *base;
		int dfd;

		if (f->op != NS_OP_PUT)
			continue;
		ret = ns_fsx_parent(&dfd, &r->root, f->path, &base);
		if (ret == 1) {
			ret = 0;
			continue;
		}
		if (ret < 0)
			break;
		name = ns_plan_stage_name(&r->plan, i, 's');
		ret = ns_fsx_unlink(dfd, name, f->path);
		free(name);
		close(dfd);
	}
	for (size_t i = r->plan.mkdirs_nr; i-- > 0 && !ret;)
		ret = ns_fsx_rmdir(&r->root, r->plan.mkdirs[i]);
	return ret;
}

static int apply_one(struct run *r, size_t i)
{
	const struct ns_plan_file *f = &r->plan.files[i];
	char *name = ns_plan_stage_name(&r->plan, i, 's');
	char *what = xprintf("%s/%s", r->root.path, f->path);
	char now[NS_HEX_LEN + 1];
	const char *base;
	int dfd = -1, ret = ns_fsx_parent(&dfd, &r->root, f->path, &base);

	if (ret == 1 && f->op == NS_OP_DELETE) {
		ret = 0;
	} else if (ret == 1) {
		ns_error_set("%s: its directory vanished", what);
		ret = NS_ERROR;
	} else if (ret == 0 && f->op == NS_OP_DELETE) {
		ret = ns_fsx_unlink(dfd, base, what);
	} else if (ret == 0 &&
		   (ret = ns_fsx_rename_present(dfd, name, base, what)) == 1) {
		/* renamed before an interruption: it must be the new file */
		ret = ns_fsx_hash(now, &r->root, f->path);
		if (ret != 0 || strcmp(now, f->sha256)) {
			ns_error_set("%s: neither staged nor in place", what);
			ret = NS_ERROR;
		}
	}
	if (dfd >= 0)
		close(dfd);
	free(name);
	free(what);
	return ret;
}

static int apply(struct run *r)
{
	struct ns_fsx_flusher *fl = ns_fsx_flusher_start(r->root.fd);
	int ret = 0;

	for (size_t i = 0; i < r->plan.nr && !ret; i++)
		if (!r->plan.files[i].dir)
			ret = apply_one(r, i);
	/* a directory deleted once what was in it is gone, deepest first */
	for (size_t i = r->plan.nr; i-- > 0 && !ret;)
		if (r->plan.files[i].dir)
			ret = ns_fsx_rmdir_empty(&r->root,
						 r->plan.files[i].path);
	ns_fsx_flusher_stop(fl);
	/* every rename and unlink durable before the journal says so */
	if (!ret)
		ret = ns_fsx_syncfs(r->root.fd, r->root.path);
	if (!ret)
		ret = ns_journal_mark(r->journal, NS_J_APPLIED, NULL);
	return ret;
}

static void set_env(const struct ns_plan *p)
{
	setenv("NIGHTSHIFT_ROOT", p->root, 1);
	setenv("NIGHTSHIFT_DATABASE", p->database ? p->database : "", 1);
	setenv("NIGHTSHIFT_ENV", p->environment, 1);
	setenv("NIGHTSHIFT_ENHANCEMENT", p->enhancement, 1);
	setenv("NIGHTSHIFT_SITE", p->site, 1);
}

/* wait until pid has ended, for ms at most (ms < 0: for as long as it
 * takes), leaving it to be reaped: until then its process group cannot
 * be another's. 1 when it is still running, -1 on error. */
static int wait_for(pid_t pid, long long ms)
{
	long long end = ns_mono_ms() + ms;
	int pfd = -1, ret;

#ifdef SYS_pidfd_open
	if (ms >= 0)
		pfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	for (;;) {
		siginfo_t si = { 0 };
		long long left = end - ns_mono_ms();

		if (waitid(P_PID, (id_t)pid, &si,
			   WEXITED | WNOWAIT | (ms < 0 ? 0 : WNOHANG)) < 0) {
			if (errno == EINTR)
				continue;
			ret = -1;
			break;
		}
		if (si.si_pid == pid) {
			ret = 0;
			break;
		}
		if (left <= 0) {
			ret = 1;
			break;
		}
		if (left > INT_MAX)
			left = INT_MAX;
		if (pfd >= 0) {
			struct pollfd p = { pfd, POLLIN, 0 };
			poll(&p, 1, (int)left);
		} else {
			/* an old kernel: look again every 20 ms */
			struct timespec ts = { 0, 20000000L };
			if (left < 20)
				ts.tv_nsec = left * 1000000L;
			nanosleep(&ts, NULL);
		}
	}
	if (pfd >= 0)
		close(pfd);
	return ret;
}

static int reap(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

/* a verify command that ran too long, and what it started: asked to end,
 * then, NS_REAPER_GRACE_MS later, killed, by the reaper between it and
 * this process (reaper.h); should the reaper not end itself, its group
 * is killed before it is reaped */
static int stop_command(pid_t pid, int *status)
{
	kill(-pid, SIGTERM);
	wait_for(pid, NS_REAPER_GRACE_MS + 2000);
	kill(-pid, SIGKILL);
	return reap(pid, status);
}

static int run_command(const struct run *r, const char *cmd, const char *log)
{
	long long ms = r->plan.verify_timeout_ms ? r->plan.verify_timeout_ms
						 : NS_VERIFY_TIMEOUT_DEFAULT_MS;
	pid_t self = getpid(), pid;
	int status, late;

	pid = fork();
	if (pid < 0) {
		ns_error_set("cannot start verify command '%s': %s", cmd,
			     strerror(errno));
		return NS_ERROR;
	}
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			      0644),
		    in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		sigset_t none;

		/* not the signals the daemon blocks for its signalfd; a
		 * process group of its own, to be stopped as a whole */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0);
		/* nobody is there to type: nothing to read (and a command in
		 * a group of its own that read a terminal would stop) */
		if (fd < 0 || in < 0 || chdir(r->plan.root) < 0)
			_exit(126);
		dup2(in, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		set_env(&r->plan);
		ns_reaper_run(cmd, self);
	}
	setpgid(pid, pid); /* whichever of the two runs first */
	if ((late = wait_for(pid, ms)) < 0 ||
	    (late ? stop_command(pid, &status) : reap(pid, &status)) < 0) {
		ns_error_set("verify command '%s': %s", cmd, strerror(errno));
		return NS_ERROR;
	}
	if (late) {
		ns_error_set("verify command '%s' did not finish within "
			     "verify-timeout = %llds of environment %s and "
			     "was stopped; its output is in %s",
			     cmd, ms / 1000, r->plan.environment, log);
		return NS_EFAILED;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	ns_error_set("verify command '%s' failed (%s %d); its output is in "
		     "%s",
		     cmd, WIFEXITED(status) ? "exit" : "signal",
		     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		     log);
	return NS_EFAILED;
}

static int verify(struct run *r)
{
	char *log = xprintf("%s/verify.log", r->rundir);
	int ret = 0;

	for (size_t i = 0; i < r->plan.verify_nr && !ret; i++)
		ret = run_command(r, r->plan.verify[i], log);
	free(log);
	return ret;
}

static int open_db(struct run *r)
{
	int ret;

	if (!r->plan.database || r->db)
		return 0;
	ret = ns_target_open(&r->db, r->plan.database);
	if (!ret)
		ret = ns_target_lock(r->db, r->plan.site);
	return ret;
}

/* journal and report the end of a failed run (takes msg): put back, or
 * blocked when putting back failed */
static int conclude(struct ns_outcome *out, struct run *r, int blocked,
		    char *msg)
{
	int ret;

	if (blocked) {
		ns_journal_mark(r->journal, NS_J_BLOCKED, msg);
		finish(out, r, NS_OUT_BLOCKED, NS_ELOCKED, msg);
	} else {
		/* put back: the code still says whose fault it was, the
		 * enhancement's (NS_EFAILED) or the environment's (NS_ERROR) */
		ret = ns_journal_mark(r->journal, NS_J_ROLLED_BACK, msg);
		finish(out, r, NS_OUT_ROLLED_BACK,
		       ret < 0 || r->cause == NS_ERROR ? NS_ERROR : NS_EFAILED,
		       msg);
	}
	free(msg);
	return out->code;
}

/* after the commit point (transaction = none: after AUTOCOMMIT): revert
 * SQL, restore the archive */
static int roll_back(struct ns_outcome *out, struct run *r, const char *cause)
{
	int ret, row = 0, failed = 0;
	char *msg, *note = NULL, *hand = NULL;

	ret = ns_journal_mark(r->journal, NS_J_ROLLING_BACK, cause);
	/* every archived file's hash in the plan before the first moves
	 * back: run again after a crash, the restore checks by it */
	if (!ret)
		ret = ns_archive_hash_kept(&r->plan, r->rundir);
	if (!ret)
		ret = open_db(r);
	/* whatever part of the deploy ran: no row to tell, so always */
	if (!ret && r->db && r->plan.tx_none)
		ret = r->db->ops->revert_none(r->db, r->plan.revert_sql,
					      r->rundir, r->plan.enhancement,
					      r->plan.revision,
					      !r->plan.table_existed, &failed);
	else if (!ret && r->db)
		ret = r->db->ops->row_exists(r->db, r->plan.enhancement,
					     r->plan.revision, &row);
	if (!ret && row)
		ret = r->db->ops->revert(r->db, r->plan.revert_sql,
					 r->plan.enhancement, r->plan.revision,
					 !r->plan.table_existed);
	if (!ret)
		ret = ns_archive_restore(&r->plan, &r->root, r->rundir);
	if (failed)
		note = xprintf(" (%d statement%s of sql/revert.sql failed "
			       "and the rollback went on: see %s/revert.log)",
			       failed, failed == 1 ? "" : "s", r->rundir);
	if (r->by_hand)
		hand = xprintf(" (%zu path%s of it a person had put back "
			       "already)",
			       r->by_hand, r->by_hand == 1 ? "" : "s");
	if (ret < 0)
		msg = xprintf("%s; ROLLBACK FAILED: %s — site %s is blocked "
			      "until a person repairs it (archive: %s)",
			      cause, ns_error_last(), r->plan.site, r->rundir);
	else
		msg = xprintf(
			"%s; rolled back: site %s is as it was before%s%s",
			cause, r->plan.site, note ? note : "",
			hand ? hand : "");
	free(note);
	free(hand);
	return conclude(out, r, ret < 0, msg);
}

/* before the commit point: throw the staging away */
static int undo(struct ns_outcome *out, struct run *r, const char *cause)
{
	int ret = undo_staging(r);
	char *msg;

	/* the staging's removal durable before the journal says it is
	 * over: after a power cut, recovery would not look for it again */
	if (!ret)
		ret = ns_fsx_syncfs(r->root.fd, r->root.path);
	msg = ret < 0 ? xprintf("%s; cannot discard the staging: %s — "
				"site %s is blocked",
				cause, ns_error_last(), r->plan.site)
		      : xprintf("%s; nothing was changed on site %s", cause,
				r->plan.site);

	return conclude(out, r, ret < 0, msg);
}

/* the staging found the payload not as the trigger recorded it (or the
 * target's layout changed under it): nothing is in place yet, so the run
 * is refused as if it had not begun — the staging removed and made
 * durable, then the journal (a crash before that is recovered as an
 * undo), then the archive */
static int discard(struct ns_outcome *out, struct run *r, const char *cause)
{
	int ret = undo_staging(r);
	char *slash;

	if (!ret)
		ret = ns_fsx_syncfs(r->root.fd, r->root.path);
	if (!ret && (ns_step("unlink") < 0 ||
		     (unlink(r->journal) < 0 && errno != ENOENT))) {
		ns_error_set("cannot remove the journal '%s': %s", r->journal,
			     strerror(errno));
		ret = NS_ERROR;
	}
	if (ret < 0)
		return undo(out, r, cause);
	/* what is left of the archive is nightshift's own: best effort */
	ns_fsx_remove_tree(r->rundir);
	if ((slash = strrchr(r->rundir, '/'))) {
		*slash = '\0';
		rmdir(r->rundir); /* the token's directory, when now empty */
	}
	free(r->rundir);
	r->rundir = NULL;
	return finish(out, r, NS_OUT_REFUSED, NS_EINVALID, cause);
}

/* what a migration did, for the run's line, the registry and the notice:
 * "files: 1 replaced, 3 added, 1 deleted; the SQL committed" */
static char *what_was_done(const struct run *r)
{
	size_t replaced = 0, added = 0, deleted = 0;
	int sql = r->t ? r->t->deploy_sql != NULL : r->plan.revert_sql != NULL;

	for (size_t i = 0; i < r->plan.nr; i++) {
		const struct ns_plan_file *f = &r->plan.files[i];
		if (f->dir) /* a directory emptied by the deletes */
			continue;
		if (f->op == NS_OP_DELETE)
			deleted += f->before_present != 0;
		else if (f->before_present)
			replaced++;
		else
			added++;
	}
	if (!replaced && !added && !deleted)
		return xstrdup(sql ? "no files; the SQL committed"
				   : "no files");
	return xprintf("files: %zu replaced, %zu added, %zu deleted%s",
		       replaced, added, deleted,
		       sql ? "; the SQL committed" : "");
}

/* from the commit point on: the same for a run and for its recovery */
static int forward(struct ns_outcome *out, struct run *r)
{
	char *cause;
	int ret = apply(r);

	if (!ret)
		ret = verify(r);
	if (!ret)
		ret = ns_journal_mark(r->journal, NS_J_DONE, NULL);
	if (!ret) {
		char *what = what_was_done(r);
		ret = finish(out, r, NS_OUT_MIGRATED, 0, what);
		free(what);
		return ret;
	}
	r->cause = ret;
	cause = xstrdup(ns_error_last());
	ret = roll_back(out, r, cause);
	free(cause);
	return ret;
}

static int commit(struct run *r)
{
	char at[NS_TIME_LEN];
	struct ns_change_row row = { r->plan.enhancement, r->plan.revision,
				     r->plan.payload_sha256, at, r->plan.user };
	int ret;

	ns_time_iso(at, ns_now());
	if (r->db && r->plan.tx_none) {
		/* durable before the first statement that commits on its
		 * own: from here a failure or a crash rolls the database
		 * back, though the commit point has not passed */
		ret = ns_journal_mark(r->journal, NS_J_AUTOCOMMIT,
				      "the deploy SQL runs outside a "
				      "transaction");
		if (ret < 0)
			return ret;
		r->unshielded = 1;
		ret = r->db->ops->deploy_none(r->db, r->t->deploy_sql,
					      r->t->verify_sql, &row);
		if (ret < 0)
			return ret;
	} else if (r->db) {
		ret = r->db->ops->deploy(r->db, r->t->deploy_sql,
					 r->t->verify_sql, &row);
		if (ret < 0)
			return ret;
	}
	return ns_journal_mark(r->journal, NS_J_COMMITTED, NULL);
}

/* how long a run whose COMMIT's answer was lost keeps asking the
 * database whether it committed, every NS_COMMIT_ASK_EVERY_MS: a server
 * that crashed at that moment is usually back within it */
#define NS_COMMIT_ASK_MS       (10LL * 60 * 1000)
#define NS_COMMIT_ASK_EVERY_MS 2000

/* after a failed commit: did the database commit? (the row tells) The
 * message of the failure stays the last one; an answer that cannot be had
 * after a lost COMMIT is an error: the run cannot tell which side of the
 * commit point it is on */
static int ask_committed(struct run *r, int *committed)
{
	long long until =
		ns_mono_ms() + ns_test_ms("commit_ask", NS_COMMIT_ASK_MS);
	static const struct timespec every = { NS_COMMIT_ASK_EVERY_MS / 1000,
					       0 };
	char *cause = xstrdup(ns_error_last());
	int ret;

	for (;;) {
		ret = r->db->ops->row_exists(r->db, r->plan.enhancement,
					     r->plan.revision, committed);
		if (ret == 0 || !r->db->commit_unknown || ns_mono_ms() >= until)
			break;
		nanosleep(&every, NULL);
	}
	if (ret < 0 && r->db->commit_unknown) {
		char *why = xstrdup(ns_error_last());
		ns_error_set("%s; the answer to its COMMIT was lost, and "
			     "whether the database committed cannot be "
			     "told: %s",
			     cause, why);
		free(why);
	} else {
		ns_error_set("%s", cause);
		*committed = ret == 0 && *committed;
		ret = 0;
	}
	free(cause);
	return ret;
}

int ns_migrate_site(struct ns_outcome *out, const struct ns_trigger *t,
		    const struct ns_site *site,
		    const struct ns_migrate_ctx *ctx)
{
	struct run r = RUN_INIT;
	int ret, committed = 0, refuse = 0;
	char *cause;

	r.t = t;
	r.start = ns_mono_ms();
	ret = make_plan(&r, t, site, ctx);
	if (!ret)
		ret = ns_fsx_root_open(&r.root, site->root);
	if (!ret)
		ret = check_drift(&r);
	if (!ret)
		ret = open_db(&r);
	if (!ret && r.db)
		ret = ns_target_bound_locks(
			r.db,
			site->lock_timeout_ms ? site->lock_timeout_ms
					      : NS_LOCK_TIMEOUT_DEFAULT_MS,
			site->lock_timeout_set, ctx->env_name);
	if (ret < 0) {
		finish(out, &r, NS_OUT_REFUSED, ret, ns_error_last());
		goto done;
	}
	ret = prepare(&r, ctx, site->label);
	/* transaction = none: the dump is what its rollback restores */
	if (!ret && (site->archive_dump || r.plan.tx_none) && r.db)
		ret = ns_target_dump(r.db, t->deploy_sql, r.rundir);
	if (!ret) {
		ret = stage(&r);
		/* a payload member not as recorded: nothing is in place */
		refuse = ret == NS_EINVALID;
	}
	if (!ret) {
		ret = commit(&r);
		/* with a database the row is the commit point, whatever the
		 * journal managed to say */
		committed = ret == 0;
		if (ret < 0 && r.db && ask_committed(&r, &committed) < 0) {
			/* neither undone nor carried forward: the journal
			 * stays as it is for the recovery that can tell */
			char *msg = xprintf(
				"%s — site %s is blocked, its journal kept: "
				"once the database answers, `nightshift "
				"unblock --env %s --reason ...` and "
				"`nightshift recover --env %s` finish the run "
				"on whichever side of the commit point it is",
				ns_error_last(), r.plan.site, ctx->env_name,
				ctx->env_name);
			finish(out, &r, NS_OUT_BLOCKED, NS_ELOCKED, msg);
			out->undecided = 1;
			free(msg);
			ret = NS_ELOCKED;
			goto done;
		}
	}
	if (committed) {
		ret = forward(out, &r);
		goto done;
	}
	r.cause = ret;
	cause = xstrdup(ns_error_last());
	if (!r.journal || access(r.journal, F_OK) != 0)
		ret = finish(out, &r, NS_OUT_REFUSED, NS_ERROR, cause);
	else if (refuse)
		ret = discard(out, &r, cause);
	else if (r.unshielded)
		ret = roll_back(out, &r, cause);
	else
		ret = undo(out, &r, cause);
	free(cause);
done:
	run_release(&r);
	return ret;
}

/* ---- recovery and backout ------------------------------------------- */

/* plan.json names the database without its password: the configuration's
 * URL for the site gives it back, when it names the same database (else
 * the plan's URL is used as it is: ~/.pgpass, or a URL that has none).
 * Returns why the configuration could not, for a failure's message, or
 * NULL. */
static char *with_password(struct ns_plan *p, const struct ns_env *env)
{
	const struct ns_site *site = env ? ns_env_site(env, p->site) : NULL;
	char *pub, *why = NULL;

	if (!p->database || !env ||
	    (site && (!site->database || !strcmp(site->database, p->database))))
		return NULL;
	if (!site)
		return xprintf("nightshift.conf names no site %s any more, so "
			       "the password could not be taken from it",
			       p->site);
	pub = ns_target_url_public(site->database);
	if (!strcmp(pub, p->database)) {
		free(p->database);
		p->database = xstrdup(site->database);
	} else
		why = xprintf("nightshift.conf now names %s for site %s, not "
			      "the run's %s, so the password could not be "
			      "taken from it",
			      pub, p->site, p->database);
	free(pub);
	return why;
}

/* the run's database, its password from the configuration */
static int open_run_db(struct run *r, const struct ns_env *env)
{
	char *why = with_password(&r->plan, env), *m;
	int ret = open_db(r);

	if (ret < 0 && why) {
		m = xstrdup(ns_error_last());
		ns_error_set("%s — %s", m, why);
		free(m);
	}
	free(why);
	return ret;
}

/* the run behind rundir opened again, for recovery or a backout: its
 * plan, its root, its database */
static int open_run(struct run *r, const char *rundir, const struct ns_env *env)
{
	int ret;

	r->start = ns_mono_ms();
	r->rundir = xstrdup(rundir);
	if ((ret = ns_plan_load(&r->plan, rundir)) < 0 ||
	    (ret = ns_fsx_root_open(&r->root, r->plan.root)) < 0)
		return ret;
	return open_run_db(r, env);
}

static int load_run(struct run *r, const char *rundir, const char *journal,
		    const struct ns_env *env)
{
	r->journal = xstrdup(journal);
	return open_run(r, rundir, env);
}

/* without a plan a run is named by its directory: ARCHIVE/.../TOKEN/LABEL */
static char *token_of(const char *rundir)
{
	char *parent = xstrdup(rundir), *slash = strrchr(parent, '/'), *t;

	if (slash)
		*slash = '\0';
	slash = strrchr(parent, '/');
	t = xstrdup(slash ? slash + 1 : parent);
	free(parent);
	return t;
}

/* a run interrupted while archiving: the target was not touched */
static int recover_unprepared(struct ns_outcome *out, struct run *r,
			      const struct ns_journal *j)
{
	const char *msg = "interrupted while archiving; nothing was changed";
	int ret = ns_fsx_remove_tree(j->rundir);

	if (!ret)
		ret = ns_fsx_mkdir_p(j->rundir, 0700);
	r->rundir = xstrdup(j->rundir);
	r->journal = xstrdup(j->path);
	if (!ret)
		ret = ns_journal_mark(j->path, NS_J_ROLLED_BACK, msg);
	finish(out, r, NS_OUT_ROLLED_BACK, ret < 0 ? NS_ERROR : NS_EFAILED,
	       msg);
	out->token = token_of(j->rundir);
	return out->code;
}

static int recover_final(struct ns_outcome *out, struct run *r,
			 const struct ns_journal *j)
{
	const char *note = j->note ? j->note : "";

	switch (j->state) {
	case NS_J_DONE:
		return finish(out, r, NS_OUT_MIGRATED, 0, "migrated");
	case NS_J_ROLLED_BACK:
		return finish(out, r, NS_OUT_ROLLED_BACK, NS_EFAILED, note);
	default:
		return finish(out, r, NS_OUT_BLOCKED, NS_ELOCKED, note);
	}
}

static int recover_journal(struct ns_outcome *out, const char *journal_path,
			   const struct ns_env *env, int again);

int ns_migrate_recover(struct ns_outcome *out, const char *journal_path,
		       const struct ns_env *env)
{
	return recover_journal(out, journal_path, env, 0);
}

int ns_migrate_finish_rollback(struct ns_outcome *out, const char *journal_path,
			       const struct ns_env *env)
{
	return recover_journal(out, journal_path, env, 1);
}

/* again: a journal BLOCKED while it was ROLLING_BACK rolls back again */
static int recover_journal(struct ns_outcome *out, const char *journal_path,
			   const struct ns_env *env, int again)
{
	struct ns_journal j = NS_JOURNAL_INIT;
	struct run r = RUN_INIT;
	int ret, row = 0;
	/* a backout stopped before it began changes nothing: the site stays
	 * as the migration left it, and its archive stays with it */
	int backout = ns_journal_is_backout(journal_path);
	const char *unbegun = "the backout was interrupted before it changed "
			      "anything: the site is as the migration left it";

	out->recovered = 1;
	r.start = ns_mono_ms();
	if ((ret = ns_journal_read(&j, journal_path)) < 0) {
		ret = finish(out, &r, NS_OUT_BLOCKED, NS_ERROR,
			     ns_error_last());
		goto done;
	}
	if (!j.rundir) {
		/* killed before its first line was durable: nothing else
		 * was written; the journal's name says whose it was */
		const char *base = strrchr(journal_path, '/');
		base = base ? base + 1 : journal_path;
		ret = finish(
			out, &r, backout ? NS_OUT_REFUSED : NS_OUT_ROLLED_BACK,
			NS_EFAILED,
			backout ? unbegun
				: "interrupted before anything was written");
		out->token = xstrndup(base, strcspn(base, "."));
		if (ns_step("unlink") < 0 || unlink(journal_path) < 0) {
			ns_error_set("cannot remove the empty journal '%s': "
				     "%s",
				     journal_path, strerror(errno));
			ret = finish(out, &r, NS_OUT_BLOCKED, NS_ERROR,
				     ns_error_last());
		}
		goto done;
	}
	if (again && j.state == NS_J_BLOCKED && j.from == NS_J_ROLLING_BACK) {
		/* the cause the rollback had, not why it failed */
		j.state = NS_J_ROLLING_BACK;
		free(j.note);
		j.note = j.from_note;
		j.from_note = NULL;
	}
	if (j.state == NS_J_NONE && backout) {
		r.rundir = xstrdup(j.rundir);
		r.journal = xstrdup(j.path);
		ret = finish(out, &r, NS_OUT_REFUSED, NS_EFAILED, unbegun);
		out->token = token_of(j.rundir);
		goto done;
	}
	if (j.state == NS_J_NONE) {
		ret = recover_unprepared(out, &r, &j);
		goto done;
	}
	if (ns_journal_final(j.state)) {
		/* only the registry is behind: no plan needed to say so */
		r.rundir = xstrdup(j.rundir);
		r.journal = xstrdup(j.path);
		r.start = ns_mono_ms();
		ret = recover_final(out, &r, &j);
		if (!out->token)
			out->token = token_of(j.rundir);
		goto done;
	}
	ret = load_run(&r, j.rundir, j.path, env);
	if (ret == 0 && r.db &&
	    (j.state == NS_J_PREPARED || j.state == NS_J_AUTOCOMMIT))
		ret = r.db->ops->row_exists(r.db, r.plan.enhancement,
					    r.plan.revision, &row);
	if (ret < 0) {
		char *msg =
			xprintf("recovery cannot proceed: %s", ns_error_last());
		ns_journal_mark(j.path, NS_J_BLOCKED, msg);
		ret = finish(out, &r, NS_OUT_BLOCKED, NS_ELOCKED, msg);
		free(msg);
		goto done;
	}
	if (j.state == NS_J_ROLLING_BACK)
		ret = roll_back(out, &r, j.note ? j.note : "interrupted");
	else if (j.state == NS_J_PREPARED && !row)
		ret = undo(out, &r, "interrupted before the commit point");
	else if (j.state == NS_J_AUTOCOMMIT && !row)
		ret = roll_back(out, &r,
				"interrupted while the deploy SQL ran "
				"outside a transaction, before the commit "
				"point");
	else
		ret = forward(out, &r);
done:
	ns_journal_release(&j);
	run_release(&r);
	return ret;
}

/* path i as the run left it or as it was before; hashed: its hash now
 * (hashed 0, absent 1, or a failure on the worker, asked again here) */
static int still_one(struct run *r, size_t i, char now[NS_HEX_LEN + 1],
		     int hashed)
{
	const struct ns_plan_file *f = &r->plan.files[i];
	struct stat st;
	int ret, after, before;

	if (f->dir)
		ret = ns_fsx_stat(&st, &r->root, f->path);
	else
		ret = hashed >= 0 ? hashed
				  : ns_fsx_hash(now, &r->root, f->path);
	if (ret < 0)
		return ret;
	if (f->dir) {
		after = ret == 1;
		before = ret == 0 && S_ISDIR(st.st_mode);
	} else {
		after = f->op == NS_OP_PUT ? ret == 0 && !strcmp(now, f->sha256)
					   : ret == 1;
		before = f->before_present ? 0 : ret == 1;
		/* asked only where it counts: it may read the archived file */
		if (!after && f->before_present && ret == 0 &&
		    (before = ns_archive_is_before(&r->plan, i, r->rundir,
						   now)) < 0)
			return before;
	}
	r->by_hand += before && !after;
	if (!after && !before) {
		ns_error_set("%s/%s: changed since %s was migrated; backing "
			     "out would lose that change",
			     r->root.path, f->path, r->plan.enhancement);
		return NS_EDRIFT;
	}
	return 0;
}

/* the backout's reading on both cores in one pass: item i < nr is path i
 * as it is now (hash_based), nr + i the archived file i, which the
 * restore needs hashed before it moves a file back */
struct both {
	struct hasher h;
	size_t nr;
	struct ns_archive_kept *kept;
};

static void hash_both(void *ctx, size_t i)
{
	struct both *b = ctx;

	if (i < b->nr)
		hash_based(&b->h, i);
	else
		ns_archive_kept_read(b->kept, i - b->nr);
}

/* each touched path as the run left it, or as it was before the run (a
 * person put it back by hand: backing out finishes what they began);
 * anything else is a change made since, which backing out would lose.
 * With kept, the archived files not hashed yet are read in the same pass
 * (one file per core for a backout of one big file) and their hashes
 * noted in the plan; one that cannot be read is left to the restore's
 * own reading, which reports it. */
static int still_as_migrated(struct run *r, int kept)
{
	size_t nr = r->plan.nr ? r->plan.nr : 1;
	struct both b = { { r, xcalloc(nr, NS_HEX_LEN + 1),
			    xcalloc(nr, sizeof(int)) },
			  r->plan.nr,
			  NULL };
	struct ns_par_feed *feed;
	int ret = 0;

	if (kept && !(b.kept = ns_archive_kept_open(&r->plan, r->rundir)))
		ns_error_clear();
	/* the files hashed on both cores, as the drift check's are */
	feed = ns_par_feed_start(2 * r->plan.nr, hash_both, &b);
	for (size_t i = 0; i < r->plan.nr; i++)
		if (!r->plan.files[i].dir)
			ns_par_feed_give(feed, i);
	for (size_t i = 0; i < r->plan.nr && b.kept; i++)
		if (ns_archive_unhashed(&r->plan, i))
			ns_par_feed_give(feed, r->plan.nr + i);
	ns_par_feed_finish(feed);
	if (b.kept)
		ns_archive_kept_close(b.kept, &r->plan);
	for (size_t i = 0; i < r->plan.nr && !ret; i++)
		ret = still_one(r, i, b.h.now[i], b.h.rc[i]);
	free(b.h.now);
	free(b.h.rc);
	return ret;
}

/* what a backout needs before it changes anything: the run opened, and
 * (check_drift) the files as the run left them; kept: the archived files'
 * hashes read beside (a backout about to begin) */
static int backout_ready(struct run *r, const char *rundir,
			 const struct ns_env *env, int check_drift, int kept)
{
	int ret = open_run(r, rundir, env);

	return ret < 0 || !check_drift ? ret : still_as_migrated(r, kept);
}

int ns_migrate_backout_check(const char *rundir, const struct ns_env *env)
{
	struct run r = RUN_INIT;
	int ret = backout_ready(&r, rundir, env, 1, 0);

	run_release(&r);
	return ret;
}

int ns_migrate_backout(struct ns_outcome *out, const char *rundir,
		       const char *journal_dir, const char *reason,
		       int check_drift, const struct ns_env *env)
{
	struct run r = RUN_INIT;
	char *jpath = NULL;
	int ret;

	if ((ret = backout_ready(&r, rundir, env, check_drift, 1)) < 0)
		goto refused;
	jpath = xprintf("%s/%s.%s" NS_JOURNAL_BACKOUT, journal_dir,
			r.plan.token, strrchr(rundir, '/') + 1);
	if ((ret = ns_fsx_mkdir_p(journal_dir, 0755)) < 0 ||
	    (ret = ns_journal_begin(jpath, rundir)) < 0)
		goto refused;
	r.journal = jpath;
	jpath = NULL;
	ret = roll_back(out, &r, reason);
	out->by_hand = r.by_hand;
	if (out->kind == NS_OUT_ROLLED_BACK)
		out->code = ret = 0; /* a backout that backed out succeeded */
	goto done;
refused:
	finish(out, &r, NS_OUT_REFUSED, ret, ns_error_last());
done:
	free(jpath);
	run_release(&r);
	return ret;
}
