#include "commands.h"
#include "common.h"
#include "lifecycle.h"

#include <stdio.h>

static const char usage[] = "withdraw ID --reason TEXT";

int cmd_withdraw(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1], *reason = NULL;
	struct cli_opt opts[] = { { "reason", 1, &reason, NULL },
				  { NULL, 0, NULL, NULL } };
	long long id;
	int n, ret;

	if (cli_parse(argc, argv, opts, pos, 1, &n, usage) < 0)
		return 2;
	if (n != 1 || !reason || !*reason)
		return cli_usage(usage);
	if ((ret = cli_enh(&id, pos[0])) != 0)
		return ret;
	if ((ret = cli_open(&c)) == 0)
		ret = ns_lifecycle_withdraw(&c.cfg, c.reg, id, reason, c.user);
	if (ret == 0)
		printf("ENH-%lld withdrawn\n", id);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : 0;
}
