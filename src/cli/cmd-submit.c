#include "commands.h"
#include "common.h"
#include "lifecycle.h"

#include <stdio.h>

static const char usage[] = "submit PATH";

int cmd_submit(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1];
	long long id = 0;
	int n, ret;

	if (cli_parse(argc, argv, NULL, pos, 1, &n, usage) < 0)
		return 2;
	if (n != 1)
		return cli_usage(usage);
	if ((ret = cli_open(&c)) == 0)
		ret = ns_lifecycle_submit(&id, &c.cfg, c.reg, pos[0], c.user);
	if (ret == 0)
		printf("ENH-%lld\nsubmitted by %s\n", id, c.user);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : 0;
}
