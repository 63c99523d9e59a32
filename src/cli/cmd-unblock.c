#include "commands.h"
#include "common.h"
#include "lifecycle.h"
#include "runner.h"

#include <stdio.h>

static const char usage[] = "unblock --env ENV --reason TEXT";

int cmd_unblock(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *env = NULL, *reason = NULL;
	struct cli_opt opts[] = { { "env", 1, &env, NULL },
				  { "reason", 1, &reason, NULL },
				  { NULL, 0, NULL, NULL } };
	struct ns_runner r = { 0 };
	int n, ret;

	if (cli_parse(argc, argv, opts, NULL, 0, &n, usage) < 0)
		return 2;
	if (!env || !reason || !*reason)
		return cli_usage(usage);
	if ((ret = cli_open(&c)) == 0)
		ret = ns_lifecycle_role(&c.cfg, "technical-support operator",
					c.user, "unblock");
	if (ret == 0) {
		r = (struct ns_runner){ .cfg = &c.cfg,
					.reg = c.reg,
					.user = c.user,
					.say = cli_say,
					.warn = cli_warn };
		ret = ns_runner_unblock(&r, env, reason);
	}
	cli_close(&c);
	if (ret < 0)
		return cli_fail(ret);
	printf("%s unblocked\n", env);
	return 0;
}
