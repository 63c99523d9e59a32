#include "commands.h"
#include "common.h"
#include "lifecycle.h"
#include "runner.h"

#include <stdio.h>
#include <string.h>

static const char usage[] = "archive prune [--env ENV] [--dry-run]";

int cmd_archive(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1], *env = NULL;
	int dry = 0, n, ret;
	struct cli_opt opts[] = { { "env", 1, &env, NULL },
				  { "dry-run", 0, NULL, &dry },
				  { NULL, 0, NULL, NULL } };
	struct ns_runner r = { 0 };

	if (cli_parse(argc, argv, opts, pos, 1, &n, usage) < 0)
		return 2;
	if (n != 1 || strcmp(pos[0], "prune"))
		return cli_usage(usage);
	if ((ret = cli_open(&c)) == 0 && env && !ns_config_env(&c.cfg, env))
		ret = NS_EUSAGE;
	/* it removes what a person may still want to read: the operators' */
	if (ret == 0 &&
	    (ret = ns_lifecycle_role(&c.cfg, "operator technical-support",
				     c.user, "archive prune")) < 0) {
		cli_close(&c);
		return cli_fail(ret);
	}
	if (ret == 0) {
		r = (struct ns_runner){ .cfg = &c.cfg,
					.reg = c.reg,
					.user = c.user,
					.say = cli_say,
					.warn = cli_warn,
					.dry_run = dry };
		ret = ns_runner_prune(&r, env);
	}
	cli_close(&c);
	if (ret == NS_EFAILED) {
		fprintf(stderr, "nightshift: not every archive due was pruned "
				"(see above)\n");
		return 1;
	}
	/* an environment passed over (locked, blocked, unfinished) was
	 * named on its own line */
	if (ret == NS_ELOCKED)
		return 4;
	return ret < 0 ? cli_fail(ret) : 0;
}
