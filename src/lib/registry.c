#include "registry.h"
#include "error.h"
#include "timefmt.h"
#include "xalloc.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct ns_registry {
	sqlite3 *db;
	char *path;
};

static const char *const schema[] = {
	/* 1 */
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
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
};

#define SCHEMA_NR ((int)(sizeof(schema) / sizeof(*schema)))

static int fail(struct ns_registry *r, const char *what)
{
	ns_error_set("registry '%s': %s: %s", r->path, what,
		     sqlite3_errmsg(r->db));
	return NS_ERROR;
}

static int exec_plain(struct ns_registry *r, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(r->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		ns_error_set("registry '%s': %s", r->path,
			     err ? err : sqlite3_errmsg(r->db));
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

static int upgrade(struct ns_registry *r)
{
	int v, ret;

	if ((ret = user_version(r, &v)) < 0)
		return ret;
	if (v > SCHEMA_NR) {
		ns_error_set("registry '%s' has schema %d; this nightshift "
			     "knows up to %d — use a newer nightshift",
			     r->path, v, SCHEMA_NR);
		return NS_EINVALID;
	}
	for (; v < SCHEMA_NR; v++) {
		char *bump = xprintf("PRAGMA user_version = %d", v + 1);
		ret = exec_plain(r, "BEGIN IMMEDIATE");
		if (!ret)
			ret = exec_plain(r, schema[v]);
		if (!ret)
			ret = exec_plain(r, bump);
		if (!ret)
			ret = exec_plain(r, "COMMIT");
		else
			sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
		free(bump);
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
			     r->db ? sqlite3_errmsg(r->db) : "out of memory",
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

int ns_registry_event(struct ns_registry *r, const char *actor, long long enh,
		      int rev, const char *env, const char *event,
		      const char *detail)
{
	char at[NS_TIME_LEN];
	char e[32], v[16];

	ns_time_iso(at, ns_now());
	snprintf(e, sizeof(e), "%lld", enh);
	snprintf(v, sizeof(v), "%d", rev);
	return ns_registry_exec(r,
				"INSERT INTO events(at, actor, enhancement, "
				"revision, environment, event, detail) VALUES "
				"(?, ?, ?, ?, ?, ?, ?)",
				"sssssss", at, actor, enh ? e : NULL,
				rev ? v : NULL, env, event, detail);
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
