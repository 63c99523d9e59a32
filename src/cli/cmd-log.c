#include "commands.h"
#include "common.h"

#include <stdio.h>

static const char usage[] = "log [ID] [--json]";

int cmd_log(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1];
	int json = 0, n, ret;
	struct cli_opt opts[] = { { "json", 0, NULL, &json },
				  { NULL, 0, NULL, NULL } };
	long long id = 0;
	json_t *rows = NULL, *e;
	size_t i;

	if (cli_parse(argc, argv, opts, pos, 1, &n, usage) < 0)
		return 2;
	if (n == 1 && !(id = ns_enh_parse(pos[0]))) {
		ns_error_set("'%s' is not an enhancement id (ENH-n)", pos[0]);
		return cli_fail(NS_EUSAGE);
	}
	if ((ret = cli_open(&c)) == 0)
		ret = ns_registry_query(
			c.reg, &rows,
			"SELECT id, at, actor, enhancement, revision, "
			"environment, event, detail, prev_sha256, sha256 "
			"FROM events WHERE ?1 = 0 "
			"OR enhancement = ?1 ORDER BY id",
			"I", id);
	/* an enhancement always has its "submitted" event: none at all is
	 * an id that names nothing, as status says */
	if (ret == 0 && id && json_array_size(rows) == 0) {
		ns_error_set("ENH-%lld: no such enhancement", id);
		ret = NS_EINVALID;
	}
	cli_close(&c);
	if (ret < 0) {
		json_decref(rows);
		return cli_fail(ret);
	}
	if (json) {
		cli_print_json(rows);
	} else {
		json_array_foreach(rows, i, e)
		{
			json_t *enh = json_object_get(e, "enhancement");
			char who[32] = "-";
			if (json_is_integer(enh))
				snprintf(who, sizeof(who), "ENH-%lld r%lld",
					 (long long)json_integer_value(enh),
					 (long long)json_integer_value(
						 json_object_get(e,
								 "revision")));
			printf("%s  %-10s %-12s %-18s %-20s %s\n",
			       cli_str(e, "at"), cli_str(e, "actor"), who,
			       cli_str(e, "environment"), cli_str(e, "event"),
			       cli_str(e, "detail"));
		}
	}
	json_decref(rows);
	return 0;
}
