/*
 * lifecycle — the states of an enhancement, who may move it, and the
 * change-management process around the migrations.
 *
 * One table says which verb moves an enhancement from which state to which,
 * in which kind of environment, and which role may say it:
 *
 *   submitted --qa-approve--> qa-approved --schedule--> scheduled
 *   scheduled --start--> migrating --migrated--> migrated (model) | WP
 *   migrated --accept--> accepted --promote--> promoted --start--> …
 *   WP --warranty-end--> CP
 *
 * with the ways back: qa-reject, return (blocking findings), refuse,
 * roll-back, reject, back-out, withdraw, and resubmit, which starts a new
 * revision over at submitted. ns_lifecycle_may() checks a person's move
 * before anything is done: the state, the role, and the separation of
 * duties (an author never QA-approves, accepts or promotes their own
 * enhancement; QA approval and acceptance are given by different people;
 * one person signs once). A refused move is NS_EFAILED with a message that
 * names the state and what is allowed from there, or the role and its
 * members. ns_lifecycle_move() sets the new state and writes the audit
 * event inside the caller's registry transaction.
 */
#ifndef NS_LIFECYCLE_H
#define NS_LIFECYCLE_H

#include <time.h>

#include "config.h"
#include "registry.h"

/* may actor make this move now (state, role, separation of duties)? */
int ns_lifecycle_may(const struct ns_config *c, struct ns_registry *r,
		     long long enh, const char *verb, const char *actor,
		     const char *env);
int ns_lifecycle_move(struct ns_registry *r, long long enh, const char *verb,
		      const char *actor, const char *env, const char *detail);
/* is the move allowed from the current state (no role check)? */
int ns_lifecycle_check(struct ns_registry *r, long long enh, const char *verb,
		       const char *env);
/* the role check alone, for acts that are not moves (rfs add) */
int ns_lifecycle_role(const struct ns_config *c, const char *role,
		      const char *actor, const char *what);

/*
 * submit: check the package at src (nothing is stored when it is refused),
 * keep its canonical payload in the store, register ENH-n r1 as submitted
 * and tell QA and change management.
 */
int ns_lifecycle_submit(long long *out, const struct ns_config *c,
			struct ns_registry *r, const char *src,
			const char *actor);
/*
 * resubmit: revision n+1 of a returned (rejected, rolled back, or not yet
 * migrated) enhancement. Every approval of the earlier revisions is
 * revoked and their pending triggers are withdrawn; it starts over at
 * submitted. The new revision number in *out_rev.
 */
int ns_lifecycle_resubmit(int *out_rev, const struct ns_config *c,
			  struct ns_registry *r, long long enh, const char *src,
			  const char *actor);
/*
 * the same, for a package nightshift built from a source (gitsrc.h,
 * sqitch.h): origin, a JSON object saying where it came from, is kept as
 * the revision's "source" audit event in the same transaction.
 */
int ns_lifecycle_submit_from(long long *out, const struct ns_config *c,
			     struct ns_registry *r, const char *src,
			     const char *actor, const char *origin);
int ns_lifecycle_resubmit_from(int *out_rev, const struct ns_config *c,
			       struct ns_registry *r, long long enh,
			       const char *src, const char *actor,
			       const char *origin);
/*
 * Where schedule and promote put a trigger: the first opening of the
 * environment's calendar (window.h) at or after the time asked for — --at,
 * else the manifest's proposed time, else now; never before the
 * manifest's not-before, nor before the pending trigger in the same
 * environment of an enhancement it requires — in which its estimated
 * apply and rollback time (ns_estimate) fits before the opening closes.
 * With override_reason set (change management only), blackouts are
 * ignored and the override is audited with the reason.
 */
struct ns_placement {
	const char *at;		     /* in: --at TIME, or NULL */
	const char *override_reason; /* in: --override-blackout --reason */
	time_t asked;		     /* out: the time asked for */
	time_t wanted;		     /* out: asked, or later for not-before or
				      * what it requires */
	time_t start;		     /* out: where it was placed (due) */
	time_t close;		     /* out: when that opening closes; -1:
				      * never (no window) */
	time_t latest;		     /* out: the latest safe start: close less
				      * apply and rollback; -1: none */
	long long need_ms;	     /* out: apply + rollback, estimated */
	int in_blackout; /* out: it runs in an overridden blackout */
	char *note;	 /* out: why start is not asked, or NULL */
};

#define NS_PLACEMENT_INIT                                                      \
	{                                                                      \
		NULL, NULL, -1, -1, -1, -1, -1, 0, 0, NULL                     \
	}

void ns_placement_release(struct ns_placement *p);

/*
 * schedule: place the trigger (above), analyse the enhancement for env at
 * that time (blocking findings return it to its developer: NS_EFAILED),
 * write the trigger file of its current revision, record it and move the
 * enhancement to scheduled. Model environments only: production is
 * reached by promote. The trigger's path in *out_path.
 */
int ns_lifecycle_schedule(char **out_path, struct ns_placement *p,
			  const struct ns_config *c, struct ns_registry *r,
			  long long enh, const char *env, const char *actor);
/*
 * promote: the production trigger of an accepted enhancement, carrying
 * the payload whose hash is that of the accepted model run (anything else
 * is refused, NS_EINVALID), after the production analysis; placed as
 * schedule places it.
 */
int ns_lifecycle_promote(char **out_path, struct ns_placement *p,
			 const struct ns_config *c, struct ns_registry *r,
			 long long enh, const char *actor);

/*
 * analyze: the conformity report (analysis.h) of the current revision for
 * env at the proposed time (as schedule would pick it). Blocking findings
 * return the enhancement to its developer, who is told, when it is at a
 * point where it can go back (submitted, qa-approved, accepted); either
 * way NS_EFAILED with the findings in the message. The report in *out.
 */
struct ns_analysis;
int ns_lifecycle_analyze(struct ns_analysis *out, const struct ns_config *c,
			 struct ns_registry *r, long long enh, const char *env,
			 const char *at, const char *actor);

/* QA's sign-off, or its refusal (back to the developer) */
int ns_lifecycle_qa(const struct ns_config *c, struct ns_registry *r,
		    long long enh, int approve, const char *reason,
		    const char *actor);
/*
 * an acceptance sign-off on the model run; the enhancement is accepted
 * once [policy] acceptances people have signed. *have and *need say how
 * many there are now and how many are needed.
 */
int ns_lifecycle_accept(const struct ns_config *c, struct ns_registry *r,
			long long enh, const char *env, const char *actor,
			int *have, int *need);
/* withdraw: the enhancement leaves the process; its triggers go */
int ns_lifecycle_withdraw(const struct ns_config *c, struct ns_registry *r,
			  long long enh, const char *reason, const char *actor);
/*
 * warranty: every WP enhancement whose warranty has passed becomes CP.
 * Their ids into *done (a jansson array of objects) when not NULL.
 */
int ns_lifecycle_warranty(const struct ns_config *c, struct ns_registry *r,
			  const char *actor, json_t **done);

/* requests for service */
int ns_rfs_add(const struct ns_config *c, struct ns_registry *r, const char *id,
	       const char *title, const char **scope, size_t scope_nr,
	       const char *actor);
/* the RFS as {id, title, scope: [...], created_by, created_at}, or NULL */
int ns_rfs_get(struct ns_registry *r, const char *id, json_t **out);

/* is enh in env now: migrated there, and not backed out since? */
int ns_lifecycle_present(struct ns_registry *r, long long enh, const char *env,
			 int *out);
/* the last migrated run of revision rev in SYSTEM/model, as {id,
 * payload_sha256, duration_ms}; NULL when there is none */
int ns_lifecycle_model_run(struct ns_registry *r, long long enh, int rev,
			   const char *system, json_t **out);

/* the trigger files of the enhancement's pending triggers are withdrawn */
int ns_lifecycle_withdraw_triggers(struct ns_registry *r, long long enh,
				   const char *actor, const char *why);
/* the trigger rows (id, revision, environment, due_at) of enh marked
 * withdrawn, each with its trigger-withdrawn event: why, or with
 * due_instead "scheduled again: due DUE_INSTEAD instead of <its due>" */
int ns_lifecycle_mark_withdrawn(struct ns_registry *r, long long enh,
				json_t *rows, const char *actor,
				const char *why, const char *due_instead);

#endif
