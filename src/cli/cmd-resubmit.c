#include "commands.h"
#include "common.h"
#include "gitsrc.h"
#include "lifecycle.h"
#include "sqitch.h"

#include <stdio.h>

static const char usage[] =
	"resubmit ID PATH | ID --git REPO --from REV --to REV [--path PREFIX] "
	"| ID --sqitch DIR --change NAME [--rfs ID] [--system NAME]";

int cmd_resubmit(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[2], *git = NULL, *from = NULL, *to = NULL;
	const char *prefix = NULL, *sq = NULL, *change = NULL, *rfs = NULL;
	const char *system = NULL;
	struct cli_opt opts[] = {
		{ "git", 1, &git, NULL },   { "from", 1, &from, NULL },
		{ "to", 1, &to, NULL },	    { "path", 1, &prefix, NULL },
		{ "sqitch", 1, &sq, NULL }, { "change", 1, &change, NULL },
		{ "rfs", 1, &rfs, NULL },   { "system", 1, &system, NULL },
		{ NULL, 0, NULL, NULL },
	};
	long long id;
	int n, ret, rev = 0;

	if (cli_parse(argc, argv, opts, pos, 2, &n, usage) < 0)
		return 2;
	if (n != (git || sq ? 1 : 2) || (git && sq) ||
	    (git && (!from || !to)) || (!git && (from || to || prefix)) ||
	    (sq && !change) || (!sq && (change || rfs || system)))
		return cli_usage(usage);
	if ((ret = cli_enh(&id, pos[0])) != 0)
		return ret;
	if ((ret = cli_open(&c)) < 0)
		goto done;
	if (git) {
		ret = ns_gitsrc_submit(NULL, &rev, &c.cfg, c.reg, id, git, from,
				       to, prefix, c.user);
	} else if (sq) {
		struct ns_sqitch_submit s = { sq, change, rfs, system,
					      id, NULL,	  NULL };
		ret = ns_sqitch_submit(&rev, &c.cfg, c.reg, &s, c.user);
	} else if ((ret = cli_path_arg("resubmit", pos[1])) == 0) {
		ret = ns_lifecycle_resubmit(&rev, &c.cfg, c.reg, id, pos[1],
					    c.user);
	}
	if (ret == 0)
		printf("ENH-%lld r%d\n", id, rev);
done:
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : cli_done(0);
}
