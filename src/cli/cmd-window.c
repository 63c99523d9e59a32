#include "commands.h"
#include "common.h"
#include "runner.h"

#include <string.h>

static const char usage[] = "window run [--env ENV] [--now]";

int cmd_window(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1], *env = NULL;
	int now = 0, n, ret;
	struct cli_opt opts[] = { { "env", 1, &env, NULL },
				  { "now", 0, NULL, &now },
				  { NULL, 0, NULL, NULL } };
	struct ns_runner r = { 0 };

	if (cli_parse(argc, argv, opts, pos, 1, &n, usage) < 0)
		return 2;
	if (n != 1 || strcmp(pos[0], "run"))
		return cli_usage(usage);
	if ((ret = cli_open(&c)) < 0) {
		cli_close(&c);
		return cli_fail(ret);
	}
	r = (struct ns_runner){ .cfg = &c.cfg,
				.reg = c.reg,
				.user = c.user,
				.say = cli_say,
				.warn = cli_warn,
				.now = now };
	ret = ns_runner_window(&r, env);
	cli_close(&c);
	return cli_outcome(ret);
}
