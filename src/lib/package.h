/*
 * package — an enhancement as a package: reading, refusing, hashing, tar.
 *
 * ns_package_read() takes a directory or a .tar of one, refuses anything
 * hostile before a single byte is stored, and writes the canonical payload
 * tar: regular files only, sorted by path, modes 0644 or 0755, owner 0,
 * mtime 0. The payload holds enhancement.ini, files/..., and any of
 * sql/deploy.sql, sql/revert.sql, sql/verify.sql.
 *
 * Its hash: SHA-256 of the lines "SHA256 MODE SIZE PATH\n" (mode in octal,
 * four digits) of every member in path order. The same members under
 * "payload/" in a trigger file give the same hash, which is how production
 * proves it carries the byte-identical payload that passed the model.
 *
 * Names, enhancement.ini and the SQL scripts must be UTF-8 text (text.h).
 * Every refusal is NS_EINVALID with a message "WHERE: REASON", WHERE being
 * "SRC/MEMBER" for a directory and "SRC:MEMBER" for a tar.
 */
#ifndef NS_PACKAGE_H
#define NS_PACKAGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hash.h"
#include "manifest.h"

/* the largest SQL script: each is read whole, at submit and at migration */
#define NS_SQL_CAP (16u << 20)

struct ns_limits {
	uint64_t max_file_size;	 /* one member */
	uint64_t max_total_size; /* all members */
	size_t max_files;	 /* members */
	size_t max_path;	 /* bytes of a target path */
};

#define NS_LIMITS_DEFAULT                                                      \
	{                                                                      \
		1ULL << 30, 4ULL << 30, 100000, 1024                           \
	}

struct ns_member {
	char *path; /* "enhancement.ini", "files/a/b.c", "sql/deploy.sql" */
	uint64_t size;
	unsigned mode; /* 0644 or 0755 */
	char sha256[NS_HEX_LEN + 1];
};

struct ns_package {
	struct ns_member *members; /* sorted by path */
	size_t nr;
	char payload_sha256[NS_HEX_LEN + 1];
	struct ns_manifest manifest;
	int has_deploy, has_revert, has_verify_sql;
};

#define NS_PACKAGE_INIT                                                        \
	{                                                                      \
		0                                                              \
	}

/* read and check SRC; on success the payload tar is at store_path (written
 * to a temporary sibling, fsynced, renamed). store_path NULL: check only. */
int ns_package_read(struct ns_package *out, const char *src,
		    const struct ns_limits *lim, const char *store_path);
void ns_package_release(struct ns_package *pkg);
void ns_package_digest(char out[NS_HEX_LEN + 1], const struct ns_member *m,
		       size_t nr);
const struct ns_member *ns_package_member(const struct ns_package *pkg,
					  const char *path);

/*
 * Tar reading and writing (libarchive, ustar/pax), streaming: no member is
 * ever held whole in memory except through ns_tar_read_all with a cap.
 */
struct ns_tar_reader;
struct ns_tar_writer;

int ns_tar_open(struct ns_tar_reader **out, const char *path);
/* 1 and the member's header, 0 at the end, NS_EINVALID when malformed */
int ns_tar_next(struct ns_tar_reader *r, const char **path, uint64_t *size,
		unsigned *mode, int *is_regular);
/* like read(2) on the current member: bytes, 0 at its end, -1 on error */
ssize_t ns_tar_read(struct ns_tar_reader *r, void *buf, size_t n);
/* the rest of the current member into *out (malloc'd, NUL-terminated) */
int ns_tar_read_all(struct ns_tar_reader *r, char **out, size_t *len,
		    size_t cap);
void ns_tar_close(struct ns_tar_reader *r);

/* writes PATH.tmp-PID; commit fsyncs and renames it to PATH */
int ns_tar_writer_open(struct ns_tar_writer **out, const char *path);
int ns_tar_add_buffer(struct ns_tar_writer *w, const char *name,
		      const void *buf, size_t len, unsigned mode);
/* copy size bytes from the reader's current member, hashing them; fails
 * (NS_EINVALID) when they do not hash to expect (NULL: don't check) */
int ns_tar_add_from_reader(struct ns_tar_writer *w, const char *name,
			   struct ns_tar_reader *r, uint64_t size,
			   unsigned mode, const char *expect);
int ns_tar_add_fd(struct ns_tar_writer *w, const char *name, int fd,
		  uint64_t size, unsigned mode, const char *expect);
int ns_tar_writer_commit(struct ns_tar_writer *w);
void ns_tar_writer_abort(struct ns_tar_writer *w);

#endif
