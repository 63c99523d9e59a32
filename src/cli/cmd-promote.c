#include "commands.h"
#include "common.h"
#include "lifecycle.h"

#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
	"promote ID [--at TIME] [--override-blackout --reason TEXT]";

int cmd_promote(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	struct ns_placement p = NS_PLACEMENT_INIT;
	const char *pos[1], *reason = NULL;
	int override = 0;
	struct cli_opt opts[] = { { "at", 1, &p.at, NULL },
				  { "override-blackout", 0, NULL, &override },
				  { "reason", 1, &reason, NULL },
				  { NULL, 0, NULL, NULL } };
	char *path = NULL;
	long long id;
	int n, ret;

	if (cli_parse(argc, argv, opts, pos, 1, &n, usage) < 0)
		return 2;
	if (n != 1)
		return cli_usage(usage);
	if ((ret = cli_placement_opts(&p, override, reason, usage)) != 0)
		return ret;
	if ((ret = cli_enh(&id, pos[0])) != 0)
		return ret;
	if ((ret = cli_open(&c)) == 0)
		ret = ns_lifecycle_promote(&path, &p, &c.cfg, c.reg, id,
					   c.user);
	if (ret == 0) {
		printf("%s\n", path);
		cli_placed(&p, id);
	}
	free(path);
	ns_placement_release(&p);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : cli_done(0);
}
