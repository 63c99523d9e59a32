/*
 * migrate — DESIGN §5: one enhancement into one site, with one commit
 * point, and the recovery of a run that was interrupted.
 *
 * It knows a trigger and a site, never the registry: the same code runs in
 * a remote site's agent. The caller holds the environment lock and has
 * already loaded (and so hash-checked) the trigger.
 *
 *   validate → drift → archive (journal PREPARED) → stage → COMMIT POINT
 *   (database: deploy + verify SQL + nightshift_changes row in one
 *   transaction; files only: journal COMMITTED) → apply (APPLIED) →
 *   verify commands → DONE.
 *
 * transaction = none (PostgreSQL): the journal records AUTOCOMMIT before
 * the deploy statements run one by one, each committed on its own; then
 * verify SQL + row are the commit point. From AUTOCOMMIT on, a failure, a
 * crash or a backout rolls the database back whatever part of the deploy
 * ran: revert statements one by one, then the archived pg_dump restored.
 *
 * Before the commit point a failure discards the staging: nothing changed.
 * After it, revert SQL + restore from the archive (ROLLING_BACK,
 * ROLLED_BACK); if that fails the site is BLOCKED. Recovery reads only the
 * journal and the run directory: before the commit point it undoes, after
 * it it finishes applying and verifies, exactly as the run would have.
 *
 * Every function fills an ns_outcome and returns its code (0 migrated,
 * NS_EINVALID/NS_EDRIFT refused with nothing written, NS_EFAILED rolled
 * back for the enhancement's fault, NS_ERROR refused or rolled back for
 * the environment's — a full disk, an I/O error —, NS_ELOCKED blocked). The
 * active journal is left for the caller to retire (ns_journal_retire) once it
 * recorded the outcome.
 */
#ifndef NS_MIGRATE_H
#define NS_MIGRATE_H

#include <stddef.h>

#include "config.h"
#include "trigger.h"

enum ns_outcome_kind {
	NS_OUT_MIGRATED,
	NS_OUT_REFUSED,	    /* nothing was written */
	NS_OUT_ROLLED_BACK, /* changed, then put back */
	NS_OUT_BLOCKED,	    /* putting back failed */
};

struct ns_outcome {
	enum ns_outcome_kind kind;
	int code;
	char *message;
	char *token, *enhancement, *environment, *site;
	int revision;
	char *rundir;  /* NULL when refused before archiving */
	char *journal; /* the active journal to retire, or NULL */
	long long ms;
	int recovered; /* finished by recovery */
	/* NS_OUT_BLOCKED before the run could tell which side of the commit
	 * point it is on: nothing was undone or carried forward, and the
	 * journal stays for the recovery that can tell (as after a crash) */
	int undecided;
	/* a backout: the paths it found as before the run, put back by a
	 * person already */
	size_t by_hand;
};

#define NS_OUTCOME_INIT                                                        \
	{                                                                      \
		0                                                              \
	}

struct ns_migrate_ctx {
	const char *archive_dir; /* ARCHIVE/SYSTEM/KIND */
	const char *journal_dir; /* JOURNAL/SYSTEM/KIND */
	const char *token;	 /* "ENH-1-r1-7" */
	const char *user;
	const char *env_name;
	const char *env_verify; /* the environment's verify command or NULL */
	size_t max_path;
};

int ns_migrate_site(struct ns_outcome *out, const struct ns_trigger *t,
		    const struct ns_site *site,
		    const struct ns_migrate_ctx *ctx);
/* back a migrated site out from its run directory; with check_drift the
 * files must still be exactly what the run put there. env (may be NULL):
 * the environment as configured now, whose site's database URL gives the
 * password plan.json leaves out, when it names the run's database. */
int ns_migrate_backout(struct ns_outcome *out, const char *rundir,
		       const char *journal_dir, const char *reason,
		       int check_drift, const struct ns_env *env);
/* what ns_migrate_backout with check_drift checks before it changes
 * anything — the plan, the root, the database reachable, the files as the
 * run left them — changing nothing: so that a backout of several sites
 * starts only when every one of them can be backed out */
int ns_migrate_backout_check(const char *rundir, const struct ns_env *env);
/* finish or undo the run behind one active journal (env: as above) */
int ns_migrate_recover(struct ns_outcome *out, const char *journal_path,
		       const struct ns_env *env);
/* ns_migrate_recover, and a run blocked because its rollback failed (a
 * full disk, a database down: since repaired, a person says by `unblock`)
 * is rolled back again, from where its journal stands: a site's own
 * journal, or the backout journal of a run backing its sites out */
int ns_migrate_finish_rollback(struct ns_outcome *out, const char *journal_path,
			       const struct ns_env *env);
void ns_outcome_release(struct ns_outcome *o);

#endif
