/* stats: counts, nearest-rank percentile, submit to production, --since */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "stats.h"
#include "testutil.h"
#include "timefmt.h"
#include "xalloc.h"

/* ---- fixtures ------------------------------------------------------ */

static int setup(void **state)
{
	*state = tu_scratch_new("stats");
	return *state ? 0 : -1;
}

static struct ns_registry *open_new(void **state)
{
	struct ns_registry *r = NULL;
	char *path = tu_at(*state, "ns.db");

	assert_int_equal(ns_registry_open(&r, path, 1), 0);
	free(path);
	return r;
}

static void enh(struct ns_registry *r, long long id, const char *created)
{
	assert_int_equal(ns_registry_exec(r,
					  "INSERT INTO enhancements(id, title, "
					  "system, author, state, revision, "
					  "created_at, updated_at) VALUES (?, "
					  "'t', 'sys', 'dev', 'submitted', 1, "
					  "?, ?)",
					  "Iss", id, created, created),
			 0);
}

/* a run; outcome and ms may be NULL / -1 (unknown) */
static void run(struct ns_registry *r, long long e, const char *env,
		const char *kind, const char *started, const char *finished,
		const char *outcome, long long ms)
{
	char d[32];

	snprintf(d, sizeof(d), "%lld", ms);
	assert_int_equal(ns_registry_exec(r,
					  "INSERT INTO runs(enhancement, "
					  "revision, environment, kind, "
					  "started_at, finished_at, outcome, "
					  "duration_ms, actor) VALUES (?, 1, "
					  "?, ?, ?, ?, ?, CAST(? AS INTEGER), "
					  "'night')",
					  "Isssssss", e, env, kind, started,
					  finished, outcome, ms < 0 ? NULL : d),
			 0);
}

static time_t when(const char *s)
{
	time_t t;

	assert_int_equal(ns_time_parse(&t, s), 0);
	return t;
}

/* ---- the percentile ------------------------------------------------ */

static void test_percentile_nearest_rank(void **state)
{
	long long v[21];

	(void)state;
	for (int i = 0; i < 21; i++)
		v[i] = i + 1;
	assert_int_equal(ns_stats_percentile(v, 1, 95), 1);
	assert_int_equal(ns_stats_percentile(v, 2, 95), 2);
	/* 0.95 × 20 = 19 exactly: rank 19 */
	assert_int_equal(ns_stats_percentile(v, 20, 95), 19);
	/* 0.95 × 21 = 19.95: rank 20 */
	assert_int_equal(ns_stats_percentile(v, 21, 95), 20);
	assert_int_equal(ns_stats_percentile(v, 4, 50), 2);
	assert_int_equal(ns_stats_percentile(v, 5, 50), 3);
	assert_int_equal(ns_stats_percentile(v, 21, 100), 21);
	assert_int_equal(ns_stats_percentile(v, 21, 1), 1);
}

/* ---- compute ------------------------------------------------------- */

static void test_empty(void **state)
{
	struct ns_registry *r = open_new(state);
	struct ns_stats s = NS_STATS_INIT;

	assert_int_equal(ns_stats_compute(&s, r, 0), 0);
	assert_int_equal(s.nr, 0);
	assert_int_equal(s.total.attempted, 0);
	assert_int_equal(s.total.timed, 0);
	assert_int_equal(s.total.reached_production, 0);
	assert_null(s.total.system);
	assert_null(s.total.environment);
	ns_stats_release(&s);
	ns_registry_free(r);
}

/* a history of the model: 20 migrated runs of 1..20 ms and one without a
 * duration, every other outcome, two back-outs, one run in flight */
static void model_history(struct ns_registry *r)
{
	char at[NS_TIME_LEN];

	for (int i = 1; i <= 20; i++) {
		/* 2026-03-01T00:00:01Z … 00:00:20Z */
		ns_time_iso(at, when("2026-03-01") + i);
		run(r, 1, "sys/model", "migrate", at, at, "migrated", i);
	}
	run(r, 1, "sys/model", "migrate", "2026-03-02T00:00:00Z",
	    "2026-03-02T00:00:00Z", "migrated", -1);
	run(r, 1, "sys/model", "migrate", "2026-03-02T01:00:00Z",
	    "2026-03-02T01:00:00Z", "rolled-back", 5);
	run(r, 1, "sys/model", "migrate", "2026-03-02T02:00:00Z",
	    "2026-03-02T02:00:00Z", "blocked", 5);
	run(r, 1, "sys/model", "migrate", "2026-03-02T03:00:00Z",
	    "2026-03-02T03:00:00Z", "refused", 0);
	run(r, 1, "sys/model", "migrate", "2026-03-02T04:00:00Z", NULL, NULL,
	    -1);
	run(r, 1, "sys/model", "backout", "2026-03-02T05:00:00Z",
	    "2026-03-02T05:00:00Z", "rolled-back", 3);
	/* a back-out that failed or never started backed nothing out */
	run(r, 1, "sys/model", "backout", "2026-03-02T06:00:00Z",
	    "2026-03-02T06:00:00Z", "blocked", 3);
	run(r, 1, "sys/model", "backout", "2026-03-02T07:00:00Z",
	    "2026-03-02T07:00:00Z", "refused", 0);
}

static void test_counts_and_times(void **state)
{
	struct ns_registry *r = open_new(state);
	struct ns_stats s = NS_STATS_INIT;
	const struct ns_stats_row *m;

	enh(r, 1, "2026-02-28T00:00:00Z");
	model_history(r);
	assert_int_equal(ns_stats_compute(&s, r, 0), 0);
	assert_int_equal(s.nr, 1);
	m = &s.rows[0];
	assert_string_equal(m->system, "sys");
	assert_string_equal(m->environment, "sys/model");
	assert_int_equal(m->attempted, 24);
	assert_int_equal(m->migrated, 21);
	assert_int_equal(m->rolled_back, 1);
	assert_int_equal(m->rollback_failed, 1);
	assert_int_equal(m->refused, 1);
	assert_int_equal(m->running, 1);
	assert_int_equal(m->backed_out, 1);
	assert_true(m->success_pct == 21 * 100.0 / 24);
	/* the run without a duration is migrated but not timed */
	assert_int_equal(m->timed, 20);
	assert_true(m->mean_ms == 10.5);
	assert_int_equal(m->p95_ms, 19);
	assert_int_equal(m->reached_production, 0);
	/* one environment: the total is the same */
	assert_int_equal(s.total.attempted, 24);
	assert_int_equal(s.total.backed_out, 1);
	assert_int_equal(s.total.p95_ms, 19);
	assert_true(s.total.mean_ms == 10.5);
	ns_stats_release(&s);
	ns_registry_free(r);
}

static void test_submit_to_production(void **state)
{
	struct ns_registry *r = open_new(state);
	struct ns_stats s = NS_STATS_INIT;
	const struct ns_stats_row *p;

	enh(r, 1, "2026-03-01T00:00:00Z");
	enh(r, 2, "2026-03-01T12:00:00Z");
	enh(r, 3, "2026-03-01T12:00:00Z");
	/* ENH-1 reaches production after 1 h; a later migration after a
	 * back-out is not its first */
	run(r, 1, "sys/production", "migrate", "2026-03-01T00:59:00Z",
	    "2026-03-01T01:00:00Z", "migrated", 60000);
	run(r, 1, "sys/production", "backout", "2026-03-05T00:00:00Z",
	    "2026-03-05T00:00:00Z", "rolled-back", 10);
	run(r, 1, "sys/production", "migrate", "2026-03-06T00:00:00Z",
	    "2026-03-06T00:00:00Z", "migrated", 10);
	/* ENH-2 rolls back once, then reaches production after 2 days */
	run(r, 2, "sys/production", "migrate", "2026-03-02T00:00:00Z",
	    "2026-03-02T00:00:00Z", "rolled-back", 10);
	run(r, 2, "sys/production", "migrate", "2026-03-03T11:00:00Z",
	    "2026-03-03T12:00:00Z", "migrated", 3600000);
	/* ENH-3 is migrated into the model only */
	run(r, 3, "sys/model", "migrate", "2026-03-02T00:00:00Z",
	    "2026-03-02T00:00:00Z", "migrated", 10);

	assert_int_equal(ns_stats_compute(&s, r, 0), 0);
	assert_int_equal(s.nr, 2);
	assert_string_equal(s.rows[0].environment, "sys/model");
	assert_int_equal(s.rows[0].reached_production, 0);
	p = &s.rows[1];
	assert_string_equal(p->environment, "sys/production");
	assert_int_equal(p->reached_production, 2);
	assert_true(p->submit_to_production_s == (3600.0 + 172800.0) / 2);
	assert_int_equal(s.total.reached_production, 2);
	assert_true(s.total.submit_to_production_s == (3600.0 + 172800.0) / 2);
	assert_int_equal(p->attempted, 4);
	assert_int_equal(p->migrated, 3);
	assert_int_equal(p->backed_out, 1);
	assert_int_equal(s.total.attempted, 5);
	assert_int_equal(s.total.timed, 4);
	assert_int_equal(s.total.p95_ms, 3600000);
	ns_stats_release(&s);

	/* since ENH-1's first production run: only ENH-2 reached production
	 * in the period, though ENH-1 migrated there again */
	assert_int_equal(ns_stats_compute(&s, r, when("2026-03-01T01:00")), 0);
	assert_int_equal(s.since, when("2026-03-01T01:00"));
	assert_int_equal(s.total.reached_production, 1);
	assert_true(s.total.submit_to_production_s == 172800.0);
	assert_int_equal(s.total.attempted, 4);
	assert_int_equal(s.total.migrated, 3);
	ns_stats_release(&s);

	/* a run started exactly at since counts */
	assert_int_equal(ns_stats_compute(&s, r, when("2026-03-06T00:00:00")),
			 0);
	assert_int_equal(s.nr, 1);
	assert_int_equal(s.total.attempted, 1);
	assert_int_equal(s.total.reached_production, 0);
	ns_stats_release(&s);

	assert_int_equal(ns_stats_compute(&s, r, when("2026-03-07")), 0);
	assert_int_equal(s.nr, 0);
	assert_int_equal(s.total.attempted, 0);
	assert_int_equal(s.total.timed, 0);
	ns_stats_release(&s);
	ns_registry_free(r);
}

static void test_rows_per_environment(void **state)
{
	struct ns_registry *r = open_new(state);
	struct ns_stats s = NS_STATS_INIT;

	enh(r, 1, "2026-03-01T00:00:00Z");
	run(r, 1, "web/model", "migrate", "2026-03-02T00:00:00Z",
	    "2026-03-02T00:00:00Z", "migrated", 40);
	run(r, 1, "billing/production", "migrate", "2026-03-02T00:00:00Z",
	    "2026-03-02T00:00:00Z", "rolled-back", 7);
	run(r, 1, "billing/model", "migrate", "2026-03-02T00:00:00Z",
	    "2026-03-02T00:00:00Z", "migrated", 20);
	run(r, 1, "billing/model", "migrate", "2026-03-02T00:00:00Z",
	    "2026-03-02T00:00:00Z", "migrated", 30);

	assert_int_equal(ns_stats_compute(&s, r, 0), 0);
	assert_int_equal(s.nr, 3);
	assert_string_equal(s.rows[0].environment, "billing/model");
	assert_string_equal(s.rows[0].system, "billing");
	assert_true(s.rows[0].mean_ms == 25.0);
	assert_int_equal(s.rows[0].p95_ms, 30);
	assert_string_equal(s.rows[1].environment, "billing/production");
	assert_int_equal(s.rows[1].timed, 0);
	assert_true(s.rows[1].success_pct == 0.0);
	assert_string_equal(s.rows[2].environment, "web/model");
	assert_string_equal(s.rows[2].system, "web");
	assert_true(s.total.mean_ms == 30.0);
	assert_int_equal(s.total.p95_ms, 40);
	assert_true(s.total.success_pct == 75.0);
	ns_stats_release(&s);
	ns_registry_free(r);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, tu_scratch_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percentile_nearest_rank),
		T(test_empty),
		T(test_counts_and_times),
		T(test_submit_to_production),
		T(test_rows_per_environment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
