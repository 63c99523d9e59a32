/*
 * fsx — root-confined, durable file operations.
 *
 * Everything nightshift changes below a target root goes through here.
 * Paths are resolved beneath an open root directory, one component at a
 * time with O_NOFOLLOW (openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS
 * where the kernel has it): a symbolic link anywhere on the way — pointing
 * in or out of the root — is refused, never followed. New content is
 * written to a hidden sibling, fsynced, and renamed into place by the
 * caller; directories are fsynced after renames and unlinks. A failed
 * fsync is a failure. Each mutating call goes through ns_step() so that the
 * kill-point tests can stop the process before it.
 */
#ifndef NS_FSX_H
#define NS_FSX_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "hash.h"

struct ns_root {
	int fd;
	char *path;
};

#define NS_ROOT_INIT                                                           \
	{                                                                      \
		-1, NULL                                                       \
	}

/* the owner a file or directory nightshift writes is to have: that of
 * what it replaces or puts back. NULL (or !set) leaves the creator's. */
struct ns_owner {
	int set;
	uid_t uid;
	gid_t gid;
};

/* a byte source for ns_fsx_write: like read(2) */
typedef ssize_t (*ns_fsx_reader)(void *ctx, void *buf, size_t n);

int ns_fsx_root_open(struct ns_root *out, const char *path);
void ns_fsx_root_release(struct ns_root *r);

/* Open the directory that holds REL; *base is REL's last component.
 * Returns 0, 1 when a directory on the way does not exist, NS_EINVALID
 * for a symbolic link or non-directory on the way. */
int ns_fsx_parent(int *out, const struct ns_root *r, const char *rel,
		  const char **base);
/* lstat REL beneath the root: 0 present, 1 absent, NS_EINVALID when a
 * component is a symbolic link */
int ns_fsx_stat(struct stat *st, const struct ns_root *r, const char *rel);
/* SHA-256 of the regular file REL; 1 when absent */
int ns_fsx_hash(char out[NS_HEX_LEN + 1], const struct ns_root *r,
		const char *rel);

/* What a hash was taken of, so that ns_fsx_keep can reuse it instead of
 * reading the file again: the inode, its size, modification and change
 * times. valid only when the file did not change while it was read and
 * its change time was over a second old then: any later change of the
 * file (a write, a chmod, a utimensat, another file renamed over it)
 * gives it a change time that differs. */
struct ns_fsx_seen {
	int valid;
	int used; /* set by ns_fsx_keep when the hash came from here */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	char sha256[NS_HEX_LEN + 1];
};

/* ns_fsx_hash, noting what was hashed in seen */
int ns_fsx_hash_seen(char out[NS_HEX_LEN + 1], struct ns_fsx_seen *seen,
		     const struct ns_root *r, const char *rel);
/* the owner of a new file or directory made in the directory dirfd: the
 * directory's owner and group when nightshift may give them (it runs as
 * root), else none (own->set 0: it is the user's nightshift runs as) */
void ns_fsx_new_owner(struct ns_owner *own, int dirfd);
/* mkdir REL beneath the root (its parent must exist), fsync the parent;
 * a directory it creates takes the parent's owner (ns_fsx_new_owner) */
int ns_fsx_mkdir(const struct ns_root *r, const char *rel);
/* the same with exactly mode (07777 bits, whatever the umask): a
 * directory put back as it was; one already there gets the mode */
int ns_fsx_mkdir_mode(const struct ns_root *r, const char *rel, unsigned mode,
		      const struct ns_owner *own);
/* rmdir REL when it exists and is empty; fsync the parent */
int ns_fsx_rmdir(const struct ns_root *r, const char *rel);
/* call fn with the name of each entry of the directory REL beneath the
 * root (not . and ..), until fn returns nonzero: that value is returned;
 * 0 when every entry was seen, NS_ERROR when the directory cannot be
 * read */
int ns_fsx_each_entry(const struct ns_root *r, const char *rel,
		      int (*fn)(void *ctx, const char *name), void *ctx);
/* rmdir REL, which must be empty: NS_ERROR, naming what is in it, when it
 * is not (a directory a migration deletes); gone already is done */
int ns_fsx_rmdir_empty(const struct ns_root *r, const char *rel);

/* flags of ns_fsx_write and ns_fsx_copy */
#define NS_FSX_NOSYNC                                                          \
	1 /* the caller makes a whole phase durable at once                    \
	   * with ns_fsx_syncfs, before it journals the phase */

/* Write NAME in DIRFD from src, hashing (the digest into got when not
 * NULL); fsync unless NS_FSX_NOSYNC; mode set exactly. When expect is not
 * NULL and the bytes hash otherwise, the file is removed and NS_EINVALID
 * returned. `what` names the file in messages. */
int ns_fsx_write(int dirfd, const char *name, unsigned mode, ns_fsx_reader src,
		 void *ctx, const char *expect, char got[NS_HEX_LEN + 1],
		 unsigned flags, const char *what);
/* Write NAME in DIRFD from src, not synced, its hash computed as stream
 * `stream` of q (hashq.h): known after ns_hashq_finish(q), for the caller
 * to check. The owner own (may be NULL) is given before the mode is set;
 * a process that may not give it fails. acl_from: an open file whose POSIX
 * ACL (or none) the new file takes, or -1 (it keeps what its directory's
 * default ACL gave it). */
struct ns_hashq;
int ns_fsx_write_hashq(int dirfd, const char *name, unsigned mode,
		       const struct ns_owner *own, int acl_from,
		       ns_fsx_reader src, void *ctx, struct ns_hashq *q,
		       size_t stream, const char *what);
/* copy the regular file NAME of SRCDIR into DSTDIR/DSTNAME, with the
 * owner own (may be NULL), the mode, and the source's modification time
 * and POSIX ACL (a copy stands in for the very file; a destination that
 * cannot hold the ACL fails, naming it); `what` names the copy in
 * messages, `from` (NULL: what) the file copied */
int ns_fsx_copy(int dstdir, const char *dstname, int srcdir,
		const char *srcname, unsigned mode, const struct ns_owner *own,
		char got[NS_HEX_LEN + 1], unsigned flags, const char *what,
		const char *from);
/* Keep the content of SRCDIR/SRCNAME as DSTDIR/DSTNAME: a hard link where
 * both are on one filesystem — nightshift never writes into a file in
 * place, it renames a new one over it, so the link keeps the old bytes —
 * and the file has no other name, else a copy. The content's hash into
 * got: for a link, seen's hash when seen (may be NULL) is valid and the
 * inode linked is still the one it describes (seen->used says so), else
 * the linked file is read. Not synced (NS_FSX_NOSYNC). `what` names the
 * file kept in messages, `kept` (NULL: what) DSTDIR/DSTNAME: a copy that
 * cannot be written says where it went ("cannot keep WHAT: cannot write
 * KEPT: No space left on device"), not only which file it was of. */
int ns_fsx_keep(int dstdir, const char *dstname, int srcdir,
		const char *srcname, unsigned mode, char got[NS_HEX_LEN + 1],
		struct ns_fsx_seen *seen, const char *what, const char *kept);
/* ns_fsx_keep, but 1 (got untouched) where the linked file would have to
 * be read for its hash: the caller reads DSTDIR/DSTNAME later. st is the
 * caller's lstat of SRCDIR/SRCNAME, taken just before (its mode is the
 * copy's, where a copy is made) */
int ns_fsx_keep_later(int dstdir, const char *dstname, int srcdir,
		      const char *srcname, const struct stat *st,
		      char got[NS_HEX_LEN + 1], struct ns_fsx_seen *seen,
		      const char *what, const char *kept);
/* make everything written on the filesystem of fd durable (syncfs(2),
 * which reports write-back errors since Linux 5.8) */
int ns_fsx_syncfs(int fd, const char *what);
/* A flusher starts the write-back early. While a phase writes what its
 * closing ns_fsx_syncfs makes durable, a thread of the flusher's syncs the
 * filesystem of DIRFD (a directory) every 2 ms, so that the disk writes
 * while the caller goes on writing, and the closing flush finds most of
 * the phase on the disk already. It only ever makes durable earlier what
 * the phase wrote (no order of the migration depends on a write not being
 * durable yet), changes nothing, reports nothing, and is no step: the
 * closing ns_fsx_syncfs is still what makes the phase durable and reports
 * its errors. It syncs through an open file description of its own, since
 * syncfs(2) reports a write-back error once to each description: the
 * caller's is left to see it. NULL (and the closing flush does it all)
 * where no thread can be started; ns_fsx_flusher_stop(NULL) is nothing. */
struct ns_fsx_flusher;
struct ns_fsx_flusher *ns_fsx_flusher_start(int dirfd);
void ns_fsx_flusher_stop(struct ns_fsx_flusher *f);
int ns_fsx_rename(int dirfd, const char *from, const char *to,
		  const char *what);
/* ns_fsx_rename, but 1 (nothing done, no message) when FROM is absent;
 * FROM and TO are names in dirfd */
int ns_fsx_rename_present(int dirfd, const char *from, const char *to,
			  const char *what);
/* rename SRCDIR/SRCNAME over DSTDIR/DSTNAME; 1 when the two are on
 * different filesystems (EXDEV: nothing done, the caller copies) */
int ns_fsx_move(int srcdir, const char *srcname, int dstdir,
		const char *dstname, const char *what);
/* a second name DSTDIR/DSTNAME for the regular file SRCDIR/SRCNAME (one
 * left there by an interrupted run is replaced); 1 when there is no such
 * file or the link cannot be made (another filesystem, too many links):
 * nothing done */
int ns_fsx_link(int srcdir, const char *srcname, int dstdir,
		const char *dstname, const char *what);
/* unlink; an absent file is not an error */
int ns_fsx_unlink(int dirfd, const char *name, const char *what);
int ns_fsx_fsync_dir(int dirfd, const char *what);

/* nightshift's own directories (spool, archive, journal): mkdir -p */
int ns_fsx_mkdir_p(const char *path, mode_t mode);
/* write a small file of nightshift's own durably (tmp, fsync, rename) */
int ns_fsx_write_file(const char *path, const void *buf, size_t len);
/* append and fsync one record to a file of nightshift's own */
int ns_fsx_append(const char *path, const char *line);
/* remove a directory tree of nightshift's own (archives, staging dirs) */
int ns_fsx_remove_tree(const char *path);
/* remove the "NAME.tmp-PID" files in dir whose process is gone: what a
 * killed process left half-written (never a file a live one writes) */
int ns_fsx_sweep_tmp(const char *dir);
/* take an exclusive flock on PATH (created, never deleted); NS_ELOCKED
 * when another process holds it */
int ns_fsx_lock(int *out, const char *path, const char *what);

#endif
