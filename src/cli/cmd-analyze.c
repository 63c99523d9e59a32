#include "analysis.h"
#include "commands.h"
#include "common.h"
#include "lifecycle.h"
#include "timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "analyze ID --env ENV [--at TIME] [--json]";

int cmd_analyze(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1], *env = NULL, *at = NULL;
	int json = 0, n, ret, blocking;
	struct cli_opt opts[] = { { "env", 1, &env, NULL },
				  { "at", 1, &at, NULL },
				  { "json", 0, NULL, &json },
				  { NULL, 0, NULL, NULL } };
	struct ns_analysis a = NS_ANALYSIS_INIT;
	long long id;

	if (cli_parse(argc, argv, opts, pos, 1, &n, usage) < 0)
		return 2;
	if (n != 1 || !env)
		return cli_usage(usage);
	if ((ret = cli_enh(&id, pos[0])) != 0)
		return ret;
	if ((ret = cli_open(&c)) == 0)
		ret = ns_lifecycle_analyze(&a, &c.cfg, c.reg, id, env, at,
					   c.user);
	/* the report is printed whatever it found */
	if ((ret == 0 || ret == NS_EFAILED) && a.env && json) {
		json_t *o = ns_analysis_json(&a);
		json_object_set_new(
			o, "returned",
			json_boolean(a.blocking && ret == NS_EFAILED &&
				     strstr(ns_error_last(), "returned to")));
		cli_print_json(o);
		json_decref(o);
	} else if ((ret == 0 || ret == NS_EFAILED) && a.env) {
		char *text = ns_analysis_text(&a);
		printf("ENH-%lld r%d for %s: %d blocking, %d warning%s "
		       "(estimated %lld s)\n%s",
		       id, a.revision, a.env, a.blocking, a.warnings,
		       a.warnings == 1 ? "" : "s", (a.estimate_ms + 999) / 1000,
		       text);
		free(text);
		if (ret == NS_EFAILED && strstr(ns_error_last(), "returned to"))
			fprintf(stderr,
				"nightshift: ENH-%lld returned to its "
				"developer\n",
				id);
	}
	blocking = a.blocking;
	ns_analysis_release(&a);
	cli_close(&c);
	if (ret == NS_EFAILED && blocking)
		return 1;
	return ret < 0 ? cli_fail(ret) : 0;
}
