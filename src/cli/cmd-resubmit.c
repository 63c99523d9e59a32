#include "commands.h"
#include "common.h"
#include "gitsrc.h"
#include "lifecycle.h"

#include <stdio.h>

static const char usage[] =
	"resubmit ID PATH | ID --git REPO --from REV --to REV [--path PREFIX]";

int cmd_resubmit(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[2], *git = NULL, *from = NULL, *to = NULL;
	const char *prefix = NULL;
	struct cli_opt opts[] = {
		{ "git", 1, &git, NULL },   { "from", 1, &from, NULL },
		{ "to", 1, &to, NULL },	    { "path", 1, &prefix, NULL },
		{ NULL, 0, NULL, NULL },
	};
	long long id;
	int n, ret, rev = 0;

	if (cli_parse(argc, argv, opts, pos, 2, &n, usage) < 0)
		return 2;
	if (n != (git ? 1 : 2) || (git && (!from || !to)) ||
	    (!git && (from || to || prefix)))
		return cli_usage(usage);
	if ((ret = cli_enh(&id, pos[0])) != 0)
		return ret;
	if ((ret = cli_open(&c)) == 0 && git)
		ret = ns_gitsrc_submit(NULL, &rev, &c.cfg, c.reg, id, git, from,
				       to, prefix, c.user);
	else if (ret == 0)
		ret = ns_lifecycle_resubmit(&rev, &c.cfg, c.reg, id, pos[1],
					    c.user);
	if (ret == 0)
		printf("ENH-%lld r%d\n", id, rev);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : 0;
}
