#include "commands.h"
#include "common.h"
#include "lifecycle.h"

#include <stdio.h>
#include <stdlib.h>

static const char usage[] = "schedule ID --env ENV [--at TIME]";

int cmd_schedule(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1], *env = NULL, *at = NULL;
	struct cli_opt opts[] = { { "env", 1, &env, NULL },
				  { "at", 1, &at, NULL },
				  { NULL, 0, NULL, NULL } };
	char *path = NULL;
	long long id;
	int n, ret;

	if (cli_parse(argc, argv, opts, pos, 1, &n, usage) < 0)
		return 2;
	if (n != 1 || !env)
		return cli_usage(usage);
	if (!(id = ns_enh_parse(pos[0]))) {
		ns_error_set("'%s' is not an enhancement id (ENH-n)", pos[0]);
		return cli_fail(NS_EUSAGE);
	}
	if ((ret = cli_open(&c)) == 0)
		ret = ns_lifecycle_schedule(&path, &c.cfg, c.reg, id, env, at,
					    c.user);
	if (ret == 0)
		printf("%s\n", path);
	free(path);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : 0;
}
