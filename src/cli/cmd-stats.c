#include "commands.h"
#include "common.h"
#include "stats.h"
#include "timefmt.h"

#include <stdio.h>
#include <string.h>

static const char usage[] = "stats [--json] [--since DATE]";

/* YYYY-MM-DD[THH:MM[:SS]]: ns_time_parse() also takes "2026-2-30" and
 * normalises it; a date that does not name itself is refused here */
static int parse_since(time_t *out, const char *s)
{
	char iso[NS_TIME_LEN];

	if (ns_time_parse(out, s) < 0)
		goto bad;
	ns_time_iso(iso, *out);
	if (strlen(s) < 10 || strncmp(s, iso, 10))
		goto bad;
	return 0;
bad:
	ns_error_set("--since '%s': not a date (YYYY-MM-DD[THH:MM[:SS]], UTC)",
		     s);
	return NS_EUSAGE;
}

static json_t *real_or_null(long long n, double v)
{
	return n ? json_real(v) : json_null();
}

static json_t *row_json(const struct ns_stats_row *r)
{
	return json_pack(
		"{s:s?, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, "
		"s:o, s:I, s:o}",
		"system", r->system, "environment", r->environment, "attempted",
		(json_int_t)r->attempted, "migrated", (json_int_t)r->migrated,
		"rolled_back", (json_int_t)r->rolled_back, "rollback_failed",
		(json_int_t)r->rollback_failed, "refused",
		(json_int_t)r->refused, "backed_out", (json_int_t)r->backed_out,
		"running", (json_int_t)r->running, "success_pct",
		real_or_null(r->attempted, r->success_pct), "mean_ms",
		real_or_null(r->timed, r->mean_ms), "p95_ms",
		r->timed ? json_integer(r->p95_ms) : json_null(),
		"reached_production", (json_int_t)r->reached_production,
		"submit_to_production_s",
		real_or_null(r->reached_production, r->submit_to_production_s));
}

static void print_json(const struct ns_stats *s)
{
	json_t *rows = json_array(), *o;
	char at[NS_TIME_LEN];

	ns_time_iso(at, s->since);
	for (size_t i = 0; i < s->nr; i++)
		json_array_append_new(rows, row_json(&s->rows[i]));
	o = json_pack("{s:s?, s:o, s:o}", "since", s->since ? at : NULL,
		      "environments", rows, "total", row_json(&s->total));
	cli_print_json(o);
	json_decref(o);
}

static const char row_fmt[] =
	"%-10s %-11s %9s %8s %11s %15s %7s %10s %7s %7s %8s %8s %s\n";

static void print_row(const char *system, const char *env,
		      const struct ns_stats_row *r)
{
	char n[7][24], pct[16] = "-", mean[32] = "-", p95[32] = "-";
	char s2p[48] = "-";
	const long long c[] = { r->attempted,	    r->migrated, r->rolled_back,
				r->rollback_failed, r->refused,	 r->backed_out,
				r->running };

	for (int i = 0; i < 7; i++)
		snprintf(n[i], sizeof(n[i]), "%lld", c[i]);
	if (r->attempted)
		snprintf(pct, sizeof(pct), "%.1f%%", r->success_pct);
	if (r->timed) {
		snprintf(mean, sizeof(mean), "%.0f", r->mean_ms);
		snprintf(p95, sizeof(p95), "%lld", r->p95_ms);
	}
	if (r->reached_production) {
		long long t = (long long)(r->submit_to_production_s + 0.5);
		snprintf(s2p, sizeof(s2p), "%lldh%02lldm%02llds", t / 3600,
			 t / 60 % 60, t % 60);
	}
	printf(row_fmt, system, env, n[0], n[1], n[2], n[3], n[4], n[5], n[6],
	       pct, mean, p95, s2p);
}

static void print_text(const struct ns_stats *s)
{
	printf(row_fmt, "SYSTEM", "ENVIRONMENT", "ATTEMPTED", "MIGRATED",
	       "ROLLED-BACK", "ROLLBACK-FAILED", "REFUSED", "BACKED-OUT",
	       "RUNNING", "SUCCESS", "MEAN-MS", "P95-MS", "SUBMIT-TO-PROD");
	for (size_t i = 0; i < s->nr; i++) {
		const char *env = s->rows[i].environment;
		const char *slash = strchr(env, '/');
		print_row(s->rows[i].system, slash ? slash + 1 : env,
			  &s->rows[i]);
	}
	print_row("total", "-", &s->total);
}

int cmd_stats(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	struct ns_stats s = NS_STATS_INIT;
	const char *since = NULL;
	int json = 0, n, ret;
	struct cli_opt opts[] = { { "json", 0, NULL, &json },
				  { "since", 1, &since, NULL },
				  { NULL, 0, NULL, NULL } };
	time_t from = 0;

	if (cli_parse(argc, argv, opts, NULL, 0, &n, usage) < 0)
		return 2;
	if (since && parse_since(&from, since) < 0)
		return cli_fail(NS_EUSAGE);
	if ((ret = cli_open(&c)) == 0)
		ret = ns_stats_compute(&s, c.reg, from);
	cli_close(&c);
	if (ret == 0 && json)
		print_json(&s);
	else if (ret == 0)
		print_text(&s);
	ns_stats_release(&s);
	return ret < 0 ? cli_fail(ret) : 0;
}
