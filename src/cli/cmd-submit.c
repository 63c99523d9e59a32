#include "commands.h"
#include "common.h"
#include "gitsrc.h"
#include "lifecycle.h"
#include "sqitch.h"

#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
	"submit PATH | --git REPO --from REV --to REV [--path PREFIX] | "
	"--sqitch DIR [--change NAME] [--rfs ID] [--system NAME]";

static void said(void *data, long long id, const char *what)
{
	(void)data;
	printf("ENH-%lld\t%s\n", id, what);
}

static int submit_sqitch(struct cli *c, const char *dir, const char *change,
			 const char *rfs, const char *system)
{
	struct ns_sqitch_submit s = { dir, change, rfs, system, 0, said, NULL };
	int n = 0, ret = ns_sqitch_submit(&n, &c->cfg, c->reg, &s, c->user);

	if (ret == 0 && n == 0)
		printf("nothing to submit: every change of %s/sqitch.plan is "
		       "submitted already\n",
		       dir);
	return ret;
}

int cmd_submit(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1], *git = NULL, *from = NULL, *to = NULL;
	const char *prefix = NULL, *sq = NULL, *change = NULL, *rfs = NULL;
	const char *system = NULL;
	struct cli_opt opts[] = {
		{ "git", 1, &git, NULL },   { "from", 1, &from, NULL },
		{ "to", 1, &to, NULL },	    { "path", 1, &prefix, NULL },
		{ "sqitch", 1, &sq, NULL }, { "change", 1, &change, NULL },
		{ "rfs", 1, &rfs, NULL },   { "system", 1, &system, NULL },
		{ NULL, 0, NULL, NULL },
	};
	long long id = 0;
	int n, ret;

	if (cli_parse(argc, argv, opts, pos, 1, &n, usage) < 0)
		return 2;
	if (n + !!git + !!sq != 1 || (git && (!from || !to)) ||
	    (!git && (from || to || prefix)) ||
	    (!sq && (change || rfs || system)))
		return cli_usage(usage);
	if ((ret = cli_open(&c)) < 0)
		goto done;
	if (sq) {
		ret = submit_sqitch(&c, sq, change, rfs, system);
		goto done;
	}
	if (git)
		ret = ns_gitsrc_submit(&id, NULL, &c.cfg, c.reg, 0, git, from,
				       to, prefix, c.user);
	else if ((ret = cli_path_arg("submit", pos[0])) == 0)
		ret = ns_lifecycle_submit(&id, &c.cfg, c.reg, pos[0], c.user);
	if (ret == 0)
		printf("ENH-%lld\nsubmitted by %s\n", id, c.user);
done:
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : cli_done(0);
}
