#include "commands.h"
#include "common.h"
#include "runner.h"

#include <stdio.h>

static const char usage[] = "recover [--env ENV]";

int cmd_recover(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *env = NULL;
	struct cli_opt opts[] = { { "env", 1, &env, NULL },
				  { NULL, 0, NULL, NULL } };
	struct ns_runner r = { 0 };
	int n, ret;

	if (cli_parse(argc, argv, opts, NULL, 0, &n, usage) < 0)
		return 2;
	if ((ret = cli_open(&c)) < 0) {
		cli_close(&c);
		return cli_fail(ret);
	}
	r = (struct ns_runner){ .cfg = &c.cfg,
				.reg = c.reg,
				.user = c.user,
				.say = cli_say,
				.warn = cli_warn };
	ret = ns_runner_recover(&r, env);
	cli_close(&c);
	return cli_outcome(ret);
}
