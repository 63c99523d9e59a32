#include "commands.h"
#include "common.h"
#include "lifecycle.h"

#include <stdio.h>
#include <stdlib.h>

static const char usage[] = "promote ID [--at TIME]";

int cmd_promote(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1], *at = NULL;
	struct cli_opt opts[] = { { "at", 1, &at, NULL },
				  { NULL, 0, NULL, NULL } };
	char *path = NULL;
	long long id;
	int n, ret;

	if (cli_parse(argc, argv, opts, pos, 1, &n, usage) < 0)
		return 2;
	if (n != 1)
		return cli_usage(usage);
	if ((ret = cli_enh(&id, pos[0])) != 0)
		return ret;
	if ((ret = cli_open(&c)) == 0)
		ret = ns_lifecycle_promote(&path, &c.cfg, c.reg, id, at,
					   c.user);
	if (ret == 0)
		printf("%s\n", path);
	free(path);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : 0;
}
