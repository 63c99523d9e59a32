#include "commands.h"
#include "common.h"
#include "lifecycle.h"

#include <stdio.h>
#include <string.h>

static const char usage[] = "qa approve ID | qa reject ID --reason TEXT";

int cmd_qa(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[2], *reason = NULL;
	struct cli_opt opts[] = { { "reason", 1, &reason, NULL },
				  { NULL, 0, NULL, NULL } };
	long long id;
	int n, ret, approve;

	if (cli_parse(argc, argv, opts, pos, 2, &n, usage) < 0)
		return 2;
	if (n != 2 || (strcmp(pos[0], "approve") && strcmp(pos[0], "reject")))
		return cli_usage(usage);
	approve = !strcmp(pos[0], "approve");
	if (!approve && (!reason || !*reason))
		return cli_usage(usage);
	if ((ret = cli_enh(&id, pos[1])) != 0)
		return ret;
	if ((ret = cli_open(&c)) == 0)
		ret = ns_lifecycle_qa(&c.cfg, c.reg, id, approve, reason,
				      c.user);
	if (ret == 0)
		printf("ENH-%lld %s by %s\n", id,
		       approve ? "QA-approved" : "returned to its developer",
		       c.user);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : 0;
}
