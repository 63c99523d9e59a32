#include "commands.h"
#include "common.h"
#include "notify.h"
#include "timefmt.h"

#include <stdio.h>
#include <string.h>

static const char usage[] = "notify deliver [--json] | notify list [--json]";

/* good news on stdout; a failure on stderr with what was wrong and when
 * the next attempt is */
static void print_events(json_t *events)
{
	size_t i;
	json_t *e;

	json_array_foreach(events, i, e)
	{
		const char *res = cli_str(e, "result");
		int has_t = json_is_string(json_object_get(e, "transport"));
		int has_next = json_is_string(json_object_get(e, "next"));

		if (!strcmp(res, "sent")) {
			printf("%s: sent\n", cli_str(e, "message"));
			continue;
		}
		if (!strcmp(res, "accepted")) {
			printf("%s: %s accepted\n", cli_str(e, "message"),
			       cli_str(e, "transport"));
			continue;
		}
		fflush(stdout);
		fprintf(stderr, "nightshift: %s: %s%s%s: %s%s%s%s\n",
			cli_str(e, "message"),
			has_t ? cli_str(e, "transport") : "", has_t ? " " : "",
			res, cli_str(e, "error"),
			has_next ? " (next attempt " : "",
			has_next ? cli_str(e, "next") : "",
			has_next ? ")" : "");
	}
}

static int deliver(struct cli *c, int json)
{
	struct ns_deliver_report r = NS_DELIVER_REPORT_INIT;
	int ret = ns_notify_deliver(&c->cfg, ns_now(), 0, &r);

	if (ret < 0)
		goto done;
	if (!r.events)
		r.events = json_array();
	if (json) {
		json_t *o =
			json_pack("{s:i, s:i, s:i, s:i, s:i, s:O}",
				  "transports", r.configured, "sent", r.sent,
				  "accepted", r.accepted, "failed", r.failed,
				  "waiting", r.waiting, "events", r.events);
		cli_print_json(o);
		json_decref(o);
	} else if (!r.configured) {
		printf("no transport configured ([notify] smtp, webhook): "
		       "the notices stay in %s\n",
		       c->cfg.outbox);
	} else {
		print_events(r.events);
		printf("%d sent, %d waiting in the outbox\n", r.sent,
		       r.waiting);
	}
	ret = 0;
	if (r.failed) {
		ns_error_set(
			"%d delivery attempt%s failed; the messages wait in "
			"the outbox (nightshift notify list)",
			r.failed, r.failed == 1 ? "" : "s");
		ret = NS_EFAILED;
	}
done:
	ns_deliver_report_release(&r);
	return ret;
}

static int list(struct cli *c, int json)
{
	json_t *l = NULL, *m, *t;
	size_t i, k;
	int ret = ns_notify_list(&l, &c->cfg);

	if (ret < 0)
		return ret;
	if (json) {
		cli_print_json(l);
	} else {
		json_array_foreach(l, i, m)
		{
			if (json_object_get(m, "error")) {
				printf("%s  unreadable: %s\n",
				       cli_str(m, "message"),
				       cli_str(m, "error"));
				continue;
			}
			printf("%s  %s\n  to: %s\n", cli_str(m, "message"),
			       cli_str(m, "subject"), cli_str(m, "to"));
			json_array_foreach(json_object_get(m, "transports"), k,
					   t)
			{
				long long n = json_integer_value(
					json_object_get(t, "attempts"));
				printf("  %s: %s, %lld attempt%s",
				       cli_str(t, "transport"),
				       cli_str(t, "state"), n,
				       n == 1 ? "" : "s");
				if (json_is_string(json_object_get(t, "next")))
					printf(", next %s", cli_str(t, "next"));
				if (json_is_string(json_object_get(t, "error")))
					printf(": %s", cli_str(t, "error"));
				printf("\n");
			}
			if (!json_array_size(json_object_get(m, "transports")))
				printf("  no transport configured\n");
		}
		if (!json_array_size(l))
			printf("the outbox is empty\n");
	}
	json_decref(l);
	return 0;
}

int cmd_notify(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1];
	int json = 0, n, ret;
	struct cli_opt opts[] = { { "json", 0, NULL, &json },
				  { NULL, 0, NULL, NULL } };

	if (cli_parse(argc, argv, opts, pos, 1, &n, usage) < 0)
		return 2;
	if (n != 1 || (strcmp(pos[0], "deliver") && strcmp(pos[0], "list")))
		return cli_usage(usage);
	if ((ret = cli_open(&c)) == 0)
		ret = !strcmp(pos[0], "deliver") ? deliver(&c, json)
						 : list(&c, json);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : 0;
}
