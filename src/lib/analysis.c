#include "analysis.h"
#include "error.h"
#include "fsx.h"
#include "lifecycle.h"
#include "sqlobj.h"
#include "strbuf.h"
#include "timefmt.h"
#include "window.h"
#include "xalloc.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* the estimate of a migration from its size, when nothing was measured:
 * a fixed cost, a cost per file, and a rate for the bytes, each chosen
 * generously (a slow disk, fsyncs, the SQL) */
#define EST_FIXED_MS	 2000LL
#define EST_FILE_MS	 5LL
#define EST_BYTES_PER_MS 20000LL /* 20 MB/s */

static struct ns_finding *add(struct ns_analysis *a, const char *code,
			      int blocking, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static struct ns_finding *add(struct ns_analysis *a, const char *code,
			      int blocking, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	struct ns_finding *f;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	ALLOC_GROW(a->f, a->nr, a->alloc);
	f = &a->f[a->nr++];
	memset(f, 0, sizeof(*f));
	f->code = code;
	f->blocking = blocking;
	f->message = strbuf_detach(&sb, NULL);
	if (blocking)
		a->blocking++;
	else
		a->warnings++;
	return f;
}

static void item(struct ns_finding *f, const char *s)
{
	f->items = xrealloc(f->items, (f->items_nr + 1) * sizeof(*f->items));
	f->items[f->items_nr++] = xstrdup(s);
}

void ns_analysis_release(struct ns_analysis *a)
{
	for (size_t i = 0; i < a->nr; i++) {
		free(a->f[i].message);
		for (size_t k = 0; k < a->f[i].items_nr; k++)
			free(a->f[i].items[k]);
		free(a->f[i].items);
	}
	free(a->f);
	memset(a, 0, sizeof(*a));
}

/* ---- what a revision touches -------------------------------------------- */

static int read_member(char **out, const char *tar, const char *want)
{
	struct ns_tar_reader *tr = NULL;
	const char *path;
	uint64_t size;
	unsigned mode;
	int reg, ret;

	*out = NULL;
	if ((ret = ns_tar_open(&tr, tar)) < 0)
		return ret;
	while ((ret = ns_tar_next(tr, &path, &size, &mode, &reg)) == 1)
		if (!strcmp(path, want)) {
			size_t len;
			ret = ns_tar_read_all(tr, out, &len, 64u << 20);
			break;
		}
	ns_tar_close(tr);
	return ret < 0 ? ret : 0;
}

static int touch(struct ns_registry *r, long long enh, int rev,
		 const char *kind, const char *name)
{
	return ns_registry_exec(r,
				"INSERT OR IGNORE INTO touches(enhancement, "
				"revision, kind, name) VALUES (?, ?, ?, ?)",
				"Iiss", enh, rev, kind, name);
}

int ns_touches_record(struct ns_registry *r, long long enh, int rev,
		      const struct ns_package *pkg, const char *payload)
{
	const struct ns_manifest *m = &pkg->manifest;
	char *sql = NULL, **objs = NULL;
	size_t nobj = 0;
	int ret = 0;

	for (size_t i = 0; i < pkg->nr && !ret; i++)
		if (!strncmp(pkg->members[i].path, "files/", 6))
			ret = touch(r, enh, rev, "file",
				    pkg->members[i].path + 6);
	for (size_t i = 0; i < m->deletes_nr && !ret; i++)
		ret = touch(r, enh, rev, "file", m->deletes[i]);
	if (!ret && pkg->has_deploy && payload)
		ret = read_member(&sql, payload, "sql/deploy.sql");
	if (!ret && sql)
		ns_sql_objects(&objs, &nobj, sql);
	for (size_t i = 0; i < nobj && !ret; i++)
		ret = touch(r, enh, rev, "db", objs[i]);
	ns_sql_objects_free(objs);
	free(sql);
	return ret;
}

/* ---- the findings ---------------------------------------------------------
 */

struct ctx {
	struct ns_analysis *a;
	const struct ns_config *c;
	struct ns_registry *r;
	const struct ns_package *pkg;
	const struct ns_env *env;
	json_t *enh;	 /* the enhancement's row */
	json_t *touches; /* [{kind, name}] of the current revision */
};

static int in_scope(json_t *scope, const char *kind, const char *name)
{
	size_t i;
	json_t *g;

	json_array_foreach(scope, i, g)
	{
		const char *glob = json_string_value(g);
		int db = !strncmp(glob, "db:", 3);
		if (!strcmp(kind, "db") != !!db)
			continue;
		if (!fnmatch(db ? glob + 3 : glob, name, db ? FNM_CASEFOLD : 0))
			return 1;
	}
	return 0;
}

static int check_rfs(struct ctx *x)
{
	const char *id = ns_row_str(x->enh, "rfs");
	struct ns_finding *f = NULL;
	json_t *rfs = NULL, *scope, *t;
	size_t i;
	int ret;

	if (!id) {
		add(x->a, "RFS-MISSING", x->c->require_rfs,
		    "it names no request for service");
		return 0;
	}
	if ((ret = ns_rfs_get(x->r, id, &rfs)) < 0)
		return ret;
	if (!rfs) {
		add(x->a, "RFS-UNKNOWN", 1,
		    "its request for service %s is not "
		    "registered",
		    id);
		return 0;
	}
	scope = json_object_get(rfs, "scope");
	json_array_foreach(x->touches, i, t)
	{
		const char *kind = ns_row_str(t, "kind"),
			   *name = ns_row_str(t, "name");
		if (in_scope(scope, kind, name))
			continue;
		if (!f)
			f = add(x->a, "RFS-SCOPE", 1,
				"it touches what %s (%s) does not cover", id,
				ns_row_str(rfs, "title"));
		if (!strcmp(kind, "db")) {
			char *s = xprintf("db:%s", name);
			item(f, s);
			free(s);
		} else {
			item(f, name);
		}
	}
	json_decref(rfs);
	return 0;
}

/* an entry of a directory to delete that the enhancement does not
 * delete: drift, as at the run */
struct held {
	char **deletes; /* sorted */
	size_t nr;
	const char *dir;
	char *what;
};

static int cmp_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int not_deleted(void *ctx, const char *name)
{
	struct held *h = ctx;
	char *in = xprintf("%s/%s", h->dir, name);

	if (bsearch(&in, h->deletes, h->nr, sizeof(*h->deletes), cmp_path)) {
		free(in);
		return 0;
	}
	h->what = in;
	return 1;
}

/* one path of the site's DRIFT finding, made at the first */
static void drift_item(struct ctx *x, struct ns_finding **f,
		       const struct ns_site *site, const char *path)
{
	if (!*f)
		*f = add(x->a, "DRIFT", 1,
			 "site %s: not as the base the developer used",
			 site->name);
	item(*f, path);
}

static int drift_site(struct ctx *x, const struct ns_site *site)
{
	const struct ns_manifest *m = &x->pkg->manifest;
	struct ns_finding *f = NULL;
	char **sorted;
	struct ns_root root = { -1, NULL };
	char now[NS_HEX_LEN + 1];
	struct stat st;
	int ret;

	if (ns_fsx_root_open(&root, site->root) < 0) {
		add(x->a, "DRIFT", 1, "site %s: %s", site->name,
		    ns_error_last());
		return 0;
	}
	for (size_t i = 0; i < m->bases_nr; i++) {
		ret = ns_fsx_hash(now, &root, m->bases[i].path);
		if (ret < 0 || ret == 1 || strcmp(now, m->bases[i].sha256))
			drift_item(x, &f, site, m->bases[i].path);
	}
	sorted = xcalloc(m->deletes_nr + 1, sizeof(*sorted));
	if (m->deletes_nr) {
		memcpy(sorted, m->deletes, m->deletes_nr * sizeof(*sorted));
		qsort(sorted, m->deletes_nr, sizeof(*sorted), cmp_path);
	}
	for (size_t i = 0; i < m->deletes_nr; i++) {
		struct held h = { sorted, m->deletes_nr, m->deletes[i], NULL };

		if (ns_fsx_stat(&st, &root, m->deletes[i]) == 0 &&
		    (!S_ISDIR(st.st_mode) ||
		     ns_fsx_each_entry(&root, m->deletes[i], not_deleted, &h) ==
			     0))
			continue;
		/* a directory to delete: what it holds that stays */
		drift_item(x, &f, site, h.what ? h.what : m->deletes[i]);
		free(h.what);
	}
	free(sorted);
	ns_fsx_root_release(&root);
	return 0;
}

static int check_sites(struct ctx *x)
{
	const struct ns_manifest *m = &x->pkg->manifest;
	struct ns_finding *f = NULL;
	int ret = 0;

	for (size_t k = 0; k < m->sites_nr; k++) {
		if (ns_env_site(x->env, m->sites[k]))
			continue;
		if (!f)
			f = add(x->a, "DISTRIBUTION", 1,
				"[distribution] sites names sites %s does not "
				"have",
				x->env->name);
		item(f, m->sites[k]);
	}
	for (size_t i = 0; i < x->env->sites_nr && !ret; i++)
		if (ns_site_wanted(&x->env->sites[i], m->sites, m->sites_nr))
			ret = drift_site(x, &x->env->sites[i]);
	return ret;
}

/* the states in which another enhancement has still to reach env */
static const char *pending_sql(const struct ns_env *env)
{
	return !strcmp(env->kind, "production")
		       ? "e.state IN ('submitted', 'qa-approved', 'scheduled', "
			 "'migrating', 'migrated', 'accepted', 'promoted')"
		       : "(e.state IN ('submitted', 'qa-approved') OR "
			 "(e.state IN ('scheduled', 'migrating') AND "
			 "e.environment = ?2))";
}

static int check_conflicts(struct ctx *x)
{
	long long me = json_integer_value(json_object_get(x->enh, "id"));
	struct strbuf sql = STRBUF_INIT;
	json_t *t;
	size_t i;
	int ret = 0;

	strbuf_addf(&sql,
		    "SELECT t.enhancement AS id, e.state, e.environment FROM "
		    "touches t JOIN enhancements e ON e.id = t.enhancement AND "
		    "e.revision = t.revision WHERE t.kind = ?3 AND t.name = ?4 "
		    "AND t.enhancement != ?1 AND %s ORDER BY t.enhancement",
		    pending_sql(x->env));
	json_array_foreach(x->touches, i, t)
	{
		const char *kind = ns_row_str(t, "kind"),
			   *name = ns_row_str(t, "name");
		json_t *rows = NULL, *o;
		size_t k;

		if ((ret = ns_registry_query(x->r, &rows, sql.buf, "Isss", me,
					     x->env->name, kind, name)) < 0)
			break;
		json_array_foreach(rows, k, o)
		{
			long long other =
				json_integer_value(json_object_get(o, "id"));
			const char *st = ns_row_str(o, "state");
			const char *where = ns_row_str(o, "environment");
			/* it goes first when it is older, or already on
			 * its way into this environment */
			int ahead = other < me ||
				    ((!strcmp(st, "scheduled") ||
				      !strcmp(st, "migrating") ||
				      !strcmp(st, "promoted")) &&
				     where && !strcmp(where, x->env->name));
			struct ns_finding *f = add(
				x->a,
				!strcmp(kind, "db") ? "CONFLICT-DB"
						    : "CONFLICT-FILE",
				ahead,
				"ENH-%lld (%s) also changes %s%s, and %s",
				other, st,
				!strcmp(kind, "db") ? "database object " : "",
				name,
				ahead ? "it goes first"
				      : "this one goes first; it will have to "
					"wait");
			item(f, name);
		}
		json_decref(rows);
	}
	strbuf_release(&sql);
	return ret;
}

static int check_declared(struct ctx *x, time_t at)
{
	const struct ns_manifest *m = &x->pkg->manifest;
	char iso[NS_TIME_LEN];
	int ret = 0, here;

	ns_time_iso(iso, at);
	for (size_t i = 0; i < m->conflicts_nr && !ret; i++) {
		long long o = ns_enh_parse(m->conflicts[i]);
		json_t *row = NULL;
		if (!o)
			continue;
		ret = ns_registry_query_row(x->r, &row,
					    "SELECT state FROM enhancements "
					    "WHERE id = ?",
					    "I", o);
		if (!ret && row)
			ret = ns_lifecycle_present(x->r, o, x->env->name,
						   &here);
		if (!ret && row &&
		    (here || (strcmp(ns_row_str(row, "state"), "withdrawn") &&
			      strcmp(ns_row_str(row, "state"), "CP") &&
			      strcmp(ns_row_str(row, "state"), "rolled-back"))))
			item(add(x->a, "DECLARED-CONFLICT", 1,
				 "it declares a conflict with %s, which is %s",
				 m->conflicts[i],
				 here ? "in this environment"
				      : ns_row_str(row, "state")),
			     m->conflicts[i]);
		json_decref(row);
	}
	for (size_t i = 0; i < m->requires_nr && !ret; i++) {
		long long o = ns_enh_parse(m->requires[i]);
		json_t *row = NULL;
		if (!o) {
			item(add(x->a, "REQUIRES", 1,
				 "requires '%s', which is not an enhancement "
				 "id",
				 m->requires[i]),
			     m->requires[i]);
			continue;
		}
		if ((ret = ns_lifecycle_present(x->r, o, x->env->name, &here)) <
			    0 ||
		    here)
			continue;
		ret = ns_registry_query_row(x->r, &row,
					    "SELECT due_at FROM triggers WHERE "
					    "enhancement = ? AND environment "
					    "= ? AND state = 'pending' AND "
					    "due_at <= ?",
					    "Iss", o, x->env->name, iso);
		if (!ret && !row)
			item(add(x->a, "REQUIRES", 1,
				 "requires %s, which is neither in %s nor "
				 "scheduled there before %s",
				 m->requires[i], x -> env -> name, iso),
			     m->requires[i]);
		json_decref(row);
	}
	return ret;
}

/* the measured duration of the accepted model run, for production */
static long long measured_ms(struct ns_registry *r, long long enh, int rev,
			     const char *system)
{
	json_t *row = NULL;
	long long ms = -1;

	if (!ns_lifecycle_model_run(r, enh, rev, system, &row) && row)
		ms = json_integer_value(json_object_get(row, "duration_ms"));
	json_decref(row);
	return ms;
}

void ns_estimate(long long *apply_ms, long long *rollback_ms,
		 struct ns_registry *r, long long enh, int rev,
		 const struct ns_package *pkg, const struct ns_env *env)
{
	uint64_t bytes = 0;
	long long ms;

	if (!strcmp(env->kind, "production") &&
	    (ms = measured_ms(r, enh, rev, env->system)) >= 0) {
		/* the same work on another copy: twice the model's time, and
		 * never less than the fixed cost */
		ms = ms * 2 > EST_FIXED_MS ? ms * 2 : EST_FIXED_MS;
	} else {
		for (size_t i = 0; i < pkg->nr; i++)
			bytes += pkg->members[i].size;
		/* the bytes are archived, then written */
		ms = EST_FIXED_MS + (long long)pkg->nr * EST_FILE_MS +
		     (long long)(bytes / EST_BYTES_PER_MS) * 2;
	}
	*apply_ms = ms;
	/* a rollback reverts the SQL and writes back what was archived:
	 * taken to cost what applying did */
	*rollback_ms = ms;
}

static int check_schedule(struct ctx *x, time_t at)
{
	const struct ns_manifest *m = &x->pkg->manifest;
	struct ns_calendar *cal = NULL;
	char iso[NS_TIME_LEN], when[NS_TIME_LEN];
	time_t nb, end, next;
	long long need;
	int ret;

	ns_time_iso(iso, at);
	ns_estimate(
		&x->a->estimate_ms, &x->a->rollback_ms, x->r,
		json_integer_value(json_object_get(x->enh, "id")),
		(int)json_integer_value(json_object_get(x->enh, "revision")),
		x->pkg, x->env);
	need = (x->a->estimate_ms + x->a->rollback_ms + 999) / 1000;
	if (m->not_before && !ns_time_parse(&nb, m->not_before) && at < nb)
		add(x->a, "NOT-BEFORE", 1,
		    "the proposed time %s is before its not-before %s", iso,
		    m->not_before);
	if ((ret = ns_calendar_new(&cal, x->env)) < 0)
		return ret;
	if (x->env->blackout && ns_calendar_blackout(cal, at)) {
		add(x->a, "BLACKOUT", 1,
		    "the proposed time %s falls in a blackout of %s (%s)", iso,
		    x->env->name, x->env->blackout);
	} else if (!ns_calendar_open(cal, at, &end)) {
		next = ns_calendar_next(cal, at, NULL);
		if (next != (time_t)-1)
			ns_time_iso(when, next);
		add(x->a, "WINDOW", 1,
		    "the proposed time %s is outside the windows of %s "
		    "(%s)%s%s",
		    iso, x->env->name, x->env->window,
		    next != (time_t)-1 ? "; the next opens " : "",
		    next != (time_t)-1 ? when : "");
	} else if (end != (time_t)-1 && at + need > end) {
		ns_time_iso(when, end);
		add(x->a, "DURATION", 1,
		    "it needs about %lld s to apply and as long to roll back, "
		    "and the window that holds %s closes at %s",
		    (x->a->estimate_ms + 999) / 1000, iso, when);
	}
	ns_calendar_free(cal);
	return 0;
}

static void check_instructions(struct ctx *x)
{
	const struct ns_manifest *m = &x->pkg->manifest;
	int has_sql = x->pkg->has_deploy || x->pkg->has_verify_sql;

	if (m->instr_operator || m->instr_special)
		return;
	if (x->c->require_instructions)
		add(x->a, "INSTRUCTIONS", 1,
		    "[instructions] operator or special is missing, and the "
		    "configuration requires them ([policy] "
		    "require-instructions)");
	else if (has_sql)
		add(x->a, "INSTRUCTIONS", 0,
		    "it changes the database, and [instructions] says "
		    "nothing to the operator");
}

/* transaction = none gives up the deploy's atomicity: only PostgreSQL
 * sites (whose touched tables the archive dumps) can make up for it, and
 * only a statement that cannot run in a transaction is worth it */
static void check_none_mode(struct ctx *x, size_t needed)
{
	struct ns_finding *f = NULL;

	if (!x->pkg->has_deploy) {
		add(x->a, "TRANSACTION-NONE", 0,
		    "transaction = none, but there is no sql/deploy.sql: the "
		    "key changes nothing");
		return;
	}
	if (!needed)
		add(x->a, "TRANSACTION-NONE", 0,
		    "transaction = none, but no statement needs it: the "
		    "deploy SQL gives up its atomicity for nothing; remove "
		    "the key from enhancement.ini");
	for (size_t i = 0; i < x->env->sites_nr; i++) {
		const struct ns_site *s = &x->env->sites[i];
		const struct ns_manifest *m = &x->pkg->manifest;

		if (!ns_site_wanted(s, m->sites, m->sites_nr) || !s->database ||
		    strncmp(s->database, "sqlite:", 7))
			continue;
		if (!f)
			f = add(x->a, "TRANSACTION-NONE", 1,
				"transaction = none needs a PostgreSQL "
				"database (whose touched tables the archive "
				"dumps); these sites of %s have SQLite",
				x->env->name);
		item(f, s->name);
	}
}

/* each statement of the SQL scripts that cannot run inside the
 * migration's one transaction: refused, unless the enhancement declares
 * transaction = none, which runs them outside it */
static int check_transaction(struct ctx *x)
{
	static const char *const scripts[] = { "sql/deploy.sql",
					       "sql/revert.sql" };
	int none = x->pkg->manifest.transaction == NS_TX_NONE;
	json_t *row = NULL;
	const char *store;
	size_t needed = 0;
	int ret;

	ret = ns_registry_query_row(x->r, &row,
				    "SELECT store_path FROM revisions WHERE "
				    "enhancement = ? AND revision = ?",
				    "Ii", x->a->enh, x->a->revision);
	store = row ? ns_row_str(row, "store_path") : NULL;
	for (size_t k = 0; k < 2 && !ret && store; k++) {
		char *sql = NULL, **v = NULL;
		struct ns_finding *f;
		size_t n = 0;

		if ((ret = read_member(&sql, store, scripts[k])) < 0 || !sql)
			continue;
		ns_sql_no_transaction(&v, &n, sql);
		needed += n;
		for (size_t i = 0; i < n; i++) {
			char *where;

			if (none)
				f = add(x->a, "NO-TRANSACTION", 0,
					"%s:%s cannot run inside a "
					"transaction; with transaction = none "
					"the statements run one by one outside "
					"one, each committed on its own, the "
					"archive holds a pg_dump of the "
					"touched tables, and a rollback runs "
					"sql/revert.sql and restores those "
					"tables from the dump",
					scripts[k], v[i]);
			else
				f = add(x->a, "NO-TRANSACTION", 1,
					"%s:%s cannot run inside the "
					"migration's transaction, whose COMMIT "
					"is its commit point; declare "
					"transaction = none in "
					"enhancement.ini's [enhancement] to "
					"run the deploy outside a transaction "
					"(restored from a pg_dump on "
					"rollback), or run it outside "
					"nightshift",
					scripts[k], v[i]);
			v[i][strcspn(v[i], ":")] = '\0';
			where = xprintf("%s:%s", scripts[k], v[i]);
			item(f, where);
			free(where);
		}
		ns_sql_objects_free(v);
		free(sql);
	}
	if (!ret && store && none)
		check_none_mode(x, needed);
	json_decref(row);
	return ret;
}

int ns_analyze(struct ns_analysis *out, const struct ns_config *c,
	       struct ns_registry *r, long long enh,
	       const struct ns_package *pkg, const struct ns_env *env,
	       time_t at)
{
	struct ctx x = { out, c, r, pkg, env, NULL, NULL };
	int ret;

	out->enh = enh;
	out->env = env->name;
	out->at = at;
	ret = ns_registry_query_row(r, &x.enh,
				    "SELECT id, revision, rfs, state FROM "
				    "enhancements WHERE id = ?",
				    "I", enh);
	if (!ret && !x.enh) {
		ns_error_set("ENH-%lld: no such enhancement", enh);
		ret = NS_EINVALID;
	}
	if (ret < 0)
		goto done;
	out->revision =
		(int)json_integer_value(json_object_get(x.enh, "revision"));
	ret = ns_registry_query(r, &x.touches,
				"SELECT kind, name FROM touches WHERE "
				"enhancement = ? AND revision = ? ORDER BY "
				"kind DESC, name",
				"Ii", enh, out->revision);
	if (!ret)
		ret = check_rfs(&x);
	if (!ret)
		ret = check_sites(&x);
	if (!ret)
		ret = check_conflicts(&x);
	if (!ret)
		ret = check_declared(&x, at);
	if (!ret)
		ret = check_schedule(&x, at);
	if (!ret)
		ret = check_transaction(&x);
	if (!ret)
		check_instructions(&x);
done:
	json_decref(x.enh);
	json_decref(x.touches);
	return ret;
}

json_t *ns_analysis_json(const struct ns_analysis *a)
{
	json_t *list = json_array();
	char at[NS_TIME_LEN], id[32];

	snprintf(id, sizeof(id), "ENH-%lld", a->enh);
	for (size_t i = 0; i < a->nr; i++) {
		json_t *items = json_array();
		for (size_t k = 0; k < a->f[i].items_nr; k++)
			json_array_append_new(items,
					      json_string(a->f[i].items[k]));
		json_array_append_new(
			list,
			json_pack("{s:s, s:s, s:s, s:o}", "code", a->f[i].code,
				  "severity",
				  a->f[i].blocking ? "blocking" : "warning",
				  "message", a->f[i].message, "items", items));
	}
	ns_time_iso(at, a->at);
	return json_pack("{s:s, s:i, s:s, s:s, s:I, s:I, s:i, s:i, s:o}",
			 "enhancement", id, "revision", a->revision,
			 "environment", a->env, "at", at, "estimate_ms",
			 (json_int_t)a->estimate_ms, "rollback_ms",
			 (json_int_t)a->rollback_ms, "blocking", a->blocking,
			 "warnings", a->warnings, "findings", list);
}

char *ns_analysis_text(const struct ns_analysis *a)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < a->nr; i++) {
		strbuf_addf(&sb, "  %-8s %-17s %s",
			    a->f[i].blocking ? "BLOCKING" : "warning",
			    a->f[i].code, a->f[i].message);
		for (size_t k = 0; k < a->f[i].items_nr; k++)
			strbuf_addf(&sb, "%s%s", k ? ", " : ": ",
				    a->f[i].items[k]);
		strbuf_addch(&sb, '\n');
	}
	return strbuf_detach(&sb, NULL);
}
