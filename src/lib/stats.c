#include "stats.h"
#include "error.h"
#include "timefmt.h"
#include "xalloc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* what a row's figures are made from, while the runs are read */
struct acc {
	long long *ms; /* ascending */
	size_t nr, alloc;
	long long secs; /* sum of the submit-to-production times */
};

/* the counts are plain sums: SQL does them, one row per environment */
static const char counts_sql[] =
	"SELECT environment,"
	" SUM(kind = 'migrate' AND outcome IS NOT NULL) AS attempted,"
	" SUM(kind = 'migrate' AND outcome = 'migrated') AS migrated,"
	" SUM(kind = 'migrate' AND outcome = 'rolled-back') AS rolled_back,"
	" SUM(kind = 'migrate' AND outcome = 'blocked') AS rollback_failed,"
	" SUM(kind = 'migrate' AND outcome = 'refused') AS refused,"
	" SUM(kind = 'backout' AND outcome = 'rolled-back') AS backed_out,"
	" SUM(kind = 'migrate' AND outcome IS NULL) AS running"
	" FROM runs WHERE kind IN ('migrate', 'backout') AND started_at >= ?"
	" GROUP BY environment ORDER BY environment";

static const char durations_sql[] =
	"SELECT environment, duration_ms FROM runs WHERE kind = 'migrate'"
	" AND outcome = 'migrated' AND duration_ms IS NOT NULL"
	" AND started_at >= ? ORDER BY duration_ms";

/* each enhancement's first migrated run into production, and how long
 * after its submission that run finished */
static const char production_sql[] =
	"SELECT r.environment,"
	" CAST(strftime('%s', r.finished_at) AS INTEGER) -"
	" CAST(strftime('%s', e.created_at) AS INTEGER) AS seconds"
	" FROM runs r JOIN enhancements e ON e.id = r.enhancement"
	" WHERE r.id IN (SELECT MIN(id) FROM runs WHERE kind = 'migrate'"
	" AND outcome = 'migrated' AND environment GLOB '*/production'"
	" GROUP BY enhancement) AND r.started_at >= ?";

static long long num(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void add_counts(struct ns_stats_row *to, const struct ns_stats_row *c)
{
	to->attempted += c->attempted;
	to->migrated += c->migrated;
	to->rolled_back += c->rolled_back;
	to->rollback_failed += c->rollback_failed;
	to->refused += c->refused;
	to->backed_out += c->backed_out;
	to->running += c->running;
}

static int read_counts(struct ns_stats *s, struct ns_registry *r,
		       const char *since)
{
	json_t *rows = NULL, *o;
	size_t i;
	int ret = ns_registry_query(r, &rows, counts_sql, "s", since);

	if (ret < 0)
		return ret;
	s->nr = json_array_size(rows);
	s->rows = xcalloc(s->nr + 1, sizeof(*s->rows));
	json_array_foreach(rows, i, o)
	{
		struct ns_stats_row *row = &s->rows[i];
		const char *env =
			json_string_value(json_object_get(o, "environment"));
		const char *slash = strchr(env, '/');

		row->environment = xstrdup(env);
		row->system = slash ? xstrndup(env, (size_t)(slash - env))
				    : xstrdup(env);
		row->attempted = num(o, "attempted");
		row->migrated = num(o, "migrated");
		row->rolled_back = num(o, "rolled_back");
		row->rollback_failed = num(o, "rollback_failed");
		row->refused = num(o, "refused");
		row->backed_out = num(o, "backed_out");
		row->running = num(o, "running");
		add_counts(&s->total, row);
	}
	json_decref(rows);
	return 0;
}

/* the index of env's row; s->nr (the total's accumulator) when unknown */
static size_t row_of(const struct ns_stats *s, json_t *o)
{
	const char *env = json_string_value(json_object_get(o, "environment"));
	size_t i;

	for (i = 0; env && i < s->nr; i++)
		if (!strcmp(s->rows[i].environment, env))
			break;
	return i;
}

static void push_ms(struct acc *a, long long ms)
{
	ALLOC_GROW(a->ms, a->nr, a->alloc);
	a->ms[a->nr++] = ms;
}

/* acc[s->nr] is the total's; a run always has its environment's row, as
 * the counts were read in the same transaction */
static int read_times(struct ns_stats *s, struct ns_registry *r,
		      const char *since, struct acc *acc)
{
	json_t *rows = NULL, *o;
	size_t i, k;
	int ret = ns_registry_query(r, &rows, durations_sql, "s", since);

	json_array_foreach(rows, i, o)
	{
		long long ms = num(o, "duration_ms");
		if ((k = row_of(s, o)) < s->nr) {
			push_ms(&acc[k], ms);
			s->rows[k].timed++;
		}
		push_ms(&acc[s->nr], ms);
		s->total.timed++;
	}
	json_decref(rows);
	rows = NULL;
	if (!ret)
		ret = ns_registry_query(r, &rows, production_sql, "s", since);
	json_array_foreach(rows, i, o)
	{
		if (!json_is_integer(json_object_get(o, "seconds")))
			continue; /* a time SQLite could not read */
		if ((k = row_of(s, o)) < s->nr) {
			acc[k].secs += num(o, "seconds");
			s->rows[k].reached_production++;
		}
		acc[s->nr].secs += num(o, "seconds");
		s->total.reached_production++;
	}
	json_decref(rows);
	return ret;
}

static void finish(struct ns_stats_row *row, const struct acc *a)
{
	long long sum = 0;

	if (row->attempted)
		row->success_pct =
			(double)row->migrated * 100.0 / (double)row->attempted;
	if (row->timed) {
		for (size_t i = 0; i < a->nr; i++)
			sum += a->ms[i];
		row->mean_ms = (double)sum / (double)a->nr;
		row->p95_ms = ns_stats_percentile(a->ms, a->nr, 95);
	}
	if (row->reached_production)
		row->submit_to_production_s =
			(double)a->secs / (double)row->reached_production;
}

int ns_stats_compute(struct ns_stats *out, struct ns_registry *r, time_t since)
{
	char at[NS_TIME_LEN];
	struct acc *acc = NULL;
	size_t i;
	int ret;

	out->since = since;
	ns_time_iso(at, since);
	/* one read transaction: the three queries see the same runs */
	if ((ret = ns_registry_exec(r, "BEGIN", NULL)) < 0)
		return ret;
	ret = read_counts(out, r, at);
	if (!ret) {
		acc = xcalloc(out->nr + 1, sizeof(*acc));
		ret = read_times(out, r, at, acc);
	}
	ns_registry_rollback(r);
	for (i = 0; !ret && i < out->nr; i++)
		finish(&out->rows[i], &acc[i]);
	if (!ret)
		finish(&out->total, &acc[out->nr]);
	for (i = 0; acc && i <= out->nr; i++)
		free(acc[i].ms);
	free(acc);
	return ret;
}

void ns_stats_release(struct ns_stats *s)
{
	for (size_t i = 0; i < s->nr; i++) {
		free(s->rows[i].system);
		free(s->rows[i].environment);
	}
	free(s->rows);
	memset(s, 0, sizeof(*s));
}

long long ns_stats_percentile(const long long *sorted, size_t n, int p)
{
	size_t rank = ((size_t)p * n + 99) / 100; /* ceil(p * n / 100) */

	return sorted[rank ? rank - 1 : 0];
}
