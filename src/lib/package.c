#include "package.h"
#include "error.h"
#include "fsx.h"
#include "step.h"
#include "strbuf.h"
#include "text.h"
#include "xalloc.h"

#include <archive.h>
#include <archive_entry.h>
#ifndef ARCHIVE_VERSION_NUMBER
/* src/lib/archive.h shadows libarchive's when src/lib is an -I directory */
#error "<archive.h> is not libarchive's: put src/lib on -iquote, not -I"
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* every copy goes through buffers of this size: no member is held whole */
#define BUF_SIZE (64 * 1024)
#define INI_CAP	 (1024 * 1024)

static const char *archive_msg(struct archive *a)
{
	const char *s = archive_error_string(a);

	return s ? s : "unknown error";
}

/* ---- tar reader ---------------------------------------------------- */

/*
 * The reader reads with pread() from its own offset, so several readers
 * may share one descriptor, and one may start at any member's header:
 * that is how the package reader copies members in path order out of a
 * tar that holds them in another.
 */
struct ns_tar_reader {
	struct archive *a;
	struct archive_entry *entry; /* the current member, or NULL */
	char *name;		     /* the tar, for messages */
	int fd, own_fd;
	off_t start, pos;
	off_t size;   /* of the file when opened, -1 if unknown */
	int io_errno; /* set when the file, not its contents, failed */
	char *buf;
};

static la_ssize_t read_cb(struct archive *a, void *data, const void **out)
{
	struct ns_tar_reader *r = data;
	ssize_t n;

	do
		n = pread(r->fd, r->buf, BUF_SIZE, r->pos);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		r->io_errno = errno;
		archive_set_error(a, errno, "%s", strerror(errno));
		return -1;
	}
	r->pos += n;
	*out = r->buf;
	return n;
}

/* skipping a member's data costs no read: members may be 1 GiB */
static la_int64_t skip_cb(struct archive *a, void *data, la_int64_t request)
{
	struct ns_tar_reader *r = data;

	/* past the end is a truncated archive: say so by skipping less */
	if (r->size >= 0 && request > r->size - r->pos)
		request = r->pos < r->size ? r->size - r->pos : 0;
	r->pos += request;
	return request;
}

static int reader_error(struct ns_tar_reader *r)
{
	if (r->io_errno) {
		ns_error_set("cannot read '%s': %s", r->name,
			     strerror(r->io_errno));
		return NS_ERROR;
	}
	ns_error_set("%s: not a readable tar: %s", r->name, archive_msg(r->a));
	return NS_EINVALID;
}

/* a reader over fd from offset at; fd stays the caller's */
static int reader_open_fd(struct ns_tar_reader **out, const char *name, int fd,
			  off_t at)
{
	struct ns_tar_reader *r = xcalloc(1, sizeof(*r));
	struct stat sb;
	int error = 0;

	r->name = xstrdup(name);
	r->fd = fd;
	r->start = r->pos = at;
	r->size = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? sb.st_size : -1;
	r->buf = xmalloc(BUF_SIZE);
	r->a = archive_read_new();
	if (!r->a)
		abort();
	archive_read_support_format_tar(r->a);
	if (archive_read_open2(r->a, r, NULL, read_cb, skip_cb, NULL) !=
	    ARCHIVE_OK) {
		error = reader_error(r);
		ns_tar_close(r);
		return error;
	}
	*out = r;
	return 0;
}

int ns_tar_open(struct ns_tar_reader **out, const char *path)
{
	/* O_NONBLOCK: a FIFO put where a tar should be must not hang us */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat sb;
	int error;

	if (fd < 0 || fstat(fd, &sb) < 0) {
		ns_error_set("cannot open '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NS_ERROR;
	}
	if (!S_ISREG(sb.st_mode)) {
		ns_error_set("%s: not a readable tar: not a regular file",
			     path);
		close(fd);
		return NS_EINVALID;
	}
	error = reader_open_fd(out, path, fd, 0);
	if (error) {
		close(fd);
		return error;
	}
	(*out)->own_fd = 1;
	return 0;
}

/* 1 with r->entry set, 0 at the end, or an error code */
static int reader_next(struct ns_tar_reader *r)
{
	int rc = archive_read_next_header(r->a, &r->entry);

	if (rc == ARCHIVE_EOF) {
		r->entry = NULL;
		return 0;
	}
	/* ARCHIVE_WARN: a name not in the locale's charset, an ignored pax
	 * keyword; the member itself is whole */
	if (rc == ARCHIVE_OK || rc == ARCHIVE_WARN)
		return 1;
	r->entry = NULL;
	return reader_error(r);
}

static const char *entry_name(struct archive_entry *e)
{
	const char *p = archive_entry_pathname(e);

	return p ? p : archive_entry_pathname_utf8(e);
}

static int entry_is_regular(struct archive_entry *e)
{
	return archive_entry_filetype(e) == AE_IFREG &&
	       !archive_entry_hardlink(e) && !archive_entry_symlink(e);
}

int ns_tar_next(struct ns_tar_reader *r, const char **path, uint64_t *size,
		unsigned *mode, int *is_regular)
{
	int rc = reader_next(r);
	const char *name;

	if (rc <= 0)
		return rc;
	name = entry_name(r->entry);
	if (!name) {
		ns_error_set("%s: not a readable tar: a member has no "
			     "readable name",
			     r->name);
		return NS_EINVALID;
	}
	*path = name;
	*size = (uint64_t)archive_entry_size(r->entry);
	*mode = (unsigned)archive_entry_perm(r->entry);
	*is_regular = entry_is_regular(r->entry);
	return 1;
}

ssize_t ns_tar_read(struct ns_tar_reader *r, void *buf, size_t n)
{
	la_ssize_t got;

	if (!r->entry)
		return 0;
	got = archive_read_data(r->a, buf, n);
	if (got >= 0)
		return got;
	if (r->io_errno)
		ns_error_set("cannot read '%s': %s", r->name,
			     strerror(r->io_errno));
	else
		ns_error_set("%s:%s: not a readable tar: %s", r->name,
			     entry_name(r->entry), archive_msg(r->a));
	return -1;
}

int ns_tar_read_all(struct ns_tar_reader *r, char **out, size_t *len,
		    size_t cap)
{
	struct strbuf sb = STRBUF_INIT;
	char *buf = xmalloc(BUF_SIZE);
	ssize_t n;
	int error = 0;

	strbuf_set_cap(&sb, cap);
	while ((n = ns_tar_read(r, buf, BUF_SIZE)) > 0) {
		if (strbuf_add(&sb, buf, (size_t)n) < 0) {
			ns_error_set("%s:%s: larger than %zu bytes", r->name,
				     entry_name(r->entry), cap);
			error = NS_EINVALID;
			break;
		}
	}
	if (n < 0)
		error = r->io_errno ? NS_ERROR : NS_EINVALID;
	free(buf);
	if (error) {
		strbuf_release(&sb);
		return error;
	}
	*out = strbuf_detach(&sb, len);
	return 0;
}

void ns_tar_close(struct ns_tar_reader *r)
{
	if (!r)
		return;
	archive_read_free(r->a);
	if (r->own_fd)
		close(r->fd);
	free(r->name);
	free(r->buf);
	free(r);
}

/* ---- tar writer ---------------------------------------------------- */

struct ns_tar_writer {
	struct archive *a;
	char *path, *tmp;
	int fd;
	int err;      /* errno of the first failed write */
	int failed;   /* an add failed: the tar must not be committed */
	int aborting; /* libarchive's trailer on abort goes nowhere */
	char *buf;
	struct ns_fsx_flusher *fl; /* the tar written back as it grows */
};

static la_ssize_t write_cb(struct archive *a, void *data, const void *buf,
			   size_t len)
{
	struct ns_tar_writer *w = data;
	const char *p = buf;
	size_t left = len;
	ssize_t n;

	/* a failure is kept in w->err and reported by our caller: failing
	 * here would leave libarchive's block buffer behind (3.6) */
	if (w->aborting || w->err)
		return (la_ssize_t)len;
	if (ns_step("write payload tar") < 0) {
		w->err = errno;
		return (la_ssize_t)len;
	}
	while (left) {
		n = write(w->fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			w->err = errno;
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	return (la_ssize_t)len;
}

static int writer_error(struct ns_tar_writer *w, const char *member)
{
	w->failed = 1;
	if (w->err)
		ns_error_set("cannot write '%s': %s", w->tmp, strerror(w->err));
	else
		ns_error_set("cannot write '%s' (%s): %s", w->tmp,
			     member ? member : "end of archive",
			     archive_msg(w->a));
	return NS_ERROR;
}

static int writer_setup(struct ns_tar_writer *w)
{
	/* pax only where ustar cannot hold a name or size; raw name bytes,
	 * whatever the locale, so that names round-trip exactly */
	if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    archive_write_set_options(w->a, "hdrcharset=BINARY") !=
		    ARCHIVE_OK ||
	    archive_write_add_filter_none(w->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->a, BUF_SIZE) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
	    archive_write_open2(w->a, w, NULL, write_cb, NULL, NULL) !=
		    ARCHIVE_OK ||
	    w->err)
		return writer_error(w, NULL);
	return 0;
}

/* the directory of path ("dir/" or "."), allocated */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? xstrndup(path, (size_t)(slash - path + 1))
		     : xstrdup(".");
}

/* a flusher (fsx.h) on the filesystem of path's directory, or NULL */
static struct ns_fsx_flusher *flusher_of(const char *path)
{
	char *dir = dir_of(path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct ns_fsx_flusher *fl = fd < 0 ? NULL : ns_fsx_flusher_start(fd);

	if (fd >= 0)
		close(fd);
	free(dir);
	return fl;
}

int ns_tar_writer_open(struct ns_tar_writer **out, const char *path)
{
	struct ns_tar_writer *w = xcalloc(1, sizeof(*w));
	int error;

	w->path = xstrdup(path);
	w->tmp = xprintf("%s.tmp-%ld", path, (long)getpid());
	w->fd = open(w->tmp,
		     O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		     0644);
	if (w->fd < 0) {
		ns_error_set("cannot create '%s': %s", w->tmp, strerror(errno));
		free(w->tmp);
		free(w->path);
		free(w);
		return NS_ERROR;
	}
	w->buf = xmalloc(BUF_SIZE);
	w->fl = flusher_of(path);
	w->a = archive_write_new();
	if (!w->a)
		abort();
	if ((error = writer_setup(w)) < 0) {
		ns_tar_writer_abort(w);
		return error;
	}
	*out = w;
	return 0;
}

static int write_header(struct ns_tar_writer *w, const char *name,
			uint64_t size, unsigned mode)
{
	struct archive_entry *e = archive_entry_new();
	int rc;

	if (!e)
		abort();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, mode);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, 0, 0);
	rc = archive_write_header(w->a, e);
	archive_entry_free(e);
	if (rc != ARCHIVE_OK || w->err)
		return writer_error(w, name);
	return 0;
}

static int write_data(struct ns_tar_writer *w, const char *name,
		      const void *buf, size_t len)
{
	const char *p = buf;
	la_ssize_t n;

	while (len) {
		n = archive_write_data(w->a, p, len);
		if (n <= 0 || w->err)
			return writer_error(w, name);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ns_tar_add_buffer(struct ns_tar_writer *w, const char *name,
		      const void *buf, size_t len, unsigned mode)
{
	int error = write_header(w, name, len, mode);

	if (!error)
		error = write_data(w, name, buf, len);
	return error;
}

/* where ns_tar_add_* copy from; read returns -1 with the message set */
struct source {
	ssize_t (*read)(void *ctx, void *buf, size_t n);
	void *ctx;
	const char *name; /* the member, for messages */
	int code;	  /* what a failed read returns */
};

static int copy_hashed(struct ns_tar_writer *w, struct source *src,
		       uint64_t size, const char *expect)
{
	struct ns_sha256 *h = ns_sha256_new();
	char got[NS_HEX_LEN + 1];
	uint64_t done = 0;
	ssize_t n;
	int error = 0;

	while (!error && done < size) {
		n = src->read(src->ctx, w->buf,
			      size - done < BUF_SIZE ? size - done : BUF_SIZE);
		if (n <= 0) {
			if (!n)
				ns_error_set(
					"%s: ends after %llu of %llu bytes",
					src->name, (unsigned long long)done,
					(unsigned long long)size);
			error = n ? src->code : NS_EINVALID;
			break;
		}
		ns_sha256_update(h, w->buf, (size_t)n);
		error = write_data(w, src->name, w->buf, (size_t)n);
		done += (uint64_t)n;
	}
	ns_sha256_finish(got, h);
	if (!error && expect && strcmp(expect, got)) {
		ns_error_set("%s: hash mismatch (expected %s, got %s)",
			     src->name, expect, got);
		error = NS_EINVALID;
	}
	if (error)
		w->failed = 1;
	return error;
}

static ssize_t read_reader(void *ctx, void *buf, size_t n)
{
	return ns_tar_read(ctx, buf, n);
}

int ns_tar_add_from_reader(struct ns_tar_writer *w, const char *name,
			   struct ns_tar_reader *r, uint64_t size,
			   unsigned mode, const char *expect)
{
	struct source src = { read_reader, r, name, NS_EINVALID };
	char extra;
	ssize_t n;
	int error;

	error = write_header(w, name, size, mode);
	if (!error)
		error = copy_hashed(w, &src, size, expect);
	if (error == NS_EINVALID && r->io_errno)
		error = NS_ERROR;
	if (error)
		return error;
	n = ns_tar_read(r, &extra, 1);
	if (n == 0)
		return 0;
	if (n > 0)
		ns_error_set("%s: longer than %llu bytes", name,
			     (unsigned long long)size);
	w->failed = 1;
	return r->io_errno ? NS_ERROR : NS_EINVALID;
}

struct fd_ctx {
	int fd;
	const char *name;
};

static ssize_t read_fd(void *data, void *buf, size_t n)
{
	struct fd_ctx *c = data;
	ssize_t got;

	do
		got = read(c->fd, buf, n);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		ns_error_set("cannot read '%s': %s", c->name, strerror(errno));
	return got;
}

int ns_tar_add_fd(struct ns_tar_writer *w, const char *name, int fd,
		  uint64_t size, unsigned mode, const char *expect)
{
	struct fd_ctx c = { fd, name };
	struct source src = { read_fd, &c, name, NS_ERROR };
	int error = write_header(w, name, size, mode);

	if (!error)
		error = copy_hashed(w, &src, size, expect);
	return error;
}

static int fsync_dir_of(const char *path)
{
	char *dir = dir_of(path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int error = 0;

	if (fd < 0 || ns_step("fsync payload directory") < 0 || fsync(fd) < 0) {
		ns_error_set("cannot fsync directory '%s': %s", dir,
			     strerror(errno));
		error = NS_ERROR;
	}
	if (fd >= 0 && close(fd) < 0 && !error) {
		ns_error_set("cannot close directory '%s': %s", dir,
			     strerror(errno));
		error = NS_ERROR;
	}
	free(dir);
	return error;
}

static void writer_free(struct ns_tar_writer *w)
{
	w->aborting = 1;
	ns_fsx_flusher_stop(w->fl);
	archive_write_free(w->a);
	if (w->fd >= 0)
		close(w->fd);
	free(w->path);
	free(w->tmp);
	free(w->buf);
	free(w);
}

static int writer_finish(struct ns_tar_writer *w)
{
	int fd = w->fd;

	if (w->failed) {
		ns_error_set("'%s': not committed after a failed member",
			     w->path);
		return NS_ERROR;
	}
	if (archive_write_close(w->a) != ARCHIVE_OK || w->err)
		return writer_error(w, NULL);
	w->fd = -1;
	ns_fsx_flusher_stop(w->fl);
	w->fl = NULL;
	if (ns_step("fsync payload tar") < 0 || fsync(fd) < 0) {
		ns_error_set("cannot fsync '%s': %s", w->tmp, strerror(errno));
		close(fd);
		return NS_ERROR;
	}
	if (close(fd) < 0) {
		ns_error_set("cannot close '%s': %s", w->tmp, strerror(errno));
		return NS_ERROR;
	}
	if (ns_step("rename payload tar") < 0 || rename(w->tmp, w->path) < 0) {
		ns_error_set("cannot rename '%s' to '%s': %s", w->tmp, w->path,
			     strerror(errno));
		return NS_ERROR;
	}
	return 0;
}

/* like fclose(): w is gone afterwards, whether or not it succeeded */
int ns_tar_writer_commit(struct ns_tar_writer *w)
{
	int error = writer_finish(w);

	if (error) {
		ns_tar_writer_abort(w);
		return error;
	}
	error = fsync_dir_of(w->path);
	writer_free(w);
	return error;
}

void ns_tar_writer_abort(struct ns_tar_writer *w)
{
	if (!w)
		return;
	unlink(w->tmp);
	writer_free(w);
}

/* ---- package: the check pass --------------------------------------- */

struct entry {
	char *path;   /* in the package: "files/a/b.c", after any top dir */
	char *member; /* as the source names it, for messages */
	int is_dir;
	uint64_t size;
	unsigned mode; /* 0644 or 0755 */
	off_t header;  /* tar: where the member's header starts */
	char sha256[NS_HEX_LEN + 1];
};

struct pkg_read {
	char *src; /* without trailing slashes */
	const struct ns_limits *lim;
	int is_tar;
	int fd; /* the tar file or the directory */
	struct entry *e;
	size_t nr, alloc;
	size_t files, dirs;
	uint64_t total;
	struct entry **sorted; /* regular files in strcmp order */
	size_t sorted_nr;
	char *ini; /* enhancement.ini as parsed and stored */
	size_t ini_len;
	char *buf;
};

/* "SRC/MEMBER" or "SRC:MEMBER"; just "SRC" without a member */
static char *where(const struct pkg_read *st, const char *member)
{
	if (!member)
		return xstrdup(st->src);
	return xprintf("%s%c%s", st->src, st->is_tar ? ':' : '/', member);
}

static int refuse(const struct pkg_read *st, const char *member,
		  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int refuse(const struct pkg_read *st, const char *member,
		  const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	char *w = where(st, member);
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	ns_error_set("%s: %s", w, sb.buf);
	strbuf_release(&sb);
	free(w);
	return NS_EINVALID;
}

static int io_error(const struct pkg_read *st, const char *member,
		    const char *verb)
{
	char *w = where(st, member);

	ns_error_set("cannot %s '%s': %s", verb, w, strerror(errno));
	free(w);
	return NS_ERROR;
}

/* what the source says about one member before its contents are read */
struct raw {
	const char *member;
	const char *path;
	unsigned type; /* S_IFREG, S_IFDIR, S_IFLNK, ... */
	int hardlink;
	unsigned perm;
	uint64_t size;
};

static int check_kind(const struct pkg_read *st, const struct raw *r)
{
	if (r->type == S_IFLNK)
		return refuse(st, r->member, "symbolic link");
	if (r->hardlink)
		return refuse(st, r->member, "hard link");
	if (r->type != S_IFREG && r->type != S_IFDIR)
		return refuse(st, r->member, "special file");
	/* a setgid directory is inherited from a shared parent and never
	 * stored: only a file's bits would travel */
	if (r->type == S_IFREG && (r->perm & (S_ISUID | S_ISGID)))
		return refuse(st, r->member, "setuid or setgid bit");
	return 0;
}

static int check_limits(struct pkg_read *st, const struct raw *r)
{
	const struct ns_limits *lim = st->lim;

	if (r->type == S_IFDIR ? ++st->dirs > lim->max_files
			       : ++st->files > lim->max_files)
		return refuse(st, r->member, "exceeds max-files (%zu)",
			      lim->max_files);
	if (r->type == S_IFDIR)
		return 0;
	if (r->size > lim->max_file_size)
		return refuse(st, r->member,
			      "%llu bytes exceeds max-file-size (%llu)",
			      (unsigned long long)r->size,
			      (unsigned long long)lim->max_file_size);
	st->total += r->size;
	if (st->total > lim->max_total_size)
		return refuse(st, r->member, "exceeds max-total-size (%llu)",
			      (unsigned long long)lim->max_total_size);
	return 0;
}

static int is_sql_name(const char *name)
{
	return !strcmp(name, "deploy.sql") || !strcmp(name, "revert.sql") ||
	       !strcmp(name, "verify.sql");
}

/* the package's layout; files/ paths are target paths, so capped there */
static int check_layout(const struct pkg_read *st, const char *member,
			const char *path, int is_dir)
{
	int ok;

	if (!strcmp(path, "enhancement.ini"))
		ok = !is_dir;
	else if (!strcmp(path, "files") || !strcmp(path, "sql"))
		ok = is_dir;
	else if (!strncmp(path, "files/", 6))
		ok = 1;
	else if (!strncmp(path, "sql/", 4))
		ok = !is_dir && is_sql_name(path + 4);
	else
		ok = 0;
	if (!ok)
		return refuse(st, member,
			      "unexpected entry (a package holds "
			      "enhancement.ini, files/ and sql/{deploy,"
			      "revert,verify}.sql)");
	if (!strncmp(path, "files/", 6) && strlen(path + 6) > st->lim->max_path)
		return refuse(st, member, "path too long (over %zu bytes)",
			      st->lim->max_path);
	return 0;
}

static struct entry *add_entry(struct pkg_read *st, const struct raw *r)
{
	struct entry *e;

	ALLOC_GROW(st->e, st->nr, st->alloc);
	e = &st->e[st->nr++];
	memset(e, 0, sizeof(*e));
	e->path = xstrdup(r->path);
	e->member = xstrdup(r->member);
	e->is_dir = r->type == S_IFDIR;
	e->size = r->size;
	e->mode = (r->perm & 0111) ? 0755 : 0644;
	return e;
}

/* open path below root without following a symbolic link anywhere in it:
 * the second pass must read what the first pass checked, not a link that
 * replaced a directory in between */
static int open_beneath(int root, const char *path, int flags)
{
	char *copy = xstrdup(path), *p = copy, *slash;
	int fd = root, next, saved;

	while ((slash = strchr(p, '/'))) {
		*slash = '\0';
		next = openat(fd, p,
			      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		saved = errno;
		if (fd != root)
			close(fd);
		if (next < 0) {
			free(copy);
			errno = saved;
			return -1;
		}
		fd = next;
		p = slash + 1;
	}
	next = openat(fd, p, flags | O_NOFOLLOW | O_CLOEXEC);
	saved = errno;
	if (fd != root)
		close(fd);
	free(copy);
	errno = saved;
	return next;
}

static int changed(const struct pkg_read *st, const struct entry *e)
{
	return refuse(st, e->member, "changed while being read");
}

/* hash the rest of fd, which must hold exactly e->size bytes */
static int hash_fd(struct pkg_read *st, int fd, struct entry *e)
{
	struct ns_sha256 *h = ns_sha256_new();
	uint64_t done = 0;
	ssize_t n;

	for (;;) {
		n = read(fd, st->buf, BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		ns_sha256_update(h, st->buf, (size_t)n);
		done += (uint64_t)n;
	}
	ns_sha256_finish(e->sha256, h);
	if (n < 0)
		return io_error(st, e->member, "read");
	if (done != e->size)
		return changed(st, e);
	return 0;
}

static int hash_dir_file(struct pkg_read *st, int dfd, const char *name,
			 struct entry *e, const struct stat *before)
{
	int fd = openat(dfd, name,
			O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat now;
	int error;

	if (fd < 0)
		return io_error(st, e->member, "open");
	if (fstat(fd, &now) < 0)
		error = io_error(st, e->member, "stat");
	else if (now.st_dev != before->st_dev || now.st_ino != before->st_ino ||
		 !S_ISREG(now.st_mode))
		error = changed(st, e);
	else
		error = hash_fd(st, fd, e);
	close(fd);
	return error;
}

static int dir_entry(struct pkg_read *st, int dfd, const char *name,
		     const char *rel)
{
	struct raw r = { rel, rel, 0, 0, 0, 0 };
	struct entry *e;
	struct stat sb;
	char *w;
	int error;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return io_error(st, rel, "stat");
	w = where(st, rel);
	error = ns_path_check(w, rel, SIZE_MAX);
	free(w);
	if (error)
		return error;
	r.type = sb.st_mode & S_IFMT;
	r.hardlink = S_ISREG(sb.st_mode) && sb.st_nlink > 1;
	r.perm = sb.st_mode & 07777;
	r.size = S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
	if ((error = check_kind(st, &r)) ||
	    (error = check_layout(st, rel, rel, r.type == S_IFDIR)) ||
	    (error = check_limits(st, &r)))
		return error;
	e = add_entry(st, &r);
	if (e->is_dir)
		return 0;
	return hash_dir_file(st, dfd, name, e, &sb);
}

static int scan_dir(struct pkg_read *st, const char *dir)
{
	int fd = open_beneath(st->fd, dir ? dir : ".", O_RDONLY | O_DIRECTORY);
	struct dirent *de;
	DIR *d;
	char *rel;
	int error = 0;

	if (fd < 0 || !(d = fdopendir(fd))) {
		error = io_error(st, dir, "open directory");
		if (fd >= 0)
			close(fd);
		return error;
	}
	for (errno = 0; !error && (de = readdir(d)); errno = 0) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		rel = dir ? xprintf("%s/%s", dir, de->d_name)
			  : xstrdup(de->d_name);
		error = dir_entry(st, dirfd(d), de->d_name, rel);
		free(rel);
	}
	if (!error && errno)
		error = io_error(st, dir, "read directory");
	closedir(d);
	return error;
}

/* breadth first over the entries found so far: no descriptor is held per
 * level, however deep the tree */
static int walk_dir(struct pkg_read *st)
{
	int error = scan_dir(st, NULL);

	for (size_t i = 0; !error && i < st->nr; i++)
		if (st->e[i].is_dir)
			error = scan_dir(st, st->e[i].path);
	return error;
}

/*
 * A member's name as a package path: "./" prefixes and a directory's
 * trailing slashes go; *out stays NULL for the top directory itself.
 */
static int tar_path(const struct pkg_read *st, const char *raw, int is_dir,
		    char **out)
{
	const char *p = raw;
	size_t n;
	char *w;
	int error;

	*out = NULL;
	if (*raw == '/')
		return refuse(st, raw, "absolute path");
	while (p[0] == '.' && p[1] == '/')
		for (p += 2; *p == '/'; p++)
			;
	n = strlen(p);
	while (is_dir && n && p[n - 1] == '/')
		n--;
	if (is_dir && (!n || (n == 1 && *p == '.')))
		return 0;
	*out = xstrndup(p, n);
	w = where(st, raw);
	error = ns_path_check(w, *out, SIZE_MAX);
	free(w);
	if (error) {
		free(*out);
		*out = NULL;
	}
	return error;
}

static int hash_tar_member(struct pkg_read *st, struct ns_tar_reader *r,
			   struct entry *e)
{
	struct ns_sha256 *h = ns_sha256_new();
	uint64_t done = 0;
	ssize_t n;

	while ((n = ns_tar_read(r, st->buf, BUF_SIZE)) > 0) {
		ns_sha256_update(h, st->buf, (size_t)n);
		done += (uint64_t)n;
	}
	ns_sha256_finish(e->sha256, h);
	if (n < 0)
		return r->io_errno ? NS_ERROR : NS_EINVALID;
	if (done != e->size)
		return refuse(st, e->member,
			      "not a readable tar: %llu of "
			      "%llu bytes",
			      (unsigned long long)done,
			      (unsigned long long)e->size);
	return 0;
}

static int tar_entry(struct pkg_read *st, struct ns_tar_reader *r)
{
	struct archive_entry *ae = r->entry;
	const char *raw = entry_name(ae);
	struct raw rw = { raw,
			  NULL,
			  archive_entry_filetype(ae),
			  archive_entry_hardlink(ae) != NULL,
			  (unsigned)archive_entry_perm(ae),
			  (uint64_t)archive_entry_size(ae) };
	char *path = NULL;
	struct entry *e;
	int error;

	if (!raw)
		return refuse(st, NULL,
			      "not a readable tar: a member has no "
			      "readable name");
	error = tar_path(st, raw, rw.type == S_IFDIR, &path);
	if (error || !path)
		return error;
	rw.path = path;
	if (rw.type != S_IFREG)
		rw.size = 0;
	if (!(error = check_kind(st, &rw)) &&
	    !(error = check_limits(st, &rw))) {
		e = add_entry(st, &rw);
		e->header = r->start + archive_read_header_position(r->a);
		if (!e->is_dir)
			error = hash_tar_member(st, r, e);
	}
	free(path);
	return error;
}

static int walk_tar(struct pkg_read *st)
{
	struct ns_tar_reader *r = NULL;
	int error = reader_open_fd(&r, st->src, st->fd, 0);

	while (!error && (error = reader_next(r)) == 1)
		error = tar_entry(st, r);
	ns_tar_close(r);
	return error;
}

static void entry_release(struct entry *e)
{
	free(e->path);
	free(e->member);
}

/*
 * A tar of a directory ("enh1/enhancement.ini", ...) is the package
 * below that directory: strip it when it is the one top component and
 * there is no enhancement.ini at the top. Messages keep the member's name
 * as the tar spells it.
 */
static void strip_top_dir(struct pkg_read *st)
{
	size_t i, keep = 0, dlen;
	const char *p;

	for (i = 0; i < st->nr; i++)
		if (!strcmp(st->e[i].path, "enhancement.ini"))
			return;
	if (!st->nr)
		return;
	dlen = strcspn(st->e[0].path, "/");
	/* a lone files/ or sql/ is the package without its enhancement.ini */
	if ((dlen == 5 && !strncmp(st->e[0].path, "files", 5)) ||
	    (dlen == 3 && !strncmp(st->e[0].path, "sql", 3)))
		return;
	for (i = 0; i < st->nr; i++) {
		p = st->e[i].path;
		if (strncmp(p, st->e[0].path, dlen) ||
		    (p[dlen] && p[dlen] != '/') ||
		    (!p[dlen] && !st->e[i].is_dir))
			return;
	}
	for (i = 0; i < st->nr; i++) {
		p = st->e[i].path;
		if (!p[dlen]) {
			entry_release(&st->e[i]);
			continue;
		}
		memmove(st->e[i].path, p + dlen + 1, strlen(p + dlen + 1) + 1);
		st->e[keep++] = st->e[i];
	}
	st->nr = keep;
}

/* '/' sorts before every other byte: a path's children follow it at once */
static int cmp_components(const void *a, const void *b)
{
	const unsigned char *x =
		(const unsigned char *)((const struct entry *)a)->path;
	const unsigned char *y =
		(const unsigned char *)((const struct entry *)b)->path;
	int cx, cy;

	while (*x && *x == *y)
		x++, y++;
	cx = *x == '/' ? 1 : *x;
	cy = *y == '/' ? 1 : *y;
	return (cx > cy) - (cx < cy);
}

static int check_tree(struct pkg_read *st)
{
	struct entry *prev, *cur;
	size_t len;

	if (st->nr)
		qsort(st->e, st->nr, sizeof(*st->e), cmp_components);
	for (size_t i = 1; i < st->nr; i++) {
		prev = &st->e[i - 1];
		cur = &st->e[i];
		if (!strcmp(prev->path, cur->path) &&
		    prev->is_dir == cur->is_dir)
			return refuse(st, cur->member, "duplicate path");
		len = strlen(prev->path);
		if (!strcmp(prev->path, cur->path))
			return refuse(st, cur->member,
				      "both a file and a directory");
		if (!prev->is_dir && !strncmp(cur->path, prev->path, len) &&
		    cur->path[len] == '/')
			return refuse(st, prev->member,
				      "both a file and a directory (%s)",
				      cur->member);
	}
	return 0;
}

static int cmp_sorted(const void *a, const void *b)
{
	return strcmp((*(struct entry *const *)a)->path,
		      (*(struct entry *const *)b)->path);
}

static int check_entries(struct pkg_read *st)
{
	int error = 0;

	if (st->is_tar) {
		strip_top_dir(st);
		for (size_t i = 0; !error && i < st->nr; i++)
			error = check_layout(st, st->e[i].member, st->e[i].path,
					     st->e[i].is_dir);
	}
	if (error || (error = check_tree(st)))
		return error;
	st->sorted = xcalloc(st->nr, sizeof(*st->sorted));
	for (size_t i = 0; i < st->nr; i++)
		if (!st->e[i].is_dir)
			st->sorted[st->sorted_nr++] = &st->e[i];
	qsort(st->sorted, st->sorted_nr, sizeof(*st->sorted), cmp_sorted);
	return 0;
}

static struct entry *find_file(const struct pkg_read *st, const char *path)
{
	struct entry key = { .path = (char *)path }, *k = &key, **found;

	found = bsearch(&k, st->sorted, st->sorted_nr, sizeof(*st->sorted),
			cmp_sorted);
	return found ? *found : NULL;
}

/* the first file at or after path in path order, or NULL */
static struct entry *find_from(const struct pkg_read *st, const char *path)
{
	size_t lo = 0, hi = st->sorted_nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(st->sorted[mid]->path, path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < st->sorted_nr ? st->sorted[lo] : NULL;
}

/* a small member read whole (at most cap bytes), as it is now */
static int read_whole_dir(struct pkg_read *st, struct entry *e, size_t cap,
			  char **out, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;
	int fd = open_beneath(st->fd, e->path, O_RDONLY | O_NONBLOCK);
	int error = 0;

	if (fd < 0)
		return changed(st, e);
	strbuf_set_cap(&sb, cap);
	if (strbuf_read_fd(&sb, fd) < 0)
		error = errno == EFBIG ? changed(st, e)
				       : io_error(st, e->member, "read");
	close(fd);
	if (error) {
		strbuf_release(&sb);
		return error;
	}
	*out = strbuf_detach(&sb, len);
	return 0;
}

static int read_whole_tar(struct pkg_read *st, struct entry *e, size_t cap,
			  char **out, size_t *len)
{
	struct ns_tar_reader *r = NULL;
	int error = reader_open_fd(&r, st->src, st->fd, e->header);

	if (!error && (reader_next(r) != 1 || !entry_name(r->entry) ||
		       strcmp(entry_name(r->entry), e->member)))
		error = NS_EINVALID;
	if (!error)
		error = ns_tar_read_all(r, out, len, cap);
	ns_tar_close(r);
	if (error == NS_EINVALID)
		return changed(st, e);
	return error;
}

/* a small member read whole, once more after the walk: it must still be
 * what the walk hashed */
static int read_whole(struct pkg_read *st, struct entry *e, size_t cap,
		      char **out, size_t *len)
{
	char sha[NS_HEX_LEN + 1];
	int error = st->is_tar ? read_whole_tar(st, e, cap, out, len)
			       : read_whole_dir(st, e, cap, out, len);

	if (error)
		return error;
	ns_sha256_buf(sha, *out, *len);
	if (strcmp(sha, e->sha256)) {
		free(*out);
		*out = NULL;
		return changed(st, e);
	}
	return 0;
}

/* enhancement.ini is read whole (it is small, and parsed) */
static int load_ini(struct pkg_read *st, struct entry **out)
{
	struct entry *e = find_file(st, "enhancement.ini");
	int error;

	if (!e)
		return refuse(st, NULL, "missing enhancement.ini");
	if (e->size > INI_CAP)
		return refuse(st, e->member, "exceeds 1 MiB");
	error = read_whole(st, e, INI_CAP, &st->ini, &st->ini_len);
	if (error)
		return error;
	*out = e;
	return 0;
}

/* each SQL script is UTF-8 text: it is run, shown, and kept in the
 * archive's plan.json for a rollback */
static int check_sql(struct pkg_read *st)
{
	static const char *const names[] = { "sql/deploy.sql", "sql/revert.sql",
					     "sql/verify.sql" };
	int error = 0;

	for (size_t i = 0; i < 3 && !error; i++) {
		struct entry *e = find_file(st, names[i]);
		char *text = NULL, *w;
		size_t len;

		if (!e)
			continue;
		if (e->size > NS_SQL_CAP)
			return refuse(st, e->member, "exceeds 16 MiB");
		if ((error = read_whole(st, e, NS_SQL_CAP, &text, &len)))
			return error;
		w = where(st, e->member);
		error = ns_text_check(w, text, len);
		free(w);
		free(text);
	}
	return error;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* what [files] says must fit what files/ holds */
static int check_touched(const struct pkg_read *st, const char *ini,
			 const struct ns_manifest *m)
{
	char **dels = xcalloc(m->deletes_nr, sizeof(*dels));
	struct entry *below;
	char *p;
	int error = 0, replaced;

	for (size_t i = 0; !error && i < m->deletes_nr; i++) {
		dels[i] = m->deletes[i];
		p = xprintf("files/%s", dels[i]);
		if (find_file(st, p)) {
			ns_error_set("%s: [files] delete '%s': both replaced "
				     "and deleted",
				     ini, dels[i]);
			error = NS_EINVALID;
		}
		free(p);
		/* a delete may name a directory, which it empties */
		p = xprintf("files/%s/", dels[i]);
		if (!error && (below = find_from(st, p)) &&
		    !strncmp(below->path, p, strlen(p))) {
			ns_error_set("%s: [files] delete '%s': the package "
				     "puts '%s' below it",
				     ini, dels[i], below->path);
			error = NS_EINVALID;
		}
		free(p);
	}
	qsort(dels, m->deletes_nr, sizeof(*dels), cmp_str);
	for (size_t i = 0; !error && i < m->bases_nr; i++) {
		p = xprintf("files/%s", m->bases[i].path);
		replaced = find_file(st, p) != NULL;
		free(p);
		if (replaced || bsearch(&m->bases[i].path, dels, m->deletes_nr,
					sizeof(*dels), cmp_str))
			continue;
		ns_error_set("%s: [files] base '%s': base for a path the "
			     "enhancement does not touch",
			     ini, m->bases[i].path);
		error = NS_EINVALID;
	}
	free(dels);
	return error;
}

static int check_package(struct pkg_read *st, struct ns_package *pkg)
{
	struct entry *ini = NULL;
	char *name = NULL;
	int error;

	if ((error = load_ini(st, &ini)))
		return error;
	name = where(st, ini->member);
	error = ns_manifest_parse(&pkg->manifest, name, st->ini, st->ini_len,
				  st->lim->max_path);
	pkg->has_deploy = find_file(st, "sql/deploy.sql") != NULL;
	pkg->has_revert = find_file(st, "sql/revert.sql") != NULL;
	pkg->has_verify_sql = find_file(st, "sql/verify.sql") != NULL;
	if (!error && pkg->has_deploy && !pkg->has_revert)
		error = refuse(st, NULL,
			       "sql/deploy.sql without sql/revert.sql (a "
			       "deploy must be revertible)");
	if (!error)
		error = check_sql(st);
	if (!error)
		error = check_touched(st, name, &pkg->manifest);
	free(name);
	return error;
}

static void fill_members(struct pkg_read *st, struct ns_package *pkg)
{
	struct ns_member *m;

	pkg->members = xcalloc(st->sorted_nr, sizeof(*pkg->members));
	pkg->nr = st->sorted_nr;
	for (size_t i = 0; i < st->sorted_nr; i++) {
		m = &pkg->members[i];
		m->path = xstrdup(st->sorted[i]->path);
		m->size = st->sorted[i]->size;
		m->mode = st->sorted[i]->mode;
		memcpy(m->sha256, st->sorted[i]->sha256, sizeof(m->sha256));
	}
	ns_package_digest(pkg->payload_sha256, pkg->members, pkg->nr);
}

/* ---- package: the store pass --------------------------------------- */

static int store_from_dir(struct pkg_read *st, struct ns_tar_writer *w,
			  struct entry *e)
{
	int fd = open_beneath(st->fd, e->path, O_RDONLY | O_NONBLOCK);
	struct stat sb;
	int error;

	if (fd < 0)
		return changed(st, e);
	if (fstat(fd, &sb) < 0)
		error = io_error(st, e->member, "stat");
	else if (!S_ISREG(sb.st_mode) || sb.st_nlink != 1 ||
		 (uint64_t)sb.st_size != e->size ||
		 (sb.st_mode & (S_ISUID | S_ISGID)))
		error = changed(st, e);
	else
		error = ns_tar_add_fd(w, e->path, fd, e->size, e->mode,
				      e->sha256);
	close(fd);
	return error == NS_EINVALID ? changed(st, e) : error;
}

static int store_from_tar(struct pkg_read *st, struct ns_tar_writer *w,
			  struct entry *e)
{
	struct ns_tar_reader *r = NULL;
	int error = reader_open_fd(&r, st->src, st->fd, e->header);

	if (!error && (reader_next(r) != 1 || !entry_name(r->entry) ||
		       strcmp(entry_name(r->entry), e->member) ||
		       !entry_is_regular(r->entry) ||
		       (uint64_t)archive_entry_size(r->entry) != e->size))
		error = NS_EINVALID;
	if (!error)
		error = ns_tar_add_from_reader(w, e->path, r, e->size, e->mode,
					       e->sha256);
	ns_tar_close(r);
	return error == NS_EINVALID ? changed(st, e) : error;
}

static int write_store(struct pkg_read *st, const char *store_path)
{
	struct ns_tar_writer *w = NULL;
	struct entry *e;
	int error = ns_tar_writer_open(&w, store_path);

	for (size_t i = 0; !error && i < st->sorted_nr; i++) {
		e = st->sorted[i];
		if (!strcmp(e->path, "enhancement.ini"))
			error = ns_tar_add_buffer(w, e->path, st->ini,
						  st->ini_len, e->mode);
		else if (st->is_tar)
			error = store_from_tar(st, w, e);
		else
			error = store_from_dir(st, w, e);
	}
	if (error) {
		ns_tar_writer_abort(w);
		return error;
	}
	return ns_tar_writer_commit(w);
}

/* ---- package: API -------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static int open_source(struct pkg_read *st, const char *src)
{
	struct stat sb;

	st->fd = open(src, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (st->fd < 0 || fstat(st->fd, &sb) < 0) {
		ns_error_set("cannot open '%s': %s", src, strerror(errno));
		return NS_ERROR;
	}
	st->is_tar = !S_ISDIR(sb.st_mode);
	if (S_ISDIR(sb.st_mode) ||
	    (S_ISREG(sb.st_mode) && ends_with(src, ".tar")))
		return 0;
	return refuse(st, NULL, "not a directory or a .tar file");
}

static void pkg_read_init(struct pkg_read *st, const char *src,
			  const struct ns_limits *lim)
{
	size_t n = strlen(src);

	memset(st, 0, sizeof(*st));
	while (n > 1 && src[n - 1] == '/')
		n--;
	st->src = xstrndup(src, n);
	st->lim = lim;
	st->fd = -1;
	st->buf = xmalloc(BUF_SIZE);
}

static void pkg_read_release(struct pkg_read *st)
{
	for (size_t i = 0; i < st->nr; i++)
		entry_release(&st->e[i]);
	free(st->e);
	free(st->sorted);
	free(st->ini);
	free(st->buf);
	free(st->src);
	if (st->fd >= 0)
		close(st->fd);
}

int ns_package_read(struct ns_package *out, const char *src,
		    const struct ns_limits *lim, const char *store_path)
{
	static const struct ns_limits defaults = NS_LIMITS_DEFAULT;
	struct ns_package pkg = NS_PACKAGE_INIT;
	struct pkg_read st;
	int error;

	pkg_read_init(&st, src, lim ? lim : &defaults);
	if ((error = open_source(&st, src)) ||
	    (error = st.is_tar ? walk_tar(&st) : walk_dir(&st)) ||
	    (error = check_entries(&st)) || (error = check_package(&st, &pkg)))
		goto done;
	fill_members(&st, &pkg);
	if (store_path && (error = write_store(&st, store_path)))
		goto done;
	*out = pkg;
	memset(&pkg, 0, sizeof(pkg));
done:
	ns_package_release(&pkg);
	pkg_read_release(&st);
	return error;
}

void ns_package_release(struct ns_package *pkg)
{
	for (size_t i = 0; i < pkg->nr; i++)
		free(pkg->members[i].path);
	free(pkg->members);
	ns_manifest_release(&pkg->manifest);
	memset(pkg, 0, sizeof(*pkg));
}

void ns_package_digest(char out[NS_HEX_LEN + 1], const struct ns_member *m,
		       size_t nr)
{
	struct ns_sha256 *h = ns_sha256_new();
	struct strbuf line = STRBUF_INIT;

	for (size_t i = 0; i < nr; i++) {
		strbuf_reset(&line);
		strbuf_addf(&line, "%s %04o %llu %s\n", m[i].sha256, m[i].mode,
			    (unsigned long long)m[i].size, m[i].path);
		ns_sha256_update(h, line.buf, line.len);
	}
	strbuf_release(&line);
	ns_sha256_finish(out, h);
}

static int cmp_member(const void *key, const void *elem)
{
	return strcmp(key, ((const struct ns_member *)elem)->path);
}

const struct ns_member *ns_package_member(const struct ns_package *pkg,
					  const char *path)
{
	if (!pkg->nr)
		return NULL;
	return bsearch(path, pkg->members, pkg->nr, sizeof(*pkg->members),
		       cmp_member);
}
