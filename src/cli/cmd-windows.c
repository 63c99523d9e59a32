#include "commands.h"
#include "common.h"
#include "timefmt.h"
#include "window.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "windows [--env ENV] [--count N] [--json]";

#define COUNT_MAX 1000

struct opening {
	time_t opens, closes; /* closes: -1 when it never does */
};

/* the next n openings from now; fewer when there are none within a
 * year of the one before */
static size_t openings(struct opening *out, size_t n,
		       const struct ns_calendar *cal, time_t now)
{
	size_t k = 0;
	time_t t = now;

	while (k < n) {
		time_t close, start = ns_calendar_next(cal, t, &close);

		if (start == (time_t)-1)
			break;
		out[k].opens = start;
		out[k++].closes = close;
		if (close == (time_t)-1)
			break;
		t = close;
	}
	return k;
}

static json_t *lines_json(const struct ns_env_line *v, size_t nr)
{
	json_t *a = json_array();

	for (size_t i = 0; i < nr; i++)
		json_array_append_new(a, json_string(v[i].value));
	return a;
}

static json_t *moment_json(const struct ns_calendar *cal, time_t t)
{
	char iso[NS_TIME_LEN], local[NS_LOCAL_LEN];

	if (t == (time_t)-1)
		return json_null();
	ns_time_iso(iso, t);
	ns_calendar_local(local, cal, t, 1);
	return json_pack("{s:s, s:s}", "utc", iso, "local", local);
}

static json_t *env_json(const struct ns_env *e, const struct ns_calendar *cal,
			const struct opening *o, size_t k, time_t now)
{
	json_t *list = json_array();

	for (size_t i = 0; i < k; i++)
		json_array_append_new(
			list, json_pack("{s:o, s:o}", "opens",
					moment_json(cal, o[i].opens), "closes",
					moment_json(cal, o[i].closes)));
	return json_pack("{s:s, s:s?, s:o, s:o, s:b, s:b, s:o}", "environment",
			 e->name, "timezone", e->timezone, "windows",
			 lines_json(e->windows, e->windows_nr), "blackouts",
			 lines_json(e->blackouts, e->blackouts_nr), "open",
			 k && o[0].opens == now, "blackout",
			 ns_calendar_blackout(cal, now), "openings", list);
}

static void env_text(const struct ns_env *e, const struct ns_calendar *cal,
		     const struct opening *o, size_t k, time_t now)
{
	printf("%s (%s)", e->name, e->timezone ? e->timezone : "local time");
	for (size_t i = 0; i < e->windows_nr; i++)
		printf("%s%s", i ? ", " : "; window ", e->windows[i].value);
	if (!e->windows_nr)
		printf("; no window: open but for its blackouts");
	for (size_t i = 0; i < e->blackouts_nr; i++)
		printf("%s%s", i ? ", " : "; blackout ", e->blackouts[i].value);
	printf("\n");
	if (!k)
		printf("  no opening within 366 days\n");
	for (size_t i = 0; i < k; i++) {
		char a[NS_LOCAL_LEN], b[NS_LOCAL_LEN] = "never";
		char au[NS_TIME_LEN], bu[NS_TIME_LEN] = "";

		ns_calendar_local(a, cal, o[i].opens, 0);
		ns_time_iso(au, o[i].opens);
		if (o[i].closes != (time_t)-1) {
			ns_calendar_local(b, cal, o[i].closes, 0);
			ns_time_iso(bu, o[i].closes);
		}
		printf("  %s  %s .. %s  (%s .. %s)\n",
		       i == 0 && o[i].opens == now ? "open now" : "opens   ", a,
		       b, au, bu[0] ? bu : "never");
	}
}

static int parse_count(long *out, const char *s)
{
	char *end;

	*out = s ? strtol(s, &end, 10) : 5;
	if (s &&
	    (*s < '0' || *s > '9' || *end || *out < 1 || *out > COUNT_MAX)) {
		ns_error_set("--count '%s': expected a number from 1 to %d", s,
			     COUNT_MAX);
		return NS_EUSAGE;
	}
	return 0;
}

int cmd_windows(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1], *env = NULL, *count_s = NULL;
	int json = 0, n, ret;
	struct cli_opt opts[] = { { "env", 1, &env, NULL },
				  { "count", 1, &count_s, NULL },
				  { "json", 0, NULL, &json },
				  { NULL, 0, NULL, NULL } };
	struct opening *o = NULL;
	json_t *all = NULL;
	time_t now = ns_now();
	long count;

	if (cli_parse(argc, argv, opts, pos, 0, &n, usage) < 0)
		return 2;
	if (n)
		return cli_usage(usage);
	if ((ret = parse_count(&count, count_s)) < 0)
		return cli_fail(ret);
	if ((ret = cli_open(&c)) < 0)
		goto done;
	o = xcalloc((size_t)count, sizeof(*o));
	all = json_array();
	for (size_t i = 0; i < c.cfg.envs_nr && !ret; i++) {
		const struct ns_env *e = &c.cfg.envs[i];
		struct ns_calendar *cal = NULL;
		size_t k;

		if (env && !(e = ns_config_env(&c.cfg, env))) {
			ret = NS_EUSAGE;
			break;
		}
		if ((ret = ns_calendar_new(&cal, e)) < 0)
			break;
		k = openings(o, (size_t)count, cal, now);
		if (json)
			json_array_append_new(all, env_json(e, cal, o, k, now));
		else
			env_text(e, cal, o, k, now);
		ns_calendar_free(cal);
		if (env)
			break;
	}
	if (!ret && json)
		cli_print_json(all);
done:
	json_decref(all);
	free(o);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : cli_done(0);
}
