#include "audit.h"
#include "commands.h"
#include "common.h"

#include <stdio.h>
#include <string.h>

static const char usage[] = "audit verify [--json]";

static void print_json(const struct ns_audit_report *rep, int ret)
{
	json_t *o = json_pack("{s:b, s:I, s:s}", "intact", ret == 0, "events",
			      (json_int_t)rep->events, "head", rep->head);

	if (ret) {
		json_object_set_new(o, "bad_event", json_integer(rep->bad_id));
		json_object_set_new(
			o, "fault",
			json_string(ns_audit_fault_name(rep->fault)));
		json_object_set_new(o, "message", json_string(ns_error_last()));
	}
	cli_print_json(o);
	json_decref(o);
}

int cmd_audit(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	struct ns_audit_report rep;
	const char *pos[1];
	int json = 0, n, ret;
	struct cli_opt opts[] = { { "json", 0, NULL, &json },
				  { NULL, 0, NULL, NULL } };

	memset(&rep, 0, sizeof(rep));

	if (cli_parse(argc, argv, opts, pos, 1, &n, usage) < 0)
		return 2;
	if (n != 1 || strcmp(pos[0], "verify"))
		return cli_usage(usage);
	if ((ret = cli_open(&c)) == 0)
		ret = ns_audit_verify(&rep, c.reg);
	cli_close(&c);
	if (ret < 0 && ret != NS_EFAILED)
		return cli_fail(ret);
	if (json)
		print_json(&rep, ret);
	else if (!ret)
		printf("audit log: %lld events, chain intact, head %s\n",
		       rep.events, rep.head);
	return ret ? cli_fail(ret) : 0;
}
