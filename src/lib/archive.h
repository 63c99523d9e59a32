/*
 * archive — the saved copy of exactly what a migration will touch, and the
 * plan that says how to put it back.
 *
 * A run directory (ARCHIVE/SYSTEM/KIND/TOKEN/SITE/) holds:
 *   plan.json       every path touched: the new content's hash and mode,
 *                   and what was there before (hash and mode, or absent;
 *                   for a directory deleted, its mode);
 *                   the directories the run creates; the revert SQL; the
 *                   verify commands; whether nightshift_changes existed
 *   files/N         the content of the Nth path before the run (a hard
 *                   link to the old file where it can be); a restore moves
 *                   it back into the site
 *   rolled-back/N   after a restore: the Nth path as the restore found it
 *                   (a link to the file it took out of the site)
 *   database.sqlite the SQLite target as it was (for the person repairing
 *                   a blocked site; rollback itself uses the revert SQL)
 *   database.pgdump the PostgreSQL tables the deploy script names, as they
 *                   were (archive-dump, and always with transaction =
 *                   none, whose rollback restores them from it)
 * Everything is fsynced before the journal says PREPARED. The plan is all
 * recovery needs: it never reads the trigger or the registry. It names
 * the database without its password (ns_target_url_public): recovery and
 * a backout take the password from the configuration's URL for the site,
 * when that names the same database (ns_migrate_recover).
 */
#ifndef NS_ARCHIVE_H
#define NS_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "fsx.h"
#include "hash.h"

enum ns_op { NS_OP_PUT, NS_OP_DELETE };

struct ns_plan_file {
	char *path; /* below the root */
	enum ns_op op;
	char sha256[NS_HEX_LEN + 1]; /* new content (PUT) */
	unsigned mode;
	uint64_t size;
	int before_present;
	/* its content's hash; empty, until a restore needs it, where the
	 * archive keeps the very file by a second name and nobody read it
	 * (ns_archive_hash_kept) */
	char before_sha256[NS_HEX_LEN + 1];
	unsigned before_mode;
	/* whose it was (owner.set: known; a plan.json written before it was
	 * recorded has none): a file put in its place and a file or
	 * directory put back get it */
	struct ns_owner before_owner;
	/* DELETE of a directory (the drift check found one, emptied by the
	 * enhancement's other deletes): removed after them, put back (its
	 * mode) before them */
	int dir;
	/* not saved: what the drift check hashed (see ns_fsx_keep) */
	struct ns_fsx_seen seen;
};

struct ns_plan {
	char *token; /* "ENH-1-r1-7": names staging files and the run */
	char *enhancement;
	int revision;
	char payload_sha256[NS_HEX_LEN + 1];
	char *environment, *site, *root, *database, *user;
	struct ns_plan_file *files; /* sorted by path */
	size_t nr;
	char **mkdirs; /* shallowest first */
	size_t mkdirs_nr;
	char *revert_sql;
	int table_existed;
	int tx_none; /* transaction = none: the deploy ran outside one */
	char **verify;
	size_t verify_nr;
	/* how long each verify command may run (ms; -1: no limit; 0: the
	 * default, for a plan written before it was recorded) */
	long long verify_timeout_ms;
	/* archived files' hashes noted (ns_archive_kept_close) and not yet
	 * saved in plan.json: not saved itself */
	int kept_unsaved;
};

#define NS_PLAN_INIT                                                           \
	{                                                                      \
		0                                                              \
	}

void ns_plan_release(struct ns_plan *p);
int ns_plan_save(const struct ns_plan *p, const char *rundir);
int ns_plan_load(struct ns_plan *out, const char *rundir);

/* the hidden sibling that stages file i (kind 's') or its restore ('r') */
char *ns_plan_stage_name(const struct ns_plan *p, size_t i, char kind);

/* keep every present path in rundir/files/N (a second name where it
 * can, else a copy) and make that durable, recording in the plan each
 * one's mode and owner, and its hash where it is known without reading
 * the file again: a copy's, or the drift check's of the same unchanged
 * file. A migration that succeeds never needs the others. */
int ns_archive_take(struct ns_plan *p, const struct ns_root *root,
		    const char *rundir);
/* the hashes ns_archive_take left out, read from rundir/files/N and
 * saved in plan.json (a plan.json.tmp-* an interrupted save left goes
 * first): before a restore moves any file back, so that one run again
 * after a crash knows each file it moved by its hash. 0 or NS_ERROR */
int ns_archive_hash_kept(struct ns_plan *p, const char *rundir);
/* The same reading, beside other reading (a backout's check of the
 * site): ns_archive_kept_open() prepares it (NULL, the message set, when
 * rundir/files cannot be opened); ns_archive_kept_read(k, i) reads
 * archived file i, on any thread, once for each i ns_archive_unhashed()
 * names; ns_archive_kept_close() notes each hash read in the plan in
 * memory, which ns_archive_hash_kept then saves before the first file
 * moves back, and frees k. A file that could not be read is left for
 * ns_archive_hash_kept to read again and report. */
struct ns_archive_kept;
int ns_archive_unhashed(const struct ns_plan *p, size_t i);
struct ns_archive_kept *ns_archive_kept_open(const struct ns_plan *p,
					     const char *rundir);
void ns_archive_kept_read(struct ns_archive_kept *k, size_t i);
void ns_archive_kept_close(struct ns_archive_kept *k, struct ns_plan *p);
/* whether file i of the plan, found with the content hash now, is as it
 * was before the run: its hash in the plan, or the archived file's. 1
 * yes, 0 no, NS_ERROR (the message set) when the archive is unreadable */
int ns_archive_is_before(const struct ns_plan *p, size_t i, const char *rundir,
			 const char *now);
/* put every path back as the plan says it was before (moving the archived
 * files back), remove what the run added and the directories it created;
 * what it takes out of the site is kept in rundir/rolled-back; idempotent */
int ns_archive_restore(const struct ns_plan *p, const struct ns_root *root,
		       const char *rundir);

#endif
