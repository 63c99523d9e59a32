/*
 * stats — the figures of the migrations, per system and environment, made
 * from the registry's runs: what `nightshift stats` reports.
 *
 * The runs table is the only source. A run of kind "migrate" with an
 * outcome is attempted; its outcome counts it as migrated, rolled back
 * ("rolled-back"), rollback failed ("blocked") or refused. One with no
 * outcome yet is running and not attempted. A manual back-out (kind
 * "backout") that backed the enhancement out counts as backed out, apart
 * from the migrations.
 *
 * - success % is migrated / attempted × 100;
 * - the mean and the 95th percentile of the migration time are over the
 *   migrated runs' duration_ms; the percentile is the nearest rank: the
 *   smallest duration that at least 95 % of them do not exceed;
 * - the time from submit to production is, for each enhancement that has a
 *   migrated run into a SYSTEM/production environment, the first such
 *   run's finished_at minus the enhancement's created_at, in seconds; the
 *   mean of those. It belongs to the production environment's row.
 *
 * A figure with nothing to be made from has its count at 0 (attempted,
 * timed, reached_production) and is reported as "-" or null.
 *
 * With a since time, only runs started at or after it count; an
 * enhancement counts towards the submit-to-production time only if its
 * first production migration started then. since = 0 counts everything.
 *
 * The module computes; it never prints. ns_stats_release() frees what
 * ns_stats_compute() filled in, also after a failure.
 */
#ifndef NS_STATS_H
#define NS_STATS_H

#include <stddef.h>
#include <time.h>

#include "registry.h"

struct ns_stats_row {
	char *system;	   /* NULL in the total row */
	char *environment; /* "SYSTEM/KIND"; NULL in the total row */
	long long attempted, migrated, rolled_back, rollback_failed, refused;
	long long backed_out, running;
	double success_pct;	       /* when attempted > 0 */
	long long timed;	       /* migrated runs with a duration */
	double mean_ms;		       /* when timed > 0 */
	long long p95_ms;	       /* when timed > 0 */
	long long reached_production;  /* enhancements */
	double submit_to_production_s; /* when reached_production > 0 */
};

struct ns_stats {
	time_t since;
	struct ns_stats_row *rows; /* ordered by environment name */
	size_t nr;
	struct ns_stats_row total;
};

#define NS_STATS_INIT                                                          \
	{                                                                      \
		0, NULL, 0,                                                    \
		{                                                              \
			0                                                      \
		}                                                              \
	}

int ns_stats_compute(struct ns_stats *out, struct ns_registry *r, time_t since);
void ns_stats_release(struct ns_stats *s);

/* the nearest-rank p-th percentile (0 < p <= 100) of n >= 1 values sorted
 * ascending: the value at rank ceil(p / 100 × n) */
long long ns_stats_percentile(const long long *sorted, size_t n, int p);

#endif
