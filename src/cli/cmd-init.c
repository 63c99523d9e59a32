#include "commands.h"
#include "common.h"
#include "fsx.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "init [DIR]";

int cmd_init(int argc, char **argv)
{
	const char *pos[1] = { "." };
	const char *dirs[] = { "spool",	  "archive", "store",
			       "journal", "outbox",  "locks" };
	struct ns_config cfg = NS_CONFIG_INIT;
	struct ns_registry *reg = NULL;
	char *conf;
	int n, ret;

	if (cli_parse(argc, argv, NULL, pos, 1, &n, usage) < 0)
		return 2;
	if (!n)
		pos[0] = ".";
	if ((ret = ns_fsx_mkdir_p(pos[0], 0755)) < 0)
		return cli_fail(ret);
	conf = xprintf("%s/nightshift.conf", pos[0]);
	if (access(conf, F_OK) == 0) {
		ns_error_set("%s exists already: nothing was changed", conf);
		free(conf);
		return cli_fail(NS_EFAILED);
	}
	ret = ns_fsx_write_file(conf, ns_config_template,
				strlen(ns_config_template));
	if (!ret)
		ret = ns_config_load(&cfg, conf);
	for (size_t i = 0; !ret && i < sizeof(dirs) / sizeof(*dirs); i++) {
		char *d = xprintf("%s/%s", pos[0], dirs[i]);
		ret = ns_fsx_mkdir_p(d, 0755);
		free(d);
	}
	if (!ret)
		ret = ns_registry_open(&reg, cfg.registry, 1);
	ns_registry_free(reg);
	ns_config_release(&cfg);
	free(conf);
	if (ret < 0)
		return cli_fail(ret);
	printf("initialised nightshift in %s: edit %s/nightshift.conf to "
	       "describe your systems and environments\n",
	       pos[0], pos[0]);
	return 0;
}
