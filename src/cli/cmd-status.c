#include "commands.h"
#include "common.h"

#include <stdio.h>

static const char usage[] = "status [ID] [--json]";

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

static long long num(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static int overview(struct cli *c, int json)
{
	json_t *rows = NULL, *e, *blocked = NULL;
	size_t i;
	int ret = ns_registry_query(c->reg, &rows,
				    "SELECT id, revision, state, system, "
				    "author, title, updated_at FROM "
				    "enhancements ORDER BY id",
				    NULL);

	if (!ret)
		ret = ns_registry_query(c->reg, &blocked,
					"SELECT name, reason, since FROM "
					"environments WHERE blocked = 1",
					NULL);
	if (ret < 0)
		return ret;
	if (json) {
		json_t *o = json_pack("{s:O, s:O}", "enhancements", rows,
				      "blocked", blocked);
		cli_print_json(o);
		json_decref(o);
	} else {
		json_array_foreach(blocked, i, e)
			printf("BLOCKED %s since %s: %s\n", str(e, "name"),
			       str(e, "since"), str(e, "reason"));
		printf("%-8s %-4s %-16s %-10s %-10s %s\n", "ID", "REV", "STATE",
		       "SYSTEM", "AUTHOR", "TITLE");
		json_array_foreach(rows, i, e) printf(
			"ENH-%-4lld r%-3lld %-16s %-10s %-10s %s\n",
			num(e, "id"), num(e, "revision"), str(e, "state"),
			str(e, "system"), str(e, "author"), str(e, "title"));
	}
	json_decref(rows);
	json_decref(blocked);
	return 0;
}

static int gather(struct cli *c, long long id, json_t *o)
{
	static const char *const parts[][2] = {
		{ "revisions", "SELECT revision, payload_sha256, store_path, "
			       "members, size, submitted_by, submitted_at "
			       "FROM revisions WHERE enhancement = ? ORDER "
			       "BY revision" },
		{ "triggers", "SELECT id, revision, environment, path, "
			      "due_at, state, created_by, created_at FROM "
			      "triggers WHERE enhancement = ? ORDER BY id" },
		{ "runs", "SELECT id, kind, revision, environment, token, "
			  "started_at, finished_at, outcome, message, "
			  "duration_ms, actor FROM runs WHERE enhancement = ? "
			  "ORDER BY id" },
		{ "sites", "SELECT s.run, s.site, s.rundir, s.outcome, "
			   "s.message FROM run_sites s JOIN runs r ON r.id = "
			   "s.run WHERE r.enhancement = ? ORDER BY s.run" },
	};

	for (size_t i = 0; i < sizeof(parts) / sizeof(*parts); i++) {
		json_t *rows = NULL;
		int ret =
			ns_registry_query(c->reg, &rows, parts[i][1], "I", id);
		if (ret < 0)
			return ret;
		json_object_set_new(o, parts[i][0], rows);
	}
	return 0;
}

static void print_one(json_t *o)
{
	json_t *e = json_object_get(o, "enhancement"), *x;
	size_t i;

	printf("ENH-%lld r%lld  %s\n", num(e, "id"), num(e, "revision"),
	       str(e, "state"));
	printf("  title:   %s\n  system:  %s\n  author:  %s\n  rfs:     "
	       "%s\n  since:   %s\n",
	       str(e, "title"), str(e, "system"), str(e, "author"),
	       str(e, "rfs"), str(e, "updated_at"));
	json_array_foreach(json_object_get(o, "revisions"), i, x) printf(
		"  r%lld payload %s (%lld files, %lld bytes) by %s "
		"at %s\n",
		num(x, "revision"), str(x, "payload_sha256"), num(x, "members"),
		num(x, "size"), str(x, "submitted_by"), str(x, "submitted_at"));
	json_array_foreach(json_object_get(o, "triggers"), i, x)
		printf("  trigger r%lld %s due %s: %s (%s)\n",
		       num(x, "revision"), str(x, "environment"),
		       str(x, "due_at"), str(x, "state"), str(x, "path"));
	json_array_foreach(json_object_get(o, "runs"), i, x) printf(
		"  run #%lld %s r%lld %s at %s: %s in %lld ms — %s\n",
		num(x, "id"), str(x, "kind"), num(x, "revision"),
		str(x, "environment"), str(x, "started_at"), str(x, "outcome"),
		num(x, "duration_ms"), str(x, "message"));
	json_array_foreach(json_object_get(o, "sites"), i, x) printf(
		"    run #%lld site %s: %s (archive %s)\n", num(x, "run"),
		str(x, "site"), str(x, "outcome"), str(x, "rundir"));
}

static int one(struct cli *c, long long id, int json)
{
	json_t *e = NULL, *o;
	int ret = ns_registry_query_row(c->reg, &e,
					"SELECT * FROM enhancements WHERE id "
					"= ?",
					"I", id);

	if (ret < 0)
		return ret;
	if (!e) {
		ns_error_set("ENH-%lld: no such enhancement", id);
		return NS_EINVALID;
	}
	o = json_pack("{s:o}", "enhancement", e);
	if ((ret = gather(c, id, o)) == 0) {
		if (json)
			cli_print_json(o);
		else
			print_one(o);
	}
	json_decref(o);
	return ret;
}

int cmd_status(int argc, char **argv)
{
	struct cli c = CLI_INIT;
	const char *pos[1];
	int json = 0, n, ret;
	struct cli_opt opts[] = { { "json", 0, NULL, &json },
				  { NULL, 0, NULL, NULL } };
	long long id = 0;

	if (cli_parse(argc, argv, opts, pos, 1, &n, usage) < 0)
		return 2;
	if (n == 1 && !(id = ns_enh_parse(pos[0]))) {
		ns_error_set("'%s' is not an enhancement id (ENH-n)", pos[0]);
		return cli_fail(NS_EUSAGE);
	}
	if ((ret = cli_open(&c)) == 0)
		ret = id ? one(&c, id, json) : overview(&c, json);
	cli_close(&c);
	return ret < 0 ? cli_fail(ret) : 0;
}
