#include "commands.h"
#include "common.h"
#include "lifecycle.h"
#include "runner.h"

#include <stdio.h>
#include <string.h>

static const char usage_accept[] = "accept ID --env ENV";
static const char usage_reject[] = "reject ID --env ENV --reason TEXT";

int cmd_accept(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1], *env = NULL;
	struct cli_opt opts[] = { { "env", 1, &env, NULL },
				  { NULL, 0, NULL, NULL } };
	const struct ns_env *e = NULL;
	int n, ret, have = 0, need = 0;
	long long id;

	if (cli_parse(argc, argv, opts, pos, 1, &n, usage_accept) < 0)
		return 2;
	if (n != 1 || !env)
		return cli_usage(usage_accept);
	if ((ret = cli_enh(&id, pos[0])) != 0)
		return ret;
	if ((ret = cli_open(&c)) == 0 && !(e = ns_config_env(&c.cfg, env)))
		ret = NS_EUSAGE;
	if (ret == 0)
		ret = ns_lifecycle_accept(&c.cfg, c.reg, id, e->name, c.user,
					  &have, &need);
	if (ret == 0 && have >= need)
		printf("ENH-%lld accepted in %s (%d of %d sign-offs)\n", id,
		       e->name, have, need);
	else if (ret == 0)
		printf("ENH-%lld: acceptance signed by %s in %s; %d of %d "
		       "sign-offs, waiting for %d more\n",
		       id, c.user, e->name, have, need, need - have);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : 0;
}

int cmd_reject(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1], *env = NULL, *reason = NULL;
	struct cli_opt opts[] = { { "env", 1, &env, NULL },
				  { "reason", 1, &reason, NULL },
				  { NULL, 0, NULL, NULL } };
	struct ns_runner r = { 0 };
	const struct ns_env *e = NULL;
	long long id;
	int n, ret;

	if (cli_parse(argc, argv, opts, pos, 1, &n, usage_reject) < 0)
		return 2;
	if (n != 1 || !env || !reason || !*reason)
		return cli_usage(usage_reject);
	if ((ret = cli_enh(&id, pos[0])) != 0)
		return ret;
	if ((ret = cli_open(&c)) == 0 && !(e = ns_config_env(&c.cfg, env)))
		ret = NS_EUSAGE;
	if (ret == 0)
		ret = ns_lifecycle_may(&c.cfg, c.reg, id, "reject", c.user,
				       e->name);
	if (ret == 0) {
		r = (struct ns_runner){ .cfg = &c.cfg,
					.reg = c.reg,
					.user = c.user,
					.say = cli_say,
					.warn = cli_warn };
		ret = ns_runner_rollback(&r, id, e->name, reason, "reject");
	}
	if (ret == 0)
		printf("ENH-%lld rejected in %s, backed out of it, and "
		       "returned "
		       "to its developer\n",
		       id, e->name);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : 0;
}
