#include "lifecycle.h"
#include "error.h"
#include "notify.h"
#include "strbuf.h"
#include "timefmt.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* which kind of environment a move is made in */
enum where { ANY, MODEL, PRODUCTION };

struct move {
	const char *from, *verb, *to;
	enum where where;
	const char *roles; /* who may say it; NULL: nightshift itself */
};

#define DEV	"developer"
#define CM	"change-management"
#define BACKOUT "operator change-management"

/* The whole lifecycle. The first row that matches the state, the verb and
 * the kind of environment decides. */
static const struct move moves[] = {
	{ "submitted", "qa-approve", "qa-approved", ANY, "qa" },
	{ "submitted", "qa-reject", "returned", ANY, "qa" },
	{ "submitted", "return", "returned", ANY, NULL },
	{ "qa-approved", "return", "returned", ANY, NULL },
	{ "accepted", "return", "returned", ANY, NULL },
	{ "qa-approved", "schedule", "scheduled", MODEL, CM },
	{ "rolled-back", "schedule", "scheduled", MODEL, CM },
	/* scheduled again: to another time (the trigger is replaced) */
	{ "scheduled", "schedule", "scheduled", MODEL, CM },
	{ "scheduled", "start", "migrating", MODEL, NULL },
	{ "promoted", "start", "migrating", PRODUCTION, NULL },
	{ "scheduled", "refuse", "returned", ANY, NULL },
	{ "promoted", "refuse", "returned", ANY, NULL },
	{ "migrating", "migrated", "migrated", MODEL, NULL },
	{ "migrating", "migrated", "WP", PRODUCTION, NULL },
	{ "migrating", "roll-back", "rolled-back", ANY, NULL },
	{ "migrating", "rollback-failed", "rollback-failed", ANY, NULL },
	{ "migrating", "refuse", "returned", ANY, NULL },
	{ "migrating", "requeue", "scheduled", MODEL, NULL },
	{ "migrating", "requeue", "promoted", PRODUCTION, NULL },
	{ "migrated", "accept", "accepted", MODEL, "acceptance" },
	{ "migrated", "reject", "rejected", MODEL, "acceptance" },
	{ "accepted", "promote", "promoted", PRODUCTION, CM },
	{ "promoted", "promote", "promoted", PRODUCTION, CM },
	{ "migrated", "back-out", "rolled-back", MODEL, BACKOUT },
	{ "accepted", "back-out", "rolled-back", MODEL, BACKOUT },
	{ "WP", "back-out", "rolled-back", PRODUCTION, BACKOUT },
	{ "WP", "warranty-end", "CP", PRODUCTION, NULL },
	{ "rollback-failed", "unblock", "returned", ANY,
	  "technical-support operator" },
	{ "submitted", "resubmit", "submitted", ANY, DEV },
	{ "qa-approved", "resubmit", "submitted", ANY, DEV },
	{ "scheduled", "resubmit", "submitted", ANY, DEV },
	{ "returned", "resubmit", "submitted", ANY, DEV },
	{ "rejected", "resubmit", "submitted", ANY, DEV },
	{ "rolled-back", "resubmit", "submitted", ANY, DEV },
	{ "submitted", "withdraw", "withdrawn", ANY, DEV " " CM },
	{ "qa-approved", "withdraw", "withdrawn", ANY, DEV " " CM },
	{ "scheduled", "withdraw", "withdrawn", ANY, DEV " " CM },
	{ "returned", "withdraw", "withdrawn", ANY, DEV " " CM },
	{ "rejected", "withdraw", "withdrawn", ANY, DEV " " CM },
	{ "rolled-back", "withdraw", "withdrawn", ANY, DEV " " CM },
};

#define MOVES_NR (sizeof(moves) / sizeof(*moves))

static enum where where_of(const char *env)
{
	size_t n = env ? strlen(env) : 0;

	if (n >= 11 && !strcmp(env + n - 11, "/production"))
		return PRODUCTION;
	if (n >= 6 && !strcmp(env + n - 6, "/model"))
		return MODEL;
	return ANY;
}

static const struct move *find(const char *from, const char *verb,
			       const char *env)
{
	enum where w = where_of(env);

	for (size_t i = 0; i < MOVES_NR; i++)
		if (!strcmp(moves[i].from, from) &&
		    !strcmp(moves[i].verb, verb) &&
		    (moves[i].where == ANY || w == ANY || moves[i].where == w))
			return &moves[i];
	return NULL;
}

static int load(struct ns_registry *r, long long enh, json_t **out)
{
	int ret = ns_registry_query_row(
		r, out,
		"SELECT e.id, e.state, e.revision, e.author, e.system, "
		"e.title, e.environment, v.submitted_by FROM enhancements e "
		"JOIN revisions v ON v.enhancement = e.id AND v.revision = "
		"e.revision WHERE e.id = ?",
		"I", enh);

	if (ret < 0)
		return ret;
	if (!*out) {
		ns_error_set("ENH-%lld: no such enhancement", enh);
		return NS_EINVALID;
	}
	return 0;
}

static int refuse(long long enh, const char *state, const char *verb)
{
	struct strbuf allowed = STRBUF_INIT;

	for (size_t i = 0; i < MOVES_NR; i++)
		if (!strcmp(moves[i].from, state) && moves[i].roles &&
		    !strstr(allowed.buf ? allowed.buf : "", moves[i].verb))
			strbuf_addf(&allowed, "%s%s", allowed.len ? ", " : "",
				    moves[i].verb);
	ns_error_set("ENH-%lld is %s: '%s' is not allowed from there "
		     "(allowed: %s)",
		     enh, state, verb,
		     allowed.len ? allowed.buf : "nothing a person can do");
	strbuf_release(&allowed);
	return NS_EFAILED;
}

int ns_lifecycle_check(struct ns_registry *r, long long enh, const char *verb,
		       const char *env)
{
	json_t *row = NULL;
	int ret = load(r, enh, &row);

	if (!ret && !find(ns_row_str(row, "state"), verb, env))
		ret = refuse(enh, ns_row_str(row, "state"), verb);
	json_decref(row);
	return ret;
}

static int member(const struct ns_config *c, const char *role, const char *user)
{
	const struct ns_role *r = ns_config_role(c, role);

	for (size_t i = 0; r && i < r->members_nr; i++)
		if (!strcmp(r->members[i], user))
			return 1;
	return 0;
}

/* roles: one role or several separated by spaces */
static int role_check(const struct ns_config *c, const char *roles,
		      const char *actor, const char *what)
{
	struct strbuf names = STRBUF_INIT;
	char *copy = xstrdup(roles), *save = NULL;
	int ok = 0;

	for (char *t = strtok_r(copy, " ", &save); t && !ok;
	     t = strtok_r(NULL, " ", &save)) {
		const struct ns_role *r = ns_config_role(c, t);
		ok = member(c, t, actor);
		strbuf_addf(&names, "%s[role \"%s\"] ", names.len ? "; " : "",
			    t);
		if (!r || !r->members_nr)
			strbuf_addstr(&names, "has no members");
		for (size_t i = 0; r && i < r->members_nr; i++)
			strbuf_addf(&names, "%s%s", i ? ", " : "= ",
				    r->members[i]);
	}
	if (!ok) {
		char *either = xstrdup(roles), *sp;
		struct strbuf shown = STRBUF_INIT;
		for (char *t = either; t; t = sp) {
			if ((sp = strchr(t, ' ')))
				*sp++ = '\0';
			strbuf_addf(&shown, "%s%s", shown.len ? " or " : "", t);
		}
		ns_error_set("%s needs the role %s, and '%s' does not hold it "
			     "(%s: %s)",
			     what, shown.buf, actor, c->path, names.buf);
		strbuf_release(&shown);
		free(either);
	}
	strbuf_release(&names);
	free(copy);
	return ok ? 0 : NS_EFAILED;
}

int ns_lifecycle_role(const struct ns_config *c, const char *role,
		      const char *actor, const char *what)
{
	return role_check(c, role, actor, what);
}

/* the people who signed kind for the current revision (not revoked) */
static int signers(struct ns_registry *r, long long enh, int rev,
		   const char *kind, json_t **out)
{
	return ns_registry_query(r, out,
				 "SELECT actor, at, environment FROM "
				 "approvals WHERE enhancement = ? AND "
				 "revision = ? AND kind = ? AND revoked_at IS "
				 "NULL ORDER BY id",
				 "Iis", enh, rev, kind);
}

static int signed_by(json_t *rows, const char *actor)
{
	size_t i;
	json_t *x;

	json_array_foreach(rows, i, x) if (!strcmp(ns_row_str(x, "actor"),
						   actor)) return 1;
	return 0;
}

/* the separation of duties */
static int duties(struct ns_registry *r, json_t *row, const char *verb,
		  const char *actor)
{
	long long enh = json_integer_value(json_object_get(row, "id"));
	int rev = (int)json_integer_value(json_object_get(row, "revision"));
	const char *author = ns_row_str(row, "author");
	const char *sub = ns_row_str(row, "submitted_by");
	json_t *qa = NULL, *acc = NULL;
	int ret = 0;

	if (strcmp(verb, "qa-approve") && strcmp(verb, "accept") &&
	    strcmp(verb, "promote"))
		return 0;
	if (!strcmp(actor, author) || (sub && !strcmp(actor, sub))) {
		ns_error_set("ENH-%lld: %s may not %s it: an author never "
			     "signs off their own enhancement",
			     enh, actor,
			     !strcmp(verb, "qa-approve") ? "QA-approve" : verb);
		return NS_EFAILED;
	}
	if ((ret = signers(r, enh, rev, "qa", &qa)) < 0 ||
	    (ret = signers(r, enh, rev, "acceptance", &acc)) < 0)
		goto done;
	if (!strcmp(verb, "accept") && signed_by(qa, actor)) {
		ns_error_set("ENH-%lld r%d: %s gave its QA approval and may "
			     "not also accept it: QA approval and acceptance "
			     "need different people",
			     enh, rev, actor);
		ret = NS_EFAILED;
	} else if (!strcmp(verb, "accept") && signed_by(acc, actor)) {
		ns_error_set("ENH-%lld r%d: %s has already signed its "
			     "acceptance; another person must sign",
			     enh, rev, actor);
		ret = NS_EFAILED;
	}
done:
	json_decref(qa);
	json_decref(acc);
	return ret;
}

/* ns_lifecycle_may, keeping the enhancement's row for the caller */
static int may(json_t **out, const struct ns_config *c, struct ns_registry *r,
	       long long enh, const char *verb, const char *actor,
	       const char *env)
{
	const struct move *m;
	json_t *row = NULL;
	char *what = NULL;
	int ret = load(r, enh, &row);

	if (ret < 0)
		return ret;
	if (!(m = find(ns_row_str(row, "state"), verb, env))) {
		ret = refuse(enh, ns_row_str(row, "state"), verb);
		goto done;
	}
	what = xprintf("ENH-%lld: %s", enh, verb);
	if (m->roles)
		ret = role_check(c, m->roles, actor, what);
	/* the developer role withdraws its own enhancements only */
	if (!ret && !strcmp(verb, "withdraw") && !member(c, CM, actor) &&
	    strcmp(actor, ns_row_str(row, "author"))) {
		ns_error_set("ENH-%lld: withdraw: %s is not its author and not "
			     "in change management",
			     enh, actor);
		ret = NS_EFAILED;
	}
	if (!ret)
		ret = duties(r, row, verb, actor);
done:
	free(what);
	if (!ret && out)
		*out = row;
	else
		json_decref(row);
	return ret;
}

int ns_lifecycle_may(const struct ns_config *c, struct ns_registry *r,
		     long long enh, const char *verb, const char *actor,
		     const char *env)
{
	return may(NULL, c, r, enh, verb, actor, env);
}

int ns_lifecycle_move(struct ns_registry *r, long long enh, const char *verb,
		      const char *actor, const char *env, const char *detail)
{
	char at[NS_TIME_LEN];
	const struct move *m;
	json_t *row = NULL;
	int ret = load(r, enh, &row), rev;

	if (ret < 0)
		goto done;
	if (!(m = find(ns_row_str(row, "state"), verb, env))) {
		ret = refuse(enh, ns_row_str(row, "state"), verb);
		goto done;
	}
	rev = (int)json_integer_value(json_object_get(row, "revision"));
	ns_time_iso(at, ns_now());
	ret = ns_registry_exec(r,
			       "UPDATE enhancements SET state = ?, "
			       "environment = COALESCE(?, environment), "
			       "updated_at = ? WHERE id = ?",
			       "sssI", m->to, env, at, enh);
	if (!ret)
		ret = ns_registry_event(r, actor, enh, rev, env, m->to, detail);
done:
	json_decref(row);
	return ret;
}

int ns_lifecycle_present(struct ns_registry *r, long long enh, const char *env,
			 int *out)
{
	json_t *row = NULL;
	int ret = ns_registry_query_row(
		r, &row,
		"SELECT id FROM runs WHERE enhancement = ? AND environment = "
		"? AND kind = 'migrate' AND outcome = 'migrated' AND NOT "
		"EXISTS (SELECT 1 FROM runs b WHERE b.enhancement = "
		"runs.enhancement AND b.environment = runs.environment AND "
		"b.kind = 'backout' AND b.outcome = 'rolled-back' AND b.id > "
		"runs.id)",
		"Is", enh, env);

	*out = row != NULL;
	json_decref(row);
	return ret;
}

int ns_lifecycle_model_run(struct ns_registry *r, long long enh, int rev,
			   const char *system, json_t **out)
{
	char *model = xprintf("%s/model", system);
	int ret = ns_registry_query_row(
		r, out,
		"SELECT runs.id, t.payload_sha256, runs.duration_ms FROM runs "
		"JOIN triggers t ON t.id = runs.trigger WHERE "
		"runs.enhancement = ? AND runs.revision = ? AND "
		"runs.environment = ? AND runs.kind = 'migrate' AND "
		"runs.outcome = 'migrated' ORDER BY runs.id DESC LIMIT 1",
		"Iis", enh, rev, model);

	free(model);
	return ret;
}

/* ---- telling people ---------------------------------------------------- */

static int tell(const struct ns_config *c, json_t *row, const char *event,
		const char **roles, const char *env, const char *subject,
		const char *body)
{
	char id[32];
	struct ns_notice n = { event,
			       roles,
			       ns_row_str(row, "author"),
			       ns_row_str(row, "system"),
			       id,
			       env,
			       subject,
			       body,
			       0 };

	snprintf(id, sizeof(id), "ENH-%lld",
		 (long long)json_integer_value(json_object_get(row, "id")));
	n.revision = (int)json_integer_value(json_object_get(row, "revision"));
	return ns_notify(c, &n, NULL);
}

/* ---- sign-offs ---------------------------------------------------------- */

static int add_approval(struct ns_registry *r, long long enh, int rev,
			const char *kind, const char *env, const char *actor)
{
	char at[NS_TIME_LEN];

	ns_time_iso(at, ns_now());
	return ns_registry_exec(r,
				"INSERT INTO approvals(enhancement, revision, "
				"kind, environment, actor, at) VALUES (?, ?, "
				"?, ?, ?, ?)",
				"Iissss", enh, rev, kind, env, actor, at);
}

static const char *roles_qa_ok[] = { DEV, CM, NULL };
static const char *roles_back[] = { DEV, CM, NULL };

int ns_lifecycle_qa(const struct ns_config *c, struct ns_registry *r,
		    long long enh, int approve, const char *reason,
		    const char *actor)
{
	const char *verb = approve ? "qa-approve" : "qa-reject";
	char *subject = NULL, *body = NULL;
	json_t *row = NULL;
	int ret, rev;

	if ((ret = may(&row, c, r, enh, verb, actor, NULL)) < 0)
		goto done;
	rev = (int)json_integer_value(json_object_get(row, "revision"));
	if ((ret = ns_registry_begin(r)) < 0)
		goto done;
	if (approve)
		ret = add_approval(r, enh, rev, "qa", NULL, actor);
	if (!ret)
		ret = ns_lifecycle_move(r, enh, verb, actor, NULL,
					approve ? "QA approved" : reason);
	if (!ret)
		ret = ns_registry_commit(r);
	else
		ns_registry_rollback(r);
	if (ret < 0)
		goto done;
	subject = xprintf("ENH-%lld r%d %s: %s", enh, rev,
			  approve ? "QA-approved" : "returned by QA",
			  ns_row_str(row, "title"));
	body = approve ? xprintf("ENH-%lld r%d was approved by QA (%s).\n"
				 "Change management can schedule it.\n\n"
				 "nightshift status ENH-%lld\n",
				 enh, rev, actor, enh)
		       : xprintf("ENH-%lld r%d was returned by QA (%s):\n"
				 "  %s\n\nCorrect it and hand in a new "
				 "revision: nightshift resubmit ENH-%lld "
				 "PATH\n",
				 enh, rev, actor, reason, enh);
	ret = tell(c, row, approve ? "qa-approved" : "returned",
		   approve ? roles_qa_ok : roles_back, NULL, subject, body);
done:
	free(subject);
	free(body);
	json_decref(row);
	return ret;
}

static const char *roles_accepted[] = { DEV, "qa", CM, NULL };

int ns_lifecycle_accept(const struct ns_config *c, struct ns_registry *r,
			long long enh, const char *env, const char *actor,
			int *have, int *need)
{
	char *subject = NULL, *body = NULL;
	json_t *row = NULL, *acc = NULL;
	int ret, rev;

	*have = 0;
	*need = c->acceptances;
	if ((ret = may(&row, c, r, enh, "accept", actor, env)) < 0)
		goto done;
	rev = (int)json_integer_value(json_object_get(row, "revision"));
	if ((ret = ns_registry_begin(r)) < 0)
		goto done;
	ret = add_approval(r, enh, rev, "acceptance", env, actor);
	if (!ret)
		ret = signers(r, enh, rev, "acceptance", &acc);
	if (!ret)
		*have = (int)json_array_size(acc);
	if (!ret && *have >= *need)
		ret = ns_lifecycle_move(r, enh, "accept", actor, env,
					"accepted");
	else if (!ret)
		ret = ns_registry_event(r, actor, enh, rev, env, "signed-off",
					"acceptance");
	if (!ret)
		ret = ns_registry_commit(r);
	else
		ns_registry_rollback(r);
	if (ret < 0 || *have < *need)
		goto done;
	subject = xprintf("ENH-%lld r%d accepted in %s: %s", enh, rev, env,
			  ns_row_str(row, "title"));
	body = xprintf("ENH-%lld r%d passed its acceptance test in %s "
		       "(%d sign-off%s, the last by %s).\nChange management "
		       "can promote it: nightshift promote ENH-%lld\n",
		       enh, rev, env, *have, *have == 1 ? "" : "s", actor, enh);
	ret = tell(c, row, "accepted", roles_accepted, env, subject, body);
done:
	free(subject);
	free(body);
	json_decref(acc);
	json_decref(row);
	return ret;
}

int ns_lifecycle_mark_withdrawn(struct ns_registry *r, long long enh,
				json_t *rows, const char *actor,
				const char *why, const char *due_instead)
{
	json_t *x;
	size_t i;
	int ret = 0;

	json_array_foreach(rows, i, x)
	{
		char *detail = due_instead ? xprintf("scheduled again: due %s "
						     "instead of %s",
						     due_instead,
						     ns_row_str(x, "due_at"))
					   : xstrdup(why);
		if (!ret)
			ret = ns_registry_exec(
				r,
				"UPDATE triggers SET state = "
				"'withdrawn' WHERE id = ? AND state = "
				"'pending'",
				"I",
				json_integer_value(json_object_get(x, "id")));
		if (!ret)
			ret = ns_registry_event(
				r, actor, enh,
				(int)json_integer_value(
					json_object_get(x, "revision")),
				ns_row_str(x, "environment"),
				"trigger-withdrawn", detail);
		free(detail);
	}
	return ret;
}

int ns_lifecycle_withdraw_triggers(struct ns_registry *r, long long enh,
				   const char *actor, const char *why)
{
	json_t *rows = NULL, *x;
	size_t i;
	int ret = ns_registry_query(r, &rows,
				    "SELECT id, path, revision, environment, "
				    "due_at FROM triggers WHERE enhancement = "
				    "? AND state = 'pending'",
				    "I", enh);

	if (!ret)
		ret = ns_lifecycle_mark_withdrawn(r, enh, rows, actor, why,
						  NULL);
	/* the files go once the registry says so; a file left behind by a
	 * crash here is refused by window run (not pending) */
	json_array_foreach(rows, i, x) if (!ret) unlink(ns_row_str(x, "path"));
	json_decref(rows);
	return ret;
}

int ns_lifecycle_withdraw(const struct ns_config *c, struct ns_registry *r,
			  long long enh, const char *reason, const char *actor)
{
	static const char *roles[] = { DEV, "qa", CM, NULL };
	char *subject = NULL, *body = NULL;
	json_t *row = NULL;
	int ret;

	if ((ret = may(&row, c, r, enh, "withdraw", actor, NULL)) < 0)
		goto done;
	if ((ret = ns_registry_begin(r)) < 0)
		goto done;
	ret = ns_lifecycle_withdraw_triggers(r, enh, actor, reason);
	if (!ret)
		ret = ns_lifecycle_move(r, enh, "withdraw", actor, NULL,
					reason);
	if (!ret)
		ret = ns_registry_commit(r);
	else
		ns_registry_rollback(r);
	if (ret < 0)
		goto done;
	subject = xprintf("ENH-%lld withdrawn: %s", enh,
			  ns_row_str(row, "title"));
	body = xprintf("ENH-%lld was withdrawn by %s:\n  %s\n", enh, actor,
		       reason);
	ret = tell(c, row, "withdrawn", roles, NULL, subject, body);
done:
	free(subject);
	free(body);
	json_decref(row);
	return ret;
}

/* ---- warranty ----------------------------------------------------------- */

int ns_lifecycle_warranty(const struct ns_config *c, struct ns_registry *r,
			  const char *actor, json_t **done)
{
	static const char *roles[] = { DEV, CM, "users", NULL };
	char now[NS_TIME_LEN];
	json_t *rows = NULL, *x, *list = json_array();
	size_t i;
	int ret;

	ns_time_iso(now, ns_now());
	ret = ns_registry_query(r, &rows,
				"SELECT id, revision, environment, "
				"warranty_until FROM enhancements WHERE state "
				"= 'WP' AND warranty_until <= ? ORDER BY id",
				"s", now);
	json_array_foreach(rows, i, x)
	{
		long long enh = json_integer_value(json_object_get(x, "id"));
		const char *env = ns_row_str(x, "environment");
		json_t *row = NULL;
		char *subject, *body;

		if (ret < 0)
			break;
		if ((ret = ns_registry_begin(r)) < 0)
			break;
		ret = ns_lifecycle_move(r, enh, "warranty-end", actor, env,
					ns_row_str(x, "warranty_until"));
		if (!ret)
			ret = ns_registry_commit(r);
		else
			ns_registry_rollback(r);
		if (!ret)
			ret = load(r, enh, &row);
		if (ret < 0)
			break;
		subject = xprintf("ENH-%lld complete (CP) in %s: %s", enh, env,
				  ns_row_str(row, "title"));
		body = xprintf("ENH-%lld r%lld ended its warranty in %s on %s "
			       "and is complete (CP).\nIts archives may now "
			       "be removed.\n",
			       enh,
			       (long long)json_integer_value(
				       json_object_get(x, "revision")),
			       env, ns_row_str(x, "warranty_until"));
		ret = tell(c, row, "complete", roles, env, subject, body);
		json_array_append(list, x);
		free(subject);
		free(body);
		json_decref(row);
	}
	json_decref(rows);
	if (done && !ret)
		*done = list;
	else
		json_decref(list);
	return ret;
}

/* ---- requests for service ------------------------------------------------ */

static int rfs_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (!n || n > 64)
		return 0;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		      *p == '.'))
			return 0;
	return 1;
}

int ns_rfs_add(const struct ns_config *c, struct ns_registry *r, const char *id,
	       const char *title, const char **scope, size_t scope_nr,
	       const char *actor)
{
	char at[NS_TIME_LEN], *text;
	json_t *list = json_array(), *have = NULL;
	int ret;

	if (!rfs_id_ok(id)) {
		ns_error_set("rfs add: '%s' is not an RFS id (letters, digits, "
			     "'-', '_', '.'; at most 64)",
			     id);
		json_decref(list);
		return NS_EUSAGE;
	}
	for (size_t i = 0; i < scope_nr; i++) {
		if (!*scope[i] || scope[i][0] == '/' ||
		    (!strncmp(scope[i], "db:", 3) && !scope[i][3])) {
			ns_error_set("rfs add: --scope '%s': expected a path "
				     "glob below the root (lib/**) or db:NAME",
				     scope[i]);
			json_decref(list);
			return NS_EUSAGE;
		}
		json_array_append_new(list, json_string(scope[i]));
	}
	if ((ret = ns_lifecycle_role(c, CM, actor, "rfs add")) < 0 ||
	    (ret = ns_rfs_get(r, id, &have)) < 0)
		goto done;
	if (have) {
		ns_error_set("rfs add: %s is already registered (%s)", id,
			     ns_row_str(have, "title"));
		ret = NS_EFAILED;
		goto done;
	}
	ns_time_iso(at, ns_now());
	text = json_dumps(list, JSON_COMPACT);
	ret = ns_registry_begin(r);
	if (!ret)
		ret = ns_registry_exec(r,
				       "INSERT INTO rfs(id, title, scope, "
				       "created_by, created_at) VALUES (?, ?, "
				       "?, ?, ?)",
				       "sssss", id, title, text, actor, at);
	if (!ret)
		ret = ns_registry_event(r, actor, 0, 0, NULL, "rfs-added", id);
	if (!ret)
		ret = ns_registry_commit(r);
	else
		ns_registry_rollback(r);
	free(text);
done:
	json_decref(have);
	json_decref(list);
	return ret;
}

int ns_rfs_get(struct ns_registry *r, const char *id, json_t **out)
{
	json_t *scope;
	int ret = ns_registry_query_row(r, out,
					"SELECT id, title, scope, created_by, "
					"created_at FROM rfs WHERE id = ?",
					"s", id);

	if (ret < 0 || !*out)
		return ret;
	scope = json_loads(ns_row_str(*out, "scope"), 0, NULL);
	json_object_set_new(*out, "scope", scope ? scope : json_array());
	return 0;
}
