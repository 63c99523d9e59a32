#include "commands.h"
#include "common.h"
#include "lifecycle.h"

#include <stdio.h>

static const char usage[] = "resubmit ID PATH";

int cmd_resubmit(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[2];
	struct cli_opt opts[] = { { NULL, 0, NULL, NULL } };
	long long id;
	int n, ret, rev = 0;

	if (cli_parse(argc, argv, opts, pos, 2, &n, usage) < 0)
		return 2;
	if (n != 2)
		return cli_usage(usage);
	if ((ret = cli_enh(&id, pos[0])) != 0)
		return ret;
	if ((ret = cli_open(&c)) == 0)
		ret = ns_lifecycle_resubmit(&rev, &c.cfg, c.reg, id, pos[1],
					    c.user);
	if (ret == 0)
		printf("ENH-%lld r%d\n", id, rev);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : 0;
}
