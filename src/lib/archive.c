#include "archive.h"
#include "error.h"
#include "par.h"
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

static json_t *strings(char **s, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(s[i]));
	return a;
}

static json_t *nullable(const char *s)
{
	return s ? json_string(s) : json_null();
}

int ns_plan_save(const struct ns_plan *p, const char *rundir)
{
	json_t *o = json_object(), *files = json_array();
	char *text, *path;
	int ret;

	for (size_t i = 0; i < p->nr; i++) {
		const struct ns_plan_file *f = &p->files[i];
		json_array_append_new(
			files,
			json_pack("{s:s, s:s, s:s, s:i, s:I, s:b, s:s, s:i}",
				  "path", f->path, "op",
				  f->op == NS_OP_PUT ? "put" : "delete",
				  "sha256", f->sha256, "mode", (int)f->mode,
				  "size", (json_int_t)f->size, "before",
				  f->before_present, "before_sha256",
				  f->before_sha256, "before_mode",
				  (int)f->before_mode));
	}
	json_object_set_new(o, "token", json_string(p->token));
	json_object_set_new(o, "enhancement", json_string(p->enhancement));
	json_object_set_new(o, "revision", json_integer(p->revision));
	json_object_set_new(o, "payload_sha256",
			    json_string(p->payload_sha256));
	json_object_set_new(o, "environment", json_string(p->environment));
	json_object_set_new(o, "site", json_string(p->site));
	json_object_set_new(o, "root", json_string(p->root));
	json_object_set_new(o, "database", nullable(p->database));
	json_object_set_new(o, "user", json_string(p->user));
	json_object_set_new(o, "files", files);
	json_object_set_new(o, "mkdirs", strings(p->mkdirs, p->mkdirs_nr));
	json_object_set_new(o, "revert_sql", nullable(p->revert_sql));
	json_object_set_new(o, "table_existed", json_boolean(p->table_existed));
	if (p->tx_none)
		json_object_set_new(o, "transaction", json_string("none"));
	json_object_set_new(o, "verify", strings(p->verify, p->verify_nr));
	/* in the order built (a person reads it top down); sorting the keys of
	 * a thousand entries cost more than building them */
	text = json_dumps(o, JSON_INDENT(1));
	json_decref(o);
	path = xprintf("%s/plan.json", rundir);
	ret = ns_fsx_write_file(path, text, strlen(text));
	free(path);
	free(text);
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

/* keep file i in the archive; *later set when its hash is still to be
 * read from the archive */
static int take_one(struct ns_plan_file *f, size_t i,
		    const struct ns_root *root, int adir, unsigned char *later)
{
	const char *base;
	char name[32], *what;
	struct stat st;
	int dfd, ret = ns_fsx_parent(&dfd, root, f->path, &base);

	if (ret)
		return ret < 0 ? ret : 0;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode)) {
		close(dfd);
		return 0; /* absent: the drift check made sure it may be */
	}
	snprintf(name, sizeof(name), "%zu", i);
	what = xprintf("%s/%s", root->path, f->path);
	ret = ns_fsx_keep_later(adir, name, dfd, base, st.st_mode & 07777,
				f->before_sha256, &f->seen, what);
	close(dfd);
	if (ret == 1) {
		*later = 1;
		ret = 0;
	}
	if (!ret) {
		f->before_present = 1;
		f->before_mode = st.st_mode & 07777;
	}
	free(what);
	return ret;
}

/* the hashes of the files kept by a link, read back from the archive on
 * both cores (par.h): the links were made in order on this thread */
struct reader {
	struct ns_plan *p;
	const unsigned char *later;
	int adir, *rc;
};

static void hash_kept(void *ctx, size_t i)
{
	struct reader *h = ctx;
	char name[32];
	int fd;

	if (!h->later[i])
		return;
	snprintf(name, sizeof(name), "%zu", i);
	fd = openat(h->adir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	h->rc[i] = fd < 0 || ns_sha256_fd(h->p->files[i].before_sha256, fd) < 0
			   ? errno
			   : 0;
	if (fd >= 0)
		close(fd);
}

static int hash_later(struct ns_plan *p, const struct ns_root *root, int adir,
		      const unsigned char *later)
{
	int *rc = xcalloc(p->nr ? p->nr : 1, sizeof(*rc)), ret = 0;
	struct reader h = { p, later, adir, rc };

	ns_par_each(p->nr, hash_kept, &h);
	for (size_t i = 0; i < p->nr && !ret; i++)
		if (rc[i]) {
			ns_error_set("cannot read the archived '%s/%s': %s",
				     root->path, p->files[i].path,
				     strerror(rc[i]));
			ret = NS_ERROR;
		}
	free(rc);
	return ret;
}

int ns_archive_take(struct ns_plan *p, const struct ns_root *root,
		    const char *rundir)
{
	unsigned char *later = xcalloc(p->nr ? p->nr : 1, 1);
	int adir, ret = 0;

	if ((ret = open_dir(&adir, rundir, "files", 1)) < 0) {
		free(later);
		return ret;
	}
	for (size_t i = 0; i < p->nr && !ret; i++)
		ret = take_one(&p->files[i], i, root, adir, &later[i]);
	if (!ret)
		ret = hash_later(p, root, adir, later);
	/* one flush for the whole archive, before the journal trusts it */
	if (!ret)
		ret = ns_fsx_syncfs(adir, rundir);
	close(adir);
	free(later);
	return ret;
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
 * from files/: each must then be in place, which its hash shows.
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
	int fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int ok = fd >= 0 && ns_sha256_fd(got, fd) == 0 &&
		 !strcmp(got, f->before_sha256);

	if (fd >= 0)
		close(fd);
	if (ok)
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
	ret = ns_fsx_copy(dfd, rest, adir, name, f->before_mode, NULL,
			  NS_FSX_NOSYNC, what);
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
	int adir, kdir, ret;

	if ((ret = open_dir(&adir, rundir, "files", 0)) < 0)
		return ret;
	if ((ret = open_dir(&kdir, rundir, "rolled-back", 1)) < 0) {
		close(adir);
		return ret;
	}
	for (size_t i = 0; i < p->nr && !ret; i++)
		ret = restore_one(p, i, root, adir, kdir);
	for (size_t i = p->mkdirs_nr; i-- > 0 && !ret;)
		ret = ns_fsx_rmdir(root, p->mkdirs[i]);
	/* one flush for every name moved, before the journal says
	 * ROLLED_BACK; until then recovery restores again */
	if (!ret)
		ret = ns_fsx_syncfs(root->fd, root->path);
	close(kdir);
	close(adir);
	return ret;
}
