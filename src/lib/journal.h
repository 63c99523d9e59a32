/*
 * journal — the durable record of a migration in progress.
 *
 * One file per site run in JOURNAL/SYSTEM/KIND/, appended to and fsynced
 * at each state. Its first line names the run directory; then the states:
 *
 *   (none)        archiving: nothing in the target has changed
 *   PREPARED      archive and plan are durable; staging may exist
 *   AUTOCOMMIT    (transaction = none) the deploy SQL runs outside a
 *                 transaction: the database may be partly changed, and
 *                 until the nightshift_changes row exists recovery rolls
 *                 it back (revert SQL, then the archived pg_dump)
 *   COMMITTED     the commit point has passed (files-only sites; with a
 *                 database the nightshift_changes row is the proof)
 *   APPLIED       every file is in place; verification runs
 *   DONE          migrated
 *   ROLLING_BACK  undoing from the archive (after a failure, or manual)
 *   ROLLED_BACK   the site is as before
 *   BLOCKED       undoing failed: a person must repair the site (or
 *                 the cause: `unblock` rolls one blocked while
 *                 ROLLING_BACK back again)
 *
 * A journal in a final state is retired into its run directory once the
 * registry knows the outcome; the active directory then holds only what
 * recovery must look at. A torn last line is ignored.
 */
#ifndef NS_JOURNAL_H
#define NS_JOURNAL_H

#include <stddef.h>

enum ns_jstate {
	NS_J_NONE,
	NS_J_PREPARED,
	NS_J_AUTOCOMMIT,
	NS_J_COMMITTED,
	NS_J_APPLIED,
	NS_J_DONE,
	NS_J_ROLLING_BACK,
	NS_J_ROLLED_BACK,
	NS_J_BLOCKED,
};

struct ns_journal {
	char *path;
	char *rundir;
	enum ns_jstate state;
	char *note; /* the last state's note, or NULL */
	/* the state before it and its note: what a BLOCKED run was doing */
	enum ns_jstate from;
	char *from_note;
};

#define NS_JOURNAL_INIT                                                        \
	{                                                                      \
		0                                                              \
	}

int ns_journal_begin(const char *path, const char *rundir);
int ns_journal_mark(const char *path, enum ns_jstate s, const char *note);
int ns_journal_read(struct ns_journal *out, const char *path);
void ns_journal_release(struct ns_journal *j);
/* move the journal into the run directory as NAME */
int ns_journal_retire(const char *path, const char *rundir, const char *name);
const char *ns_journal_state_name(enum ns_jstate s);
int ns_journal_final(enum ns_jstate s);
/* a migration's journal is TOKEN.SITE.jnl, the backout of that site's
 * migration TOKEN.SITE.backout.jnl */
#define NS_JOURNAL_BACKOUT ".backout.jnl"
int ns_journal_is_backout(const char *path);

/* the *.jnl files of dir, sorted; an absent dir is empty */
int ns_journal_list(char ***out, size_t *nr, const char *dir);

#endif
