#include "commands.h"
#include "common.h"
#include "lifecycle.h"
#include "runner.h"

#include <stdio.h>

static const char usage[] = "rollback ID --env ENV --reason TEXT";

int cmd_rollback(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1], *env = NULL, *reason = NULL;
	struct cli_opt opts[] = { { "env", 1, &env, NULL },
				  { "reason", 1, &reason, NULL },
				  { NULL, 0, NULL, NULL } };
	struct ns_runner r = { 0 };
	long long id;
	int n, ret;

	if (cli_parse(argc, argv, opts, pos, 1, &n, usage) < 0)
		return 2;
	if (n != 1 || !env || !reason || !*reason)
		return cli_usage(usage);
	if (!(id = ns_enh_parse(pos[0]))) {
		ns_error_set("'%s' is not an enhancement id (ENH-n)", pos[0]);
		return cli_fail(NS_EUSAGE);
	}
	if ((ret = cli_open(&c)) == 0 && !ns_config_env(&c.cfg, env))
		ret = NS_EUSAGE;
	if (ret == 0)
		ret = ns_lifecycle_may(&c.cfg, c.reg, id, "back-out", c.user,
				       ns_config_env(&c.cfg, env)->name);
	if (ret == 0) {
		r = (struct ns_runner){ .cfg = &c.cfg,
					.reg = c.reg,
					.user = c.user,
					.say = cli_say,
					.warn = cli_warn };
		ret = ns_runner_rollback(&r, id, env, reason, NULL);
	}
	if (ret == 0)
		printf("ENH-%lld backed out of %s\n", id,
		       ns_config_env(&c.cfg, env)->name);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : 0;
}
