/*
 * gitsrc — an enhancement built from a git commit range (gitsrc.h).
 */
#include "gitsrc.h"

#include "error.h"
#include "fsx.h"
#include "hash.h"
#include "lazylib.h"
#include "lifecycle.h"
#include "manifest.h"
#include "strbuf.h"
#include "timefmt.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Git sources and tags: the library's functions, loaded at first use
 * (lazylib.h) */
#define GIT_API(X)                                                             \
	X(git_blob_free)                                                       \
	X(git_blob_lookup)                                                     \
	X(git_blob_rawcontent)                                                 \
	X(git_blob_rawsize)                                                    \
	X(git_commit_free)                                                     \
	X(git_commit_id)                                                       \
	X(git_commit_tree)                                                     \
	X(git_diff_free)                                                       \
	X(git_diff_get_delta)                                                  \
	X(git_diff_num_deltas)                                                 \
	X(git_diff_tree_to_tree)                                               \
	X(git_error_last)                                                      \
	X(git_libgit2_init)                                                    \
	X(git_libgit2_shutdown)                                                \
	X(git_object_free)                                                     \
	X(git_object_lookup)                                                   \
	X(git_object_peel)                                                     \
	X(git_oid_fromstr)                                                     \
	X(git_oid_tostr)                                                       \
	X(git_repository_free)                                                 \
	X(git_repository_open)                                                 \
	X(git_repository_path)                                                 \
	X(git_revparse_single)                                                 \
	X(git_signature_free)                                                  \
	X(git_signature_new)                                                   \
	X(git_tag_create)                                                      \
	X(git_tree_entry_byindex)                                              \
	X(git_tree_entry_bypath)                                               \
	X(git_tree_entry_filemode)                                             \
	X(git_tree_entry_free)                                                 \
	X(git_tree_entry_id)                                                   \
	X(git_tree_entry_name)                                                 \
	X(git_tree_entrycount)                                                 \
	X(git_tree_free)                                                       \
	X(git_tree_lookup)
GIT_API(NS_LAZY_SLOT)

NS_LAZY_LOADER(git2_load, GIT_API, NS_SONAME_GIT2, "Git sources and tags")

#define git_blob_free		lazy_git_blob_free
#define git_blob_lookup		lazy_git_blob_lookup
#define git_blob_rawcontent	lazy_git_blob_rawcontent
#define git_blob_rawsize	lazy_git_blob_rawsize
#define git_commit_free		lazy_git_commit_free
#define git_commit_id		lazy_git_commit_id
#define git_commit_tree		lazy_git_commit_tree
#define git_diff_free		lazy_git_diff_free
#define git_diff_get_delta	lazy_git_diff_get_delta
#define git_diff_num_deltas	lazy_git_diff_num_deltas
#define git_diff_tree_to_tree	lazy_git_diff_tree_to_tree
#define git_error_last		lazy_git_error_last
#define git_libgit2_init	lazy_git_libgit2_init
#define git_libgit2_shutdown	lazy_git_libgit2_shutdown
#define git_object_free		lazy_git_object_free
#define git_object_lookup	lazy_git_object_lookup
#define git_object_peel		lazy_git_object_peel
#define git_oid_fromstr		lazy_git_oid_fromstr
#define git_oid_tostr		lazy_git_oid_tostr
#define git_repository_free	lazy_git_repository_free
#define git_repository_open	lazy_git_repository_open
#define git_repository_path	lazy_git_repository_path
#define git_revparse_single	lazy_git_revparse_single
#define git_signature_free	lazy_git_signature_free
#define git_signature_new	lazy_git_signature_new
#define git_tag_create		lazy_git_tag_create
#define git_tree_entry_byindex	lazy_git_tree_entry_byindex
#define git_tree_entry_bypath	lazy_git_tree_entry_bypath
#define git_tree_entry_filemode lazy_git_tree_entry_filemode
#define git_tree_entry_free	lazy_git_tree_entry_free
#define git_tree_entry_id	lazy_git_tree_entry_id
#define git_tree_entry_name	lazy_git_tree_entry_name
#define git_tree_entrycount	lazy_git_tree_entrycount
#define git_tree_free		lazy_git_tree_free
#define git_tree_lookup		lazy_git_tree_lookup

#define META_DIR ".nightshift"
#define MAX_PATH 4096 /* the package's own cap comes after */
#define MAX_INI	 (1 << 20)

struct build {
	git_repository *repo;
	const char *name; /* the repository as the user named it */
	const char *prefix;
	size_t prefix_len;
	const char *dir;
	struct strbuf files; /* the [files] lines */
	int changed;	     /* files in the range, or SQL */
};

static int git_fail(const char *what, const char *repo)
{
	const git_error *e = git_error_last();

	ns_error_set("%s: %s: %s", repo, what, e ? e->message : "git error");
	return NS_EINVALID;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int write_blob(const struct build *b, const char *rel, const git_oid *id,
		      unsigned mode)
{
	git_blob *blob = NULL;
	char *path = xprintf("%s/%s", b->dir, rel), *slash;
	int ret = 0, fd;

	if (git_blob_lookup(&blob, b->repo, id) < 0) {
		ret = git_fail(rel, b->name);
		goto done;
	}
	slash = strrchr(path, '/');
	*slash = '\0';
	ret = ns_fsx_mkdir_p(path, 0755);
	*slash = '/';
	if (ret < 0)
		goto done;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  mode);
	if (fd < 0 || write_all(fd, git_blob_rawcontent(blob),
				(size_t)git_blob_rawsize(blob)) < 0) {
		ns_error_set("cannot write '%s': %s", path, strerror(errno));
		ret = NS_ERROR;
	}
	if (fd >= 0 && close(fd) < 0 && !ret) {
		ns_error_set("cannot write '%s': %s", path, strerror(errno));
		ret = NS_ERROR;
	}
done:
	git_blob_free(blob);
	free(path);
	return ret;
}

static int blob_sha256(char out[NS_HEX_LEN + 1], const struct build *b,
		       const git_oid *id, const char *path)
{
	git_blob *blob = NULL;

	if (git_blob_lookup(&blob, b->repo, id) < 0)
		return git_fail(path, b->name);
	ns_sha256_buf(out, git_blob_rawcontent(blob),
		      (size_t)git_blob_rawsize(blob));
	git_blob_free(blob);
	return 0;
}

static int refuse_mode(const struct build *b, const char *path, uint16_t mode)
{
	if (mode == GIT_FILEMODE_LINK) {
		ns_error_set("%s: %s: a symbolic link in the range (refused, "
			     "as in a package)",
			     b->name, path);
		return NS_EINVALID;
	}
	if (mode == GIT_FILEMODE_COMMIT) {
		ns_error_set("%s: %s: a submodule in the range (refused, as "
			     "in a package)",
			     b->name, path);
		return NS_EINVALID;
	}
	return 0;
}

/* the path below PREFIX, or NULL when the delta lies outside it */
static const char *below(const struct build *b, const char *path)
{
	if (!strncmp(path, META_DIR "/", sizeof(META_DIR)))
		return NULL;
	if (!b->prefix_len)
		return path;
	if (strncmp(path, b->prefix, b->prefix_len) ||
	    path[b->prefix_len] != '/')
		return NULL;
	return path + b->prefix_len + 1;
}

static int on_delta(struct build *b, const git_diff_delta *d)
{
	const char *path = d->status == GIT_DELTA_DELETED ? d->old_file.path
							  : d->new_file.path;
	const char *rel = below(b, path);
	char sha[NS_HEX_LEN + 1], *dst;
	int ret = 0;

	if (!rel)
		return 0;
	b->changed = 1;
	/* a crafted tree can name anything: nothing leaves the scratch
	 * directory (the package's own checks come after) */
	if ((ret = ns_path_check(path, rel, MAX_PATH)) < 0) {
		ns_error_prefix("%s", b->name);
		return ret;
	}
	if (d->status != GIT_DELTA_ADDED &&
	    (ret = refuse_mode(b, path, d->old_file.mode)) < 0)
		return ret;
	if (d->status != GIT_DELTA_DELETED &&
	    (ret = refuse_mode(b, path, d->new_file.mode)) < 0)
		return ret;
	if (d->status != GIT_DELTA_ADDED) {
		if ((ret = blob_sha256(sha, b, &d->old_file.id, path)) < 0)
			return ret;
		strbuf_addf(&b->files, "base = %s %s\n", rel, sha);
	}
	if (d->status == GIT_DELTA_DELETED) {
		strbuf_addf(&b->files, "delete = %s\n", rel);
		return 0;
	}
	dst = xprintf("files/%s", rel);
	ret = write_blob(
		b, dst, &d->new_file.id,
		d->new_file.mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644);
	free(dst);
	return ret;
}

static int tree_of(git_tree **out, git_commit **commit, git_repository *repo,
		   const char *name, const char *rev)
{
	git_object *obj = NULL;
	int ret = 0;

	if (git_revparse_single(&obj, repo, rev) < 0 ||
	    git_object_peel((git_object **)commit, obj, GIT_OBJECT_COMMIT) <
		    0 ||
	    git_commit_tree(out, *commit) < 0) {
		const git_error *e = git_error_last();
		ns_error_set("%s: revision '%s': %s", name, rev,
			     e ? e->message : "not found");
		ret = NS_EINVALID;
	}
	git_object_free(obj);
	return ret;
}

/* .nightshift/enhancement.ini with the [files] lines, and .nightshift/sql */
static int write_meta(struct build *b, git_tree *to)
{
	git_tree_entry *ini = NULL, *sql = NULL;
	git_tree *sqltree = NULL;
	git_blob *blob = NULL;
	struct strbuf buf = STRBUF_INIT;
	char *path = NULL;
	int ret = NS_EINVALID;

	if (git_tree_entry_bypath(&ini, to, META_DIR "/enhancement.ini") < 0 ||
	    git_tree_entry_filemode(ini) != GIT_FILEMODE_BLOB) {
		ns_error_set("%s: " META_DIR "/enhancement.ini: missing in "
			     "the --to tree (it says what the enhancement "
			     "is)",
			     b->name);
		goto done;
	}
	if (git_blob_lookup(&blob, b->repo, git_tree_entry_id(ini)) < 0) {
		ret = git_fail(META_DIR "/enhancement.ini", b->name);
		goto done;
	}
	if (git_blob_rawsize(blob) > MAX_INI) {
		ns_error_set("%s: " META_DIR "/enhancement.ini: larger than "
			     "%d bytes",
			     b->name, MAX_INI);
		ret = NS_EINVALID;
		goto done;
	}
	strbuf_add(&buf, git_blob_rawcontent(blob),
		   (size_t)git_blob_rawsize(blob));
	if (b->files.len)
		strbuf_addf(&buf, "\n[files]\n%s", b->files.buf);
	path = xprintf("%s/enhancement.ini", b->dir);
	if ((ret = ns_fsx_write_file(path, buf.buf, buf.len)) < 0)
		goto done;
	if (git_tree_entry_bypath(&sql, to, META_DIR "/sql") < 0) {
		ret = 0;
		goto done;
	}
	if (git_tree_lookup(&sqltree, b->repo, git_tree_entry_id(sql)) < 0) {
		ns_error_set("%s: " META_DIR "/sql: not a directory", b->name);
		ret = NS_EINVALID;
		goto done;
	}
	for (size_t i = 0; !ret && i < git_tree_entrycount(sqltree); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(sqltree, i);
		char *rel = xprintf("sql/%s", git_tree_entry_name(e));

		if (ns_path_check(META_DIR "/sql", git_tree_entry_name(e),
				  MAX_PATH) < 0 ||
		    strchr(git_tree_entry_name(e), '/')) {
			ns_error_set("%s: " META_DIR "/%s: not a plain name",
				     b->name, rel);
			ret = NS_EINVALID;
		} else if (git_tree_entry_filemode(e) != GIT_FILEMODE_BLOB) {
			ns_error_set("%s: " META_DIR "/%s: not a plain file",
				     b->name, rel);
			ret = NS_EINVALID;
		} else {
			ret = write_blob(b, rel, git_tree_entry_id(e), 0644);
			b->changed = 1; /* an enhancement of SQL alone */
		}
		free(rel);
	}
done:
	git_tree_free(sqltree);
	git_tree_entry_free(sql);
	git_tree_entry_free(ini);
	git_blob_free(blob);
	strbuf_release(&buf);
	free(path);
	return ret;
}

static char *origin_json(git_repository *repo, const git_commit *from,
			 const git_commit *to, const char *prefix)
{
	char f[GIT_OID_HEXSZ + 1], t[GIT_OID_HEXSZ + 1], *s;
	json_t *o;

	git_oid_tostr(f, sizeof(f), git_commit_id(from));
	git_oid_tostr(t, sizeof(t), git_commit_id(to));
	o = json_pack("{s:s, s:s, s:s, s:s}", "git", git_repository_path(repo),
		      "from", f, "to", t, "path", prefix ? prefix : "");
	s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(o);
	return s;
}

int ns_gitsrc_build(char **out_origin, const char *repo, const char *from,
		    const char *to, const char *prefix, const char *dir)
{
	struct build b = { NULL, repo, prefix, 0, dir, STRBUF_INIT, 0 };
	git_commit *cfrom = NULL, *cto = NULL;
	git_tree *tfrom = NULL, *tto = NULL;
	git_diff *diff = NULL;
	int ret = NS_EINVALID;

	if (git2_load() < 0)
		return NS_ERROR;
	git_libgit2_init();
	while (prefix && b.prefix_len == 0 && *prefix == '/')
		prefix++;
	b.prefix = prefix;
	b.prefix_len = prefix ? strlen(prefix) : 0;
	while (b.prefix_len && prefix[b.prefix_len - 1] == '/')
		b.prefix_len--;
	if (git_repository_open(&b.repo, repo) < 0) {
		ret = git_fail("not a git repository", repo);
		goto done;
	}
	if ((ret = tree_of(&tfrom, &cfrom, b.repo, repo, from)) < 0 ||
	    (ret = tree_of(&tto, &cto, b.repo, repo, to)) < 0)
		goto done;
	if (git_diff_tree_to_tree(&diff, b.repo, tfrom, tto, NULL) < 0) {
		ret = git_fail("diff", repo);
		goto done;
	}
	for (size_t i = 0; !ret && i < git_diff_num_deltas(diff); i++)
		ret = on_delta(&b, git_diff_get_delta(diff, i));
	if (!ret)
		ret = write_meta(&b, tto);
	if (!ret && !b.changed) {
		ns_error_set("%s: nothing to do: no file changed between %s "
			     "and %s%s%s, and " META_DIR "/sql has no script",
			     repo, from, to, b.prefix_len ? " under " : "",
			     b.prefix_len ? prefix : "");
		ret = NS_EINVALID;
	}
	if (!ret) {
		char *p = xstrndup(b.prefix ? b.prefix : "", b.prefix_len);
		*out_origin = origin_json(b.repo, cfrom, cto, p);
		free(p);
	}
done:
	git_diff_free(diff);
	git_tree_free(tfrom);
	git_tree_free(tto);
	git_commit_free(cfrom);
	git_commit_free(cto);
	git_repository_free(b.repo);
	strbuf_release(&b.files);
	git_libgit2_shutdown();
	return ret;
}

int ns_gitsrc_tag(const char *origin, const char *name, const char *message,
		  const char *tagger)
{
	json_t *o = json_loads(origin, 0, NULL);
	const char *gitdir = json_string_value(json_object_get(o, "git"));
	const char *to = json_string_value(json_object_get(o, "to"));
	git_repository *repo = NULL;
	git_object *target = NULL;
	git_signature *sig = NULL;
	git_oid id;
	int ret = NS_ERROR;

	if (git2_load() < 0) {
		json_decref(o);
		return NS_ERROR;
	}
	git_libgit2_init();
	if (!gitdir || !to || git_oid_fromstr(&id, to) < 0) {
		ns_error_set("the source of the enhancement is not a git "
			     "range");
		goto done;
	}
	if (git_repository_open(&repo, gitdir) < 0 ||
	    git_object_lookup(&target, repo, &id, GIT_OBJECT_COMMIT) < 0 ||
	    /* nightshift's clock (NIGHTSHIFT_NOW in tests and the demo), UTC */
	    git_signature_new(&sig, tagger, "nightshift@localhost",
			      (git_time_t)ns_now(), 0) < 0 ||
	    git_tag_create(&id, repo, name, target, sig, message, 0) < 0) {
		const git_error *e = git_error_last();
		ns_error_set("%s: tag %s: %s", gitdir, name,
			     e ? e->message : "git error");
		goto done;
	}
	ret = 0;
done:
	git_signature_free(sig);
	git_object_free(target);
	git_repository_free(repo);
	git_libgit2_shutdown();
	json_decref(o);
	return ret;
}

void ns_gitsrc_after_migration(struct ns_runner *r, long long enh, int rev,
			       const char *env, long long run)
{
	json_t *row = NULL, *o = NULL;
	char at[NS_TIME_LEN], *name = NULL, *msg = NULL, *line = NULL;
	const char *origin;

	if (ns_registry_query_row(r->reg, &row,
				  "SELECT detail FROM events WHERE "
				  "enhancement = ? AND revision = ? AND event "
				  "= 'source' ORDER BY id DESC LIMIT 1",
				  "Ii", enh, rev) < 0 ||
	    !row || !(origin = ns_row_str(row, "detail")) ||
	    !(o = json_loads(origin, 0, NULL)) || !json_object_get(o, "git"))
		goto done;
	ns_time_iso(at, ns_now());
	name = xprintf("nightshift/ENH-%lld-r%d/%s", enh, rev, env);
	msg = xprintf("ENH-%lld r%d migrated into %s\n\nEnvironment: %s\n"
		      "Time: %s\nRun: %lld\nBy: %s\n",
		      enh, rev, env, env, at, run, r->user);
	if (ns_gitsrc_tag(origin, name, msg, r->user) < 0) {
		line = xprintf("%s: ENH-%lld r%d: the git tag was not made, "
			       "the migration stands: %s",
			       env, enh, rev, ns_error_last());
		r->warn(r->data, line);
		ns_registry_event(r->reg, r->user, enh, rev, env, "tag-failed",
				  ns_error_last());
	} else {
		line = xprintf("%s: ENH-%lld r%d: tagged %s", env, enh, rev,
			       name);
		r->say(r->data, line);
		ns_registry_event(r->reg, r->user, enh, rev, env, "tagged",
				  name);
	}
done:
	json_decref(o);
	json_decref(row);
	free(name);
	free(msg);
	free(line);
}

int ns_gitsrc_submit(long long *out_enh, int *out_rev,
		     const struct ns_config *c, struct ns_registry *r,
		     long long enh, const char *repo, const char *from,
		     const char *to, const char *prefix, const char *actor)
{
	char *tmp = xprintf("%s/.git-XXXXXX", c->store), *origin = NULL;
	char *label = xprintf("%s@%s", repo, to);
	int ret = ns_fsx_mkdir_p(c->store, 0755);

	if (!ret && !mkdtemp(tmp)) {
		ns_error_set("cannot make a scratch directory '%s': %s", tmp,
			     strerror(errno));
		ret = NS_ERROR;
		free(tmp);
		tmp = NULL;
	}
	if (!ret)
		ret = ns_gitsrc_build(&origin, repo, from, to, prefix, tmp);
	if (!ret && enh)
		ret = ns_lifecycle_resubmit_from(out_rev, c, r, enh, tmp, actor,
						 origin);
	else if (!ret)
		ret = ns_lifecycle_submit_from(out_enh, c, r, tmp, actor,
					       origin);
	if (ret < 0 && tmp)
		ns_error_replace(tmp, label);
	if (tmp && ns_fsx_remove_tree(tmp) < 0 && !ret)
		ret = NS_ERROR;
	free(tmp);
	free(label);
	free(origin);
	return ret;
}
