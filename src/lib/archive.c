#include "archive.h"
#include "error.h"
#include "par.h"
#include "strbuf.h"
#include "target.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ns_plan_release(struct ns_plan *p)
{
	free(p->token);
	free(p->enhancement);
	free(p->environment);
	free(p->site);
	free(p->root);
	free(p->database);
	free(p->user);
	for (size_t i = 0; i < p->nr; i++)
		free(p->files[i].path);
	free(p->files);
	for (size_t i = 0; i < p->mkdirs_nr; i++)
		free(p->mkdirs[i]);
	free(p->mkdirs);
	free(p->revert_sql);
	for (size_t i = 0; i < p->verify_nr; i++)
		free(p->verify[i]);
	free(p->verify);
	memset(p, 0, sizeof(*p));
}

char *ns_plan_stage_name(const struct ns_plan *p, size_t i, char kind)
{
	return xprintf(".nightshift.%s.%c%zu", p->token, kind, i);
}

/*
 * plan.json is written as text, each string quoted by jansson: building a
 * jansson object for each of a thousand files cost more than the rest of
 * the archive. A string jansson cannot take (not UTF-8) fails the save
 * with its key named; it is never left out, since recovery trusts the
 * plan to hold everything.
 */
struct plan_out {
	struct strbuf sb;
	const char *bad; /* the first key whose value could not be written */
};

static void put_str(struct plan_out *o, const char *key, const char *s)
{
	json_t *j;
	char *q;

	if (!s) {
		strbuf_addstr(&o->sb, "null");
		return;
	}
	j = json_string(s);
	q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	if (q)
		strbuf_addstr(&o->sb, q);
	else if (!o->bad)
		o->bad = key;
	free(q);
	json_decref(j);
}

static void put_key_str(struct plan_out *o, const char *key, const char *s)
{
	strbuf_addf(&o->sb, ",\n \"%s\": ", key);
	put_str(o, key, s);
}

static void put_strings(struct plan_out *o, const char *key, char **s, size_t n)
{
	strbuf_addf(&o->sb, ",\n \"%s\": [", key);
	for (size_t i = 0; i < n; i++) {
		strbuf_addstr(&o->sb, i ? ",\n  " : "\n  ");
		put_str(o, key, s[i]);
	}
	strbuf_addstr(&o->sb, n ? "\n ]" : "]");
}

static void put_file(struct plan_out *o, const struct ns_plan_file *f)
{
	strbuf_addstr(&o->sb, "{\"path\": ");
	put_str(o, "files", f->path);
	/* the hashes are hex digits (or empty): nothing to quote */
	strbuf_addf(&o->sb,
		    ", \"op\": \"%s\", \"sha256\": \"%s\", \"mode\": %u, "
		    "\"size\": %llu, \"before\": %s, \"before_sha256\": "
		    "\"%s\", \"before_mode\": %u%s",
		    f->op == NS_OP_PUT ? "put" : "delete", f->sha256, f->mode,
		    (unsigned long long)f->size,
		    f->before_present ? "true" : "false", f->before_sha256,
		    f->before_mode, f->dir ? ", \"dir\": true" : "");
	if (f->before_owner.set)
		strbuf_addf(&o->sb,
			    ", \"before_uid\": %lu, \"before_gid\": %lu",
			    (unsigned long)f->before_owner.uid,
			    (unsigned long)f->before_owner.gid);
	strbuf_addch(&o->sb, '}');
}

int ns_plan_save(const struct ns_plan *p, const char *rundir)
{
	struct plan_out o = { STRBUF_INIT, NULL };
	char *path = xprintf("%s/plan.json", rundir), *pub;
	int ret;

	strbuf_addstr(&o.sb, "{\n \"token\": ");
	put_str(&o, "token", p->token);
	put_key_str(&o, "enhancement", p->enhancement);
	strbuf_addf(&o.sb, ",\n \"revision\": %d", p->revision);
	put_key_str(&o, "payload_sha256", p->payload_sha256);
	put_key_str(&o, "environment", p->environment);
	put_key_str(&o, "site", p->site);
	put_key_str(&o, "root", p->root);
	/* never a password: the archive is kept for months */
	pub = p->database ? ns_target_url_public(p->database) : NULL;
	put_key_str(&o, "database", pub);
	free(pub);
	put_key_str(&o, "user", p->user);
	strbuf_addstr(&o.sb, ",\n \"files\": [");
	for (size_t i = 0; i < p->nr; i++) {
		strbuf_addstr(&o.sb, i ? ",\n  " : "\n  ");
		put_file(&o, &p->files[i]);
	}
	strbuf_addstr(&o.sb, p->nr ? "\n ]" : "]");
	put_strings(&o, "mkdirs", p->mkdirs, p->mkdirs_nr);
	put_key_str(&o, "revert_sql", p->revert_sql);
	strbuf_addf(&o.sb, ",\n \"table_existed\": %s",
		    p->table_existed ? "true" : "false");
	if (p->tx_none)
		put_key_str(&o, "transaction", "none");
	put_strings(&o, "verify", p->verify, p->verify_nr);
	strbuf_addf(&o.sb, ",\n \"verify_timeout_ms\": %lld",
		    p->verify_timeout_ms);
	strbuf_addstr(&o.sb, "\n}\n");
	if (o.bad) {
		ns_error_set("%s: '%s' is not UTF-8 text, and JSON holds "
			     "nothing else",
			     path, o.bad);
		ret = NS_EINVALID;
	} else {
		ret = ns_fsx_write_file(path, o.sb.buf, o.sb.len);
	}
	strbuf_release(&o.sb);
	free(path);
	return ret;
}

static char *dupstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? xstrdup(s) : NULL;
}

static void load_strings(char ***out, size_t *nr, json_t *a)
{
	size_t i;
	json_t *v;

	*nr = json_array_size(a);
	*out = xcalloc(*nr ? *nr : 1, sizeof(**out));
	json_array_foreach(a, i, v)(*out)[i] =
		xstrdup(json_string_value(v) ? json_string_value(v) : "");
}

static int load_files(struct ns_plan *p, json_t *a, const char *path)
{
	size_t i;
	json_t *v;

	p->nr = json_array_size(a);
	p->files = xcalloc(p->nr ? p->nr : 1, sizeof(*p->files));
	json_array_foreach(a, i, v)
	{
		struct ns_plan_file *f = &p->files[i];
		const char *op = json_string_value(json_object_get(v, "op"));
		const char *h = json_string_value(json_object_get(v, "sha256"));
		const char *b =
			json_string_value(json_object_get(v, "before_sha256"));
		json_t *uid, *gid;

		f->path = dupstr(v, "path");
		if (!f->path || !op || !h || !b || strlen(h) > NS_HEX_LEN ||
		    strlen(b) > NS_HEX_LEN) {
			ns_error_set("%s: malformed file entry %zu", path, i);
			return NS_ERROR;
		}
		f->op = !strcmp(op, "put") ? NS_OP_PUT : NS_OP_DELETE;
		memcpy(f->sha256, h, strlen(h) + 1);
		memcpy(f->before_sha256, b, strlen(b) + 1);
		f->mode = (unsigned)json_integer_value(
			json_object_get(v, "mode"));
		f->size = (uint64_t)json_integer_value(
			json_object_get(v, "size"));
		f->before_present = json_is_true(json_object_get(v, "before"));
		f->before_mode = (unsigned)json_integer_value(
			json_object_get(v, "before_mode"));
		uid = json_object_get(v, "before_uid");
		gid = json_object_get(v, "before_gid");
		f->before_owner.set = json_is_integer(uid) &&
				      json_is_integer(gid) &&
				      json_integer_value(uid) >= 0 &&
				      json_integer_value(gid) >= 0;
		f->before_owner.uid = (uid_t)json_integer_value(uid);
		f->before_owner.gid = (gid_t)json_integer_value(gid);
		f->dir = f->op == NS_OP_DELETE &&
			 json_is_true(json_object_get(v, "dir"));
	}
	return 0;
}

int ns_plan_load(struct ns_plan *out, const char *rundir)
{
	struct ns_plan p = NS_PLAN_INIT;
	char *path = xprintf("%s/plan.json", rundir);
	json_error_t err;
	json_t *o = json_load_file(path, 0, &err);
	const char *h;
	int ret = NS_ERROR;

	if (!o) {
		ns_error_set("%s:%d: %s", path, err.line, err.text);
		goto done;
	}
	p.token = dupstr(o, "token");
	p.enhancement = dupstr(o, "enhancement");
	p.revision = (int)json_integer_value(json_object_get(o, "revision"));
	h = json_string_value(json_object_get(o, "payload_sha256"));
	p.environment = dupstr(o, "environment");
	p.site = dupstr(o, "site");
	p.root = dupstr(o, "root");
	p.database = dupstr(o, "database");
	p.user = dupstr(o, "user");
	p.revert_sql = dupstr(o, "revert_sql");
	p.table_existed = json_is_true(json_object_get(o, "table_existed"));
	p.tx_none =
		json_string_value(json_object_get(o, "transaction")) &&
		!strcmp(json_string_value(json_object_get(o, "transaction")),
			"none");
	if (!p.token || !p.enhancement || !h || strlen(h) != NS_HEX_LEN ||
	    !p.environment || !p.site || !p.root || !p.user) {
		ns_error_set("%s: incomplete plan", path);
		goto done;
	}
	memcpy(p.payload_sha256, h, NS_HEX_LEN + 1);
	if (load_files(&p, json_object_get(o, "files"), path) < 0)
		goto done;
	load_strings(&p.mkdirs, &p.mkdirs_nr, json_object_get(o, "mkdirs"));
	load_strings(&p.verify, &p.verify_nr, json_object_get(o, "verify"));
	p.verify_timeout_ms =
		json_integer_value(json_object_get(o, "verify_timeout_ms"));
	*out = p;
	memset(&p, 0, sizeof(p));
	ret = 0;
done:
	json_decref(o);
	free(path);
	ns_plan_release(&p);
	return ret;
}

static int open_dir(int *out, const char *rundir, const char *sub, int create)
{
	char *dir = xprintf("%s/%s", rundir, sub);
	int ret = 0;

	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
		ret = -1;
	if (!ret && (*out = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		ret = -1;
	if (ret)
		ns_error_set("cannot open the archive '%s': %s", dir,
			     strerror(errno));
	free(dir);
	return ret ? NS_ERROR : 0;
}

/* keep file i in the archive */
static int take_one(struct ns_plan_file *f, size_t i,
		    const struct ns_root *root, int adir, const char *rundir)
{
	const char *base;
	char name[32], *what, *kept;
	struct stat st;
	int dfd, ret = ns_fsx_parent(&dfd, root, f->path, &base);

	if (ret)
		return ret < 0 ? ret : 0;
	if (f->dir && fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode)) {
		/* a directory to delete: its mode is all a restore needs */
		close(dfd);
		f->before_present = 1;
		f->before_mode = st.st_mode & 07777;
		f->before_owner = (struct ns_owner){ 1, st.st_uid, st.st_gid };
		return 0;
	}
	if (f->dir || fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode)) {
		close(dfd);
		return 0; /* absent: the drift check made sure it may be */
	}
	snprintf(name, sizeof(name), "%zu", i);
	what = xprintf("%s/%s", root->path, f->path);
	kept = xprintf("%s/files/%s", rundir, name);
	ret = ns_fsx_keep_later(adir, name, dfd, base, &st, f->before_sha256,
				&f->seen, what, kept);
	free(kept);
	close(dfd);
	if (ret == 1)
		ret = 0; /* kept by a second name: hashed if ever needed */
	if (!ret) {
		f->before_present = 1;
		f->before_mode = st.st_mode & 07777;
		f->before_owner = (struct ns_owner){ 1, st.st_uid, st.st_gid };
	}
	free(what);
	return ret;
}

int ns_archive_take(struct ns_plan *p, const struct ns_root *root,
		    const char *rundir)
{
	int adir, ret;

	if ((ret = open_dir(&adir, rundir, "files", 1)) < 0)
		return ret;
	for (size_t i = 0; i < p->nr && !ret; i++)
		ret = take_one(&p->files[i], i, root, adir, rundir);
	/* one flush for the whole archive, before the journal trusts it */
	if (!ret)
		ret = ns_fsx_syncfs(adir, rundir);
	close(adir);
	return ret;
}

/* the files ns_archive_take kept by a second name and did not hash, read
 * back on both cores (par.h): rc[i] is 0 (sums[i] read), the errno that
 * stopped it, or -1 (not read) */
struct ns_archive_kept {
	int adir, *rc;
	char (*sums)[NS_HEX_LEN + 1];
};

/* the hash of dirfd/name: 0, or the errno that stopped it */
static int hash_at(char out[NS_HEX_LEN + 1], int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc = 0;

	if (fd < 0 || ns_sha256_fd(out, fd) < 0)
		rc = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
	return rc;
}

/* the hash of the archived file i */
static int hash_one(char out[NS_HEX_LEN + 1], int adir, size_t i)
{
	char name[32];

	snprintf(name, sizeof(name), "%zu", i);
	return hash_at(out, adir, name);
}

static int unhashed(const struct ns_plan_file *f)
{
	return f->before_present && !f->dir && !f->before_sha256[0];
}

int ns_archive_unhashed(const struct ns_plan *p, size_t i)
{
	return i < p->nr && unhashed(&p->files[i]);
}

struct ns_archive_kept *ns_archive_kept_open(const struct ns_plan *p,
					     const char *rundir)
{
	struct ns_archive_kept *k = xcalloc(1, sizeof(*k));
	size_t nr = p->nr ? p->nr : 1;

	if (open_dir(&k->adir, rundir, "files", 0) < 0) {
		free(k);
		return NULL;
	}
	k->rc = xcalloc(nr, sizeof(*k->rc));
	k->sums = xcalloc(nr, sizeof(*k->sums));
	for (size_t i = 0; i < nr; i++)
		k->rc[i] = -1;
	return k;
}

void ns_archive_kept_read(struct ns_archive_kept *k, size_t i)
{
	k->rc[i] = hash_one(k->sums[i], k->adir, i);
}

void ns_archive_kept_close(struct ns_archive_kept *k, struct ns_plan *p)
{
	for (size_t i = 0; i < p->nr; i++)
		if (unhashed(&p->files[i]) && !k->rc[i]) {
			memcpy(p->files[i].before_sha256, k->sums[i],
			       NS_HEX_LEN + 1);
			p->kept_unsaved = 1;
		}
	close(k->adir);
	free(k->rc);
	free(k->sums);
	free(k);
}

static void hash_kept(void *ctx, size_t i)
{
	ns_archive_kept_read(ctx, i);
}

static void kept_error(const struct ns_plan *p, size_t i, const char *rundir,
		       int rc)
{
	if (rc == ENOENT)
		ns_error_set("'%s' is missing from the archive (%s/files/%zu)",
			     p->files[i].path, rundir, i);
	else
		ns_error_set("cannot read the archived '%s/files/%zu' (%s): %s",
			     rundir, i, p->files[i].path, strerror(rc));
}

/* read and note the hashes still missing; the first that cannot be read
 * is the error */
static int read_kept(struct ns_plan *p, const char *rundir)
{
	struct ns_archive_kept *k = ns_archive_kept_open(p, rundir);
	struct ns_par_feed *feed;
	int ret = 0;

	if (!k)
		return NS_ERROR;
	feed = ns_par_feed_start(p->nr, hash_kept, k);
	for (size_t i = 0; i < p->nr; i++)
		if (unhashed(&p->files[i]))
			ns_par_feed_give(feed, i);
	ns_par_feed_finish(feed);
	for (size_t i = 0; i < p->nr && !ret; i++)
		if (unhashed(&p->files[i]) && k->rc[i]) {
			kept_error(p, i, rundir, k->rc[i]);
			ret = NS_ERROR;
		}
	ns_archive_kept_close(k, p);
	return ret;
}

int ns_archive_hash_kept(struct ns_plan *p, const char *rundir)
{
	size_t n = 0;
	int ret;

	for (size_t i = 0; i < p->nr; i++)
		n += (size_t)unhashed(&p->files[i]);
	if (!n && !p->kept_unsaved)
		return 0;
	if ((ret = ns_fsx_sweep_tmp(rundir)) < 0)
		return ret;
	if (n)
		ret = read_kept(p, rundir);
	if (!ret && (ret = ns_plan_save(p, rundir)) == 0)
		p->kept_unsaved = 0;
	return ret;
}

int ns_archive_is_before(const struct ns_plan *p, size_t i, const char *rundir,
			 const char *now)
{
	char got[NS_HEX_LEN + 1];
	int adir, rc;

	if (!unhashed(&p->files[i]))
		return !strcmp(now, p->files[i].before_sha256);
	if (open_dir(&adir, rundir, "files", 0) < 0)
		return NS_ERROR;
	rc = hash_one(got, adir, i);
	close(adir);
	if (rc) {
		kept_error(p, i, rundir, rc);
		return NS_ERROR;
	}
	return !strcmp(now, got);
}

/*
 * A restore is the migration run backwards. The run links each old file
 * into the archive and renames the new one over it; the restore links
 * each file it takes out of the site into the archive's rolled-back/ and
 * moves the archived file back over it. Nothing is copied and no inode
 * is freed on the way (freeing a file's blocks is, on a filesystem
 * mounted with discard, a wait for the device), and the site gets back
 * the very files it had, owner included. Where the archive is on another
 * filesystem it holds copies, and those are copied back.
 *
 * Run again after a crash, a restore finds the files it moved back gone
 * from files/: each must then be in place, which its hash shows (taken
 * before the first move, ns_archive_hash_kept).
 */
static int restore_open(int *dfd, const char **base, const struct ns_plan *p,
			size_t i, const struct ns_root *root)
{
	int ret = ns_fsx_parent(dfd, root, p->files[i].path, base);

	if (ret == 1 && !p->files[i].before_present)
		return 1; /* its directory is gone, so is the file */
	if (ret == 1) {
		ns_error_set("%s/%s: its directory is gone, the archived file "
			     "cannot go back",
			     root->path, p->files[i].path);
		return NS_ERROR;
	}
	return ret;
}

/* the archived file was moved back by an earlier try: it is in place */
static int moved_before(const struct ns_plan_file *f, int dfd, const char *base,
			const char *what)
{
	char got[NS_HEX_LEN + 1];

	if (hash_at(got, dfd, base) == 0 && !strcmp(got, f->before_sha256))
		return 0;
	ns_error_set("'%s' is missing from the archive, and '%s' is not as "
		     "it was before the run",
		     f->path, what);
	return NS_ERROR;
}

/* the archived file i back under its name */
static int put_back(const struct ns_plan *p, size_t i, int dfd,
		    const char *base, int adir, int kdir, const char *what)
{
	const struct ns_plan_file *f = &p->files[i];
	struct stat a, b;
	char name[32], *rest;
	int ret;

	snprintf(name, sizeof(name), "%zu", i);
	if (fstatat(adir, name, &a, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return moved_before(f, dfd, base, what);
		ns_error_set("cannot read the archived '%s': %s", f->path,
			     strerror(errno));
		return NS_ERROR;
	}
	if (fstatat(dfd, base, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    b.st_dev == a.st_dev && b.st_ino == a.st_ino)
		/* never replaced (the run stopped before it): the site has
		 * it, the archive's second name goes */
		return ns_fsx_unlink(adir, name, what);
	if ((ret = ns_fsx_link(dfd, base, kdir, name, what)) < 0)
		return ret;
	if ((ret = ns_fsx_move(adir, name, dfd, base, what)) <= 0)
		return ret;
	/* another filesystem: copy it back */
	rest = ns_plan_stage_name(p, i, 'r');
	ret = ns_fsx_copy(dfd, rest, adir, name, f->before_mode,
			  &f->before_owner, NULL, NS_FSX_NOSYNC, what, NULL);
	if (!ret)
		ret = ns_fsx_rename(dfd, rest, base, what);
	free(rest);
	return ret;
}

static int restore_one(const struct ns_plan *p, size_t i,
		       const struct ns_root *root, int adir, int kdir)
{
	const struct ns_plan_file *f = &p->files[i];
	char *stage = ns_plan_stage_name(p, i, 's');
	char *what = xprintf("%s/%s", root->path, f->path);
	char name[32];
	const char *base;
	int dfd, ret = restore_open(&dfd, &base, p, i, root);

	if (ret)
		goto out;
	if (f->dir) {
		/* before the files that were in it (the plan is in path
		 * order); the run removed it, or never got that far */
		close(dfd);
		ret = f->before_present
			      ? ns_fsx_mkdir_mode(root, f->path, f->before_mode,
						  &f->before_owner)
			      : 0;
		goto out;
	}
	ret = ns_fsx_unlink(dfd, stage, what);
	if (!ret && f->before_present) {
		ret = put_back(p, i, dfd, base, adir, kdir, what);
	} else if (!ret) {
		snprintf(name, sizeof(name), "%zu", i);
		ret = ns_fsx_link(dfd, base, kdir, name, what);
		if (ret >= 0)
			ret = ns_fsx_unlink(dfd, base, what);
	}
	close(dfd);
out:
	free(stage);
	free(what);
	return ret < 0 ? ret : 0;
}

int ns_archive_restore(const struct ns_plan *p, const struct ns_root *root,
		       const char *rundir)
{
	struct ns_fsx_flusher *fl;
	int adir, kdir, ret;

	if ((ret = open_dir(&adir, rundir, "files", 0)) < 0)
		return ret;
	if ((ret = open_dir(&kdir, rundir, "rolled-back", 1)) < 0) {
		close(adir);
		return ret;
	}
	fl = ns_fsx_flusher_start(root->fd);
	for (size_t i = 0; i < p->nr && !ret; i++)
		ret = restore_one(p, i, root, adir, kdir);
	for (size_t i = p->mkdirs_nr; i-- > 0 && !ret;)
		ret = ns_fsx_rmdir(root, p->mkdirs[i]);
	ns_fsx_flusher_stop(fl);
	/* one flush for every name moved, before the journal says
	 * ROLLED_BACK; until then recovery restores again */
	if (!ret)
		ret = ns_fsx_syncfs(root->fd, root->path);
	close(kdir);
	close(adir);
	return ret;
}
