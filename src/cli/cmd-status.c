#include "commands.h"
#include "common.h"
#include "lifecycle.h"
#include "package.h"

#include <stdio.h>
#include <string.h>

static const char usage[] = "status [ID] [--json]";

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
			printf("BLOCKED %s since %s: %s\n", cli_str(e, "name"),
			       cli_str(e, "since"), cli_str(e, "reason"));
		printf("%-8s %-4s %-16s %-10s %-10s %s\n", "ID", "REV", "STATE",
		       "SYSTEM", "AUTHOR", "TITLE");
		json_array_foreach(rows, i, e)
			printf("ENH-%-4lld r%-3lld %-16s %-10s %-10s %s\n",
			       num(e, "id"), num(e, "revision"),
			       cli_str(e, "state"), cli_str(e, "system"),
			       cli_str(e, "author"), cli_str(e, "title"));
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
		/* pruned: removed by `archive prune` (the event's detail
		 * begins with the path) */
		{ "triggers", "SELECT id, revision, environment, path, "
			      "due_at, state, created_by, created_at, EXISTS "
			      "(SELECT 1 FROM events v WHERE v.event = "
			      "'trigger-pruned' AND v.enhancement = "
			      "t.enhancement AND substr(v.detail, 1, "
			      "length(t.path) + 1) = t.path || ',') AS pruned "
			      "FROM triggers t WHERE enhancement = ? ORDER BY "
			      "id" },
		{ "runs", "SELECT id, kind, revision, environment, token, "
			  "started_at, finished_at, outcome, message, "
			  "duration_ms, actor FROM runs WHERE enhancement = ? "
			  "ORDER BY id" },
		{ "sites", "SELECT s.run, s.site, s.rundir, s.outcome, "
			   "s.message, EXISTS (SELECT 1 FROM events v WHERE "
			   "v.event = 'archive-pruned' AND v.enhancement = "
			   "r.enhancement AND substr(v.detail, 1, "
			   "length(s.rundir) + 1) = s.rundir || ',') AS pruned "
			   "FROM run_sites s JOIN runs r ON r.id = s.run WHERE "
			   "r.enhancement = ? ORDER BY s.run" },
		{ "approvals", "SELECT revision, kind, actor, at, environment, "
			       "revoked_at, revoked_why FROM approvals WHERE "
			       "enhancement = ? ORDER BY id" },
		{ "touches", "SELECT t.kind, t.name FROM touches t JOIN "
			     "enhancements e ON e.id = t.enhancement AND "
			     "e.revision = t.revision WHERE t.enhancement = ? "
			     "ORDER BY t.kind DESC, t.name" },
		/* where nightshift built a revision from, and its tags */
		{ "sources", "SELECT revision, event, environment, detail "
			     "FROM events WHERE enhancement = ? AND event IN "
			     "('source', 'tagged', 'tag-failed') ORDER BY "
			     "id" },
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

static json_t *strings(char **v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* what the enhancement itself says: schedule, distribution, instructions */
static int manifest(struct cli *c, json_t *o)
{
	const char *store = NULL;
	struct ns_package pkg = NS_PACKAGE_INIT;
	const struct ns_manifest *m = &pkg.manifest;
	json_t *revs = json_object_get(o, "revisions"), *rfs = NULL;
	int ret;

	if (json_array_size(revs))
		store = json_string_value(json_object_get(
			json_array_get(revs, json_array_size(revs) - 1),
			"store_path"));
	if (!store)
		return 0;
	if ((ret = ns_package_read(&pkg, store, &c->cfg.limits, NULL)) < 0)
		return ret;
	json_object_set_new(
		o, "manifest",
		json_pack("{s:o, s:o, s:o, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, "
			  "s:s}",
			  "requires", strings(m->requires, m->requires_nr),
			  "conflicts", strings(m->conflicts, m->conflicts_nr),
			  "sites", strings(m->sites, m->sites_nr), "not_before",
			  m->not_before, "schedule_model", m->sched_model,
			  "schedule_production", m->sched_production,
			  "operator", m->instr_operator, "special",
			  m->instr_special, "verify", m->verify_command,
			  "transaction",
			  m->transaction == NS_TX_NONE ? "none" : "single"));
	ns_package_release(&pkg);
	if (m->rfs || json_string_value(json_object_get(
			      json_object_get(o, "enhancement"), "rfs"))) {
		const char *id = json_string_value(json_object_get(
			json_object_get(o, "enhancement"), "rfs"));
		if (id && (ret = ns_rfs_get(c->reg, id, &rfs)) < 0)
			return ret;
		if (rfs)
			json_object_set_new(o, "rfs", rfs);
	}
	return 0;
}

static void list_line(const char *label, json_t *a)
{
	json_t *x;
	size_t i;

	if (!json_array_size(a))
		return;
	printf("  %-13s", label);
	json_array_foreach(a, i, x)
		printf("%s%s", i ? ", " : "", json_string_value(x));
	printf("\n");
}

/* "r1 from git REPO FROM..TO under PREFIX", "r1 from sqitch P:CHANGE" */
static void print_source(json_t *x)
{
	json_t *d = json_loads(cli_str(x, "detail"), 0, NULL);
	const char *ev = cli_str(x, "event");

	if (!strcmp(ev, "source") && json_object_get(d, "git"))
		printf("  r%lld from git %s %.12s..%.12s%s%s\n",
		       num(x, "revision"), cli_str(d, "git"),
		       cli_str(d, "from"), cli_str(d, "to"),
		       *cli_str(d, "path") ? " under " : "",
		       cli_str(d, "path"));
	else if (!strcmp(ev, "source") && json_object_get(d, "sqitch"))
		printf("  r%lld from sqitch %s:%s planned %s\n",
		       num(x, "revision"), cli_str(d, "sqitch"),
		       cli_str(d, "script"), cli_str(d, "planned"));
	else if (!strcmp(ev, "tagged"))
		printf("  r%lld git tag %s\n", num(x, "revision"),
		       cli_str(x, "detail"));
	else if (!strcmp(ev, "tag-failed"))
		printf("  r%lld git tag in %s NOT made: %s\n",
		       num(x, "revision"), cli_str(x, "environment"),
		       cli_str(x, "detail"));
	json_decref(d);
}

static void print_one(json_t *o)
{
	json_t *e = json_object_get(o, "enhancement"), *x;
	size_t i;

	printf("ENH-%lld r%lld  %s\n", num(e, "id"), num(e, "revision"),
	       cli_str(e, "state"));
	json_t *mf = json_object_get(o, "manifest"),
	       *rfs = json_object_get(o, "rfs");
	printf("  title:       %s\n  system:      %s\n  author:      %s\n",
	       cli_str(e, "title"), cli_str(e, "system"), cli_str(e, "author"));
	printf("  rfs:         %s  %s\n", cli_str(e, "rfs"),
	       rfs ? cli_str(rfs, "title") : "");
	printf("  since:       %s%s%s\n", cli_str(e, "updated_at"),
	       json_string_value(json_object_get(e, "environment")) ? " in "
								    : "",
	       json_string_value(json_object_get(e, "environment"))
		       ? cli_str(e, "environment")
		       : "");
	if (json_string_value(json_object_get(e, "warranty_until")))
		printf("  warranty:    until %s\n",
		       cli_str(e, "warranty_until"));
	if (mf) {
		list_line("requires:", json_object_get(mf, "requires"));
		list_line("conflicts:", json_object_get(mf, "conflicts"));
		list_line("sites:", json_object_get(mf, "sites"));
		if (json_string_value(json_object_get(mf, "not_before")))
			printf("  not before:  %s\n",
			       cli_str(mf, "not_before"));
		if (json_string_value(json_object_get(mf, "schedule_model")) ||
		    json_string_value(
			    json_object_get(mf, "schedule_production")))
			printf("  proposed:    model %s, production %s\n",
			       cli_str(mf, "schedule_model"),
			       cli_str(mf, "schedule_production"));
		if (json_string_value(json_object_get(mf, "operator")) ||
		    json_string_value(json_object_get(mf, "special")))
			printf("  instructions: operator: %s; special: %s\n",
			       cli_str(mf, "operator"), cli_str(mf, "special"));
		if (!strcmp(cli_str(mf, "transaction"), "none"))
			printf("  transaction: none (the deploy SQL runs "
			       "outside a transaction)\n");
	}
	json_array_foreach(json_object_get(o, "touches"), i, x) printf(
		"  %s %s %s\n", i ? "        " : "touches:", cli_str(x, "kind"),
		cli_str(x, "name"));
	json_array_foreach(json_object_get(o, "approvals"), i, x) printf(
		"  r%lld %-10s by %s at %s%s%s%s%s\n", num(x, "revision"),
		cli_str(x, "kind"), cli_str(x, "actor"), cli_str(x, "at"),
		json_string_value(json_object_get(x, "environment")) ? " in "
								     : "",
		json_string_value(json_object_get(x, "environment"))
			? cli_str(x, "environment")
			: "",
		json_string_value(json_object_get(x, "revoked_at"))
			? " — revoked: "
			: "",
		json_string_value(json_object_get(x, "revoked_at"))
			? cli_str(x, "revoked_why")
			: "");
	json_array_foreach(json_object_get(o, "revisions"), i, x)
		printf("  r%lld payload %s (%lld files, %lld bytes) by %s "
		       "at %s\n",
		       num(x, "revision"), cli_str(x, "payload_sha256"),
		       num(x, "members"), num(x, "size"),
		       cli_str(x, "submitted_by"), cli_str(x, "submitted_at"));
	json_array_foreach(json_object_get(o, "sources"), i, x) print_source(x);
	json_array_foreach(json_object_get(o, "triggers"), i, x)
		printf("  trigger r%lld %s due %s: %s (%s%s)\n",
		       num(x, "revision"), cli_str(x, "environment"),
		       cli_str(x, "due_at"), cli_str(x, "state"),
		       cli_str(x, "path"), num(x, "pruned") ? ", pruned" : "");
	json_array_foreach(json_object_get(o, "runs"), i, x)
		printf("  run #%lld %s r%lld %s at %s: %s in %lld ms — %s\n",
		       num(x, "id"), cli_str(x, "kind"), num(x, "revision"),
		       cli_str(x, "environment"), cli_str(x, "started_at"),
		       cli_str(x, "outcome"), num(x, "duration_ms"),
		       cli_str(x, "message"));
	json_array_foreach(json_object_get(o, "sites"), i, x) printf(
		"    run #%lld site %s: %s (archive %s%s)\n", num(x, "run"),
		cli_str(x, "site"), cli_str(x, "outcome"), cli_str(x, "rundir"),
		num(x, "pruned") ? ", pruned" : "");
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
	if ((ret = gather(c, id, o)) == 0)
		ret = manifest(c, o);
	if (ret == 0) {
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
