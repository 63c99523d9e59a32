#include "commands.h"
#include "common.h"
#include "lifecycle.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"rfs add ID --title TEXT [--scope GLOB]... | rfs show ID [--json] | "
	"rfs list [--json]";

static void print_scope(json_t *scope)
{
	json_t *g;
	size_t i;

	json_array_foreach(scope, i, g)
		printf("%s%s", i ? ", " : "", json_string_value(g));
	if (!json_array_size(scope))
		printf("(nothing)");
}

/* rfs add: --scope repeats, so it is parsed here */
static int add(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char **scope = xcalloc((size_t)argc, sizeof(*scope));
	const char *id = NULL, *title = NULL;
	size_t nr = 0;
	int ret = 0;

	for (int i = 2; i < argc && !ret; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--title") && i + 1 < argc)
			title = argv[++i];
		else if (!strncmp(a, "--title=", 8))
			title = a + 8;
		else if (!strcmp(a, "--scope") && i + 1 < argc)
			scope[nr++] = argv[++i];
		else if (!strncmp(a, "--scope=", 8))
			scope[nr++] = a + 8;
		else if (!strcmp(a, "--as") && i + 1 < argc)
			cli_as = argv[++i];
		else if (a[0] != '-' && !id)
			id = a;
		else
			ret = cli_usage(usage);
	}
	if (!ret && (!id || !title || !*title))
		ret = cli_usage(usage);
	for (size_t i = 0; !ret && title && i <= nr; i++)
		if (cli_text_arg(i < nr ? "--scope" : "--title",
				 i < nr ? scope[i] : title) < 0)
			ret = cli_usage(usage);
	if (ret) {
		free(scope);
		return ret;
	}
	if ((ret = cli_open(&c)) == 0)
		ret = ns_rfs_add(&c.cfg, c.reg, id, title, scope, nr, c.user);
	if (ret == 0)
		printf("%s registered\n", id);
	free(scope);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : 0;
}

static int show(struct cli *c, const char *id, int json)
{
	json_t *rfs = NULL, *enhs = NULL, *x;
	size_t i;
	int ret = ns_rfs_get(c->reg, id, &rfs);

	if (ret < 0)
		return ret;
	if (!rfs) {
		ns_error_set("rfs: %s is not registered", id);
		return NS_EINVALID;
	}
	ret = ns_registry_query(c->reg, &enhs,
				"SELECT id, revision, state, title FROM "
				"enhancements WHERE rfs = ? ORDER BY id",
				"s", id);
	if (ret == 0 && json) {
		json_object_set(rfs, "enhancements", enhs);
		cli_print_json(rfs);
	} else if (ret == 0) {
		printf("%s  %s\n  scope:   ", cli_str(rfs, "id"),
		       cli_str(rfs, "title"));
		print_scope(json_object_get(rfs, "scope"));
		printf("\n  by:      %s at %s\n", cli_str(rfs, "created_by"),
		       cli_str(rfs, "created_at"));
		json_array_foreach(enhs, i, x) printf(
			"  ENH-%lld r%lld %s: %s\n",
			(long long)json_integer_value(json_object_get(x, "id")),
			(long long)json_integer_value(
				json_object_get(x, "revision")),
			cli_str(x, "state"), cli_str(x, "title"));
	}
	json_decref(rfs);
	json_decref(enhs);
	return ret;
}

static int list(struct cli *c, int json)
{
	json_t *rows = NULL, *x;
	size_t i;
	int ret = ns_registry_query(c->reg, &rows,
				    "SELECT id, title, scope, created_by, "
				    "created_at FROM rfs ORDER BY id",
				    NULL);

	if (ret < 0)
		return ret;
	json_array_foreach(rows, i, x)
	{
		json_t *scope = json_loads(cli_str(x, "scope"), 0, NULL);
		json_object_set_new(x, "scope", scope ? scope : json_array());
	}
	if (json) {
		cli_print_json(rows);
	} else {
		json_array_foreach(rows, i, x)
		{
			printf("%-12s %s  [", cli_str(x, "id"),
			       cli_str(x, "title"));
			print_scope(json_object_get(x, "scope"));
			printf("]\n");
		}
	}
	json_decref(rows);
	return 0;
}

int cmd_rfs(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[2];
	int json = 0, n, ret;
	struct cli_opt opts[] = { { "json", 0, NULL, &json },
				  { NULL, 0, NULL, NULL } };

	if (argc >= 2 && !strcmp(argv[1], "add"))
		return add(argc, argv);
	if (cli_parse(argc, argv, opts, pos, 2, &n, usage) < 0)
		return 2;
	if (!((n == 2 && !strcmp(pos[0], "show")) ||
	      (n == 1 && !strcmp(pos[0], "list"))))
		return cli_usage(usage);
	if ((ret = cli_open(&c)) == 0)
		ret = n == 2 ? show(&c, pos[1], json) : list(&c, json);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : 0;
}
