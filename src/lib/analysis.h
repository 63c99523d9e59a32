/*
 * analysis — the conformity report of an enhancement for an environment,
 * before a trigger is written for it.
 *
 * Each finding has a code, a severity and the paths or database objects
 * involved:
 *
 *   RFS-MISSING, RFS-UNKNOWN, RFS-SCOPE   the request it answers, and
 *        files or database objects touched outside that request's scope
 *   DRIFT          a file it modifies or deletes is not as its base says
 *   CONFLICT-FILE, CONFLICT-DB   another pending enhancement touches the
 *        same path or the same table, view, index, function…; blocking
 *        when the other comes first (it is older, or already scheduled),
 *        a warning for the one that comes first
 *   DECLARED-CONFLICT, REQUIRES   its `conflicts` and `requires`
 *   NOT-BEFORE, WINDOW, BLACKOUT, DURATION   the proposed time: not before
 *        the developer's earliest, inside a window, outside blackouts,
 *        and the estimated duration (from sizes, or from the accepted
 *        model run when analysing for production) and that of a rollback
 *        after it end inside the window
 *   DISTRIBUTION   the sites it names exist in the environment
 *   INSTRUCTIONS   operator or special instructions, where it has SQL
 *        (a warning) or the configuration requires them (blocking)
 *
 * Conflicts are found through the registry's index of what every revision
 * touches (the touches table, filled at submission), so the cost grows
 * with the number of enhancements that share a name, not with the number
 * pending.
 */
#ifndef NS_ANALYSIS_H
#define NS_ANALYSIS_H

#include <jansson.h>
#include <time.h>

#include "config.h"
#include "package.h"
#include "registry.h"

struct ns_finding {
	const char *code;
	int blocking;
	char *message;
	char **items; /* the paths or objects involved */
	size_t items_nr;
};

struct ns_analysis {
	long long enh;
	int revision;
	const char *env;
	time_t at;	       /* the proposed time analysed */
	long long estimate_ms; /* the estimated duration of the migration */
	long long rollback_ms; /* and of its rollback, should it fail late */
	struct ns_finding *f;
	size_t nr, alloc;
	int blocking, warnings;
};

#define NS_ANALYSIS_INIT                                                       \
	{                                                                      \
		0                                                              \
	}

/*
 * Analyse the current revision of enh (whose package pkg is, read from
 * the store) for env, at the proposed time at.
 */
int ns_analyze(struct ns_analysis *out, const struct ns_config *c,
	       struct ns_registry *r, long long enh,
	       const struct ns_package *pkg, const struct ns_env *env,
	       time_t at);
void ns_analysis_release(struct ns_analysis *a);
/*
 * The estimated time to apply revision rev of enh (whose package is pkg)
 * in env — from the accepted model run's measured time for production,
 * else from the package's sizes — and to roll it back, should it fail at
 * its end. What schedule places in a window and the analysis checks.
 */
void ns_estimate(long long *apply_ms, long long *rollback_ms,
		 struct ns_registry *r, long long enh, int rev,
		 const struct ns_package *pkg, const struct ns_env *env);
/* {enhancement, revision, environment, at, estimate_ms, rollback_ms, blocking,
 * warnings, findings: [{code, severity, message, items}]} */
json_t *ns_analysis_json(const struct ns_analysis *a);
/* the findings, one per line, for messages and notices */
char *ns_analysis_text(const struct ns_analysis *a);

/*
 * What a revision touches, for the index: "file" paths (added, replaced,
 * deleted) and "db" objects named by its deploy SQL. Inserted inside the
 * caller's transaction.
 */
int ns_touches_record(struct ns_registry *r, long long enh, int rev,
		      const struct ns_package *pkg, const char *store_path);

#endif
