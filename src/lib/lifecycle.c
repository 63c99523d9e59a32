#include "lifecycle.h"
#include "error.h"
#include "fsx.h"
#include "notify.h"
#include "runner.h"
#include "strbuf.h"
#include "timefmt.h"
#include "trigger.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <stdlib.h>
#include <string.h>

struct move {
	const char *from, *verb, *to;
};

/* "*" matches any state */
static const struct move moves[] = {
	{ "submitted", "schedule", "scheduled" },
	{ "migrated", "schedule", "scheduled" },
	{ "rolled-back", "schedule", "scheduled" },
	{ "returned", "schedule", "scheduled" },
	{ "scheduled", "start", "migrating" },
	{ "scheduled", "refuse", "returned" },
	{ "migrating", "migrated", "migrated" },
	{ "migrating", "roll-back", "rolled-back" },
	{ "migrating", "rollback-failed", "rollback-failed" },
	{ "migrating", "refuse", "returned" },
	{ "migrating", "requeue", "scheduled" },
	{ "migrated", "back-out", "rolled-back" },
	{ "rollback-failed", "unblock", "returned" },
};

static int state_of(struct ns_registry *r, long long enh, char **out)
{
	json_t *row = NULL;
	int ret = ns_registry_query_row(
		r, &row, "SELECT state FROM enhancements WHERE id = ?", "I",
		enh);

	if (ret < 0)
		return ret;
	if (!row) {
		ns_error_set("ENH-%lld: no such enhancement", enh);
		return NS_EINVALID;
	}
	*out = xstrdup(json_string_value(json_object_get(row, "state")));
	json_decref(row);
	return 0;
}

static const struct move *find(const char *from, const char *verb)
{
	for (size_t i = 0; i < sizeof(moves) / sizeof(*moves); i++)
		if (!strcmp(moves[i].from, from) &&
		    !strcmp(moves[i].verb, verb))
			return &moves[i];
	return NULL;
}

static int refuse(long long enh, const char *state, const char *verb)
{
	struct strbuf allowed = STRBUF_INIT;

	for (size_t i = 0; i < sizeof(moves) / sizeof(*moves); i++)
		if (!strcmp(moves[i].from, state))
			strbuf_addf(&allowed, "%s%s", allowed.len ? ", " : "",
				    moves[i].verb);
	ns_error_set("ENH-%lld is %s: '%s' is not allowed from there "
		     "(allowed: %s)",
		     enh, state, verb, allowed.len ? allowed.buf : "nothing");
	strbuf_release(&allowed);
	return NS_EFAILED;
}

int ns_lifecycle_check(struct ns_registry *r, long long enh, const char *verb)
{
	char *state = NULL;
	int ret = state_of(r, enh, &state);

	if (!ret && !find(state, verb))
		ret = refuse(enh, state, verb);
	free(state);
	return ret;
}

int ns_lifecycle_move(struct ns_registry *r, long long enh, const char *verb,
		      const char *actor, const char *env, const char *detail)
{
	char *state = NULL, at[NS_TIME_LEN];
	const struct move *m;
	json_t *row = NULL;
	int ret = state_of(r, enh, &state), rev = 0;

	if (ret < 0)
		goto done;
	if (!(m = find(state, verb))) {
		ret = refuse(enh, state, verb);
		goto done;
	}
	ns_time_iso(at, ns_now());
	ret = ns_registry_query_row(
		r, &row, "SELECT revision FROM enhancements WHERE id = ?", "I",
		enh);
	if (!ret && row)
		rev = (int)json_integer_value(json_object_get(row, "revision"));
	if (!ret)
		ret = ns_registry_exec(r,
				       "UPDATE enhancements SET state = ?, "
				       "updated_at = ? WHERE id = ?",
				       "ssI", m->to, at, enh);
	if (!ret)
		ret = ns_registry_event(r, actor, enh, rev, env, m->to, detail);
done:
	json_decref(row);
	free(state);
	return ret;
}

/* ---- submit and schedule ---------------------------------------------- */

static const char *roles_submitted[] = { "qa", "change-management", NULL };

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

static int register_enh(long long *out, const struct ns_config *c,
			struct ns_registry *r, const struct ns_package *pkg,
			const char *system, const char *tmp, const char *actor,
			char **store)
{
	char at[NS_TIME_LEN];
	uint64_t size = 0;
	json_t *ini = NULL;
	int ret;

	for (size_t i = 0; i < pkg->nr; i++)
		size += pkg->members[i].size;
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
		*store = xprintf("%s/ENH-%lld-r1.tar", c->store, *out);
		ret = ns_registry_exec(
			r,
			"INSERT INTO revisions(enhancement, revision, "
			"payload_sha256, store_path, members, size, manifest, "
			"submitted_by, submitted_at) VALUES (?, 1, ?, ?, ?, ?, "
			"?, ?, ?)",
			"IssIIsss", *out, pkg->payload_sha256, *store,
			(long long)pkg->nr, (long long)size,
			pkg->manifest.title, actor, at);
	}
	if (!ret)
		ret = ns_registry_event(r, actor, *out, 1, NULL, "submitted",
					pkg->payload_sha256);
	if (!ret && rename(tmp, *store) < 0) {
		ns_error_set("cannot store the payload as '%s': %s", *store,
			     strerror(errno));
		ret = NS_ERROR;
	}
	if (!ret)
		ret = ns_registry_commit(r);
	if (ret < 0) {
		ns_registry_rollback(r);
		if (*store)
			unlink(*store);
	}
	json_decref(ini);
	return ret;
}

int ns_lifecycle_submit(long long *out, const struct ns_config *c,
			struct ns_registry *r, const char *src,
			const char *actor)
{
	struct ns_package pkg = NS_PACKAGE_INIT;
	char *tmp = xprintf("%s/.incoming-%ld.tar", c->store, (long)getpid());
	char *store = NULL, *subject = NULL, *body = NULL;
	const char *system = NULL;
	int ret;

	/* the package is checked whole before the temporary copy is
	 * written, and that copy goes whenever anything is refused */
	ret = ns_fsx_mkdir_p(c->store, 0755);
	if (!ret)
		ret = ns_package_read(&pkg, src, &c->limits, tmp);
	if (!ret)
		ret = pick_system(&system, c, &pkg.manifest, src);
	if (!ret)
		ret = register_enh(out, c, r, &pkg, system, tmp, actor, &store);
	unlink(tmp);
	if (!ret) {
		struct ns_notice n = { "submitted", roles_submitted,
				       actor,	    system,
				       NULL,	    NULL,
				       NULL,	    NULL };
		char id[32];
		snprintf(id, sizeof(id), "ENH-%lld", *out);
		subject = xprintf("%s submitted: %s", id, pkg.manifest.title);
		body = xprintf("%s (%s) was submitted by %s for system %s.\n"
			       "It waits for QA approval.\n\nnightshift "
			       "status %s\n",
			       id, pkg.manifest.title, actor, system, id);
		n.enhancement = id;
		n.subject = subject;
		n.body = body;
		ret = ns_notify(c, &n, NULL);
	}
	free(subject);
	free(body);
	free(store);
	free(tmp);
	ns_package_release(&pkg);
	return ret;
}

struct sched {
	json_t *enh, *rev;
	const struct ns_env *env;
	struct ns_package pkg;
	const char **sites;
	size_t sites_nr;
	char due[NS_TIME_LEN];
};

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
	store = json_string_value(json_object_get(s->rev, "store_path"));
	if ((ret = ns_package_read(&s->pkg, store, &c->limits, NULL)) < 0)
		return ret;
	if (strcmp(s->pkg.payload_sha256, json_string_value(json_object_get(
						  s->rev, "payload_sha256")))) {
		ns_error_set("%s: the stored payload no longer has the hash "
			     "recorded at submission",
			     store);
		return NS_ERROR;
	}
	return 0;
}

static int sched_sites(struct sched *s)
{
	const struct ns_manifest *m = &s->pkg.manifest;
	const struct ns_env *e = s->env;

	s->sites = xcalloc(e->sites_nr + 1, sizeof(*s->sites));
	for (size_t i = 0; i < e->sites_nr; i++) {
		int wanted = !m->sites_nr;
		for (size_t k = 0; k < m->sites_nr; k++)
			wanted |= !strcmp(m->sites[k], e->sites[i].label) ||
				  !strcmp(m->sites[k], e->sites[i].name);
		if (wanted)
			s->sites[s->sites_nr++] = e->sites[i].name;
	}
	for (size_t k = 0; k < m->sites_nr; k++) {
		int known = 0;
		for (size_t i = 0; i < e->sites_nr; i++)
			known |= !strcmp(m->sites[k], e->sites[i].label) ||
				 !strcmp(m->sites[k], e->sites[i].name);
		if (!known) {
			ns_error_set("[distribution] sites: '%s' is not a "
				     "site of %s",
				     m->sites[k], e->name);
			return NS_EFAILED;
		}
	}
	return 0;
}

static int sched_record(struct ns_registry *r, long long enh,
			const struct sched *s, const char *path,
			const char *json_sha, const char *actor)
{
	char at[NS_TIME_LEN];
	int ret;

	ns_time_iso(at, ns_now());
	if ((ret = ns_registry_begin(r)) < 0)
		return ret;
	ret = ns_registry_exec(
		r,
		"INSERT INTO triggers(enhancement, revision, environment, "
		"path, json_sha256, payload_sha256, due_at, state, created_by,"
		" created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
		"IIsssssss", enh,
		json_integer_value(json_object_get(s->rev, "revision")),
		s->env->name, path, json_sha, s->pkg.payload_sha256, s->due,
		actor, at);
	if (!ret)
		ret = ns_lifecycle_move(r, enh, "schedule", actor, s->env->name,
					path);
	if (!ret)
		ret = ns_registry_commit(r);
	else
		ns_registry_rollback(r);
	return ret;
}

int ns_lifecycle_schedule(char **out_path, const struct ns_config *c,
			  struct ns_registry *r, long long enh, const char *env,
			  const char *at, const char *actor)
{
	struct sched s = { NULL, NULL, NULL, NS_PACKAGE_INIT, NULL, 0, "" };
	char id[32], created[NS_TIME_LEN], json_sha[NS_HEX_LEN + 1];
	char *dir = NULL, *path = NULL;
	struct ns_trigger_spec spec = { 0 };
	time_t due = ns_now();
	int ret;

	if (!(s.env = ns_config_env(c, env)))
		return NS_EUSAGE;
	if (at && ns_time_parse(&due, at) < 0) {
		ns_error_set("--at: expected YYYY-MM-DD[THH:MM[:SS]], not '%s'",
			     at);
		return NS_EUSAGE;
	}
	ns_time_iso(s.due, due);
	if ((ret = ns_lifecycle_check(r, enh, "schedule")) < 0)
		goto done;
	if ((ret = sched_load(&s, c, r, enh)) < 0)
		goto done;
	if (strcmp(json_string_value(json_object_get(s.enh, "system")),
		   s.env->system)) {
		ns_error_set(
			"ENH-%lld belongs to system %s, not to %s", enh,
			json_string_value(json_object_get(s.enh, "system")),
			s.env->name);
		ret = NS_EINVALID;
		goto done;
	}
	if ((ret = sched_sites(&s)) < 0)
		goto done;
	snprintf(id, sizeof(id), "ENH-%lld", enh);
	ns_time_iso(created, ns_now());
	spec = (struct ns_trigger_spec){
		id,
		(int)json_integer_value(json_object_get(s.rev, "revision")),
		s.env->system,
		s.env->name,
		s.env->kind,
		s.sites,
		s.sites_nr,
		s.env->window,
		s.due,
		NULL,
		actor,
		created,
		NULL,
	};
	dir = ns_env_dir(c->spool, s.env);
	path = xprintf("%s/%s-r%d.trigger", dir, id, spec.revision);
	ret = ns_fsx_mkdir_p(dir, 0755);
	if (!ret)
		ret = ns_trigger_write(json_sha, path, &spec, &s.pkg,
				       json_string_value(json_object_get(
					       s.rev, "store_path")));
	if (!ret && (ret = sched_record(r, enh, &s, path, json_sha, actor)) < 0)
		unlink(path);
	if (!ret) {
		*out_path = path;
		path = NULL;
	}
done:
	free(dir);
	free(path);
	free(s.sites);
	json_decref(s.enh);
	json_decref(s.rev);
	ns_package_release(&s.pkg);
	return ret;
}
