#include "fsx.h"
#include "error.h"
#include "hashq.h"
#include "step.h"
#include "strbuf.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

int ns_fsx_root_open(struct ns_root *out, const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	/* a root that is not there (a file system not mounted, say) is the
	 * environment's fault, as any I/O error: not the enhancement's */
	if (fd < 0) {
		ns_error_set("cannot open target root '%s': %s", path,
			     strerror(errno));
		return NS_ERROR;
	}
	out->fd = fd;
	out->path = xstrdup(path);
	return 0;
}

void ns_fsx_root_release(struct ns_root *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->path);
	r->fd = -1;
	r->path = NULL;
}

static int openat2_beneath(int dirfd, const char *path)
{
#ifdef SYS_openat2
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
#else
	errno = ENOSYS;
	return -1;
#endif
}

/* the slow path, and the one that names the component at fault */
static int walk(int *out, const struct ns_root *r, const char *dir,
		const char *rel)
{
	int fd = dup(r->fd);
	const char *p = dir;

	if (fd < 0) {
		ns_error_set("%s: %s", r->path, strerror(errno));
		return NS_ERROR;
	}
	while (*p) {
		size_t n = strcspn(p, "/");
		char *comp = xstrndup(p, n);
		int next =
			openat(fd, comp,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int err = errno;
		struct stat st;

		if (next < 0 && err != ENOENT &&
		    fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			ns_error_set("%s/%.*s: %s in the target path of '%s'",
				     r->path, (int)(p - dir + n), dir,
				     S_ISLNK(st.st_mode) ? "symbolic link"
							 : "not a directory",
				     rel);
			err = -1;
		}
		free(comp);
		close(fd);
		if (next < 0) {
			if (err == ENOENT)
				return 1;
			if (err == -1)
				return NS_EINVALID;
			ns_error_set("%s/%s: %s", r->path, dir, strerror(err));
			return NS_ERROR;
		}
		fd = next;
		p += n;
		p += strspn(p, "/");
	}
	*out = fd;
	return 0;
}

/* callers check paths, but a plan read back for recovery is checked here
 * too: nothing below a root may name its way out of it */
static int confined(const struct ns_root *r, const char *rel)
{
	const char *p = rel;

	while (*p) {
		size_t n = strcspn(p, "/");
		if (!n || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			ns_error_set("%s: '%s' is not a path beneath the root "
				     "(empty, '.' or '..' component)",
				     r->path, rel);
			return NS_EINVALID;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	if (!*rel || rel[0] == '/' || rel[strlen(rel) - 1] == '/') {
		ns_error_set("%s: '%s' is not a path beneath the root", r->path,
			     rel);
		return NS_EINVALID;
	}
	return 0;
}

int ns_fsx_parent(int *out, const struct ns_root *r, const char *rel,
		  const char **base)
{
	const char *slash = strrchr(rel, '/');
	char *dir;
	int fd, ret;

	if ((ret = confined(r, rel)) < 0)
		return ret;
	*base = slash ? slash + 1 : rel;
	if (!slash) {
		if ((*out = dup(r->fd)) < 0) {
			ns_error_set("%s: %s", r->path, strerror(errno));
			return NS_ERROR;
		}
		return 0;
	}
	dir = xstrndup(rel, (size_t)(slash - rel));
	fd = openat2_beneath(r->fd, dir);
	if (fd >= 0) {
		*out = fd;
		ret = 0;
	} else {
		ret = walk(out, r, dir, rel);
	}
	free(dir);
	return ret;
}

int ns_fsx_stat(struct stat *st, const struct ns_root *r, const char *rel)
{
	const char *base;
	int dfd, ret = ns_fsx_parent(&dfd, r, rel, &base);

	if (ret)
		return ret;
	if (fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW) < 0) {
		ret = errno == ENOENT ? 1 : NS_ERROR;
		if (ret < 0)
			ns_error_set("%s/%s: %s", r->path, rel,
				     strerror(errno));
	} else if (S_ISLNK(st->st_mode)) {
		ns_error_set("%s/%s: symbolic link in the target path", r->path,
			     rel);
		ret = NS_EINVALID;
	}
	close(dfd);
	return ret;
}

static int same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* the content of st is still the one seen: the same inode, size and
 * modification time (with_ctime: and change time) */
static int still_seen(const struct ns_fsx_seen *seen, const struct stat *st,
		      int with_ctime)
{
	return seen && seen->valid && S_ISREG(st->st_mode) &&
	       st->st_dev == seen->dev && st->st_ino == seen->ino &&
	       st->st_size == seen->size &&
	       same_time(&st->st_mtim, &seen->mtime) &&
	       (!with_ctime || same_time(&st->st_ctim, &seen->ctime));
}

static void note_seen(struct ns_fsx_seen *seen, const struct stat *before,
		      const struct stat *after, const struct timespec *start,
		      const char *sha256)
{
	memset(seen, 0, sizeof(*seen));
	seen->dev = after->st_dev;
	seen->ino = after->st_ino;
	seen->size = after->st_size;
	seen->mtime = after->st_mtim;
	seen->ctime = after->st_ctim;
	memcpy(seen->sha256, sha256, NS_HEX_LEN + 1);
	/* Any later change sets the change time to the clock of that moment,
	 * which is at or after start: the hash stands for the file for as
	 * long as its change time stays what it was, provided that time is
	 * clearly before start (a second covers coarse clocks and
	 * filesystems that keep whole seconds) and the file did not change
	 * while it was read. */
	seen->valid = 1; /* for still_seen: is before what after is? */
	seen->valid = still_seen(seen, before, 1) &&
		      (after->st_ctim.tv_sec < start->tv_sec - 1 ||
		       (after->st_ctim.tv_sec == start->tv_sec - 1 &&
			after->st_ctim.tv_nsec < start->tv_nsec));
}

int ns_fsx_hash(char out[NS_HEX_LEN + 1], const struct ns_root *r,
		const char *rel)
{
	return ns_fsx_hash_seen(out, NULL, r, rel);
}

int ns_fsx_hash_seen(char out[NS_HEX_LEN + 1], struct ns_fsx_seen *seen,
		     const struct ns_root *r, const char *rel)
{
	struct stat st, after;
	struct timespec start;
	const char *base;
	int dfd, fd, ret = ns_fsx_parent(&dfd, r, rel, &base);

	if (ret)
		return ret;
	if (seen)
		memset(seen, 0, sizeof(*seen));
	clock_gettime(CLOCK_REALTIME, &start);
	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(dfd);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		ns_error_set("%s/%s: %s", r->path, rel,
			     errno == ELOOP ? "symbolic link in the target path"
					    : strerror(errno));
		return errno == ELOOP ? NS_EINVALID : NS_ERROR;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ns_error_set("%s/%s: not a regular file in the target", r->path,
			     rel);
		close(fd);
		return NS_EINVALID;
	}
	ret = ns_sha256_fd(out, fd);
	if (ret < 0)
		ns_error_set("cannot read '%s/%s': %s", r->path, rel,
			     strerror(errno));
	else if (seen && fstat(fd, &after) == 0)
		note_seen(seen, &st, &after, &start, out);
	close(fd);
	return ret < 0 ? NS_ERROR : 0;
}

static int owner_differs(const struct ns_owner *own, const struct stat *st)
{
	return own && own->set &&
	       (own->uid != st->st_uid || own->gid != st->st_gid);
}

/* fd gets the owner own, when its stat st says it has another */
static int set_owner(int fd, const struct ns_owner *own, const struct stat *st)
{
	if (!owner_differs(own, st))
		return 0;
	if (ns_step("chown") < 0)
		return -1;
	return fchown(fd, own->uid, own->gid);
}

static void owner_error(const char *dir, const char *name,
			const struct ns_owner *own)
{
	int err = errno;

	ns_error_set("cannot give '%s%s%s' its owner (uid %lu, gid %lu, as "
		     "the file it replaces or puts back had; nightshift runs "
		     "as uid %lu): %s",
		     dir ? dir : "", dir ? "/" : "", name,
		     (unsigned long)own->uid, (unsigned long)own->gid,
		     (unsigned long)geteuid(), strerror(err));
}

void ns_fsx_new_owner(struct ns_owner *own, int dirfd)
{
	struct stat st;

	*own = (struct ns_owner){ 0, 0, 0 };
	if (geteuid() == 0 && fstat(dirfd, &st) == 0)
		*own = (struct ns_owner){ 1, st.st_uid, st.st_gid };
}

/* mode < 0: 0755 less the umask, as mkdir(1); own NULL: a directory this
 * call creates takes its parent's owner (ns_fsx_new_owner), one already
 * there keeps its own */
static int mkdir_in(const struct ns_root *r, const char *rel, int mode,
		    const struct ns_owner *own)
{
	const char *base;
	struct stat st;
	struct ns_owner parent = { 0, 0, 0 };
	int dfd, fd, made = 0, ret = ns_fsx_parent(&dfd, r, rel, &base);

	if (ret == 1)
		ns_error_set("cannot create directory '%s/%s': its parent "
			     "does not exist",
			     r->path, rel);
	if (ret)
		return ret < 0 ? ret : NS_ERROR;
	if (ns_step("mkdir") == 0 &&
	    mkdirat(dfd, base, mode < 0 ? 0755 : (mode_t)mode & 07777) == 0)
		made = 1;
	else if (errno != EEXIST) {
		ns_error_set("cannot create directory '%s/%s': %s", r->path,
			     rel, strerror(errno));
		close(dfd);
		return NS_ERROR;
	}
	if (!own) {
		if (made)
			ns_fsx_new_owner(&parent, dfd);
		own = &parent;
	}
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode)) {
		ns_error_set("cannot create directory '%s/%s': something "
			     "else is in the way",
			     r->path, rel);
		ret = NS_EINVALID;
	} else if ((mode >= 0 &&
		    (st.st_mode & 07777) != ((mode_t)mode & 07777)) ||
		   owner_differs(own, &st)) {
		fd = openat(dfd, base,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			ns_error_set("cannot open directory '%s/%s': %s",
				     r->path, rel, strerror(errno));
			ret = NS_ERROR;
		} else if (set_owner(fd, own, &st) < 0) {
			owner_error(r->path, rel, own);
			ret = NS_ERROR;
		} else if (mode >= 0 &&
			   (ns_step("chmod") < 0 ||
			    fchmod(fd, (mode_t)mode & 07777) < 0)) {
			ns_error_set("cannot set the mode of '%s/%s': %s",
				     r->path, rel, strerror(errno));
			ret = NS_ERROR;
		}
		if (fd >= 0)
			close(fd);
	}
	if (!ret)
		ret = ns_fsx_fsync_dir(dfd, rel);
	close(dfd);
	return ret;
}

int ns_fsx_mkdir(const struct ns_root *r, const char *rel)
{
	return mkdir_in(r, rel, -1, NULL);
}

int ns_fsx_mkdir_mode(const struct ns_root *r, const char *rel, unsigned mode,
		      const struct ns_owner *own)
{
	return mkdir_in(r, rel, (int)(mode & 07777), own);
}

int ns_fsx_each_entry(const struct ns_root *r, const char *rel,
		      int (*fn)(void *ctx, const char *name), void *ctx)
{
	const char *base;
	struct dirent *de;
	DIR *d = NULL;
	int dfd, fd, err, ret = ns_fsx_parent(&dfd, r, rel, &base);

	if (ret == 1)
		ns_error_set("cannot read the directory '%s/%s': it is gone",
			     r->path, rel);
	if (ret)
		return ret < 0 ? ret : NS_ERROR;
	fd = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	err = errno;
	close(dfd);
	if (fd >= 0 && !(d = fdopendir(fd)))
		err = errno;
	if (!d) {
		ns_error_set("cannot read the directory '%s/%s': %s", r->path,
			     rel, strerror(err));
		if (fd >= 0)
			close(fd);
		return NS_ERROR;
	}
	while (!ret && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			ret = fn(ctx, de->d_name);
	closedir(d);
	return ret;
}

int ns_fsx_rmdir_empty(const struct ns_root *r, const char *rel)
{
	const char *base;
	int dfd, ret = ns_fsx_parent(&dfd, r, rel, &base);

	if (ret)
		return ret == 1 ? 0 : ret;
	if (ns_step("rmdir") < 0 ||
	    (unlinkat(dfd, base, AT_REMOVEDIR) < 0 && errno != ENOENT)) {
		ns_error_set("cannot remove directory '%s/%s': %s%s", r->path,
			     rel, strerror(errno),
			     errno == ENOTEMPTY || errno == EEXIST
				     ? " (something was put in it during the "
				       "run)"
				     : "");
		ret = NS_ERROR;
	} else {
		ret = ns_fsx_fsync_dir(dfd, rel);
	}
	close(dfd);
	return ret;
}

int ns_fsx_rmdir(const struct ns_root *r, const char *rel)
{
	const char *base;
	int dfd, ret = ns_fsx_parent(&dfd, r, rel, &base);
	struct stat st;

	if (ret)
		return ret == 1 ? 0 : ret;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode)) {
		close(dfd);
		return 0;
	}
	if (ns_step("rmdir") < 0 ||
	    (unlinkat(dfd, base, AT_REMOVEDIR) < 0 && errno != ENOENT &&
	     errno != ENOTEMPTY && errno != EEXIST)) {
		ns_error_set("cannot remove directory '%s/%s': %s", r->path,
			     rel, strerror(errno));
		ret = NS_ERROR;
	} else {
		ret = ns_fsx_fsync_dir(dfd, rel);
	}
	close(dfd);
	return ret;
}

static int write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w;
		if (ns_step("write") < 0)
			return -1;
		w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t fd_reader(void *ctx, void *buf, size_t n);

/* a file into another without the bytes passing through here: 0 done, 1
 * when the kernel cannot (other filesystems, old kernels) before anything
 * was copied, -1 on error */
static int copy_range(int out, int in)
{
	size_t done = 0;

	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && !done &&
		    (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
		     errno == EOPNOTSUPP || errno == EBADF))
			return 1;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		done += (size_t)n;
	}
}

/* copy src into fd, hashing on the way unless out is NULL */
static int fill(int fd, ns_fsx_reader src, void *ctx, char out[NS_HEX_LEN + 1])
{
	struct ns_sha256 *h = out ? ns_sha256_new() : NULL;
	static char buf[1 << 16];
	int ret = 0;

	if (!h && src == fd_reader) {
		ret = copy_range(fd, *(int *)ctx);
		if (ret <= 0)
			return ret;
		ret = 0;
	}

	for (;;) {
		ssize_t n = src(ctx, buf, sizeof(buf));
		if (n < 0) {
			ret = -2;
			break;
		}
		if (n == 0)
			break;
		if (h)
			ns_sha256_update(h, buf, (size_t)n);
		if (write_all(fd, buf, (size_t)n) < 0) {
			ret = -1;
			break;
		}
	}
	if (h)
		ns_sha256_finish(out, h);
	return ret;
}

/* fill, with each chunk handed to q's worker once written; the stream is
 * ended on every way out, so that the next one starts afresh */
static int fill_q(int fd, ns_fsx_reader src, void *ctx, struct ns_hashq *q,
		  size_t stream)
{
	size_t cap;
	ssize_t n;
	void *buf;
	int ret = 0;

	for (;;) {
		buf = ns_hashq_buffer(q, &cap);
		if ((n = src(ctx, buf, cap)) <= 0) {
			ret = n < 0 ? -2 : 0;
			break;
		}
		if (write_all(fd, buf, (size_t)n) < 0) {
			ret = -1;
			break;
		}
		ns_hashq_submit(q, stream, buf, (size_t)n, 0);
	}
	ns_hashq_submit(q, stream, buf, 0, 1);
	return ret;
}

#define ACL_ACCESS "system.posix_acl_access"

/* the new file dst gets the POSIX ACL of src, or none when src has none
 * (dst may have inherited its directory's default one), before its mode
 * is set, which then sets the ACL's mask as the mode says */
static int same_acl(int src, int dst, const char *what)
{
	ssize_t n = fgetxattr(src, ACL_ACCESS, NULL, 0);
	char *buf = NULL;
	int r;

	if (n < 0 && (errno == ENODATA || errno == ENOTSUP)) {
		/* none, or a filesystem without ACLs */
		r = fremovexattr(dst, ACL_ACCESS);
		if (r < 0 && (errno == ENODATA || errno == ENOTSUP))
			r = 0;
	} else {
		if (n > 0)
			n = fgetxattr(src, ACL_ACCESS, buf = xmalloc((size_t)n),
				      (size_t)n);
		r = n < 0 ? -1 : fsetxattr(dst, ACL_ACCESS, buf, (size_t)n, 0);
		free(buf);
	}
	if (r < 0)
		ns_error_set("cannot give '%s' the ACL of the file it stands "
			     "for: %s (where the archive keeps a copy, its "
			     "filesystem must hold POSIX ACLs as the site's "
			     "does)",
			     what, strerror(errno));
	return r;
}

/* and its modification time */
static int copy_times(int src, int dst, const char *what)
{
	struct stat st;

	if (fstat(src, &st) == 0 &&
	    futimens(dst, (struct timespec[2]){ st.st_atim, st.st_mtim }) == 0)
		return 0;
	ns_error_set("cannot give '%s' the times of the file it copies: %s",
		     what, strerror(errno));
	return -1;
}

/* ns_fsx_write, or with q: ns_fsx_write_hashq; acl_from, times_from: an
 * open file whose ACL, whose times the new one takes, or -1 */
static int write_new(int dirfd, const char *name, unsigned mode,
		     const struct ns_owner *own, ns_fsx_reader src, void *ctx,
		     const char *expect, char out[NS_HEX_LEN + 1],
		     struct ns_hashq *q, size_t stream, unsigned flags,
		     int acl_from, int times_from, const char *what)
{
	struct stat made;
	char got[NS_HEX_LEN + 1];
	int fd, r, ret = NS_ERROR;

	if (ns_step("create") < 0) {
		ns_error_set("cannot create '%s': %s", what, strerror(errno));
		return NS_ERROR;
	}
	fd = openat(dirfd, name,
		    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0) {
		ns_error_set("cannot create '%s': %s", what, strerror(errno));
		return NS_ERROR;
	}
	/* hashed only for someone: a restore copies without (its source
	 * is nightshift's own archive) */
	r = q ? fill_q(fd, src, ctx, q, stream)
	      : fill(fd, src, ctx, expect || out ? got : NULL);
	if (r == -2)
		goto fail; /* the source set its message */
	/* before the mode: a change of owner clears set-user-ID. Whose the
	 * new file is, fstat says (a set-group-ID directory gives its own
	 * group); asked only when an owner is wanted. */
	if (r == 0 && own && own->set &&
	    (fstat(fd, &made) < 0 || set_owner(fd, own, &made) < 0)) {
		owner_error(NULL, what, own);
		goto fail;
	}
	if (r == 0 && acl_from >= 0 && same_acl(acl_from, fd, what) < 0)
		goto fail;
	if (r < 0 || fchmod(fd, mode) < 0) {
		ns_error_set("cannot write '%s': %s", what, strerror(errno));
		goto fail;
	}
	if (times_from >= 0 && copy_times(times_from, fd, what) < 0)
		goto fail;
	if (expect && strcmp(expect, got)) {
		ns_error_set("%s: hash mismatch (expected %.12s…, got %.12s…)",
			     what, expect, got);
		ret = NS_EINVALID;
		goto fail;
	}
	if (!(flags & NS_FSX_NOSYNC) &&
	    (ns_step("fsync") < 0 || fsync(fd) < 0)) {
		ns_error_set("cannot fsync '%s': %s", what, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		ns_error_set("cannot close '%s': %s", what, strerror(errno));
		goto fail;
	}
	if (out)
		memcpy(out, got, NS_HEX_LEN + 1);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, name, 0);
	return ret;
}

int ns_fsx_write(int dirfd, const char *name, unsigned mode, ns_fsx_reader src,
		 void *ctx, const char *expect, char out[NS_HEX_LEN + 1],
		 unsigned flags, const char *what)
{
	return write_new(dirfd, name, mode, NULL, src, ctx, expect, out, NULL,
			 0, flags, -1, -1, what);
}

int ns_fsx_write_hashq(int dirfd, const char *name, unsigned mode,
		       const struct ns_owner *own, int acl_from,
		       ns_fsx_reader src, void *ctx, struct ns_hashq *q,
		       size_t stream, const char *what)
{
	return write_new(dirfd, name, mode, own, src, ctx, NULL, NULL, q,
			 stream, NS_FSX_NOSYNC, acl_from, -1, what);
}

static ssize_t fd_reader(void *ctx, void *buf, size_t n)
{
	int fd = *(int *)ctx;
	ssize_t r;

	do
		r = read(fd, buf, n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		ns_error_set("read error: %s", strerror(errno));
	return r;
}

int ns_fsx_copy(int dstdir, const char *dstname, int srcdir,
		const char *srcname, unsigned mode, const struct ns_owner *own,
		char got[NS_HEX_LEN + 1], unsigned flags, const char *what,
		const char *from)
{
	int fd = openat(srcdir, srcname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int ret;

	if (fd < 0) {
		ns_error_set("cannot open '%s' to copy it: %s",
			     from ? from : what, strerror(errno));
		return NS_ERROR;
	}
	ret = write_new(dstdir, dstname, mode, own, fd_reader, &fd, NULL, got,
			NULL, 0, flags, fd, fd, what);
	close(fd);
	return ret;
}

static int link_over(int srcdir, const char *srcname, int dstdir,
		     const char *dstname)
{
	int r = linkat(srcdir, srcname, dstdir, dstname, 0);

	/* a name left by an interrupted run */
	if (r < 0 && errno == EEXIST && unlinkat(dstdir, dstname, 0) == 0)
		r = linkat(srcdir, srcname, dstdir, dstname, 0);
	return r;
}

static int keep(int dstdir, const char *dstname, int srcdir,
		const char *srcname, unsigned mode, char got[NS_HEX_LEN + 1],
		struct ns_fsx_seen *seen, const struct stat *pre, int defer,
		const char *what, const char *kept_as)
{
	struct stat st, kept;
	int fd, ret;

	if (seen)
		seen->used = 0;
	if (ns_step("link") < 0) {
		ns_error_set("cannot keep '%s': %s", what, strerror(errno));
		return NS_ERROR;
	}
	/* a file with other names could be written in place through them,
	 * and the kept copy with it: those are copied */
	if (pre)
		st = *pre;
	else if (fstatat(srcdir, srcname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		memset(&st, 0, sizeof(st)); /* the copy's open says why */
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    link_over(srcdir, srcname, dstdir, dstname) < 0) {
		/* never write through a link left by an interrupted run */
		unlinkat(dstdir, dstname, 0);
		/* the copy is what a rollback puts back: its owner too */
		struct ns_owner own = { S_ISREG(st.st_mode), st.st_uid,
					st.st_gid };

		ret = ns_fsx_copy(dstdir, dstname, srcdir, srcname, mode, &own,
				  got, NS_FSX_NOSYNC, kept_as ? kept_as : what,
				  what);
		if (ret < 0 && kept_as) {
			char *why = xstrdup(ns_error_last());
			ns_error_set("cannot keep '%s': %s", what, why);
			free(why);
		}
		return ret;
	}
	/* the inode linked is the one hashed before, unchanged since (its
	 * change time until the link, its size and modification time after
	 * it): that hash is its content's, no need to read it again */
	if (still_seen(seen, &st, 1) &&
	    fstatat(dstdir, dstname, &kept, AT_SYMLINK_NOFOLLOW) == 0 &&
	    still_seen(seen, &kept, 0)) {
		memcpy(got, seen->sha256, NS_HEX_LEN + 1);
		seen->used = 1;
		return 0;
	}
	if (defer)
		return 1;
	fd = openat(dstdir, dstname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || ns_sha256_fd(got, fd) < 0) {
		ns_error_set("cannot read '%s': %s", what, strerror(errno));
		ret = NS_ERROR;
	} else {
		ret = 0;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

int ns_fsx_keep(int dstdir, const char *dstname, int srcdir,
		const char *srcname, unsigned mode, char got[NS_HEX_LEN + 1],
		struct ns_fsx_seen *seen, const char *what, const char *kept)
{
	return keep(dstdir, dstname, srcdir, srcname, mode, got, seen, NULL, 0,
		    what, kept);
}

int ns_fsx_keep_later(int dstdir, const char *dstname, int srcdir,
		      const char *srcname, const struct stat *st,
		      char got[NS_HEX_LEN + 1], struct ns_fsx_seen *seen,
		      const char *what, const char *kept)
{
	return keep(dstdir, dstname, srcdir, srcname, st->st_mode & 07777, got,
		    seen, st, 1, what, kept);
}

int ns_fsx_syncfs(int fd, const char *what)
{
	if (ns_step("syncfs") < 0 || syncfs(fd) < 0) {
		ns_error_set("cannot make '%s' durable (syncfs): %s", what,
			     strerror(errno));
		return NS_ERROR;
	}
	return 0;
}

struct ns_fsx_flusher {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int fd, stop;
};

/* the time between two flushes: long enough that a flush finds a good
 * part of a phase to write, short enough that the closing one finds
 * little left (bench/README.md) */
#define FLUSH_EVERY_NS 2000000L

static void *flush_loop(void *arg)
{
	struct ns_fsx_flusher *f = arg;
	struct timespec at;

	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		pthread_mutex_unlock(&f->lock);
		(void)syncfs(f->fd); /* the caller's flush reports */
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_nsec += FLUSH_EVERY_NS;
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&f->lock);
		while (!f->stop &&
		       pthread_cond_timedwait(&f->wake, &f->lock, &at) == 0)
			;
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

struct ns_fsx_flusher *ns_fsx_flusher_start(int dirfd)
{
	struct ns_fsx_flusher *f = xcalloc(1, sizeof(*f));
	pthread_condattr_t ca;
	sigset_t all, old;
	int err;

	f->fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->fd < 0) {
		free(f);
		return NULL;
	}
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->wake, &ca);
	pthread_condattr_destroy(&ca);
	/* the thread takes no signal: they stay the calling thread's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&f->thread, NULL, flush_loop, f);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		f->stop = 1;
		ns_fsx_flusher_stop(f);
		return NULL;
	}
	return f;
}

void ns_fsx_flusher_stop(struct ns_fsx_flusher *f)
{
	if (!f)
		return;
	if (!f->stop) {
		pthread_mutex_lock(&f->lock);
		f->stop = 1;
		pthread_cond_signal(&f->wake);
		pthread_mutex_unlock(&f->lock);
		pthread_join(f->thread, NULL);
	}
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	close(f->fd);
	free(f);
}

int ns_fsx_rename(int dirfd, const char *from, const char *to, const char *what)
{
	if (ns_step("rename") < 0 || renameat(dirfd, from, dirfd, to) < 0) {
		ns_error_set("cannot rename into '%s': %s", what,
			     strerror(errno));
		return NS_ERROR;
	}
	return 0;
}

int ns_fsx_rename_present(int dirfd, const char *from, const char *to,
			  const char *what)
{
	if (ns_step("rename") < 0)
		return ns_fsx_rename(dirfd, from, to, what);
	if (renameat(dirfd, from, dirfd, to) == 0)
		return 0;
	if (errno == ENOENT)
		return 1;
	ns_error_set("cannot rename into '%s': %s", what, strerror(errno));
	return NS_ERROR;
}

int ns_fsx_move(int srcdir, const char *srcname, int dstdir,
		const char *dstname, const char *what)
{
	if (ns_step("rename") < 0 ||
	    renameat(srcdir, srcname, dstdir, dstname) < 0) {
		if (errno == EXDEV)
			return 1;
		ns_error_set("cannot move into '%s': %s", what,
			     strerror(errno));
		return NS_ERROR;
	}
	return 0;
}

int ns_fsx_link(int srcdir, const char *srcname, int dstdir,
		const char *dstname, const char *what)
{
	struct stat st;

	if (fstatat(srcdir, srcname, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return 1;
	if (ns_step("link") < 0) {
		ns_error_set("cannot link '%s': %s", what, strerror(errno));
		return NS_ERROR;
	}
	if (link_over(srcdir, srcname, dstdir, dstname) < 0)
		return 1;
	return 0;
}

int ns_fsx_unlink(int dirfd, const char *name, const char *what)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT)
		return 0;
	if (ns_step("unlink") < 0 ||
	    (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)) {
		ns_error_set("cannot remove '%s': %s", what, strerror(errno));
		return NS_ERROR;
	}
	return 0;
}

int ns_fsx_fsync_dir(int dirfd, const char *what)
{
	if (ns_step("fsync-dir") < 0 || fsync(dirfd) < 0) {
		ns_error_set("cannot fsync the directory of '%s': %s", what,
			     strerror(errno));
		return NS_ERROR;
	}
	return 0;
}

int ns_fsx_mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	int ret = 0;

	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			ns_error_set("cannot create directory '%s': %s", p,
				     strerror(errno));
			ret = NS_ERROR;
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return ret;
}

static int fsync_parent(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int fd, ret = 0;

	if (slash)
		*slash = '\0';
	fd = open(slash ? (*dir ? dir : "/") : ".", O_RDONLY | O_DIRECTORY);
	if (fd < 0 || ns_step("fsync-dir") < 0 || fsync(fd) < 0) {
		ns_error_set("cannot fsync the directory of '%s': %s", path,
			     strerror(errno));
		ret = NS_ERROR;
	}
	if (fd >= 0)
		close(fd);
	free(dir);
	return ret;
}

int ns_fsx_write_file(const char *path, const void *buf, size_t len)
{
	char *tmp = xprintf("%s.tmp-%ld", path, (long)getpid());
	int fd = -1, ret = NS_ERROR;

	if (ns_step("create") < 0 ||
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) <
		    0 ||
	    write_all(fd, buf, len) < 0 || ns_step("fsync") < 0 ||
	    fsync(fd) < 0) {
		ns_error_set("cannot write '%s': %s", path, strerror(errno));
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		ns_error_set("cannot write '%s': %s", path, strerror(errno));
		goto done;
	}
	fd = -1;
	if (ns_step("rename") < 0 || rename(tmp, path) < 0) {
		ns_error_set("cannot rename '%s' into place: %s", path,
			     strerror(errno));
		goto done;
	}
	ret = fsync_parent(path);
done:
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	return ret;
}

int ns_fsx_append(const char *path, const char *line)
{
	int fd, ret = NS_ERROR, created;
	struct stat st;

	created = stat(path, &st) < 0;
	if (ns_step("journal-write") < 0 ||
	    (fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) <
		    0) {
		ns_error_set("cannot write the journal '%s': %s", path,
			     strerror(errno));
		return NS_ERROR;
	}
	if (write_all(fd, line, strlen(line)) < 0 || ns_step("fsync") < 0 ||
	    fsync(fd) < 0) {
		ns_error_set("cannot write the journal '%s': %s", path,
			     strerror(errno));
		close(fd);
		return NS_ERROR;
	}
	if (close(fd) < 0) {
		ns_error_set("cannot close the journal '%s': %s", path,
			     strerror(errno));
		return NS_ERROR;
	}
	ret = created ? fsync_parent(path) : 0;
	return ret;
}

int ns_fsx_remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int ret = 0;

	if (!d)
		return errno == ENOENT ? 0 : (unlink(path) < 0 ? NS_ERROR : 0);
	while ((de = readdir(d))) {
		char *p;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		p = xprintf("%s/%s", path, de->d_name);
		if (de->d_type == DT_DIR)
			ret |= ns_fsx_remove_tree(p);
		else if (unlink(p) < 0 && errno != ENOENT)
			ret = NS_ERROR;
		free(p);
	}
	closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT)
		ret = NS_ERROR;
	if (ret)
		ns_error_set("cannot remove '%s': %s", path, strerror(errno));
	return ret ? NS_ERROR : 0;
}

int ns_fsx_sweep_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int ret = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		const char *t = strstr(de->d_name, ".tmp-");
		char *end, *p;
		long pid;

		if (!t)
			continue;
		pid = strtol(t + 5, &end, 10);
		if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 ||
		    errno != ESRCH)
			continue;
		p = xprintf("%s/%s", dir, de->d_name);
		if (ns_step("unlink") < 0 ||
		    (unlink(p) < 0 && errno != ENOENT)) {
			ns_error_set("cannot remove the stale '%s': %s", p,
				     strerror(errno));
			ret = NS_ERROR;
		}
		free(p);
	}
	closedir(d);
	return ret;
}

int ns_fsx_lock(int *out, const char *path, const char *what)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0) {
		ns_error_set("cannot open the lock '%s': %s", path,
			     strerror(errno));
		return NS_ERROR;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		close(fd);
		if (err == EWOULDBLOCK) {
			ns_error_set("%s is locked: another nightshift is "
				     "migrating it (lock '%s')",
				     what, path);
			return NS_ELOCKED;
		}
		ns_error_set("cannot lock '%s': %s", path, strerror(err));
		return NS_ERROR;
	}
	*out = fd;
	return 0;
}
