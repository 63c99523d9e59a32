#include "registry.h"
#include "audit.h"
#include "error.h"
#include "timefmt.h"
#include "xalloc.h"

#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct ns_registry {
	sqlite3 *db;
	char *path;
	char why[512]; /* see why() */
};

/* One step per schema version, applied in order, each in one transaction
 * with the bump of user_version: its SQL, then its hook (NULL for none)
 * for what SQL alone cannot do, such as hashing the rows already there.
 * A released step never changes: registries were made by it. */
struct schema_step {
	const char *sql;
	int (*hook)(struct ns_registry *r);
};

static const char schema_1[] =
	"CREATE TABLE enhancements("
	" id INTEGER PRIMARY KEY, title TEXT NOT NULL, rfs TEXT,"
	" system TEXT NOT NULL, author TEXT NOT NULL, state TEXT NOT NULL,"
	" revision INTEGER NOT NULL, created_at TEXT NOT NULL,"
	" updated_at TEXT NOT NULL);"
	"CREATE TABLE revisions("
	" enhancement INTEGER NOT NULL REFERENCES enhancements(id),"
	" revision INTEGER NOT NULL, payload_sha256 TEXT NOT NULL,"
	" store_path TEXT NOT NULL, members INTEGER NOT NULL,"
	" size INTEGER NOT NULL, manifest TEXT NOT NULL,"
	" submitted_by TEXT NOT NULL, submitted_at TEXT NOT NULL,"
	" PRIMARY KEY (enhancement, revision));"
	"CREATE TABLE triggers("
	" id INTEGER PRIMARY KEY,"
	" enhancement INTEGER NOT NULL REFERENCES enhancements(id),"
	" revision INTEGER NOT NULL, environment TEXT NOT NULL,"
	" path TEXT NOT NULL, json_sha256 TEXT NOT NULL,"
	" payload_sha256 TEXT NOT NULL, due_at TEXT NOT NULL,"
	" state TEXT NOT NULL, created_by TEXT NOT NULL,"
	" created_at TEXT NOT NULL);"
	"CREATE INDEX triggers_due ON triggers(environment, state, due_at);"
	"CREATE TABLE runs("
	" id INTEGER PRIMARY KEY, trigger INTEGER REFERENCES triggers(id),"
	" enhancement INTEGER NOT NULL, revision INTEGER NOT NULL,"
	" environment TEXT NOT NULL, kind TEXT NOT NULL, token TEXT UNIQUE,"
	" started_at TEXT NOT NULL, finished_at TEXT, outcome TEXT,"
	" message TEXT, duration_ms INTEGER, actor TEXT NOT NULL);"
	"CREATE INDEX runs_enh ON runs(enhancement, environment);"
	"CREATE TABLE run_sites("
	" run INTEGER NOT NULL REFERENCES runs(id), site TEXT NOT NULL,"
	" rundir TEXT, outcome TEXT NOT NULL, message TEXT,"
	" PRIMARY KEY (run, site));"
	"CREATE TABLE environments("
	" name TEXT PRIMARY KEY NOT NULL, blocked INTEGER NOT NULL DEFAULT 0,"
	" reason TEXT, since TEXT);"
	"CREATE TABLE events("
	" id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,"
	" enhancement INTEGER, revision INTEGER, environment TEXT,"
	" event TEXT NOT NULL, detail TEXT);"
	"CREATE INDEX events_enh ON events(enhancement, id);"
	"CREATE TRIGGER events_append_only_u BEFORE UPDATE ON events"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER events_append_only_d BEFORE DELETE ON events"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	/* REPLACE deletes without firing delete triggers: refuse the insert */
	"CREATE TRIGGER events_append_only_i BEFORE INSERT ON events"
	" WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM events"
	" WHERE id = NEW.id)"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";

static const char schema_2[] =
	/* the audit log becomes a hash chain (audit.h) */
	"ALTER TABLE events ADD COLUMN prev_sha256 TEXT;"
	"ALTER TABLE events ADD COLUMN sha256 TEXT;"
	/* ALTER cannot add NOT NULL columns: an unchained insert is refused
	 * here instead */
	"CREATE TRIGGER events_chained_i BEFORE INSERT ON events"
	" WHEN NEW.prev_sha256 IS NULL OR NEW.sha256 IS NULL"
	" BEGIN SELECT RAISE(ABORT, 'audit events are hash-chained:"
	" append them through nightshift'); END;";

static const char schema_3[] =
	/* the change-management lifecycle: requests for service, sign-offs,
	 * what every revision touches (indexed for the conflict analysis),
	 * the warranty */
	"CREATE TABLE rfs("
	" id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL,"
	" scope TEXT NOT NULL, created_by TEXT NOT NULL,"
	" created_at TEXT NOT NULL);"
	"CREATE TABLE approvals("
	" id INTEGER PRIMARY KEY, enhancement INTEGER NOT NULL,"
	" revision INTEGER NOT NULL, kind TEXT NOT NULL, environment TEXT,"
	" actor TEXT NOT NULL, at TEXT NOT NULL, revoked_at TEXT,"
	" revoked_why TEXT);"
	"CREATE INDEX approvals_enh ON approvals(enhancement, revision, kind);"
	"CREATE TABLE touches("
	" enhancement INTEGER NOT NULL, revision INTEGER NOT NULL,"
	" kind TEXT NOT NULL, name TEXT NOT NULL,"
	" PRIMARY KEY (enhancement, revision, kind, name)) WITHOUT ROWID;"
	"CREATE INDEX touches_name ON touches(kind, name, enhancement);"
	"CREATE INDEX enhancements_state ON enhancements(state, id);"
	"ALTER TABLE enhancements ADD COLUMN environment TEXT;"
	"ALTER TABLE enhancements ADD COLUMN warranty_until TEXT;";

/* schema 1's UPDATE guard, which schema 2's hook lifts while it chains
 * the events already there, then puts back as it was */
static const char events_append_only_u[] =
	"CREATE TRIGGER events_append_only_u BEFORE UPDATE ON events"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";

static int chain_events(struct ns_registry *r);

static const struct schema_step schema[] = {
	{ schema_1, NULL },
	{ schema_2, chain_events },
	{ schema_3, NULL },
};

#define SCHEMA_NR ((int)(sizeof(schema) / sizeof(*schema)))

/* SQLite's message, with the system's error where it had one: a full
 * disk is otherwise only "disk I/O error" (in a buffer of r's, until the
 * next call) */
static const char *why(struct ns_registry *r, const char *msg)
{
	int rc = sqlite3_errcode(r->db) & 0xff, e = sqlite3_system_errno(r->db);

	if (!msg)
		msg = sqlite3_errmsg(r->db);
	if (!e ||
	    (rc != SQLITE_IOERR && rc != SQLITE_FULL && rc != SQLITE_CANTOPEN))
		return msg;
	snprintf(r->why, sizeof(r->why), "%s (%s)", msg, strerror(e));
	return r->why;
}

static int fail(struct ns_registry *r, const char *what)
{
	ns_error_set("registry '%s': %s: %s", r->path, what, why(r, NULL));
	return NS_ERROR;
}

static int exec_plain(struct ns_registry *r, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(r->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		ns_error_set("registry '%s': %s", r->path, why(r, err));
		sqlite3_free(err);
		return NS_ERROR;
	}
	return 0;
}

static int user_version(struct ns_registry *r, int *out)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(r->db, "PRAGMA user_version", -1, &st, NULL))
		return fail(r, "schema version");
	*out = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return 0;
}

static int too_new(struct ns_registry *r, int v)
{
	ns_error_set("registry '%s' has schema %d; this nightshift "
		     "knows up to %d — use a newer nightshift",
		     r->path, v, SCHEMA_NR);
	return NS_EINVALID;
}

/* one step, under the write lock: the version is read again there, for
 * another process may have opened the same old registry and upgraded it */
static int upgrade_step(struct ns_registry *r, int *v)
{
	char *bump;
	int ret;

	if ((ret = user_version(r, v)) < 0)
		return ret;
	if (*v > SCHEMA_NR)
		return too_new(r, *v);
	if (*v == SCHEMA_NR)
		return 0;
	if ((ret = exec_plain(r, schema[*v].sql)) < 0)
		return ret;
	if (schema[*v].hook && (ret = schema[*v].hook(r)) < 0)
		return ret;
	bump = xprintf("PRAGMA user_version = %d", *v + 1);
	ret = exec_plain(r, bump);
	free(bump);
	if (!ret)
		(*v)++;
	return ret;
}

static int upgrade(struct ns_registry *r)
{
	int v, ret;

	if ((ret = user_version(r, &v)) < 0)
		return ret;
	if (v > SCHEMA_NR)
		return too_new(r, v);
	while (v < SCHEMA_NR) {
		ret = exec_plain(r, "BEGIN IMMEDIATE");
		if (!ret)
			ret = upgrade_step(r, &v);
		if (!ret)
			ret = exec_plain(r, "COMMIT");
		else
			sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int ns_registry_open(struct ns_registry **out, const char *path, int create)
{
	struct ns_registry *r = xcalloc(1, sizeof(*r));
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
	int ret;

	r->path = xstrdup(path);
	if (sqlite3_open_v2(path, &r->db, flags, NULL) != SQLITE_OK) {
		ns_error_set("cannot open registry '%s': %s%s", path,
			     r->db ? why(r, NULL) : "out of memory",
			     create ? "" : " (run `nightshift init` first)");
		ns_registry_free(r);
		return NS_EUSAGE;
	}
	sqlite3_busy_timeout(r->db, 30000);
	ret = exec_plain(r, "PRAGMA foreign_keys = ON;"
			    "PRAGMA journal_mode = WAL;"
			    "PRAGMA synchronous = FULL;");
	if (!ret)
		ret = upgrade(r);
	if (ret < 0) {
		ns_registry_free(r);
		return ret;
	}
	*out = r;
	return 0;
}

void ns_registry_free(struct ns_registry *r)
{
	if (!r)
		return;
	sqlite3_close(r->db);
	free(r->path);
	free(r);
}

int ns_registry_begin(struct ns_registry *r)
{
	return exec_plain(r, "BEGIN IMMEDIATE");
}

int ns_registry_commit(struct ns_registry *r)
{
	return exec_plain(r, "COMMIT");
}

void ns_registry_rollback(struct ns_registry *r)
{
	if (!sqlite3_get_autocommit(r->db))
		sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
}

static int prepare(struct ns_registry *r, sqlite3_stmt **st, const char *sql,
		   const char *fmt, va_list ap)
{
	if (sqlite3_prepare_v2(r->db, sql, -1, st, NULL) != SQLITE_OK)
		return fail(r, sql);
	for (int i = 0; fmt && fmt[i]; i++) {
		const char *s;
		switch (fmt[i]) {
		case 's':
			s = va_arg(ap, const char *);
			if (s)
				sqlite3_bind_text(*st, i + 1, s, -1,
						  SQLITE_TRANSIENT);
			else
				sqlite3_bind_null(*st, i + 1);
			break;
		case 'i':
			sqlite3_bind_int(*st, i + 1, va_arg(ap, int));
			break;
		default:
			sqlite3_bind_int64(*st, i + 1, va_arg(ap, long long));
			break;
		}
	}
	return 0;
}

int ns_registry_exec(struct ns_registry *r, const char *sql, const char *fmt,
		     ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int ret, rc;

	va_start(ap, fmt);
	ret = prepare(r, &st, sql, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return ret;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		ret = fail(r, sql);
	sqlite3_finalize(st);
	return ret;
}

long long ns_registry_last_id(struct ns_registry *r)
{
	return sqlite3_last_insert_rowid(r->db);
}

static json_t *column(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, i));
	case SQLITE_FLOAT:
		return json_real(sqlite3_column_double(st, i));
	case SQLITE_NULL:
		return json_null();
	default:
		return json_string((const char *)sqlite3_column_text(st, i));
	}
}

static int vquery(struct ns_registry *r, json_t **out, int limit,
		  const char *sql, const char *fmt, va_list ap)
{
	sqlite3_stmt *st = NULL;
	json_t *rows;
	int ret, rc;

	if ((ret = prepare(r, &st, sql, fmt, ap)) < 0)
		return ret;
	rows = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();
		for (int i = 0; i < sqlite3_column_count(st); i++)
			json_object_set_new(o, sqlite3_column_name(st, i),
					    column(st, i));
		json_array_append_new(rows, o);
		if (limit && (int)json_array_size(rows) >= limit) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE) {
		ret = fail(r, sql);
		json_decref(rows);
		rows = NULL;
	}
	sqlite3_finalize(st);
	*out = rows;
	return ret;
}

int ns_registry_query(struct ns_registry *r, json_t **out, const char *sql,
		      const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vquery(r, out, 0, sql, fmt, ap);
	va_end(ap);
	return ret;
}

int ns_registry_query_row(struct ns_registry *r, json_t **out, const char *sql,
			  const char *fmt, ...)
{
	json_t *rows = NULL;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vquery(r, &rows, 1, sql, fmt, ap);
	va_end(ap);
	*out = NULL;
	if (ret < 0)
		return ret;
	if (json_array_size(rows))
		*out = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return 0;
}

/* ---- the audit log ---------------------------------------------------- */

static struct ns_audit_value value_of(sqlite3_stmt *st, int i)
{
	struct ns_audit_value v = ns_audit_text(NULL);

	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		v = ns_audit_int(sqlite3_column_int64(st, i));
		break;
	case SQLITE_FLOAT:
		v.type = NS_AUDIT_REAL;
		v.r = sqlite3_column_double(st, i);
		break;
	case SQLITE_TEXT:
		v.type = NS_AUDIT_TEXT;
		v.s = (const char *)sqlite3_column_text(st, i);
		v.len = (size_t)sqlite3_column_bytes(st, i);
		break;
	case SQLITE_BLOB:
		v.type = NS_AUDIT_BLOB;
		v.s = sqlite3_column_blob(st, i);
		v.len = (size_t)sqlite3_column_bytes(st, i);
		break;
	}
	return v;
}

static int bind_value(sqlite3_stmt *st, int i, const struct ns_audit_value *v)
{
	if (v->len > INT_MAX)
		return SQLITE_TOOBIG;
	switch (v->type) {
	case NS_AUDIT_INT:
		return sqlite3_bind_int64(st, i, v->i);
	case NS_AUDIT_REAL:
		return sqlite3_bind_double(st, i, v->r);
	case NS_AUDIT_TEXT:
		return sqlite3_bind_text(st, i, v->s, (int)v->len,
					 SQLITE_TRANSIENT);
	case NS_AUDIT_BLOB:
		return sqlite3_bind_blob(st, i, v->s, (int)v->len,
					 SQLITE_TRANSIENT);
	default:
		return sqlite3_bind_null(st, i);
	}
}

/* the columns of an event, in the order of struct ns_audit_event */
#define EVENT_COLUMNS                                                          \
	"id, at, actor, enhancement, revision, environment, event, detail, "   \
	"prev_sha256, sha256"

/* One row per step, found by id: the walk never holds a statement open
 * across the caller's writes to the same table (the upgrade's hook). */
static int walk(struct ns_registry *r,
		int (*fn)(void *data, const struct ns_audit_event *ev),
		void *data)
{
	static const char sql[] = "SELECT " EVENT_COLUMNS " FROM events "
				  "WHERE id >= ? ORDER BY id LIMIT 1";
	struct ns_audit_event ev;
	sqlite3_stmt *st = NULL;
	long long next = LLONG_MIN;
	int ret = 0, rc = SQLITE_DONE, more = 1;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(r, "reading the audit log");
	while (more) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, next);
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		for (int i = 0; i < NS_AUDIT_FIELDS; i++)
			ev.f[i] = value_of(st, i);
		ev.prev_sha256 = value_of(st, NS_AUDIT_FIELDS);
		ev.sha256 = value_of(st, NS_AUDIT_FIELDS + 1);
		if (ev.f[NS_AUDIT_ID].i == LLONG_MAX)
			more = 0;
		else
			next = ev.f[NS_AUDIT_ID].i + 1;
		if ((ret = fn(data, &ev)) != 0)
			break;
	}
	if (!ret && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = fail(r, "reading the audit log");
	sqlite3_finalize(st);
	return ret;
}

int ns_registry_walk_events(struct ns_registry *r,
			    int (*fn)(void *data,
				      const struct ns_audit_event *ev),
			    void *data)
{
	int own = sqlite3_get_autocommit(r->db);
	int ret;

	if (own && (ret = exec_plain(r, "BEGIN")) < 0)
		return ret;
	ret = walk(r, fn, data);
	if (own)
		sqlite3_exec(r->db, ret ? "ROLLBACK" : "COMMIT", NULL, NULL,
			     NULL);
	return ret;
}

struct chain {
	struct ns_registry *r;
	sqlite3_stmt *update;
	char prev[NS_HEX_LEN + 1];
};

static int chain_one(void *data, const struct ns_audit_event *ev)
{
	struct chain *c = data;
	struct ns_audit_event e = *ev;
	char sha[NS_HEX_LEN + 1];

	e.prev_sha256 = ns_audit_text(c->prev);
	ns_audit_event_sha256(sha, &e);
	sqlite3_reset(c->update);
	sqlite3_bind_text(c->update, 1, c->prev, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(c->update, 2, sha, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(c->update, 3, ev->f[NS_AUDIT_ID].i);
	if (sqlite3_step(c->update) != SQLITE_DONE)
		return fail(c->r, "chaining the audit log");
	memcpy(c->prev, sha, sizeof(sha));
	return 0;
}

/* schema 2's hook: the events already there, chained in id order as they
 * stand (a hole left by an event deleted before there was a chain stays,
 * and `audit verify` reports it) */
static int chain_events(struct ns_registry *r)
{
	struct chain c = { r, NULL, "" };
	int ret;

	memcpy(c.prev, ns_audit_genesis, sizeof(c.prev));
	if ((ret = exec_plain(r, "DROP TRIGGER events_append_only_u")) < 0)
		return ret;
	if (sqlite3_prepare_v2(r->db,
			       "UPDATE events SET prev_sha256 = ?, "
			       "sha256 = ? WHERE id = ?",
			       -1, &c.update, NULL) != SQLITE_OK)
		return fail(r, "chaining the audit log");
	ret = walk(r, chain_one, &c);
	sqlite3_finalize(c.update);
	if (!ret)
		ret = exec_plain(r, events_append_only_u);
	return ret;
}

/* the id and sha256 of the newest event: where the next one chains on */
static int chain_head(struct ns_registry *r, long long *id,
		      char sha[NS_HEX_LEN + 1])
{
	sqlite3_stmt *st = NULL;
	struct ns_audit_value v;
	int ret = 0, rc;

	if (sqlite3_prepare_v2(r->db,
			       "SELECT id, sha256 FROM events "
			       "ORDER BY id DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return fail(r, "reading the audit log");
	*id = 0;
	memcpy(sha, ns_audit_genesis, NS_HEX_LEN + 1);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		v = value_of(st, 1);
		if (v.type == NS_AUDIT_TEXT && v.len == NS_HEX_LEN &&
		    ns_sha256_valid(v.s)) {
			memcpy(sha, v.s, NS_HEX_LEN + 1);
		} else {
			ns_error_set("registry '%s': audit event %lld has no "
				     "valid sha256 to chain on: the audit "
				     "log was altered outside nightshift "
				     "(see `nightshift audit verify`)",
				     r->path, *id);
			ret = NS_EINVALID;
		}
	} else if (rc != SQLITE_DONE) {
		ret = fail(r, "reading the audit log");
	}
	sqlite3_finalize(st);
	if (!ret && *id == LLONG_MAX) {
		ns_error_set("registry '%s': the audit log is full", r->path);
		ret = NS_ERROR;
	}
	return ret;
}

static int append_event(struct ns_registry *r, struct ns_audit_event *ev)
{
	static const char sql[] = "INSERT INTO events(" EVENT_COLUMNS ") "
				  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
	char prev[NS_HEX_LEN + 1], sha[NS_HEX_LEN + 1];
	const struct ns_audit_value *v[NS_AUDIT_FIELDS + 2];
	sqlite3_stmt *st = NULL;
	long long last;
	int ret;

	if ((ret = chain_head(r, &last, prev)) < 0)
		return ret;
	ev->f[NS_AUDIT_ID] = ns_audit_int(last + 1);
	ev->prev_sha256 = ns_audit_text(prev);
	ns_audit_event_sha256(sha, ev);
	ev->sha256 = ns_audit_text(sha);
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(r, "appending to the audit log");
	for (int i = 0; i < NS_AUDIT_FIELDS; i++)
		v[i] = &ev->f[i];
	v[NS_AUDIT_FIELDS] = &ev->prev_sha256;
	v[NS_AUDIT_FIELDS + 1] = &ev->sha256;
	/* what is stored must be exactly what was hashed */
	for (int i = 0; !ret && i < NS_AUDIT_FIELDS + 2; i++)
		if (bind_value(st, i + 1, v[i]) != SQLITE_OK)
			ret = fail(r, "appending to the audit log");
	if (!ret && sqlite3_step(st) != SQLITE_DONE)
		ret = fail(r, "appending to the audit log");
	sqlite3_finalize(st);
	return ret;
}

int ns_registry_event(struct ns_registry *r, const char *actor, long long enh,
		      int rev, const char *env, const char *event,
		      const char *detail)
{
	struct ns_audit_event ev;
	char at[NS_TIME_LEN];
	int own = sqlite3_get_autocommit(r->db);
	int ret;

	ns_time_iso(at, ns_now());
	ev.f[NS_AUDIT_AT] = ns_audit_text(at);
	ev.f[NS_AUDIT_ACTOR] = ns_audit_text(actor);
	ev.f[NS_AUDIT_ENHANCEMENT] =
		enh ? ns_audit_int(enh) : ns_audit_text(NULL);
	ev.f[NS_AUDIT_REVISION] = rev ? ns_audit_int(rev) : ns_audit_text(NULL);
	ev.f[NS_AUDIT_ENVIRONMENT] = ns_audit_text(env);
	ev.f[NS_AUDIT_EVENT] = ns_audit_text(event);
	ev.f[NS_AUDIT_DETAIL] = ns_audit_text(detail);
	/* the read of the head and the insert are one step for other
	 * writers: under the caller's write lock, or under one of our own */
	if (own && (ret = ns_registry_begin(r)) < 0)
		return ret;
	ret = append_event(r, &ev);
	if (own && !ret)
		ret = ns_registry_commit(r);
	if (own && ret < 0)
		ns_registry_rollback(r);
	return ret;
}

long long ns_enh_parse(const char *s)
{
	char *end;
	long long n;

	if (!strncasecmp(s, "ENH-", 4))
		s += 4;
	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	n = strtoll(s, &end, 10);
	return errno || *end || n <= 0 ? 0 : n;
}
