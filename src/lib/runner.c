#include "runner.h"
#include "analysis.h"
#include "error.h"
#include "fsx.h"
#include "gitsrc.h"
#include "journal.h"
#include "lifecycle.h"
#include "migrate.h"
#include "notify.h"
#include "prune.h"
#include "strbuf.h"
#include "timefmt.h"
#include "trigger.h"
#include "window.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ns_runner_tell(struct ns_runner *r, int bad, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	void (*fn)(void *, const char *) = bad && r->warn ? r->warn : r->say;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (fn)
		fn(r->data, sb.buf);
	strbuf_release(&sb);
}

/* a line for the operator; warn: when the news is bad */
#define say(r, ...)  ns_runner_tell(r, 0, __VA_ARGS__)
#define warn(r, ...) ns_runner_tell(r, 1, __VA_ARGS__)

static int rank(int code)
{
	switch (code) {
	case 0:
		return 0;
	case NS_EFAILED:
	case NS_EDRIFT:
		return 1;
	case NS_EINVALID:
		return 2;
	case NS_ELOCKED:
		return 3;
	default:
		return 4;
	}
}

static void note(struct ns_runner *r, int code)
{
	if (rank(code) > rank(r->worst))
		r->worst = code;
}

char *ns_env_dir(const char *base, const struct ns_env *e)
{
	return xprintf("%s/%s/%s", base, e->system, e->kind);
}

/* ---- notices ---------------------------------------------------------- */

static const char *roles_migrated[] = { "developer", "qa", "users", NULL };
static const char *roles_rolled[] = { "developer", "qa", "change-management",
				      NULL };
static const char *roles_refused[] = { "developer", "change-management", NULL };
static const char *roles_blocked[] = { "technical-support",
				       "change-management",
				       "dba",
				       "developer",
				       "users",
				       NULL };
static const char *roles_none[] = { "dba", "change-management", NULL };
static const char *roles_backout[] = { "developer", "qa", "change-management",
				       "users", NULL };
static const char *roles_requeued[] = { "technical-support",
					"change-management", "dba", NULL };
static const char *roles_later[] = { "change-management", "developer", NULL };

static void tell(struct ns_runner *r, const char *event, const char **roles,
		 long long enh, const char *env, const char *subject,
		 const char *body)
{
	json_t *row = NULL;
	char id[32];
	struct ns_notice n = { event, roles,   NULL, NULL, NULL,
			       env,   subject, body, 0 };

	snprintf(id, sizeof(id), "ENH-%lld", enh);
	if (enh) {
		ns_registry_query_row(r->reg, &row,
				      "SELECT author, system, revision FROM "
				      "enhancements "
				      "WHERE id = ?",
				      "I", enh);
		n.enhancement = id;
	}
	if (row) {
		n.author = json_string_value(json_object_get(row, "author"));
		n.system = json_string_value(json_object_get(row, "system"));
		n.revision = (int)json_integer_value(
			json_object_get(row, "revision"));
	}
	if (ns_notify(r->cfg, &n, NULL) < 0) {
		warn(r, "notice not written: %s", ns_error_last());
		note(r, NS_ERROR);
	}
	json_decref(row);
}

/* ---- recording outcomes ------------------------------------------------ */

static const char *outcome_word(enum ns_outcome_kind k)
{
	static const char *const w[] = { "migrated", "refused", "rolled-back",
					 "blocked" };
	return w[k];
}

static const char *verb_for(enum ns_outcome_kind k, int backout)
{
	if (backout)
		return k == NS_OUT_BLOCKED ? NULL : "back-out";
	switch (k) {
	case NS_OUT_MIGRATED:
		return "migrated";
	case NS_OUT_REFUSED:
		return "refuse";
	case NS_OUT_ROLLED_BACK:
		return "roll-back";
	default:
		return "rollback-failed";
	}
}

static int block_env(struct ns_runner *r, const char *env, const char *why)
{
	char at[NS_TIME_LEN];

	ns_time_iso(at, ns_now());
	return ns_registry_exec(r->reg,
				"INSERT INTO environments(name, blocked, "
				"reason, since) VALUES (?, 1, ?, ?) ON "
				"CONFLICT(name) DO UPDATE SET blocked = 1, "
				"reason = excluded.reason, since = "
				"excluded.since",
				"sss", env, why, at);
}

struct verdict {
	long long enh, run, trigger;
	int rev, backout;
	int requeue; /* the environment failed: it stays scheduled */
	const char *env;
	const char *verb; /* of a backout: "back-out" (NULL) or "reject" */
	enum ns_outcome_kind kind;
	const char *message;
	long long ms;
	int undecided; /* blocked, left to recovery (ns_outcome) */
};

static int record(struct ns_runner *r, const struct verdict *v)
{
	char at[NS_TIME_LEN];
	/* a backout refused changed nothing: the enhancement stays; a run
	 * left to recovery stays migrating until recovery records it */
	const char *verb = v->undecided				     ? NULL
			   : v->requeue				     ? "requeue"
			   : v->backout && v->kind == NS_OUT_REFUSED ? NULL
			   : v->backout && v->verb && v->kind != NS_OUT_BLOCKED
				   ? v->verb
				   : verb_for(v->kind, v->backout);
	const struct ns_env *e = ns_config_env(r->cfg, v->env);
	char until[NS_TIME_LEN];
	const char *tstate = v->requeue			  ? "pending"
			     : v->kind == NS_OUT_MIGRATED ? "done"
			     : v->kind == NS_OUT_REFUSED  ? "refused"
							  : "failed";
	int ret;

	ns_time_iso(at, ns_now());
	if ((ret = ns_registry_begin(r->reg)) < 0)
		return ret;
	/* a run left to recovery is, to the registry, still going */
	if (v->run && !v->undecided)
		ret = ns_registry_exec(r->reg,
				       "UPDATE runs SET finished_at = ?, "
				       "outcome = ?, message = ?, duration_ms "
				       "= ? WHERE id = ?",
				       "sssII", at, outcome_word(v->kind),
				       v->message, v->ms, v->run);
	if (!ret && v->trigger && !v->backout && !v->undecided)
		ret = ns_registry_exec(r->reg,
				       "UPDATE triggers SET state = ? WHERE "
				       "id = ?",
				       "sI", tstate, v->trigger);
	if (!ret && verb)
		ret = ns_lifecycle_move(r->reg, v->enh, verb, r->user, v->env,
					v->message);
	/* a backed-out run was not the run anyone accepted: its acceptance
	 * sign-offs go with it */
	if (!ret && v->backout && v->kind == NS_OUT_ROLLED_BACK)
		ret = ns_registry_exec(r->reg,
				       "UPDATE approvals SET revoked_at = ?, "
				       "revoked_why = ? WHERE enhancement = ? "
				       "AND kind = 'acceptance' AND revoked_at "
				       "IS NULL",
				       "ssI", at, "the run was backed out",
				       v->enh);
	/* production: the warranty starts */
	if (!ret && e && !strcmp(e->kind, "production") && !v->backout &&
	    !v->requeue && v->kind == NS_OUT_MIGRATED) {
		ns_time_iso(until, ns_now() + (time_t)e->warranty_s);
		ret = ns_registry_exec(r->reg,
				       "UPDATE enhancements SET "
				       "warranty_until = ? WHERE id = ?",
				       "sI", until, v->enh);
	}
	if (!ret && v->backout && v->kind == NS_OUT_REFUSED)
		ret = ns_registry_event(r->reg, r->user, v->enh, v->rev, v->env,
					"back-out-refused", v->message);
	if (!ret && v->kind == NS_OUT_BLOCKED)
		ret = block_env(r, v->env, v->message);
	if (!ret && v->kind == NS_OUT_BLOCKED)
		ret = ns_registry_event(r->reg, r->user, v->enh, v->rev, v->env,
					"environment-blocked", v->message);
	if (!ret)
		ret = ns_registry_commit(r->reg);
	else
		ns_registry_rollback(r->reg);
	return ret;
}

static void announce(struct ns_runner *r, const struct verdict *v,
		     const char *title)
{
	struct strbuf subj = STRBUF_INIT, body = STRBUF_INIT;
	const char **roles;
	const char *event;

	/* a backout refused changed nothing; the one who asked is told by
	 * the command itself */
	if (v->backout && v->kind == NS_OUT_REFUSED)
		return;
	if (v->requeue) {
		event = "requeued";
		roles = roles_requeued;
	} else if (v->backout) {
		event = "backed-out";
		roles = roles_backout;
	} else {
		event = outcome_word(v->kind);
		roles = v->kind == NS_OUT_MIGRATED	? roles_migrated
			: v->kind == NS_OUT_REFUSED	? roles_refused
			: v->kind == NS_OUT_ROLLED_BACK ? roles_rolled
							: roles_blocked;
	}
	if (v->kind == NS_OUT_BLOCKED && !v->undecided)
		event = "rollback-failed";
	else if (v->kind == NS_OUT_BLOCKED)
		event = "environment-blocked";
	const struct ns_env *e = ns_config_env(r->cfg, v->env);
	int live = e && !strcmp(e->kind, "production") && !v->backout &&
		   !v->requeue && v->kind == NS_OUT_MIGRATED;

	strbuf_addf(
		&subj, "ENH-%lld r%d %s %s", v->enh, v->rev,
		v->requeue ? "NOT migrated (a fault of the environment), "
			     "stays scheduled for"
		: v->kind == NS_OUT_MIGRATED && !v->backout ? "migrated into"
		: v->backout && v->kind != NS_OUT_BLOCKED   ? "backed out of"
		: v->kind == NS_OUT_REFUSED		    ? "refused for"
		: v->kind == NS_OUT_ROLLED_BACK		    ? "rolled back in"
		: v->undecided ? "NOT FINISHED (the database did not answer) in"
			       : "ROLLBACK FAILED in",
		v->env);
	strbuf_addf(&body,
		    "Enhancement: ENH-%lld r%d  %s\nEnvironment: %s\n"
		    "Outcome:     %s\nDetail:      %s\n\n"
		    "The whole record: nightshift status ENH-%lld; the trail: "
		    "nightshift log ENH-%lld\n",
		    v->enh, v->rev, title ? title : "", v->env,
		    v->backout && v->kind == NS_OUT_ROLLED_BACK
			    ? "backed out"
			    : outcome_word(v->kind),
		    v->message, v->enh, v->enh);
	if (live) {
		strbuf_addstr(&subj, ": available for production use");
		strbuf_addf(&body,
			    "\n%s is available for production use with this "
			    "change. It is under warranty (WP) for %s; a "
			    "defect found in that time can back it out: "
			    "nightshift rollback ENH-%lld --env %s --reason "
			    "...\n",
			    v->env, e->warranty ? e->warranty : "30d", v->enh,
			    v->env);
	}
	if (v->backout && v->verb && !strcmp(v->verb, "reject") &&
	    v->kind == NS_OUT_ROLLED_BACK)
		strbuf_addf(&body,
			    "\nThe acceptance test rejected it; the model is "
			    "as it was before. Correct it and hand in a new "
			    "revision: nightshift resubmit ENH-%lld PATH\n",
			    v->enh);
	if (v->requeue)
		strbuf_addf(&body,
			    "\nThe site is as it was before. The fault is the "
			    "environment's, not the enhancement's: it stays "
			    "scheduled and runs again at the next window of "
			    "%s, once the fault is repaired.\n",
			    v->env);
	if (v->undecided)
		strbuf_addf(&body,
			    "\nThe environment is BLOCKED: nothing more "
			    "migrates into %s. Once its database answers, "
			    "run `nightshift unblock --env %s --reason ...`, "
			    "then `nightshift recover --env %s`: it finishes "
			    "the run on whichever side of the commit point it "
			    "is, and tells the outcome.\n",
			    v->env, v->env, v->env);
	else if (v->kind == NS_OUT_BLOCKED)
		strbuf_addf(&body,
			    "\nThe environment is BLOCKED: nothing more "
			    "migrates into %s until a person has repaired "
			    "it and run `nightshift unblock --env %s "
			    "--reason ...`. Where the rollback failed for a "
			    "cause now mended (a full disk, a database that "
			    "was down), mending the cause is enough: unblock "
			    "first rolls the site back again from its "
			    "archive.\n",
			    v->env, v->env);
	tell(r, event, roles, v->enh, v->env, subj.buf, body.buf);
	strbuf_release(&subj);
	strbuf_release(&body);
}

static int record_site(struct ns_runner *r, long long run,
		       const struct ns_outcome *o)
{
	return ns_registry_exec(r->reg,
				"INSERT OR REPLACE INTO run_sites(run, site, "
				"rundir, outcome, message) VALUES (?, ?, ?, "
				"?, ?)",
				"Issss", run, o->site, o->rundir,
				outcome_word(o->kind), o->message);
}

/* the journals of a run, retired once the registry knows its outcome:
 * until then recovery can still tell the registry what happened */
struct retirees {
	struct {
		char *journal, *rundir;
		const char *as;
	} * v;
	size_t nr, alloc;
};

static void retire(struct retirees *l, struct ns_outcome *o, const char *as)
{
	if (!o->journal || o->kind == NS_OUT_BLOCKED || !o->rundir)
		return;
	ALLOC_GROW(l->v, l->nr, l->alloc);
	l->v[l->nr].journal = xstrdup(o->journal);
	l->v[l->nr].rundir = xstrdup(o->rundir);
	l->v[l->nr++].as = as;
}

/* with recorded 0 the registry missed the outcome: the journals stay for
 * recovery to report again */
static void retire_all(struct ns_runner *r, struct retirees *l, int recorded)
{
	for (size_t i = 0; i < l->nr; i++) {
		if (recorded &&
		    ns_journal_retire(l->v[i].journal, l->v[i].rundir,
				      l->v[i].as) < 0)
			warn(r, "%s (recovery will finish it)",
			     ns_error_last());
		free(l->v[i].journal);
		free(l->v[i].rundir);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* *fin: site could not be backed out (why) after the sites before it
 * were */
static void disagree(struct ns_outcome *fin, const char *site, const char *why,
		     const char *verb, long long enh, const struct ns_env *e)
{
	fin->kind = NS_OUT_BLOCKED;
	free(fin->message);
	fin->message =
		xprintf("site %s could not be backed out (%s) after the "
			"sites before it were: the environment's sites "
			"disagree; once the cause is mended and the "
			"environment unblocked, `nightshift %s ENH-%lld "
			"--env %s --reason ...` backs out the sites "
			"left",
			site, why, verb ? verb : "rollback", enh, e->name);
}

/* the sites backed out by the backout run, after the sites of it backed
 * out already (before; recovery finishing an interrupted one): all of
 * them, or none when one is refused by the check */
static int backout_all(struct ns_runner *r, const struct ns_env *e,
		       long long enh, const char *verb, json_t *sites,
		       long long run, const char *reason, size_t before,
		       struct ns_outcome *fin, struct retirees *l)
{
	char *jdir = ns_env_dir(r->cfg->journal, e);
	json_t *s;
	size_t i, by_hand = 0;

	/* every site first: a backout refused for one (changed since, its
	 * database unreachable) changes none */
	json_array_foreach(sites, i, s)
	{
		const char *dir =
			json_string_value(json_object_get(s, "rundir"));
		int rc = ns_migrate_backout_check(dir, e);
		if (rc < 0 && before) {
			disagree(fin,
				 json_string_value(json_object_get(s, "site")),
				 ns_error_last(), verb, enh, e);
			free(jdir);
			return NS_ELOCKED;
		}
		if (rc < 0) {
			fin->kind = NS_OUT_REFUSED;
			fin->code = rc;
			fin->message = xprintf(
				"not backed out, nothing changed: site %s: %s",
				json_string_value(json_object_get(s, "site")),
				ns_error_last());
			free(jdir);
			return rc;
		}
	}
	fin->kind = NS_OUT_ROLLED_BACK;
	fin->message = xprintf("backed out: %s", reason);
	json_array_foreach(sites, i, s)
	{
		struct ns_outcome o = NS_OUTCOME_INIT;
		const char *dir =
			json_string_value(json_object_get(s, "rundir"));
		ns_migrate_backout(&o, dir, jdir, reason, 1, e);
		if (!o.site)
			o.site = xstrdup(
				json_string_value(json_object_get(s, "site")));
		record_site(r, run, &o);
		say(r, "%s: site %s: %s", e->name, o.site, o.message);
		fin->ms += o.ms;
		by_hand += o.by_hand;
		retire(l, &o, "journal-backout");
		if (o.kind != NS_OUT_ROLLED_BACK) {
			fin->kind = o.kind;
			fin->code = o.code;
			free(fin->message);
			fin->message = xstrdup(o.message);
			/* refused after others were backed out (it passed
			 * the check a moment ago): the sites disagree, and a
			 * person has to look */
			if (o.kind == NS_OUT_REFUSED && i + before > 0)
				disagree(fin, o.site, o.message, verb, enh, e);
			ns_outcome_release(&o);
			break;
		}
		ns_outcome_release(&o);
	}
	/* what a person had done already is part of the record */
	if (fin->kind == NS_OUT_ROLLED_BACK && by_hand) {
		free(fin->message);
		fin->message =
			xprintf("backed out: %s (%zu path%s a person "
				"had put back already)",
				reason, by_hand, by_hand == 1 ? "" : "s");
	}
	free(jdir);
	return fin->kind == NS_OUT_ROLLED_BACK ? 0
	       : fin->kind == NS_OUT_BLOCKED   ? NS_ELOCKED
					       : fin->code;
}

/* ---- recovery ------------------------------------------------------------ */

/* the sites of the migration run, last first, that no backout of it
 * has backed out yet */
static int sites_to_back_out(struct ns_runner *r, long long run, json_t **sites)
{
	return ns_registry_query(
		r->reg, sites,
		"SELECT site, rundir FROM run_sites s WHERE run = ? AND NOT "
		"EXISTS (SELECT 1 FROM run_sites b JOIN runs k ON k.id = b.run "
		"WHERE b.run > s.run AND b.site = s.site AND b.rundir = "
		"s.rundir AND k.kind = 'backout' AND b.outcome = "
		"'rolled-back') ORDER BY rowid DESC",
		"I", run);
}

/* a run killed before its site had a row gets one, naming its archive:
 * the registry then knows the archive of every run (archive prune) */
static int recovered_site(struct ns_runner *r, const struct ns_env *e,
			  const struct verdict *v, const struct ns_outcome *o)
{
	const struct ns_site *s = NULL;
	const char *label;

	if (!o->rundir)
		return 0;
	if (!o->site || !*o->site) {
		/* no plan was read: ARCHIVE/.../TOKEN/LABEL names the site */
		label = strrchr(o->rundir, '/');
		s = ns_env_site(e, label ? label + 1 : o->rundir);
		if (!s)
			return 0;
	}
	return ns_registry_exec(r->reg,
				"INSERT OR IGNORE INTO run_sites(run, site, "
				"rundir, outcome, message) VALUES (?, ?, ?, ?, "
				"?)",
				"Issss", v->run, s ? s->name : o->site,
				o->rundir, outcome_word(o->kind), o->message);
}

static int record_recovered(struct ns_runner *r, const struct ns_env *e,
			    const struct ns_outcome *o, int backout)
{
	struct verdict v = { 0 };
	json_t *run = NULL, *enh = NULL;
	int ret;

	/* A backout journal here is a migration run's own backing out of
	 * its sites (a rollback's are recover_backout's): its site's row
	 * says what became of the site, and recover_run records the run.
	 * One that had not begun changed nothing: the row stands. */
	if (backout && o->kind == NS_OUT_REFUSED)
		return 0;
	ret = ns_registry_query_row(r->reg, &run,
				    "SELECT id, trigger, enhancement, revision"
				    " FROM runs WHERE token = ?",
				    "s", o->token);
	if (!ret && !run) {
		say(r, "%s: recovered %s, which the registry does not know",
		    e->name, o->token);
		return 0;
	}
	if (ret < 0)
		return ret;
	v.run = json_integer_value(json_object_get(run, "id"));
	v.trigger = json_integer_value(json_object_get(run, "trigger"));
	v.enh = json_integer_value(json_object_get(run, "enhancement"));
	v.rev = (int)json_integer_value(json_object_get(run, "revision"));
	v.env = e->name;
	v.kind = o->kind;
	v.message = o->message;
	v.ms = o->ms;
	json_decref(run);
	ret = recovered_site(r, e, &v, o);
	if (!ret)
		ret = ns_registry_exec(r->reg,
				       "UPDATE run_sites SET outcome = ?, "
				       "message = ? WHERE run = ? AND site = ?",
				       "ssIs", outcome_word(o->kind),
				       o->message, v.run, o->site);
	/* the lifecycle moves only if the registry still thinks it runs */
	if (!ret && !backout)
		ret = ns_registry_query_row(r->reg, &enh,
					    "SELECT title FROM enhancements "
					    "WHERE id = ? AND state = "
					    "'migrating'",
					    "I", v.enh);
	if (!ret && enh) {
		ret = record(r, &v);
		/* a migration that recovery carried through gets its tag */
		if (!ret && o->kind == NS_OUT_MIGRATED)
			ns_gitsrc_after_migration(r, v.enh, v.rev, e->name,
						  v.run);
		announce(r, &v,
			 json_string_value(json_object_get(enh, "title")));
	} else if (!ret && o->kind == NS_OUT_BLOCKED) {
		ret = block_env(r, e->name, o->message);
	}
	json_decref(enh);
	return ret;
}

/* what recovery did with the journal jpath (o), told and in the trail */
static int tell_recovered(struct ns_runner *r, const struct ns_env *e,
			  const char *jpath, const struct ns_outcome *o)
{
	ns_runner_tell(r, o->kind == NS_OUT_BLOCKED,
		       "%s: recovered %s (%s): %s", e->name,
		       o->token ? o->token : jpath, outcome_word(o->kind),
		       o->message);
	note(r, o->kind == NS_OUT_BLOCKED ? NS_ELOCKED : 0);
	if (!o->token)
		return NS_ELOCKED;
	return ns_registry_event(r->reg, r->user, 0, 0, e->name, "recovered",
				 o->message);
}

/* ... told and recorded; the journal retired unless the site is blocked */
static int report_recovered(struct ns_runner *r, const struct ns_env *e,
			    const char *jpath, const struct ns_outcome *o,
			    int backout)
{
	int ret = tell_recovered(r, e, jpath, o);

	if (!ret)
		ret = record_recovered(r, e, o, backout);
	if (!ret && o->kind != NS_OUT_BLOCKED && o->rundir)
		ret = ns_journal_retire(jpath, o->rundir,
					backout ? "journal-backout"
						: "journal");
	return ret;
}

/* kind: what became of the site */
static int recover_one(struct ns_runner *r, const struct ns_env *e,
		       const char *jpath, enum ns_outcome_kind *kind)
{
	struct ns_outcome o = NS_OUTCOME_INIT;
	int ret;

	ns_migrate_recover(&o, jpath, e);
	ret = report_recovered(r, e, jpath, &o, ns_journal_is_backout(jpath));
	*kind = o.kind;
	ns_outcome_release(&o);
	return ret;
}

/* the length of "DIR/TOKEN" in a journal's path DIR/TOKEN.SITE.jnl (a
 * token has no dot: ENH-n-rK-RUN) */
static size_t token_end(const char *jpath)
{
	const char *base = strrchr(jpath, '/');

	base = base ? base + 1 : jpath;
	return (size_t)(base - jpath) + strcspn(base, ".");
}

/* DIR/TOKEN.SITE.backout.jnl backs out the site of DIR/TOKEN.SITE.jnl */
static int same_site(const char *jpath, const char *backout)
{
	size_t n = strlen(jpath) - strlen(".jnl");

	return strlen(backout) == n + strlen(NS_JOURNAL_BACKOUT) &&
	       !strncmp(jpath, backout, n);
}

/* jpath is the site's journal DIR/TOKEN.LABEL.jnl, or its backing out
 * DIR/TOKEN.LABEL.backout.jnl */
static int journal_of(const char *jpath, const char *label)
{
	const char *p = jpath + token_end(jpath) + 1;
	size_t n = strlen(label);

	return !strncmp(p, label, n) &&
	       (!strcmp(p + n, ".jnl") || !strcmp(p + n, NS_JOURNAL_BACKOUT));
}

/* *yes: the registry has the run token and no outcome for it yet */
static int unfinished(struct ns_runner *r, const char *token, int *yes)
{
	json_t *row = NULL;
	int ret =
		ns_registry_query_row(r->reg, &row,
				      "SELECT 1 AS x FROM runs WHERE token = ? "
				      "AND outcome IS NULL",
				      "s", token);

	*yes = ret == 0 && row != NULL;
	json_decref(row);
	return ret;
}

/* the end of the journals list[i..) of one token (the list is sorted) */
static size_t same_token(char **list, size_t nr, size_t i)
{
	size_t key = token_end(list[i]), j = i + 1;

	while (j < nr && token_end(list[j]) == key &&
	       !strncmp(list[i], list[j], key))
		j++;
	return j;
}

/* *mig: the migration run of the journal jpath, if the registry has
 * recorded it as migrated */
static int migration_of(struct ns_runner *r, const char *jpath, json_t **mig)
{
	const char *base = strrchr(jpath, '/');
	char *token;
	int ret;

	base = base ? base + 1 : jpath;
	token = xstrndup(base, strcspn(base, "."));
	ret = ns_registry_query_row(r->reg, mig,
				    "SELECT id, enhancement FROM runs WHERE "
				    "token = ? AND kind = 'migrate' AND "
				    "outcome = 'migrated'",
				    "s", token);
	free(token);
	return ret;
}

/* the migration journals list[0..n) of one run (one token), after the
 * backout journals (backed_out, nb) were recovered: each site recovered,
 * and if some ended migrated and others not, the migrated ones backed out
 * again, as the run itself does (migrate_sites): the sites of a run are
 * all as before or all as after, a crash or not. The sites that failed
 * are recorded first: the run's verdict is theirs. */
static int recover_run(struct ns_runner *r, const struct ns_env *e, char **list,
		       size_t n, char **backed_out, size_t nb)
{
	struct ns_outcome *o = xcalloc(n, sizeof(*o)),
			  *b = xcalloc(n, sizeof(*b));
	char *jdir = ns_env_dir(r->cfg->journal, e), *why = NULL;
	int blocked = 0, open = 0, ret = 0;
	size_t i, k;

	for (i = 0; i < n; i++) {
		ns_migrate_recover(&o[i], list[i], e);
		for (k = 0; k < nb; k++) /* backed out before the crash */
			if (o[i].kind == NS_OUT_MIGRATED &&
			    same_site(list[i], backed_out[k]))
				o[i].kind = NS_OUT_ROLLED_BACK;
		if (o[i].kind != NS_OUT_MIGRATED && !why)
			why = xprintf("site %s of the same run was not "
				      "migrated: %s",
				      o[i].site ? o[i].site : "?",
				      o[i].message);
		blocked |= o[i].kind == NS_OUT_BLOCKED;
	}
	/* a site of the environment with no journal, in a run the registry
	 * has not seen end: the run was killed before it began that site,
	 * which is as before (a journal is retired only once the run is
	 * recorded) */
	if (!why && n && o[0].token && !unfinished(r, o[0].token, &open))
		for (k = 0; k < e->sites_nr && open && !why; k++) {
			for (i = 0; i < n; i++)
				if (journal_of(list[i], e->sites[k].label))
					break;
			if (i == n)
				why = xprintf("site %s of the same run was not "
					      "begun before the run was "
					      "interrupted",
					      e->sites[k].name);
		}
	/* why: a site failed. The backouts before anything is recorded or
	 * retired: until their journals exist, the failed sites' journals
	 * are there to make a recovery interrupted here decide the same
	 * again */
	for (i = 0; i < n && why && !blocked; i++) {
		if (o[i].kind != NS_OUT_MIGRATED || !o[i].rundir)
			continue;
		ns_migrate_backout(&b[i], o[i].rundir, jdir, why, 0, e);
		if (!b[i].site)
			b[i].site = xstrdup(o[i].site);
		if (b[i].kind == NS_OUT_REFUSED) { /* they disagree */
			char *m = xprintf("%s; site %s could not be backed out "
					  "again: %s — the sites of the run "
					  "disagree",
					  why, b[i].site, b[i].message);
			free(b[i].message);
			b[i].message = m;
			b[i].kind = NS_OUT_BLOCKED;
		}
	}
	for (i = 0; i < n && !ret; i++)
		if (o[i].kind != NS_OUT_MIGRATED)
			ret = report_recovered(r, e, list[i], &o[i], 0);
	for (i = 0; i < n && !ret; i++) {
		if (o[i].kind != NS_OUT_MIGRATED)
			continue;
		if (!b[i].message) { /* not backed out */
			ret = report_recovered(r, e, list[i], &o[i], 0);
			continue;
		}
		ret = report_recovered(r, e, list[i], &b[i], 0);
		if (!ret && b[i].journal && b[i].kind != NS_OUT_BLOCKED)
			ret = ns_journal_retire(b[i].journal, b[i].rundir,
						"journal-backout");
	}
	for (i = 0; i < n; i++) {
		ns_outcome_release(&o[i]);
		ns_outcome_release(&b[i]);
	}
	free(b);
	free(o);
	free(why);
	free(jdir);
	return ret;
}

/* *rest: the sites of the migration run mig that the interrupted backout
 * whose journals were recovered (o[0..n)) had not backed out; a journal it
 * had begun without changing anything makes way for the backout again */
static int sites_not_reached(struct ns_runner *r, json_t *mig,
			     struct ns_outcome *o, size_t n, json_t **rest)
{
	json_t *sites = NULL, *s;
	size_t i, k;
	int ret = sites_to_back_out(
		r, json_integer_value(json_object_get(mig, "id")), &sites);

	*rest = json_array();
	json_array_foreach(sites, k, s)
	{
		const char *dir =
			json_string_value(json_object_get(s, "rundir"));
		for (i = 0;
		     i < n && !(o[i].rundir && !strcmp(o[i].rundir, dir)); i++)
			;
		if (i < n && o[i].kind == NS_OUT_ROLLED_BACK)
			continue;
		if (!ret && i < n && o[i].journal)
			ret = ns_journal_retire(o[i].journal, dir,
						"journal-backout");
		if (i < n) {
			free(o[i].journal);
			o[i].journal = NULL;
		}
		json_array_append(*rest, s);
	}
	json_decref(sites);
	return ret;
}

/* What an open backout run was asked, kept as its message until it has an
 * outcome, so that recovery finishes it as asked: "VERB: REASON", VERB
 * "back-out" (a rollback) or "reject" (the acceptance test refused). */
static char *backout_asked(const char *verb, const char *reason)
{
	return xprintf("%s: %s", verb ? verb : "back-out", reason);
}

/* the verb (NULL for back-out) and the reason of a message backout_asked
 * wrote; a run recorded without one was "interrupted" */
static void backout_asking(const char *asked, const char **verb,
			   const char **reason)
{
	const char *colon = asked ? strstr(asked, ": ") : NULL;

	*verb = colon && !strncmp(asked, "reject: ", 8) ? "reject" : NULL;
	*reason = colon ? colon + 2 : "interrupted";
}

/* The backout journals list[0..n) of the migration run mig (recorded as
 * migrated) whose backout — `rollback` or `reject`, a run of its own — was
 * interrupted. It ends as the backout itself would have, all or nothing:
 * if it had backed out no site, it changed nothing and is refused;
 * otherwise the sites it had not reached are backed out now. Only then is
 * it recorded, on its own run, and its journals retired. */
static int recover_backout(struct ns_runner *r, const struct ns_env *e,
			   char **list, size_t n, json_t *mig)
{
	struct ns_outcome *o = xcalloc(n, sizeof(*o)), fin = NS_OUTCOME_INIT;
	struct retirees l = { 0 };
	struct verdict v = { 0 };
	json_t *run = NULL, *rest = NULL, *title = NULL;
	const char *reason;
	size_t i, done = 0;
	int ret, rc;

	v.enh = json_integer_value(json_object_get(mig, "enhancement"));
	v.env = e->name;
	v.backout = 1;
	ret = ns_registry_query_row(r->reg, &run,
				    "SELECT id, revision, message FROM runs "
				    "WHERE environment = ? AND enhancement = "
				    "? AND kind = 'backout' AND outcome IS "
				    "NULL ORDER BY id DESC",
				    "sI", e->name, v.enh);
	for (i = 0; i < n; i++) {
		ns_migrate_recover(&o[i], list[i], e);
		done += o[i].kind == NS_OUT_ROLLED_BACK;
		fin.ms += o[i].ms;
		if (o[i].kind == NS_OUT_BLOCKED && !fin.message) {
			fin.kind = NS_OUT_BLOCKED;
			fin.message = xstrdup(o[i].message);
		}
	}
	/* a site whose journal was begun but not changed is told once, as
	 * the rest of the backout backs it out */
	for (i = 0; i < n; i++) {
		if (done && o[i].kind == NS_OUT_REFUSED)
			continue;
		rc = tell_recovered(r, e, list[i], &o[i]);
		ret = ret < 0 ? ret : rc;
	}
	if (ret < 0 || !run) {
		/* no backout run going: it was recorded before its journals
		 * were retired */
		for (i = 0; i < n; i++)
			retire(&l, &o[i], "journal-backout");
		retire_all(r, &l, ret == 0);
		goto out;
	}
	v.run = json_integer_value(json_object_get(run, "id"));
	v.rev = (int)json_integer_value(json_object_get(run, "revision"));
	backout_asking(json_string_value(json_object_get(run, "message")),
		       &v.verb, &reason);
	for (i = 0; i < n; i++)
		if (o[i].site && *o[i].site && o[i].rundir)
			record_site(r, v.run, &o[i]);
	if (!fin.message && !done) {
		fin.kind = NS_OUT_REFUSED;
		fin.message = xstrdup(o[0].message);
	} else if (!fin.message) {
		ret = sites_not_reached(r, mig, o, n, &rest);
		if (!ret)
			backout_all(r, e, v.enh, v.verb, rest, v.run, reason,
				    done, &fin, &l);
		if (fin.kind == NS_OUT_ROLLED_BACK) {
			free(fin.message);
			fin.message = xprintf("backed out: %s (an interrupted "
					      "backout, finished by recovery)",
					      reason);
		}
	}
	for (i = 0; i < n; i++)
		retire(&l, &o[i], "journal-backout");
	v.kind = fin.kind;
	v.message = fin.message;
	v.ms = fin.ms;
	/* not recorded: the journals stay for the next recovery */
	if (!ret)
		ret = record(r, &v);
	retire_all(r, &l, ret == 0);
	if (ret < 0)
		goto out;
	note(r, fin.kind == NS_OUT_BLOCKED ? NS_ELOCKED : 0);
	ns_runner_tell(r, fin.kind == NS_OUT_BLOCKED, "%s: ENH-%lld: %s",
		       e->name, v.enh, fin.message);
	ns_registry_query_row(r->reg, &title,
			      "SELECT title FROM enhancements WHERE id = ?",
			      "I", v.enh);
	announce(r, &v, json_string_value(json_object_get(title, "title")));
out:
	for (i = 0; i < n; i++)
		ns_outcome_release(&o[i]);
	ns_outcome_release(&fin);
	json_decref(run);
	json_decref(rest);
	json_decref(title);
	free(o);
	return ret;
}

/* Runs the registry still sees going, with no journal left: killed before
 * their journal existed, so nothing was written. The environment lock is
 * held and every journal has been recovered, so none of them is running. */
static int recover_orphans(struct ns_runner *r, const struct ns_env *e)
{
	json_t *rows = NULL, *x;
	size_t i;
	int ret = ns_registry_query(r->reg, &rows,
				    "SELECT id, token, kind, enhancement, "
				    "revision FROM runs WHERE environment = ? "
				    "AND outcome IS NULL AND token IS NOT NULL",
				    "s", e->name);

	json_array_foreach(rows, i, x)
	{
		struct ns_outcome o = NS_OUTCOME_INIT;
		const char *token =
			json_string_value(json_object_get(x, "token"));
		if (ret < 0)
			break;
		if (!strcmp(json_string_value(json_object_get(x, "kind")),
			    "backout")) {
			/* a backout that never started backed nothing out:
			 * refused, in the trail as such */
			struct verdict v = { 0 };
			v.run = json_integer_value(json_object_get(x, "id"));
			v.enh = json_integer_value(
				json_object_get(x, "enhancement"));
			v.rev = (int)json_integer_value(
				json_object_get(x, "revision"));
			v.env = e->name;
			v.backout = 1;
			v.kind = NS_OUT_REFUSED;
			v.message = "the backout was interrupted before it "
				    "changed anything";
			say(r, "%s: recovered %s: %s", e->name, token,
			    v.message);
			ret = record(r, &v);
			continue;
		}
		o.kind = NS_OUT_ROLLED_BACK;
		o.message = xstrdup("interrupted before anything was written");
		o.token = xstrdup(token);
		o.site = xstrdup("");
		say(r, "%s: recovered %s: %s", e->name, token, o.message);
		ret = record_recovered(r, e, &o, 0);
		ns_outcome_release(&o);
	}
	json_decref(rows);
	return ret;
}

static int recover_env(struct ns_runner *r, const struct ns_env *e)
{
	char *dir = ns_env_dir(r->cfg->journal, e);
	char *spool = ns_env_dir(r->cfg->spool, e);
	char **list = NULL, **backouts = NULL, **backed_out = NULL;
	size_t nr = 0, n_bo = 0, nb = 0, runs = 0;
	int ret = ns_fsx_sweep_tmp(r->cfg->outbox);

	if (!ret)
		ret = ns_fsx_sweep_tmp(spool);
	if (!ret)
		ret = ns_fsx_sweep_tmp(r->cfg->store);
	if (!ret)
		ret = ns_journal_list(&list, &nr, dir);

	/* the backouts first (a run's own backing out of its sites too),
	 * then the journals of each migration run together (sorted, one
	 * token's are next to each other) */
	backouts = xcalloc(nr + 1, sizeof(*backouts));
	backed_out = xcalloc(nr + 1, sizeof(*backed_out));
	for (size_t i = 0; i < nr; i++)
		if (ns_journal_is_backout(list[i]))
			backouts[n_bo++] = list[i];
		else
			list[runs++] = list[i];
	for (size_t i = 0, j; i < n_bo && !ret; i = j) {
		json_t *mig = NULL;

		j = same_token(backouts, n_bo, i);
		ret = migration_of(r, backouts[i], &mig);
		/* the migration recorded: a rollback or reject of it */
		if (!ret && mig)
			ret = recover_backout(r, e, backouts + i, j - i, mig);
		/* else the migration's run backing its own sites out */
		for (size_t k = i; k < j && !ret && !mig; k++) {
			enum ns_outcome_kind kind;
			ret = recover_one(r, e, backouts[k], &kind);
			if (kind == NS_OUT_ROLLED_BACK)
				backed_out[nb++] = backouts[k];
		}
		json_decref(mig);
	}
	for (size_t i = 0, j; i < runs && !ret; i = j) {
		j = same_token(list, runs, i);
		ret = recover_run(r, e, list + i, j - i, backed_out, nb);
	}
	if (!ret)
		ret = recover_orphans(r, e);
	for (size_t i = 0; i < runs; i++)
		free(list[i]);
	for (size_t i = 0; i < n_bo; i++)
		free(backouts[i]);
	free(backouts);
	free(backed_out);
	free(list);
	free(dir);
	free(spool);
	return ret;
}

/* ---- the environment lock -------------------------------------------- */

static int lock_env(struct ns_runner *r, const struct ns_env *e, int *fd)
{
	char *path =
		xprintf("%s/%s.%s.lock", r->cfg->locks, e->system, e->kind);
	char *what = xprintf("environment %s", e->name);
	json_t *row = NULL;
	int ret = ns_fsx_mkdir_p(r->cfg->locks, 0755);

	if (!ret)
		ret = ns_fsx_lock(fd, path, what);
	if (!ret)
		ret = ns_registry_query_row(r->reg, &row,
					    "SELECT reason, since FROM "
					    "environments WHERE name = ? AND "
					    "blocked = 1",
					    "s", e->name);
	if (!ret && row) {
		ns_error_set("environment %s is blocked since %s: %s — repair "
			     "it, then `nightshift unblock --env %s --reason "
			     "...`",
			     e->name,
			     json_string_value(json_object_get(row, "since")),
			     json_string_value(json_object_get(row, "reason")),
			     e->name);
		ret = NS_ELOCKED;
		close(*fd);
	}
	json_decref(row);
	free(path);
	free(what);
	return ret;
}

/* ---- running triggers ------------------------------------------------- */

struct due {
	json_t *row;
	long long id, enh;
	int rev;
	const char *path;
	struct ns_trigger t;
	int loaded, done, later; /* later: re-queued to the next opening */
};

/* what one environment's run knows of its calendar */
struct opening {
	struct ns_calendar *cal;
	time_t close;	     /* (time_t)-1: it does not close */
	int overridden_only; /* in a blackout: only overridden triggers */
};

/* a pending trigger whose blackout change management overrode when
 * scheduling it (the event `blackout-overridden` of its revision) */
#define OVERRIDDEN                                                             \
	"EXISTS (SELECT 1 FROM events v WHERE v.enhancement = "                \
	"triggers.enhancement AND v.revision = triggers.revision AND "         \
	"v.environment = triggers.environment AND v.event = "                  \
	"'blackout-overridden')"

static int refuse_trigger(struct ns_runner *r, const struct ns_env *e,
			  struct due *d, const char *why)
{
	struct verdict v = { d->enh,  0,    d->id,	    d->rev, 0, 0,
			     e->name, NULL, NS_OUT_REFUSED, why,    0, 0 };
	int ret = record(r, &v);

	warn(r, "%s: ENH-%lld r%d refused: %s", e->name, d->enh, d->rev, why);
	announce(r, &v, NULL);
	return ret;
}

/* production runs only the payload that passed the model */
static int accepted_model_payload(struct ns_runner *r, const struct ns_env *e,
				  const struct due *d)
{
	json_t *row = NULL;
	int ret =
		ns_lifecycle_model_run(r->reg, d->enh, d->rev, e->system, &row);

	if (!ret &&
	    (!row ||
	     strcmp(json_string_value(json_object_get(row, "payload_sha256")),
		    d->t.payload_sha256))) {
		ns_error_set("%s: its payload (%.12s…) is not the one that "
			     "passed %s/model (%s): production takes only the "
			     "byte-identical payload",
			     d->path, d->t.payload_sha256, e->system,
			     row ? json_string_value(json_object_get(
					   row, "payload_sha256"))
				 : "no accepted run");
		ret = NS_EINVALID;
	}
	json_decref(row);
	return ret;
}

static int check_trigger(struct ns_runner *r, const struct ns_env *e,
			 struct due *d)
{
	const char *jsha =
		json_string_value(json_object_get(d->row, "json_sha256"));
	const char *psha =
		json_string_value(json_object_get(d->row, "payload_sha256"));
	int ret = ns_trigger_load_flags(&d->t, d->path, &r->cfg->limits,
					NS_TRIGGER_DEFER_FILES);

	if (ret < 0)
		return ret;
	d->loaded = 1;
	if (r->verify_key &&
	    (ret = ns_trigger_check_signature(&d->t, r->verify_key,
					      r->verify_what)) < 0)
		return ret;
	if (strcmp(d->t.json_sha256, jsha) ||
	    strcmp(d->t.payload_sha256, psha)) {
		ns_error_set("%s: TRIGGER.json was altered after it was "
			     "scheduled (its hash is not the one the registry "
			     "recorded)",
			     d->path);
		return NS_EINVALID;
	}
	if (!strcmp(e->kind, "production") &&
	    (ret = accepted_model_payload(r, e, d)) < 0)
		return ret;
	if (strcmp(d->t.environment, e->name) ||
	    ns_enh_parse(d->t.id) != d->enh || d->t.revision != d->rev) {
		ns_error_set("%s: the trigger is for %s r%d in %s, not what "
			     "the registry scheduled",
			     d->path, d->t.id, d->t.revision, d->t.environment);
		return NS_EINVALID;
	}
	return 0;
}

/* every `requires` must be migrated into this environment already */
static int check_requires(struct ns_runner *r, const struct ns_env *e,
			  const struct due *d, int *waiting)
{
	*waiting = 0;
	for (size_t i = 0; i < d->t.manifest.requires_nr; i++) {
		long long need = ns_enh_parse(d->t.manifest.requires[i]);
		int here = 0,
		    ret = ns_lifecycle_present(r->reg, need, e->name, &here);
		if (ret < 0)
			return ret;
		if (!here) {
			ns_error_set("requires %s, which is not migrated into "
				     "%s",
				     d->t.manifest.requires[i], e -> name);
			*waiting = 1;
			return NS_EFAILED;
		}
	}
	return 0;
}

/* in start_run's transaction: the trigger loaded for this window may
 * have been scheduled again (or withdrawn) since; 1 when it was */
static int still_pending(struct ns_runner *r, const struct due *d)
{
	json_t *row = NULL;
	int ret = ns_registry_query_row(r->reg, &row,
					"SELECT state FROM triggers WHERE "
					"id = ?",
					"I", d->id);

	if (!ret && (!row || strcmp(ns_row_str(row, "state"), "pending")))
		ret = 1;
	json_decref(row);
	return ret;
}

static void not_run(struct ns_runner *r, const struct ns_env *e,
		    const struct due *d)
{
	say(r,
	    "%s: ENH-%lld r%d not run: it was scheduled again or withdrawn "
	    "while this window ran",
	    e->name, d->enh, d->rev);
}

/* asked: what the run was asked, its message until it has an outcome (of
 * a backout, backout_asked's) */
static int start_run(struct ns_runner *r, const struct ns_env *e,
		     const struct due *d, const char *kind, const char *asked,
		     long long *run, char **token)
{
	char at[NS_TIME_LEN];
	int ret;

	ns_time_iso(at, ns_now());
	if ((ret = ns_registry_begin(r->reg)) < 0)
		return ret;
	ret = ns_registry_exec(r->reg,
			       "INSERT INTO runs(trigger, enhancement, "
			       "revision, environment, kind, started_at, "
			       "actor, message) VALUES (NULLIF(?, 0), ?, ?, ?, "
			       "?, ?, ?, ?)",
			       "IIisssss", d->id ? d->id : (long long)0, d->enh,
			       d->rev, e->name, kind, at, r->user, asked);
	if (!ret) {
		*run = ns_registry_last_id(r->reg);
		*token = xprintf("ENH-%lld-r%d-%lld", d->enh, d->rev, *run);
		ret = ns_registry_exec(r->reg,
				       "UPDATE runs SET token = ? WHERE id = ?",
				       "sI", *token, *run);
	}
	if (!ret && !strcmp(kind, "migrate"))
		ret = still_pending(r, d);
	if (!ret && !strcmp(kind, "migrate"))
		ret = ns_registry_exec(r->reg,
				       "UPDATE triggers SET state = 'running' "
				       "WHERE id = ?",
				       "I", d->id);
	if (!ret && !strcmp(kind, "migrate"))
		ret = ns_lifecycle_move(r->reg, d->enh, "start", r->user,
					e->name, *token);
	if (!ret)
		ret = ns_registry_commit(r->reg);
	else
		ns_registry_rollback(r->reg);
	return ret;
}

/* sites already migrated go back out when a later one failed */
static void back_out_sites(struct ns_runner *r, const struct ns_env *e,
			   long long run, struct ns_outcome *done, size_t n,
			   const char *why, struct ns_outcome *worst,
			   struct retirees *l)
{
	char *jdir = ns_env_dir(r->cfg->journal, e);
	/* why may be worst's message, which a blocked backout replaces:
	 * every site is backed out for the cause the run failed for */
	char *cause = xstrdup(why);

	for (size_t i = n; i-- > 0;) {
		struct ns_outcome b = NS_OUTCOME_INIT;
		ns_migrate_backout(&b, done[i].rundir, jdir, cause, 0, e);
		b.site = b.site ? b.site : xstrdup(done[i].site);
		record_site(r, run, &b);
		warn(r, "%s: site %s backed out again: %s", e->name, b.site,
		     b.message);
		if (b.kind == NS_OUT_BLOCKED && worst->kind != NS_OUT_BLOCKED) {
			worst->kind = NS_OUT_BLOCKED;
			free(worst->message);
			worst->message = xstrdup(b.message);
		}
		retire(l, &b, "journal-backout");
		ns_outcome_release(&b);
	}
	free(cause);
	free(jdir);
}

static int migrate_sites(struct ns_runner *r, const struct ns_env *e,
			 struct due *d, long long run, const char *token,
			 struct ns_outcome *fin, struct retirees *l)
{
	json_t *sites = json_object_get(d->t.json, "sites"), *s;
	struct ns_outcome *done =
		xcalloc(json_array_size(sites) + 1, sizeof(*done));
	char *adir = ns_env_dir(r->cfg->archive, e);
	char *jdir = ns_env_dir(r->cfg->journal, e);
	struct ns_migrate_ctx ctx = { adir,
				      jdir,
				      token,
				      r->user,
				      e->name,
				      e->verify,
				      r->cfg->limits.max_path };
	size_t i, n = 0;
	int same;

	fin->kind = NS_OUT_MIGRATED;
	fin->message = xstrdup("migrated");
	json_array_foreach(sites, i, s)
	{
		const struct ns_site *site =
			ns_env_site(e, json_string_value(s));
		struct ns_outcome o = NS_OUTCOME_INIT;

		if (!site) {
			o.kind = NS_OUT_REFUSED;
			o.message = xprintf("site '%s' is not in %s",
					    json_string_value(s), e->name);
			o.site = xstrdup(json_string_value(s));
		} else {
			ns_migrate_site(&o, &d->t, site, &ctx);
		}
		record_site(r, run, &o);
		fin->ms += o.ms;
		/* the reason in parentheses, when there is more to say than
		 * the outcome ("migrated" says it all) */
		same = !strcmp(o.message, outcome_word(o.kind));
		ns_runner_tell(r, o.kind != NS_OUT_MIGRATED,
			       "%s: ENH-%lld r%d on site %s: %s%s%s%s", e->name,
			       d->enh, d->rev, o.site, outcome_word(o.kind),
			       same ? "" : " (", same ? "" : o.message,
			       same ? "" : ")");
		if (o.kind == NS_OUT_MIGRATED) {
			done[n++] = o;
			continue;
		}
		if (o.undecided) {
			/* as after a crash: every journal of the run stays
			 * for recovery, the sites migrated before too */
			fin->kind = o.kind;
			fin->code = o.code;
			fin->undecided = 1;
			free(fin->message);
			fin->message = xstrdup(o.message);
			ns_outcome_release(&o);
			for (i = 0; i < n; i++)
				ns_outcome_release(&done[i]);
			n = 0;
			break;
		}
		fin->kind = o.kind;
		fin->code = o.code;
		free(fin->message);
		fin->message = xstrdup(o.message);
		retire(l, &o, "journal");
		ns_outcome_release(&o);
		back_out_sites(r, e, run, done, n, fin->message, fin, l);
		break;
	}
	/* all migrated: what each site had done, for the record and the
	 * notice */
	if (fin->kind == NS_OUT_MIGRATED && n) {
		struct strbuf sb = STRBUF_INIT;
		for (i = 0; i < n; i++) {
			if (n > 1)
				strbuf_addf(&sb, "%ssite %s: ", i ? "; " : "",
					    done[i].site);
			strbuf_addstr(&sb, done[i].message);
		}
		free(fin->message);
		fin->message = strbuf_detach(&sb, NULL);
	}
	for (i = 0; i < n; i++) {
		retire(l, &done[i], "journal");
		ns_outcome_release(&done[i]);
	}
	free(done);
	free(adir);
	free(jdir);
	return 0;
}

/* a full disk or an I/O error before or after the commit point, with the
 * site put back: not the developer's fault, so no return to the developer
 * — the trigger stays due for the next window */
static int requeue(const struct ns_outcome *fin)
{
	/* a site database locked by another nightshift: the same */
	return (fin->code == NS_ERROR ||
		(fin->code == NS_ELOCKED && fin->kind == NS_OUT_REFUSED)) &&
	       (fin->kind == NS_OUT_REFUSED || fin->kind == NS_OUT_ROLLED_BACK);
}

static int run_due(struct ns_runner *r, const struct ns_env *e, struct due *d)
{
	struct ns_outcome fin = NS_OUTCOME_INIT;
	struct retirees done = { 0 };
	struct verdict v = { 0 };
	long long run = 0;
	char *token = NULL;
	int ret;

	if ((ret = start_run(r, e, d, "migrate", NULL, &run, &token)) < 0)
		return ret;
	if (ret == 1) { /* nothing was started */
		not_run(r, e, d);
		free(token);
		return 0;
	}
	migrate_sites(r, e, d, run, token, &fin, &done);
	v = (struct verdict){ d->enh,	run,	       d->id,	d->rev,
			      0,	requeue(&fin), e->name, NULL,
			      fin.kind, fin.message,   fin.ms,	fin.undecided };
	ret = record(r, &v);
	if (!ret && fin.kind == NS_OUT_MIGRATED && !v.requeue)
		ns_gitsrc_after_migration(r, d->enh, d->rev, e->name, run);
	retire_all(r, &done, ret == 0);
	announce(r, &v, d->t.manifest.title);
	/* a run that was put back ran with a negative outcome (exit 1),
	 * whoever's fault it was */
	note(r, fin.kind == NS_OUT_MIGRATED  ? 0
		: fin.kind == NS_OUT_BLOCKED ? NS_ELOCKED
		: fin.code == NS_ELOCKED     ? NS_ELOCKED
		: v.requeue		     ? NS_EFAILED
		: fin.kind == NS_OUT_REFUSED
			? (fin.code ? fin.code : NS_EINVALID)
			: NS_EFAILED);
	ns_outcome_release(&fin);
	free(token);
	return ret;
}

static int load_due(struct ns_runner *r, const struct ns_env *e,
		    int overridden_only, struct due **out, size_t *nr)
{
	char at[NS_TIME_LEN];
	json_t *rows = NULL, *row;
	size_t i;
	int ret;

	ns_time_iso(at, ns_now());
	ret = ns_registry_query(r->reg, &rows,
				"SELECT id, enhancement, revision, path, "
				"json_sha256, payload_sha256 FROM triggers "
				"WHERE environment = ? AND state = 'pending' "
				"AND due_at <= ? AND (? = 0 OR " OVERRIDDEN
				") ORDER BY due_at, id",
				"ssi", e->name, at, overridden_only);
	if (ret < 0)
		return ret;
	*nr = json_array_size(rows);
	*out = xcalloc(*nr + 1, sizeof(**out));
	json_array_foreach(rows, i, row)
	{
		struct due *d = &(*out)[i];
		d->row = json_incref(row);
		d->id = json_integer_value(json_object_get(row, "id"));
		d->enh =
			json_integer_value(json_object_get(row, "enhancement"));
		d->rev = (int)json_integer_value(
			json_object_get(row, "revision"));
		d->path = json_string_value(json_object_get(row, "path"));
	}
	json_decref(rows);
	return 0;
}

/* the trigger d does not fit before the window closes: its due time moves
 * to the next opening, and the people who wait for it are told */
static int requeue_later(struct ns_runner *r, const struct ns_env *e,
			 struct due *d, const struct opening *w,
			 const char *why)
{
	char next_iso[NS_TIME_LEN], local[NS_LOCAL_LEN];
	time_t next = ns_calendar_next(w->cal, w->close, NULL);
	char *detail, *subj, *body;
	int ret;

	d->later = 1;
	if (next == (time_t)-1) {
		ns_error_set("ENH-%lld r%d: %s, and %s has no opening within "
			     "a year",
			     d->enh, d->rev, why, e->name);
		return NS_EFAILED;
	}
	ns_time_iso(next_iso, next);
	ns_calendar_local(local, w->cal, next, 0);
	detail = xprintf("%s; re-queued to the next opening, %s", why, local);
	ret = ns_registry_begin(r->reg);
	if (!ret)
		ret = ns_registry_exec(r->reg,
				       "UPDATE triggers SET due_at = ? WHERE "
				       "id = ?",
				       "sI", next_iso, d->id);
	if (!ret)
		ret = ns_registry_event(r->reg, r->user, d->enh, d->rev,
					e->name, "requeued-window", detail);
	if (!ret)
		ret = ns_registry_commit(r->reg);
	else
		ns_registry_rollback(r->reg);
	warn(r, "%s: ENH-%lld r%d not started: %s", e->name, d->enh, d->rev,
	     detail);
	subj = xprintf("ENH-%lld r%d re-queued in %s to %s", d->enh, d->rev,
		       e->name, local);
	body = xprintf("Enhancement: ENH-%lld r%d  %s\nEnvironment: %s\n"
		       "Outcome:     not started, re-queued\nDetail:      "
		       "%s\n\nNothing was changed. It runs in the next "
		       "opening of the window of %s (%s); nothing needs to be "
		       "done.\n",
		       d->enh, d->rev, d->loaded ? d->t.manifest.title : "",
		       e->name, detail, e->name, next_iso);
	if (!ret)
		tell(r, "requeued-window", roles_later, d->enh, e->name, subj,
		     body);
	free(subj);
	free(body);
	free(detail);
	return ret;
}

/* latest safe start: the estimate of applying d and of rolling it back
 * must fit before the window closes */
static int fits(struct ns_runner *r, const struct ns_env *e,
		const struct due *d, const struct opening *w, char **why)
{
	struct ns_package pkg = { 0 };
	long long apply_ms, back_ms, need;
	char close_iso[NS_LOCAL_LEN];
	time_t now = ns_now();

	if (r->now || w->close == (time_t)-1)
		return 1;
	pkg.members = d->t.members;
	pkg.nr = d->t.nr;
	ns_estimate(&apply_ms, &back_ms, r->reg, d->enh, d->rev, &pkg, e);
	need = (apply_ms + back_ms + 999) / 1000;
	if (now + need <= w->close)
		return 1;
	ns_calendar_local(close_iso, w->cal, w->close, 0);
	*why = xprintf("it needs about %lld s to apply and %lld s to roll "
		       "back, and the window closes at %s (%lld s left)",
		       (apply_ms + 999) / 1000, (back_ms + 999) / 1000,
		       close_iso,
		       (long long)(w->close > now ? w->close - now : 0));
	return 0;
}

/* d waits for an enhancement that was re-queued in this run */
static int waits_for_later(const struct due *due, size_t nr,
			   const struct due *d)
{
	for (size_t k = 0; k < d->t.manifest.requires_nr; k++) {
		long long need = ns_enh_parse(d->t.manifest.requires[k]);
		for (size_t i = 0; i < nr; i++)
			if (due[i].later && due[i].enh == need)
				return 1;
	}
	return 0;
}

/* a migration is never cut at the close: it finished, and says so */
static void overran(struct ns_runner *r, const struct ns_env *e,
		    const struct due *d, const struct opening *w)
{
	time_t now = ns_now();
	char *detail;

	if (r->now || w->close == (time_t)-1 || now <= w->close)
		return;
	detail = xprintf("the window closed %lld s before the migration "
			 "ended; it was not cut",
			 (long long)(now - w->close));
	warn(r, "%s: ENH-%lld r%d overran its window: %s", e->name, d->enh,
	     d->rev, detail);
	if (ns_registry_event(r->reg, r->user, d->enh, d->rev, e->name,
			      "window-overrun", detail) < 0)
		warn(r, "%s", ns_error_last());
	free(detail);
}

/* one pass: run what is ready; what waits for a requirement that an
 * earlier trigger of this window provides is tried in the next pass */
static int run_pass(struct ns_runner *r, const struct ns_env *e,
		    const struct opening *w, struct due *due, size_t nr,
		    int last, int *progress)
{
	int ret = 0, waiting;
	char *why = NULL;

	*progress = 0;
	for (size_t i = 0; i < nr && ret >= 0; i++) {
		struct due *d = &due[i];
		if (d->done)
			continue;
		if (r->stop && r->stop(r->data)) {
			say(r,
			    "%s: stopping: ENH-%lld r%d not started, it "
			    "stays due",
			    e->name, d->enh, d->rev);
			break;
		}
		if (!d->loaded && (ret = check_trigger(r, e, d)) < 0) {
			d->done = 1;
			*progress = 1;
			/* its file went with a schedule that replaced it */
			if ((ret = still_pending(r, d)) != 0) {
				if (ret == 1)
					not_run(r, e, d);
				ret = ret < 0 ? ret : 0;
				continue;
			}
			note(r, NS_EINVALID);
			ret = refuse_trigger(r, e, d, ns_error_last());
			continue;
		}
		ret = check_requires(r, e, d, &waiting);
		if (ret == NS_EFAILED && !last)
			continue;
		d->done = 1;
		*progress = 1;
		if (ret == NS_EFAILED && waits_for_later(due, nr, d)) {
			why = xprintf("it requires an enhancement re-queued "
				      "to the next opening (%s)",
				      ns_error_last());
			ret = requeue_later(r, e, d, w, why);
		} else if (ret == NS_EFAILED) {
			note(r, NS_EFAILED);
			ret = refuse_trigger(r, e, d, ns_error_last());
			continue;
		} else if (ret == 0 && !fits(r, e, d, w, &why)) {
			ret = requeue_later(r, e, d, w, why);
		} else if (ret == 0) {
			ret = run_due(r, e, d);
			overran(r, e, d, w);
		}
		free(why);
		why = NULL;
	}
	return ret;
}

/* the "no trigger" notice, once per opening when notice_once is set: the
 * opening is named by its close in the audit event's detail */
static int no_trigger(struct ns_runner *r, const struct ns_env *e,
		      const struct opening *w)
{
	char close_iso[NS_TIME_LEN];
	char *detail, *body;
	json_t *row = NULL;
	int ret;

	if (w->close == (time_t)-1)
		detail = xstrdup("no window: always open");
	else {
		ns_time_iso(close_iso, w->close);
		detail = xprintf("the window closes at %s", close_iso);
	}
	ret = !r->notice_once
		      ? 0
		      : ns_registry_query_row(r->reg, &row,
					      "SELECT id FROM events WHERE "
					      "environment = ? AND event = "
					      "'no-trigger' AND detail = ?",
					      "ss", e->name, detail);
	if (!ret && !row) {
		body = xprintf("No trigger was due for %s when its window "
			       "opened: nothing was migrated.",
			       e->name);
		say(r, "%s: no trigger due", e->name);
		ret = ns_registry_event(r->reg, r->user, 0, 0, e->name,
					"no-trigger", detail);
		tell(r, "no-trigger", roles_none, 0, e->name, "no trigger due",
		     body);
		free(body);
	}
	json_decref(row);
	free(detail);
	return ret;
}

/*
 * In a blackout: whether a window of e is open at now all the same and a
 * trigger whose blackout was overridden is due (1); the run then takes
 * only those, and the window's close counts for them.
 */
static int blackout_overridden(struct ns_runner *r, const struct ns_env *e,
			       time_t now, struct opening *w)
{
	struct ns_env bare = *e;
	struct ns_calendar *cal = NULL;
	char at[NS_TIME_LEN];
	json_t *row = NULL;
	int ret;

	ns_time_iso(at, now);
	ret = ns_registry_query_row(r->reg, &row,
				    "SELECT id FROM triggers WHERE "
				    "environment = ? AND state = 'pending' "
				    "AND due_at <= ? AND " OVERRIDDEN,
				    "ss", e->name, at);
	if (ret < 0 || !row)
		goto done;
	bare.blackout = NULL;
	bare.blackouts_nr = 0;
	if ((ret = ns_calendar_new(&cal, &bare)) < 0)
		goto done;
	if (ns_calendar_open(cal, now, &w->close)) {
		w->overridden_only = 1;
		say(r,
		    "%s: in a blackout; running only the triggers whose "
		    "blackout was overridden",
		    e->name);
		ret = 1;
	}
done:
	json_decref(row);
	ns_calendar_free(cal);
	return ret;
}

/* whether e's window is open; with --now it is opened, and that audited */
static int window_open(struct ns_runner *r, const struct ns_env *e,
		       struct opening *w)
{
	char next_local[NS_LOCAL_LEN];
	time_t now = ns_now(), next;
	int ret;

	if ((ret = ns_calendar_new(&w->cal, e)) < 0)
		return ret;
	if (ns_calendar_open(w->cal, now, &w->close))
		return 1;
	w->close = (time_t)-1;
	if (r->now) {
		char *why = xprintf("window run --now by %s while %s is "
				    "closed",
				    r->user, e->name);
		warn(r, "%s: closed, run anyway (--now)", e->name);
		ret = ns_registry_event(r->reg, r->user, 0, 0, e->name,
					"window-override", why);
		free(why);
		return ret < 0 ? ret : 1;
	}
	if (ns_calendar_blackout(w->cal, now) &&
	    (ret = blackout_overridden(r, e, now, w)) != 0)
		return ret;
	next = ns_calendar_next(w->cal, now, NULL);
	if (next == (time_t)-1)
		say(r, "%s: closed, no opening within a year", e->name);
	else {
		ns_calendar_local(next_local, w->cal, next, 0);
		say(r, "%s: closed, opens %s", e->name, next_local);
	}
	return 0;
}

static int run_env(struct ns_runner *r, const struct ns_env *e)
{
	struct opening w = { NULL, (time_t)-1, 0 };
	struct due *due = NULL;
	size_t nr = 0;
	int fd = -1, ret, progress = 1;

	if ((ret = window_open(r, e, &w)) <= 0) {
		ns_calendar_free(w.cal);
		return ret;
	}
	/* a key that cannot be read stops the window before any trigger is
	 * looked at: it is the configuration's fault, not the triggers' */
	if ((ret = ns_config_verify_key(r->cfg, &r->verify_key,
					&r->verify_what)) < 0 ||
	    (ret = lock_env(r, e, &fd)) < 0) {
		ns_key_free(r->verify_key);
		r->verify_key = NULL;
		ns_calendar_free(w.cal);
		return ret;
	}
	ret = recover_env(r, e);
	if (!ret)
		ret = load_due(r, e, w.overridden_only, &due, &nr);
	if (!ret && !nr)
		ret = no_trigger(r, e, &w);
	while (!ret && progress)
		ret = run_pass(r, e, &w, due, nr, 0, &progress);
	if (!ret)
		ret = run_pass(r, e, &w, due, nr, 1, &progress);
	for (size_t i = 0; i < nr; i++) {
		json_decref(due[i].row);
		ns_trigger_release(&due[i].t);
	}
	free(due);
	close(fd);
	ns_key_free(r->verify_key);
	r->verify_key = NULL;
	ns_calendar_free(w.cal);
	return ret;
}

static int each_env(struct ns_runner *r, const char *env,
		    int (*fn)(struct ns_runner *, const struct ns_env *))
{
	const struct ns_env *one = NULL;
	int ret = 0;

	if (env && !(one = ns_config_env(r->cfg, env)))
		return NS_EUSAGE;
	for (size_t i = 0; i < r->cfg->envs_nr; i++) {
		const struct ns_env *e = &r->cfg->envs[i];
		int rc;
		if (one && e != one)
			continue;
		rc = fn(r, e);
		if (rc < 0) {
			warn(r, "%s: %s", e->name, ns_error_last());
			note(r, rc);
			if (rc != NS_ELOCKED && rc != NS_EINVALID)
				ret = rc;
		}
	}
	return ret < 0 ? ret : r->worst;
}

int ns_runner_window(struct ns_runner *r, const char *env)
{
	return each_env(r, env, run_env);
}

static int recover_locked(struct ns_runner *r, const struct ns_env *e)
{
	int fd, ret = lock_env(r, e, &fd);

	if (ret < 0)
		return ret;
	ret = recover_env(r, e);
	close(fd);
	return ret;
}

int ns_runner_recover(struct ns_runner *r, const char *env)
{
	return each_env(r, env, recover_locked);
}

/* ---- archive retention --------------------------------------------------- */

static int prune_locked(struct ns_runner *r, const struct ns_env *e)
{
	char *jdir = ns_env_dir(r->cfg->journal, e);
	char **list = NULL;
	size_t nr = 0;
	int fd, ret = lock_env(r, e, &fd);

	if (ret < 0) {
		free(jdir);
		return ret;
	}
	ret = ns_journal_list(&list, &nr, jdir);
	if (!ret && nr) {
		ns_error_set("an unfinished run (%s): nothing pruned — "
			     "`nightshift recover --env %s` first",
			     list[0], e->name);
		ret = NS_ELOCKED;
	}
	if (!ret)
		ret = ns_prune_env(r, e);
	if (ret == NS_EFAILED) {
		/* said line by line; the others were pruned */
		note(r, ret);
		ret = 0;
	}
	close(fd);
	for (size_t i = 0; i < nr; i++)
		free(list[i]);
	free(list);
	free(jdir);
	return ret;
}

/* the archives and trigger files on disk of environments the registry
 * knows and the configuration no longer names: left alone (whether a
 * rollback may still want one cannot be asked of an environment that is
 * not there), and the person told they are there */
static void tell_unconfigured(struct ns_runner *r, const char *env,
			      const long long n[2])
{
	if (!env || (!n[0] && !n[1]))
		return;
	say(r,
	    "%s: not in the configuration: its %lld archive%s and %lld "
	    "trigger file%s are left alone (put the environment back to "
	    "prune them by [policy] archive-keep, or remove them by hand)",
	    env, n[0], n[0] == 1 ? "" : "s", n[1], n[1] == 1 ? "" : "s");
}

static int unconfigured(struct ns_runner *r)
{
	json_t *rows = NULL, *row;
	const char *env = NULL;
	long long n[2] = { 0, 0 };
	struct stat st;
	size_t i;
	int ret = ns_registry_query(
		r->reg, &rows,
		"SELECT DISTINCT r.environment, 0 AS kind, rs.rundir AS path "
		"FROM run_sites rs JOIN runs r ON r.id = rs.run WHERE "
		"rs.rundir IS NOT NULL UNION SELECT DISTINCT environment, 1, "
		"path FROM triggers ORDER BY 1, 2",
		"");

	json_array_foreach(rows, i, row)
	{
		const char *e = ns_row_str(row, "environment");

		if (ns_config_env(r->cfg, e))
			continue;
		if (!env || strcmp(env, e)) {
			tell_unconfigured(r, env, n);
			env = e;
			n[0] = n[1] = 0;
		}
		if (lstat(ns_row_str(row, "path"), &st) == 0)
			n[json_integer_value(json_object_get(row, "kind")) !=
			  0]++;
	}
	tell_unconfigured(r, env, n);
	json_decref(rows);
	return ret;
}

int ns_runner_prune(struct ns_runner *r, const char *env)
{
	int ret = each_env(r, env, prune_locked), rc;

	if (!env && ret >= 0 && (rc = unconfigured(r)) < 0)
		ret = rc;
	return ret;
}

/* ---- manual rollback and unblock ----------------------------------------- */

static int last_migration(struct ns_runner *r, long long enh,
			  const struct ns_env *e, json_t **sites, json_t **run)
{
	int ret = ns_registry_query_row(
		r->reg, run,
		"SELECT id, revision FROM runs WHERE enhancement = ? AND "
		"environment = ? AND kind = 'migrate' AND outcome = "
		"'migrated' ORDER BY id DESC",
		"Is", enh, e->name);

	if (ret < 0)
		return ret;
	if (!*run) {
		ns_error_set("ENH-%lld has no migration into %s to roll back",
			     enh, e->name);
		return NS_EFAILED;
	}
	/* a backout that stopped after some sites (and blocked the
	 * environment) is finished by asking again once unblocked */
	return sites_to_back_out(
		r, json_integer_value(json_object_get(*run, "id")), sites);
}

int ns_runner_rollback(struct ns_runner *r, long long enh, const char *env,
		       const char *reason, const char *verb)
{
	const struct ns_env *e = ns_config_env(r->cfg, env);
	struct ns_outcome fin = NS_OUTCOME_INIT;
	struct retirees done = { 0 };
	json_t *sites = NULL, *last = NULL, *title = NULL;
	struct due d = { 0 };
	long long run = 0;
	char *token = NULL, *asked = NULL;
	int fd = -1, ret;

	if (!e)
		return NS_EUSAGE;
	if ((ret = lock_env(r, e, &fd)) < 0)
		return ret;
	ret = recover_env(r, e);
	if (!ret)
		ret = ns_lifecycle_check(r->reg, enh, verb ? verb : "back-out",
					 e->name);
	if (!ret)
		ret = last_migration(r, enh, e, &sites, &last);
	if (ret < 0)
		goto done;
	d.enh = enh;
	d.rev = (int)json_integer_value(json_object_get(last, "revision"));
	asked = backout_asked(verb, reason);
	if ((ret = start_run(r, e, &d, "backout", asked, &run, &token)) < 0)
		goto done;
	ret = backout_all(r, e, enh, verb, sites, run, reason, 0, &fin, &done);
	{
		struct verdict v = { enh,      run,	    0,	     d.rev,
				     1,	       0,	    e->name, verb,
				     fin.kind, fin.message, fin.ms,  0 };
		int rc = record(r, &v);
		retire_all(r, &done, rc == 0);
		ns_registry_query_row(r->reg, &title,
				      "SELECT title FROM enhancements WHERE "
				      "id = ?",
				      "I", enh);
		announce(r, &v,
			 json_string_value(json_object_get(title, "title")));
		if (!ret)
			ret = rc;
	}
	if (ret < 0)
		ns_error_set("%s", fin.message);
done:
	ns_outcome_release(&fin);
	json_decref(sites);
	json_decref(last);
	json_decref(title);
	free(token);
	free(asked);
	close(fd);
	return ret;
}

/* fn for each active journal of e, in order, until one fails */
static int each_journal(struct ns_runner *r, const struct ns_env *e,
			int (*fn)(struct ns_runner *, const struct ns_env *,
				  const char *, json_t *),
			json_t *data)
{
	char *dir = ns_env_dir(r->cfg->journal, e);
	char **list = NULL;
	size_t nr = 0;
	int ret = ns_journal_list(&list, &nr, dir);

	for (size_t i = 0; i < nr && !ret; i++)
		ret = fn(r, e, list[i], data);
	for (size_t i = 0; i < nr; i++)
		free(list[i]);
	free(list);
	free(dir);
	return ret;
}

/* the journals a blocked environment keeps active; retired once a person
 * says the site is repaired */
static int retire_blocked(struct ns_runner *r, const struct ns_env *e,
			  const char *path, json_t *unused)
{
	struct ns_journal j = NS_JOURNAL_INIT;
	int ret = ns_journal_read(&j, path);

	(void)unused;
	if (!ret && j.state == NS_J_BLOCKED && j.rundir) {
		ret = ns_journal_retire(path, j.rundir, "journal-blocked");
		say(r, "%s: retired blocked journal %s", e->name, path);
	}
	ns_journal_release(&j);
	return ret;
}

/* Before a block is lifted: a run blocked because its rollback failed — a
 * full disk, a database down, since repaired — is rolled back again from
 * its journal, and recorded so (recovery's reporting: the site's row, the
 * trail, the journal retired). A journal an unblock interrupted here left
 * rolling back, or rolled back and not yet recorded, is finished the same
 * way; "TOKEN on site SITE" is appended to done. One that fails again
 * keeps the environment blocked, with why. So is a run's backing out of
 * its sites after another failed; not the backout of a `rollback` or
 * `reject` (of a migration recorded migrated), which the same command
 * finishes once asked again. */
static int finish_rollback(struct ns_runner *r, const struct ns_env *e,
			   const char *path, json_t *done)
{
	struct ns_journal j = NS_JOURNAL_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT;
	int backout = ns_journal_is_backout(path), ret, again;
	json_t *mig = NULL;

	if (backout && (ret = migration_of(r, path, &mig)) < 0)
		return ret;
	if (mig) { /* a rollback's */
		json_decref(mig);
		return 0;
	}
	if (ns_journal_read(&j, path) < 0)
		return 0; /* for retire_blocked to say */
	again = j.rundir &&
		((j.state == NS_J_BLOCKED && j.from == NS_J_ROLLING_BACK) ||
		 j.state == NS_J_ROLLING_BACK || j.state == NS_J_ROLLED_BACK);
	ns_journal_release(&j);
	if (!again)
		return 0;
	ns_migrate_finish_rollback(&o, path, e);
	/* a journal found rolled back names no site (no plan read): its
	 * name does */
	for (size_t k = 0; k < e->sites_nr && !o.site; k++)
		if (journal_of(path, e->sites[k].label))
			o.site = xstrdup(e->sites[k].name);
	ret = report_recovered(r, e, path, &o, backout);
	if (!ret && o.kind == NS_OUT_BLOCKED) {
		ns_error_set("environment %s stays blocked: the rollback of %s "
			     "could not be finished: %s",
			     e->name, o.token ? o.token : path, o.message);
		ret = NS_ELOCKED;
	}
	if (!ret && o.token)
		json_array_append_new(done,
				      json_sprintf("%s on site %s", o.token,
						   o.site ? o.site : "?"));
	ns_outcome_release(&o);
	return ret;
}

int ns_runner_unblock(struct ns_runner *r, const char *env, const char *reason)
{
	const struct ns_env *e = ns_config_env(r->cfg, env);
	char *path;
	json_t *row = NULL, *enhs = NULL, *done, *x;
	size_t i;
	int fd = -1, ret;

	if (!e)
		return NS_EUSAGE;
	path = xprintf("%s/%s.%s.lock", r->cfg->locks, e->system, e->kind);
	ret = ns_fsx_mkdir_p(r->cfg->locks, 0755);
	if (!ret)
		ret = ns_fsx_lock(&fd, path, e->name);
	free(path);
	if (ret < 0)
		return ret;
	done = json_array();
	ret = ns_registry_query_row(r->reg, &row,
				    "SELECT reason FROM environments WHERE "
				    "name = ? AND blocked = 1",
				    "s", e->name);
	if (!ret && !row) {
		ns_error_set("environment %s is not blocked", e->name);
		ret = NS_EFAILED;
	}
	if (!ret)
		ret = each_journal(r, e, finish_rollback, done);
	if (!ret)
		ret = each_journal(r, e, retire_blocked, NULL);
	if (!ret)
		ret = ns_registry_query(
			r->reg, &enhs,
			"SELECT DISTINCT e.id FROM enhancements e JOIN runs ON "
			"runs.enhancement = e.id WHERE e.state = "
			"'rollback-failed' AND runs.environment = ?",
			"s", e->name);
	if (!ret)
		ret = ns_registry_begin(r->reg);
	if (!ret)
		ret = ns_registry_exec(r->reg,
				       "UPDATE environments SET blocked = 0 "
				       "WHERE name = ?",
				       "s", e->name);
	/* a blocked run all of whose sites are rolled back now (its rollback
	 * finished above, or by an unblock interrupted after that) was
	 * rolled back */
	if (!ret)
		ret = ns_registry_exec(
			r->reg,
			"UPDATE runs SET outcome = 'rolled-back', message = "
			"message || '; the rollback was finished by unblock: "
			"the sites are as they were before' WHERE environment "
			"= ? AND outcome = 'blocked' AND EXISTS (SELECT 1 FROM "
			"run_sites s WHERE s.run = runs.id) AND NOT EXISTS "
			"(SELECT 1 FROM run_sites s WHERE s.run = runs.id AND "
			"s.outcome <> 'rolled-back')",
			"s", e->name);
	if (!ret)
		ret = ns_registry_event(r->reg, r->user, 0, 0, e->name,
					"unblocked", reason);
	json_array_foreach(enhs, i, x) if (!ret) ret = ns_lifecycle_move(
		r->reg, json_integer_value(json_object_get(x, "id")), "unblock",
		r->user, e->name, reason);
	if (!ret)
		ret = ns_registry_commit(r->reg);
	else
		ns_registry_rollback(r->reg);
	if (!ret) {
		struct strbuf body = STRBUF_INIT;

		strbuf_addf(&body, "%s was unblocked by %s: %s", e->name,
			    r->user, reason);
		json_array_foreach(done, i, x) strbuf_addf(
			&body,
			"\n\nnightshift finished the rollback of %s first: "
			"the site is as it was before.",
			json_string_value(x));
		tell(r, "unblocked", roles_blocked, 0, e->name, "unblocked",
		     body.buf);
		strbuf_release(&body);
	}
	json_decref(row);
	json_decref(enhs);
	json_decref(done);
	close(fd);
	return ret;
}
