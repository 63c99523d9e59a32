/*
 * submission — the lifecycle's acts that take a package or write a
 * trigger: submit, resubmit, schedule and promote (lifecycle.h).
 */
#include "analysis.h"
#include "error.h"
#include "fsx.h"
#include "lifecycle.h"
#include "notify.h"
#include "runner.h"
#include "strbuf.h"
#include "timefmt.h"
#include "trigger.h"
#include "window.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* how package.h names a member: SRC:MEMBER in a tar, SRC/MEMBER else */
static char *ini_name(const char *src)
{
	size_t n = strlen(src);

	if (n > 4 && !strcmp(src + n - 4, ".tar"))
		return xprintf("%s:enhancement.ini", src);
	while (n > 1 && src[n - 1] == '/')
		n--;
	return xprintf("%.*s/enhancement.ini", (int)n, src);
}

static int pick_system(const char **out, const struct ns_config *c,
		       const struct ns_manifest *m, const char *src)
{
	char *name = ini_name(src);
	int ret = 0;

	if (!m->system && c->systems_nr != 1) {
		ns_error_set("%s: missing 'system' (the configuration has %zu "
			     "systems)",
			     name, c->systems_nr);
		ret = NS_EINVALID;
	} else if (!m->system) {
		*out = c->systems[0].name;
	} else if (!ns_config_system(c, m->system)) {
		ns_error_set("%s: system: unknown system '%s' (not in %s)",
			     name, m->system, c->path);
		ret = NS_EINVALID;
	} else {
		*out = m->system;
	}
	free(name);
	return ret;
}

/* the request for service the enhancement answers must be registered */
static int check_rfs(const struct ns_config *c, struct ns_registry *r,
		     const struct ns_manifest *m, const char *src)
{
	char *name = ini_name(src);
	json_t *row = NULL;
	int ret = 0;

	if (!m->rfs && c->require_rfs) {
		ns_error_set(
			"%s: [enhancement] rfs: missing; every enhancement "
			"answers a registered request for service "
			"([policy] require-rfs in %s)",
			name, c->path);
		ret = NS_EINVALID;
	} else if (m->rfs && (ret = ns_rfs_get(r, m->rfs, &row)) == 0 && !row) {
		ns_error_set("%s: [enhancement] rfs: '%s' is not registered "
			     "(nightshift rfs list; rfs add registers one)",
			     name, m->rfs);
		ret = NS_EINVALID;
	}
	json_decref(row);
	free(name);
	return ret;
}

/* read and check src into a temporary payload beside the store */
static int intake(struct ns_package *pkg, const struct ns_config *c,
		  struct ns_registry *r, const char *src, const char *tmp,
		  const char **system)
{
	int ret = ns_fsx_mkdir_p(c->store, 0755);

	/* the package is checked whole before the temporary copy is
	 * written, and that copy goes whenever anything is refused */
	if (!ret)
		ret = ns_package_read(pkg, src, &c->limits, tmp);
	if (!ret)
		ret = pick_system(system, c, &pkg->manifest, src);
	if (!ret)
		ret = check_rfs(c, r, &pkg->manifest, src);
	return ret;
}

static int add_revision(struct ns_registry *r, long long enh, int rev,
			const struct ns_package *pkg, const char *store,
			const char *payload, const char *actor, const char *at)
{
	uint64_t size = 0;
	int ret;

	for (size_t i = 0; i < pkg->nr; i++)
		size += pkg->members[i].size;
	ret = ns_registry_exec(
		r,
		"INSERT INTO revisions(enhancement, revision, payload_sha256, "
		"store_path, members, size, manifest, submitted_by, "
		"submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		"IissIIsss", enh, rev, pkg->payload_sha256, store,
		(long long)pkg->nr, (long long)size, pkg->manifest.title, actor,
		at);
	if (!ret)
		ret = ns_touches_record(r, enh, rev, pkg, payload);
	return ret;
}

/* the payload goes into the store inside the registry transaction: a
 * failure of either undoes both */
static int keep_payload(struct ns_registry *r, const char *tmp,
			const char *store)
{
	int ret = 0;

	if (rename(tmp, store) < 0) {
		ns_error_set("cannot store the payload as '%s': %s", store,
			     strerror(errno));
		ret = NS_ERROR;
	}
	if (!ret)
		ret = ns_registry_commit(r);
	if (ret < 0) {
		ns_registry_rollback(r);
		unlink(store);
	}
	return ret;
}

/* where a package built by nightshift came from (gitsrc.h, sqitch.h) */
static int record_origin(struct ns_registry *r, long long enh, int rev,
			 const char *actor, const char *origin)
{
	return origin ? ns_registry_event(r, actor, enh, rev, NULL, "source",
					  origin)
		      : 0;
}

static int register_enh(long long *out, struct ns_registry *r,
			const struct ns_config *c, const struct ns_package *pkg,
			const char *system, const char *tmp, const char *actor,
			const char *origin)
{
	char at[NS_TIME_LEN], *store = NULL;
	int ret;

	ns_time_iso(at, ns_now());
	if ((ret = ns_registry_begin(r)) < 0)
		return ret;
	ret = ns_registry_exec(r,
			       "INSERT INTO enhancements(title, rfs, system, "
			       "author, state, revision, created_at, "
			       "updated_at) VALUES (?, ?, ?, ?, 'submitted', "
			       "1, ?, ?)",
			       "ssssss", pkg->manifest.title, pkg->manifest.rfs,
			       system, actor, at, at);
	if (!ret) {
		*out = ns_registry_last_id(r);
		store = xprintf("%s/ENH-%lld-r1.tar", c->store, *out);
		ret = add_revision(r, *out, 1, pkg, store, tmp, actor, at);
	}
	if (!ret)
		ret = ns_registry_event(r, actor, *out, 1, NULL, "submitted",
					pkg->payload_sha256);
	if (!ret)
		ret = record_origin(r, *out, 1, actor, origin);
	if (!ret)
		ret = keep_payload(r, tmp, store);
	else
		ns_registry_rollback(r);
	free(store);
	return ret;
}

static const char *roles_submitted[] = { "qa", "change-management", NULL };

static int tell_submitted(const struct ns_config *c, long long enh, int rev,
			  const struct ns_package *pkg, const char *system,
			  const char *actor)
{
	struct ns_notice n = { rev > 1 ? "resubmitted" : "submitted",
			       roles_submitted,
			       actor,
			       system,
			       NULL,
			       NULL,
			       NULL,
			       NULL,
			       0 };
	char id[32];
	int ret;

	snprintf(id, sizeof(id), "ENH-%lld", enh);
	n.enhancement = id;
	n.revision = rev;
	n.subject = xprintf("%s r%d %s: %s", id, rev,
			    rev > 1 ? "resubmitted" : "submitted",
			    pkg->manifest.title);
	n.body = xprintf("%s r%d (%s) was %s by %s for system %s%s%s.\n"
			 "It waits for QA approval: nightshift qa approve "
			 "%s\n\nnightshift status %s\n",
			 id, rev, pkg->manifest.title,
			 rev > 1 ? "resubmitted" : "submitted", actor, system,
			 pkg->manifest.rfs ? ", answering " : "",
			 pkg->manifest.rfs ? pkg->manifest.rfs : "", id, id);
	ret = ns_notify(c, &n, NULL);
	free((char *)n.subject);
	free((char *)n.body);
	return ret;
}

int ns_lifecycle_submit(long long *out, const struct ns_config *c,
			struct ns_registry *r, const char *src,
			const char *actor)
{
	return ns_lifecycle_submit_from(out, c, r, src, actor, NULL);
}

int ns_lifecycle_submit_from(long long *out, const struct ns_config *c,
			     struct ns_registry *r, const char *src,
			     const char *actor, const char *origin)
{
	struct ns_package pkg = NS_PACKAGE_INIT;
	char *tmp = xprintf("%s/.incoming-%ld.tar", c->store, (long)getpid());
	const char *system = NULL;
	int ret = ns_lifecycle_role(c, "developer", actor, "submit");

	if (!ret)
		ret = intake(&pkg, c, r, src, tmp, &system);
	if (!ret)
		ret = register_enh(out, r, c, &pkg, system, tmp, actor, origin);
	unlink(tmp);
	if (!ret)
		ret = tell_submitted(c, *out, 1, &pkg, system, actor);
	free(tmp);
	ns_package_release(&pkg);
	return ret;
}

int ns_lifecycle_resubmit(int *out_rev, const struct ns_config *c,
			  struct ns_registry *r, long long enh, const char *src,
			  const char *actor)
{
	return ns_lifecycle_resubmit_from(out_rev, c, r, enh, src, actor, NULL);
}

int ns_lifecycle_resubmit_from(int *out_rev, const struct ns_config *c,
			       struct ns_registry *r, long long enh,
			       const char *src, const char *actor,
			       const char *origin)
{
	struct ns_package pkg = NS_PACKAGE_INIT;
	char *tmp = xprintf("%s/.incoming-%ld.tar", c->store, (long)getpid());
	char at[NS_TIME_LEN], *store = NULL, *why = NULL;
	const char *system = NULL;
	json_t *row = NULL;
	int ret, rev = 0;

	if ((ret = ns_lifecycle_may(c, r, enh, "resubmit", actor, NULL)) < 0)
		goto done;
	ret = ns_registry_query_row(r, &row,
				    "SELECT revision, system FROM enhancements "
				    "WHERE id = ?",
				    "I", enh);
	if (!ret)
		ret = intake(&pkg, c, r, src, tmp, &system);
	if (ret < 0)
		goto done;
	if (strcmp(system, ns_row_str(row, "system"))) {
		char *name = ini_name(src);
		ns_error_set("%s: system: ENH-%lld belongs to %s, not to %s",
			     name, enh, ns_row_str(row, "system"), system);
		free(name);
		ret = NS_EINVALID;
		goto done;
	}
	rev = (int)json_integer_value(json_object_get(row, "revision")) + 1;
	why = xprintf("revision r%d supersedes r%d", rev, rev - 1);
	store = xprintf("%s/ENH-%lld-r%d.tar", c->store, enh, rev);
	ns_time_iso(at, ns_now());
	if ((ret = ns_registry_begin(r)) < 0)
		goto done;
	ret = ns_registry_exec(r,
			       "UPDATE approvals SET revoked_at = ?, "
			       "revoked_why = ? WHERE enhancement = ? AND "
			       "revoked_at IS NULL",
			       "ssI", at, why, enh);
	if (!ret)
		ret = ns_registry_event(r, actor, enh, rev - 1, NULL,
					"approvals-revoked", why);
	if (!ret)
		ret = ns_lifecycle_withdraw_triggers(r, enh, actor, why);
	if (!ret)
		ret = add_revision(r, enh, rev, &pkg, store, tmp, actor, at);
	if (!ret)
		ret = ns_registry_exec(r,
				       "UPDATE enhancements SET revision = ?, "
				       "title = ?, rfs = ? WHERE id = ?",
				       "issI", rev, pkg.manifest.title,
				       pkg.manifest.rfs, enh);
	if (!ret)
		ret = ns_lifecycle_move(r, enh, "resubmit", actor, NULL,
					pkg.payload_sha256);
	if (!ret)
		ret = record_origin(r, enh, rev, actor, origin);
	if (!ret)
		ret = keep_payload(r, tmp, store);
	else
		ns_registry_rollback(r);
	if (!ret)
		ret = tell_submitted(c, enh, rev, &pkg, system, actor);
	if (!ret)
		*out_rev = rev;
done:
	unlink(tmp);
	free(tmp);
	free(store);
	free(why);
	json_decref(row);
	ns_package_release(&pkg);
	return ret;
}

/* ---- triggers: schedule and promote ------------------------------------ */

struct sched {
	json_t *enh, *rev;
	const struct ns_env *env;
	struct ns_package pkg;
	const char **sites;
	size_t sites_nr;
	time_t due, not_before; /* not_before: -1 when none */
	char due_iso[NS_TIME_LEN];
	char *window;		      /* the placed opening, START/END */
	char latest_iso[NS_TIME_LEN]; /* the latest safe start, or "" */
	const char *override;	      /* the blackout override's reason */
};

#define SCHED_INIT                                                             \
	{                                                                      \
		NULL, NULL, NULL, NS_PACKAGE_INIT, NULL, 0, 0, -1, "", NULL,   \
			"", NULL                                               \
	}

static int sched_load(struct sched *s, const struct ns_config *c,
		      struct ns_registry *r, long long enh)
{
	const char *store;
	int ret = ns_registry_query_row(
		r, &s->enh,
		"SELECT id, system, revision, author, title FROM enhancements "
		"WHERE id = ?",
		"I", enh);

	if (!ret && !s->enh) {
		ns_error_set("ENH-%lld: no such enhancement", enh);
		return NS_EINVALID;
	}
	if (!ret)
		ret = ns_registry_query_row(
			r, &s->rev,
			"SELECT revision, payload_sha256, store_path FROM "
			"revisions WHERE enhancement = ? AND revision = ?",
			"II", enh,
			json_integer_value(
				json_object_get(s->enh, "revision")));
	if (ret < 0)
		return ret;
	if (strcmp(ns_row_str(s->enh, "system"), s->env->system)) {
		ns_error_set("ENH-%lld belongs to system %s, not to %s", enh,
			     ns_row_str(s->enh, "system"), s->env->name);
		return NS_EINVALID;
	}
	store = ns_row_str(s->rev, "store_path");
	if ((ret = ns_package_read(&s->pkg, store, &c->limits, NULL)) < 0)
		return ret;
	if (strcmp(s->pkg.payload_sha256,
		   ns_row_str(s->rev, "payload_sha256"))) {
		ns_error_set("%s: the stored payload no longer has the hash "
			     "recorded at submission",
			     store);
		return NS_EINVALID;
	}
	return 0;
}

static void sched_sites(struct sched *s)
{
	const struct ns_manifest *m = &s->pkg.manifest;
	const struct ns_env *e = s->env;

	s->sites = xcalloc(e->sites_nr + 1, sizeof(*s->sites));
	for (size_t i = 0; i < e->sites_nr; i++)
		if (ns_site_wanted(&e->sites[i], m->sites, m->sites_nr))
			s->sites[s->sites_nr++] = e->sites[i].name;
}

/* the proposed time: --at, else the developer's for this kind of
 * environment, else now; never before the developer's not-before */
static int sched_time(struct sched *s, const char *at, const char *src)
{
	const struct ns_manifest *m = &s->pkg.manifest;
	const char *proposed = !strcmp(s->env->kind, "production")
				       ? m->sched_production
				       : m->sched_model;
	const char *key =
		!strcmp(s->env->kind, "production") ? "production" : "model";
	s->due = ns_now();
	if (at && ns_time_parse(&s->due, at) < 0) {
		ns_error_set("--at: expected YYYY-MM-DD[THH:MM[:SS]], not '%s'",
			     at);
		return NS_EUSAGE;
	}
	if (!at && proposed && ns_time_parse(&s->due, proposed) < 0) {
		ns_error_set("%s:enhancement.ini: [schedule] %s: expected "
			     "YYYY-MM-DD[THH:MM[:SS]], not '%s'",
			     src, key, proposed);
		return NS_EINVALID;
	}
	if (m->not_before && ns_time_parse(&s->not_before, m->not_before) < 0) {
		ns_error_set("%s:enhancement.ini: [schedule] not-before: "
			     "expected YYYY-MM-DD[THH:MM[:SS]], not '%s'",
			     src, m->not_before);
		return NS_EINVALID;
	}
	ns_time_iso(s->due_iso, s->due);
	return 0;
}

static const char *roles_returned[] = { "developer", "change-management",
					NULL };

/* a blocking finding about the enhancement itself, not about the time
 * proposed for it */
static int package_fault(const struct ns_analysis *a)
{
	static const char *const timing[] = { "NOT-BEFORE", "WINDOW",
					      "BLACKOUT", "DURATION" };

	for (size_t i = 0; i < a->nr; i++) {
		int about_time = 0;
		for (size_t k = 0; k < sizeof(timing) / sizeof(*timing); k++)
			about_time |= !strcmp(a->f[i].code, timing[k]);
		if (a->f[i].blocking && !about_time)
			return 1;
	}
	return 0;
}

/* blocking findings send the enhancement back to its developer, when
 * it is at a point where it can be sent back (NS_EFAILED); the report in
 * *a either way */
static int analyse(struct ns_analysis *a, struct sched *s,
		   const struct ns_config *c, struct ns_registry *r,
		   long long enh, const char *actor)
{
	char *text = NULL, *subject = NULL, *body = NULL;
	int ret = ns_analyze(a, c, r, enh, &s->pkg, s->env, s->due);

	if (ret < 0 || !a->blocking)
		goto done;
	text = ns_analysis_text(a);
	if (!package_fault(a) ||
	    ns_lifecycle_check(r, enh, "return", s->env->name) < 0) {
		/* only the proposed time is wrong: another time will do, the
		 * enhancement stays where it is; or it is too late to send it
		 * back (scheduled, migrated…): a report either way */
		ns_error_set("ENH-%lld: %d blocking finding%s for %s:\n%s", enh,
			     a->blocking, a->blocking == 1 ? "" : "s",
			     s->env->name, text);
		ret = NS_EFAILED;
		goto done;
	}
	if ((ret = ns_registry_begin(r)) < 0)
		goto done;
	ret = ns_lifecycle_move(r, enh, "return", actor, s->env->name, text);
	if (!ret)
		ret = ns_registry_commit(r);
	else
		ns_registry_rollback(r);
	if (!ret) {
		struct ns_notice n = { "returned",
				       roles_returned,
				       ns_row_str(s->enh, "author"),
				       s->env->system,
				       NULL,
				       s->env->name,
				       NULL,
				       NULL,
				       0 };
		char id[32];
		snprintf(id, sizeof(id), "ENH-%lld", enh);
		subject = xprintf("%s r%d returned: it does not conform to %s",
				  id, a->revision, s->env->name);
		body = xprintf("The analysis of %s r%d (%s) for %s found:\n\n"
			       "%s\nCorrect it and hand in a new revision: "
			       "nightshift resubmit %s PATH\n",
			       id, a->revision, ns_row_str(s->enh, "title"),
			       s->env->name, text, id);
		n.enhancement = id;
		n.revision = a->revision;
		n.subject = subject;
		n.body = body;
		ret = ns_notify(c, &n, NULL);
	}
	if (!ret) {
		ns_error_set("ENH-%lld returned to its developer: %d blocking "
			     "finding%s for %s:\n%s",
			     enh, a->blocking, a->blocking == 1 ? "" : "s",
			     s->env->name, text);
		ret = NS_EFAILED;
	}
done:
	free(text);
	free(subject);
	free(body);
	return ret;
}

/* analyse, and keep no report */
static int conform(struct sched *s, const struct ns_config *c,
		   struct ns_registry *r, long long enh, const char *actor)
{
	struct ns_analysis a = NS_ANALYSIS_INIT;
	int ret = analyse(&a, s, c, r, enh, actor);

	ns_analysis_release(&a);
	return ret;
}

static json_t *approvals_of(struct ns_registry *r, long long enh, int rev)
{
	json_t *rows = NULL;

	if (ns_registry_query(r, &rows,
			      "SELECT kind, actor, at, environment FROM "
			      "approvals WHERE enhancement = ? AND revision = "
			      "? AND revoked_at IS NULL ORDER BY id",
			      "Ii", enh, rev) < 0)
		return NULL;
	return rows;
}

/* the triggers of enh still waiting in env: what a new schedule replaces */
static int pending_triggers(struct ns_registry *r, long long enh,
			    const char *env, json_t **out)
{
	return ns_registry_query(r, out,
				 "SELECT id, path, revision, environment, "
				 "due_at FROM triggers WHERE enhancement = ? "
				 "AND environment = ? AND state = 'pending'",
				 "Is", enh, env);
}

/* how many triggers enh has had in env (each a name of its own) */
static long long triggers_so_far(struct ns_registry *r, long long enh,
				 const char *env)
{
	json_t *row = NULL;
	long long n = 0;

	if (!ns_registry_query_row(r, &row,
				   "SELECT COUNT(*) AS n FROM triggers WHERE "
				   "enhancement = ? AND environment = ?",
				   "Is", enh, env) &&
	    row)
		n = json_integer_value(json_object_get(row, "n"));
	json_decref(row);
	return n;
}

static int sched_record(struct ns_registry *r, long long enh,
			const struct sched *s, const char *verb,
			const char *path, const char *json_sha,
			const char *actor, json_t *old)
{
	char at[NS_TIME_LEN];
	int ret;

	ns_time_iso(at, ns_now());
	if ((ret = ns_registry_begin(r)) < 0)
		return ret;
	/* the replaced triggers are withdrawn in the transaction that
	 * records the new one; their files go after it committed (a crash
	 * before leaves a file no pending trigger names, which no window
	 * runs) */
	ret = ns_lifecycle_mark_withdrawn(r, enh, old, actor, NULL, s->due_iso);
	if (!ret)
		ret = ns_registry_exec(
			r,
			"INSERT INTO triggers(enhancement, revision, "
			"environment, path, json_sha256, payload_sha256, "
			"due_at, state, created_by, created_at) VALUES (?, ?, "
			"?, ?, ?, ?, ?, 'pending', ?, ?)",
			"IIsssssss", enh,
			json_integer_value(json_object_get(s->rev, "revision")),
			s->env->name, path, json_sha, s->pkg.payload_sha256,
			s->due_iso, actor, at);
	if (!ret)
		ret = ns_lifecycle_move(r, enh, verb, actor, s->env->name,
					path);
	if (!ret)
		ret = ns_registry_commit(r);
	else
		ns_registry_rollback(r);
	return ret;
}

/* write the trigger of s into the spool and record it under verb */
static int sched_write(char **out_path, const struct ns_config *c,
		       struct ns_registry *r, long long enh, struct sched *s,
		       const char *verb, const char *actor)
{
	char id[32], created[NS_TIME_LEN], json_sha[NS_HEX_LEN + 1];
	int rev = (int)json_integer_value(json_object_get(s->rev, "revision"));
	json_t *approvals = approvals_of(r, enh, rev);
	struct ns_trigger_spec spec;
	struct ns_key *key = NULL;
	json_t *old = NULL, *x;
	char *dir, *path;
	size_t i;
	int ret;

	/* a signing key that cannot be used stops before anything is
	 * written */
	if ((ret = ns_config_signing_key(c, &key)) < 0 ||
	    (ret = pending_triggers(r, enh, s->env->name, &old)) < 0) {
		ns_key_free(key);
		json_decref(approvals);
		return ret;
	}
	snprintf(id, sizeof(id), "ENH-%lld", enh);
	ns_time_iso(created, ns_now());
	sched_sites(s);
	spec = (struct ns_trigger_spec){
		id,
		rev,
		s->env->system,
		s->env->name,
		s->env->kind,
		s->sites,
		s->sites_nr,
		s->window,
		s->due_iso,
		s->latest_iso[0] ? s->latest_iso : NULL,
		actor,
		created,
		approvals,
		s->override,
		key,
	};
	dir = ns_env_dir(c->spool, s->env);
	/* scheduled again: a name of its own, so that the trigger it
	 * replaces stays whole until the registry has the new one */
	path = json_array_size(old)
		       ? xprintf("%s/%s-r%d-%lld.trigger", dir, id, rev,
				 triggers_so_far(r, enh, s->env->name) + 1)
		       : xprintf("%s/%s-r%d.trigger", dir, id, rev);
	ret = ns_fsx_mkdir_p(dir, 0755);
	if (!ret)
		ret = ns_trigger_write(json_sha, path, &spec, &s->pkg,
				       ns_row_str(s->rev, "store_path"));
	if (!ret && (ret = sched_record(r, enh, s, verb, path, json_sha, actor,
					old)) < 0)
		unlink(path);
	/* the replaced files go once the registry no longer names them */
	json_array_foreach(old, i, x)
	{
		if (!ret && strcmp(ns_row_str(x, "path"), path))
			unlink(ns_row_str(x, "path"));
	}
	if (!ret) {
		*out_path = path;
		path = NULL;
	}
	json_decref(old);
	json_decref(approvals);
	ns_key_free(key);
	free(dir);
	free(path);
	return ret;
}

static void sched_release(struct sched *s)
{
	free(s->window);
	free(s->sites);
	json_decref(s->enh);
	json_decref(s->rev);
	ns_package_release(&s->pkg);
}

/* ---- placement in the environment's calendar ------------------------ */

#define PLACE_HORIZON_S (366 * 86400L)

void ns_placement_release(struct ns_placement *p)
{
	free(p->note);
	p->note = NULL;
}

/* no earlier than the pending triggers in this environment of what it
 * requires: the daemon runs them in that order within an opening */
static int after_required(time_t *t, const struct sched *s,
			  struct ns_registry *r)
{
	const struct ns_manifest *m = &s->pkg.manifest;
	int ret = 0;

	for (size_t i = 0; i < m->requires_nr && !ret; i++) {
		long long o = ns_enh_parse(m->requires[i]);
		json_t *row = NULL;
		const char *due;
		time_t d;

		if (!o)
			continue; /* the analysis says so */
		ret = ns_registry_query_row(
			r, &row,
			"SELECT MAX(due_at) AS due FROM triggers WHERE "
			"enhancement = ? AND environment = ? AND state = "
			"'pending'",
			"Is", o, s->env->name);
		if (!ret && row && (due = ns_row_str(row, "due")) &&
		    !ns_time_parse(&d, due) && d > *t)
			*t = d;
		json_decref(row);
	}
	return ret;
}

/* the first opening at or after p->wanted that holds need seconds */
static int first_fit(struct ns_placement *p, const struct ns_calendar *cal,
		     long long need, const struct sched *s, long long enh)
{
	char when[NS_TIME_LEN];
	time_t t = p->wanted, start, close = -1;

	for (;;) {
		start = ns_calendar_next(cal, t, &close);
		if (start == (time_t)-1 || start - p->wanted > PLACE_HORIZON_S)
			break;
		if (close == (time_t)-1 || start + need <= close) {
			p->start = start;
			p->close = close;
			p->latest =
				close == (time_t)-1 ? (time_t)-1 : close - need;
			return 0;
		}
		t = close;
	}
	ns_time_iso(when, p->wanted);
	ns_error_set("ENH-%lld: no opening of %s in the 366 days from %s "
		     "holds its estimated %lld s (to apply, and as long to "
		     "roll back); see nightshift windows --env %s",
		     enh, s->env->name, when, need, s->env->name);
	return NS_EFAILED;
}

/* why the trigger does not start when it was asked to */
static char *why_moved(const struct ns_placement *p,
		       const struct ns_calendar *cal, long long need,
		       const struct sched *s)
{
	char asked[NS_TIME_LEN], wanted[NS_TIME_LEN], close[NS_TIME_LEN];
	time_t end;
	const char *why;

	ns_time_iso(asked, p->asked);
	ns_time_iso(wanted, p->wanted);
	if (p->wanted > p->asked && p->wanted == s->not_before)
		return xprintf("%s is before its not-before %s", asked, wanted);
	if (p->wanted > p->asked)
		return xprintf("%s is before the trigger of an enhancement it "
			       "requires (%s)",
			       asked, wanted);
	if (ns_calendar_blackout(cal, p->wanted))
		why = "falls in a blackout of";
	else if (!ns_calendar_open(cal, p->wanted, &end))
		why = "is outside the windows of";
	else {
		ns_time_iso(close, end);
		return xprintf("%s leaves too little of the opening of %s "
			       "(it closes at %s; %lld s are needed to "
			       "apply and roll back)",
			       wanted, s->env->name, close, need);
	}
	return xprintf("%s %s %s", wanted, why, s->env->name);
}

static int override_allowed(const struct ns_placement *p,
			    const struct ns_config *c, const char *actor)
{
	if (!p->override_reason)
		return 0;
	if (!*p->override_reason) {
		ns_error_set("--override-blackout needs --reason TEXT, the "
			     "reason that is audited");
		return NS_EUSAGE;
	}
	return ns_lifecycle_role(c, "change-management", actor,
				 "--override-blackout");
}

/*
 * Place s in its environment's calendar (lifecycle.h). With an override,
 * the calendar is that of a copy of the environment without blackouts,
 * and s->env becomes that copy, so that the analysis does not refuse the
 * blackout either.
 */
static int sched_place(struct sched *s, struct ns_placement *p,
		       struct ns_env *bare, struct ns_registry *r,
		       long long enh)
{
	struct ns_calendar *cal = NULL, *full = NULL;
	char start[NS_TIME_LEN], close[NS_TIME_LEN];
	long long apply, rollback, need;
	time_t end;
	int ret;

	p->asked = s->due;
	p->wanted = s->not_before > s->due ? s->not_before : s->due;
	if ((ret = after_required(&p->wanted, s, r)) < 0)
		return ret;
	ns_estimate(
		&apply, &rollback, r, enh,
		(int)json_integer_value(json_object_get(s->rev, "revision")),
		&s->pkg, s->env);
	p->need_ms = apply + rollback;
	need = (p->need_ms + 999) / 1000;
	if ((ret = ns_calendar_new(&full, s->env)) < 0)
		goto done;
	if (p->override_reason) {
		*bare = *s->env;
		s->override = p->override_reason;
		bare->blackout = NULL;
		bare->blackouts_nr = 0;
		s->env = bare;
		if ((ret = ns_calendar_new(&cal, bare)) < 0)
			goto done;
	}
	if ((ret = first_fit(p, cal ? cal : full, need, s, enh)) < 0)
		goto done;
	/* the blackouts are what cuts the opening short in the full
	 * calendar, when the bare one holds it */
	p->in_blackout = cal && (!ns_calendar_open(full, p->start, &end) ||
				 (end != (time_t)-1 && end < p->start + need));
	if (p->start != p->asked)
		p->note = why_moved(p, full, need, s);
	s->due = p->start;
	ns_time_iso(s->due_iso, s->due);
	ns_time_iso(start, p->start);
	if (p->close != (time_t)-1)
		ns_time_iso(close, p->close);
	s->window =
		xprintf("%s/%s", start, p->close != (time_t)-1 ? close : "..");
	if (p->latest != (time_t)-1)
		ns_time_iso(s->latest_iso, p->latest);
done:
	ns_calendar_free(cal);
	ns_calendar_free(full);
	return ret;
}

/* scheduling again (the trigger replaced) is said with the time it is
 * moved to: a repeated command alone does not move anything */
static int again_needs_at(struct ns_registry *r, long long enh, const char *env,
			  const struct ns_placement *p, const char *verb)
{
	json_t *old = NULL;
	int ret = pending_triggers(r, enh, env, &old);

	if (!ret && json_array_size(old) && !p->at) {
		ns_error_set("ENH-%lld is %s for %s already (due %s): to %s "
			     "it again at another time, say when with --at "
			     "TIME",
			     enh,
			     !strcmp(verb, "promote") ? "promoted"
						      : "scheduled",
			     env, ns_row_str(json_array_get(old, 0), "due_at"),
			     verb);
		ret = NS_EFAILED;
	}
	json_decref(old);
	return ret;
}

/* the override is an event of its own, with its reason */
static int audit_override(struct ns_registry *r, const struct sched *s,
			  const struct ns_placement *p, const char *env,
			  long long enh, const char *actor)
{
	char *detail;
	int ret;

	if (!p->override_reason)
		return 0;
	detail = xprintf("%s; due %s%s", p->override_reason, s->due_iso,
			 p->in_blackout ? ", inside a blackout"
					: ", outside every blackout");
	ret = ns_registry_event(
		r, actor, enh,
		(int)json_integer_value(json_object_get(s->rev, "revision")),
		env, "blackout-overridden", detail);
	free(detail);
	return ret;
}

int ns_lifecycle_schedule(char **out_path, struct ns_placement *p,
			  const struct ns_config *c, struct ns_registry *r,
			  long long enh, const char *env, const char *actor)
{
	struct sched s = SCHED_INIT;
	struct ns_env bare;
	int ret;

	if (!(s.env = ns_config_env(c, env)))
		return NS_EUSAGE;
	if (!strcmp(s.env->kind, "production")) {
		ns_error_set("schedule: %s is a production environment; an "
			     "enhancement reaches it by promotion after its "
			     "acceptance in the model (nightshift promote "
			     "ENH-%lld)",
			     s.env->name, enh);
		return NS_EFAILED;
	}
	if ((ret = override_allowed(p, c, actor)) < 0)
		return ret;
	if ((ret = ns_lifecycle_may(c, r, enh, "schedule", actor,
				    s.env->name)) < 0 ||
	    (ret = again_needs_at(r, enh, s.env->name, p, "schedule")) < 0)
		goto done;
	if ((ret = sched_load(&s, c, r, enh)) < 0)
		goto done;
	if ((ret = sched_time(&s, p->at, ns_row_str(s.rev, "store_path"))) < 0)
		goto done;
	if ((ret = sched_place(&s, p, &bare, r, enh)) < 0)
		goto done;
	if ((ret = conform(&s, c, r, enh, actor)) < 0)
		goto done;
	ret = sched_write(out_path, c, r, enh, &s, "schedule", actor);
	if (!ret)
		ret = audit_override(r, &s, p, s.env->name, enh, actor);
done:
	sched_release(&s);
	return ret;
}

/* the accepted model run of the current revision */
static int accepted_payload(struct ns_registry *r, long long enh, int rev,
			    const char *system, json_t **out)
{
	int ret = ns_lifecycle_model_run(r, enh, rev, system, out);

	if (!ret && !*out) {
		ns_error_set("ENH-%lld r%d has no accepted run in %s/model to "
			     "promote",
			     enh, rev, system);
		ret = NS_EFAILED;
	}
	return ret;
}

int ns_lifecycle_promote(char **out_path, struct ns_placement *p,
			 const struct ns_config *c, struct ns_registry *r,
			 long long enh, const char *actor)
{
	struct sched s = SCHED_INIT;
	struct ns_env bare;
	json_t *row = NULL, *model_run = NULL;
	char *prod = NULL;
	int ret;

	if ((ret = ns_registry_query_row(r, &row,
					 "SELECT system, revision FROM "
					 "enhancements WHERE id = ?",
					 "I", enh)) < 0)
		return ret;
	if (!row) {
		ns_error_set("ENH-%lld: no such enhancement", enh);
		return NS_EINVALID;
	}
	prod = xprintf("%s/production", ns_row_str(row, "system"));
	if (!(s.env = ns_config_env(c, prod))) {
		ns_error_set("promote: %s has no production environment in %s",
			     ns_row_str(row, "system"), c->path);
		ret = NS_EFAILED;
		goto done;
	}
	if ((ret = override_allowed(p, c, actor)) < 0)
		goto done;
	if ((ret = ns_lifecycle_may(c, r, enh, "promote", actor, prod)) < 0 ||
	    (ret = again_needs_at(r, enh, prod, p, "promote")) < 0)
		goto done;
	if ((ret = accepted_payload(
		     r, enh,
		     (int)json_integer_value(json_object_get(row, "revision")),
		     ns_row_str(row, "system"), &model_run)) < 0)
		goto done;
	if ((ret = sched_load(&s, c, r, enh)) < 0)
		goto done;
	if (strcmp(s.pkg.payload_sha256,
		   ns_row_str(model_run, "payload_sha256"))) {
		ns_error_set("promote: ENH-%lld's payload (%.12s…) is not the "
			     "one its accepted model run migrated (%.12s…): "
			     "production takes only the byte-identical "
			     "payload",
			     enh, s.pkg.payload_sha256,
			     ns_row_str(model_run, "payload_sha256"));
		ret = NS_EINVALID;
		goto done;
	}
	if ((ret = sched_time(&s, p->at, ns_row_str(s.rev, "store_path"))) < 0)
		goto done;
	if ((ret = sched_place(&s, p, &bare, r, enh)) < 0)
		goto done;
	if ((ret = conform(&s, c, r, enh, actor)) < 0)
		goto done;
	ret = sched_write(out_path, c, r, enh, &s, "promote", actor);
	if (!ret)
		ret = audit_override(r, &s, p, prod, enh, actor);
done:
	sched_release(&s);
	json_decref(row);
	json_decref(model_run);
	free(prod);
	return ret;
}

int ns_lifecycle_analyze(struct ns_analysis *out, const struct ns_config *c,
			 struct ns_registry *r, long long enh, const char *env,
			 const char *at, const char *actor)
{
	struct sched s = SCHED_INIT;
	int ret;

	if (!(s.env = ns_config_env(c, env)))
		return NS_EUSAGE;
	if ((ret = sched_load(&s, c, r, enh)) < 0)
		goto done;
	if ((ret = sched_time(&s, at, ns_row_str(s.rev, "store_path"))) < 0)
		goto done;
	ret = analyse(out, &s, c, r, enh, actor);
done:
	sched_release(&s);
	return ret;
}
