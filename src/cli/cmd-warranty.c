#include "commands.h"
#include "common.h"
#include "lifecycle.h"

#include <stdio.h>

static const char usage[] = "warranty [--json]";

int cmd_warranty(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1];
	int json = 0, n, ret;
	struct cli_opt opts[] = { { "json", 0, NULL, &json },
				  { NULL, 0, NULL, NULL } };
	json_t *done = NULL, *wp = NULL, *x;
	size_t i;

	if (cli_parse(argc, argv, opts, pos, 0, &n, usage) < 0)
		return 2;
	if ((ret = cli_open(&c)) == 0)
		ret = ns_lifecycle_warranty(&c.cfg, c.reg, c.user, &done);
	if (ret == 0)
		ret = ns_registry_query(c.reg, &wp,
					"SELECT id, revision, environment, "
					"warranty_until FROM enhancements "
					"WHERE state = 'WP' ORDER BY "
					"warranty_until, id",
					NULL);
	if (ret == 0 && json) {
		json_t *o = json_pack("{s:O, s:O}", "completed", done,
				      "under_warranty", wp);
		cli_print_json(o);
		json_decref(o);
	} else if (ret == 0) {
		json_array_foreach(done, i, x) printf(
			"ENH-%lld r%lld complete (CP) in %s: warranty ended "
			"%s\n",
			(long long)json_integer_value(json_object_get(x, "id")),
			(long long)json_integer_value(
				json_object_get(x, "revision")),
			cli_str(x, "environment"),
			cli_str(x, "warranty_until"));
		json_array_foreach(wp, i, x) printf(
			"ENH-%lld r%lld under warranty (WP) in %s until %s\n",
			(long long)json_integer_value(json_object_get(x, "id")),
			(long long)json_integer_value(
				json_object_get(x, "revision")),
			cli_str(x, "environment"),
			cli_str(x, "warranty_until"));
		if (!json_array_size(done) && !json_array_size(wp))
			printf("nothing under warranty\n");
	}
	json_decref(done);
	json_decref(wp);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : 0;
}
