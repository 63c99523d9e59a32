/*
 * runner — what `window run`, `recover`, `rollback`, `unblock` (and the
 * daemon) do around the migration: take the environment lock, refuse a
 * blocked environment, recover what the journal says is unfinished, pick
 * the due triggers in dependency order, check each against the registry,
 * migrate it site by site, and turn each outcome into registry state,
 * audit events and notifications. A multi-site run that fails on one site
 * backs the sites already migrated out again: an environment is never
 * left with the enhancement on some sites only.
 *
 * The calendar (window.h) decides what runs: `window run` runs an
 * environment only while it is open, unless `now` is set (the operator's
 * explicit decision, audited as "window-override" when it is closed). A
 * trigger starts only if its estimated apply + rollback time fits before
 * the calendar closes (latest safe start); one that does not is re-queued
 * to the next opening (its due time moved, "requeued-window" audited,
 * change management and the developer told), and so is what requires it.
 * A running migration is never cut: one that ends after the close is
 * logged and audited as "window-overrun".
 *
 * The worst outcome decides the return code: NS_ELOCKED (locked or
 * blocked) over NS_EINVALID (a trigger refused) over NS_EFAILED (rolled
 * back, drift) over 0. Lines for the operator go to the say() callback,
 * those about a negative outcome to warn() (stderr, for cron and journald).
 */
#ifndef NS_RUNNER_H
#define NS_RUNNER_H

#include "config.h"
#include "registry.h"

struct ns_runner {
	const struct ns_config *cfg;
	struct ns_registry *reg;
	const char *user;
	void (*say)(void *data, const char *line);  /* what went well */
	void (*warn)(void *data, const char *line); /* what did not */
	void *data;
	int worst;
	int now;     /* regardless of the window (window run --now) */
	int dry_run; /* archive prune --dry-run: say, change nothing */
	/* the "no trigger" notice once per opening of the calendar, not once
	 * per run (the daemon, which runs again when a trigger arrives) */
	int notice_once;
	/* asked before each trigger starts: nonzero, and nothing more starts
	 * (the daemon's SIGTERM); what did not start stays due */
	int (*stop)(void *data);
	/* while a window runs: the key its triggers must be signed by
	 * (ns_config_verify_key), NULL when none is configured */
	struct ns_key *verify_key;
	const char *verify_what;
};

int ns_runner_window(struct ns_runner *r, const char *env);
int ns_runner_recover(struct ns_runner *r, const char *env);
/* back enh out of env from its archive; verb is the lifecycle's move:
 * "back-out" (NULL) or "reject" (the acceptance test's refusal) */
int ns_runner_rollback(struct ns_runner *r, long long enh, const char *env,
		       const char *reason, const char *verb);
int ns_runner_unblock(struct ns_runner *r, const char *env, const char *reason);
/* remove the archives of env (NULL: of every environment) that no rollback
 * or recovery needs any more (prune.h); an environment locked, blocked or
 * with an unfinished run is passed over with NS_ELOCKED */
int ns_runner_prune(struct ns_runner *r, const char *env);

/* a line for the operator: say(), or warn() when bad */
void ns_runner_tell(struct ns_runner *r, int bad, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* the directories of an environment (caller frees) */
char *ns_env_dir(const char *base, const struct ns_env *e);

#endif
