/* registry: schema versions, the append-only audit log, queries as JSON */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "registry.h"
#include "testutil.h"
#include "xalloc.h"

/* ---- fixtures ------------------------------------------------------ */

static int setup(void **state)
{
	*state = tu_scratch_new("registry");
	return *state ? 0 : -1;
}

static char *at(void **state, const char *rel)
{
	return tu_at(*state, rel);
}

/* PRAGMA user_version, read with SQLite itself */
static int raw_user_version(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	assert_int_equal(
		sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL),
		SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static struct ns_registry *open_new(void **state, const char *name)
{
	struct ns_registry *r = NULL;
	char *path = at(state, name);

	assert_int_equal(ns_registry_open(&r, path, 1), 0);
	assert_non_null(r);
	free(path);
	return r;
}

static long long count_rows(struct ns_registry *r, const char *table)
{
	char *sql = xprintf("SELECT count(*) AS n FROM %s", table);
	json_t *row = NULL;
	long long n;

	assert_int_equal(ns_registry_query_row(r, &row, sql, NULL), 0);
	assert_non_null(row);
	n = json_integer_value(json_object_get(row, "n"));
	json_decref(row);
	free(sql);
	return n;
}

/* ---- schema -------------------------------------------------------- */

static void test_open_creates_schema(void **state)
{
	struct ns_registry *r = open_new(state, "ns.db");
	char *path = at(state, "ns.db");
	json_t *row = NULL, *rows = NULL;
	static const char *const tables[] = {
		"approvals", "enhancements", "environments", "events",
		"revisions", "rfs",	     "run_sites",    "runs",
		"touches",   "triggers",
	};

	assert_int_equal(
		ns_registry_query_row(r, &row, "PRAGMA user_version", NULL), 0);
	assert_non_null(row);
	assert_int_equal(
		json_integer_value(json_object_get(row, "user_version")),
		NS_REGISTRY_SCHEMA);
	json_decref(row);

	assert_int_equal(ns_registry_query(r, &rows,
					   "SELECT name FROM sqlite_master "
					   "WHERE type = 'table' ORDER BY name",
					   NULL),
			 0);
	assert_int_equal(json_array_size(rows),
			 sizeof(tables) / sizeof(*tables));
	for (size_t i = 0; i < json_array_size(rows); i++)
		assert_string_equal(json_string_value(json_object_get(
					    json_array_get(rows, i), "name")),
				    tables[i]);
	json_decref(rows);
	ns_registry_free(r);
	assert_int_equal(raw_user_version(path), NS_REGISTRY_SCHEMA);
	free(path);
}

static void test_reopen_is_idempotent(void **state)
{
	struct ns_registry *r = open_new(state, "ns.db");
	char *path = at(state, "ns.db");
	json_t *row = NULL;

	assert_int_equal(ns_registry_exec(r,
					  "INSERT INTO environments(name, "
					  "blocked) VALUES (?, ?)",
					  "si", "billing/model", 0),
			 0);
	ns_registry_free(r);

	for (int i = 0; i < 3; i++) {
		r = NULL;
		/* without create, an existing registry opens */
		assert_int_equal(ns_registry_open(&r, path, i == 0 ? 0 : 1), 0);
		assert_int_equal(count_rows(r, "environments"), 1);
		assert_int_equal(ns_registry_query_row(
					 r, &row, "PRAGMA user_version", NULL),
				 0);
		assert_int_equal(json_integer_value(
					 json_object_get(row, "user_version")),
				 NS_REGISTRY_SCHEMA);
		json_decref(row);
		ns_registry_free(r);
	}
	free(path);
}

static void test_open_without_create(void **state)
{
	struct ns_registry *r = NULL;
	char *path = at(state, "absent.db");

	assert_int_equal(ns_registry_open(&r, path, 0), NS_EUSAGE);
	assert_null(r);
	tu_assert_error_has(path);
	tu_assert_error_has("nightshift init");
	assert_int_equal(access(path, F_OK), -1);
	free(path);
}

/* a registry from a newer nightshift is refused, not misread or changed */
static void test_newer_schema_refused(void **state)
{
	struct ns_registry *r = NULL;
	char *path = at(state, "newer.db");
	sqlite3 *db = NULL;
	char *sql = xprintf("CREATE TABLE future(x); PRAGMA user_version = %d;",
			    NS_REGISTRY_SCHEMA + 1);

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(ns_registry_open(&r, path, 1), NS_EINVALID);
	assert_null(r);
	tu_assert_error_has(path);
	tu_assert_error_has("newer nightshift");
	assert_int_equal(raw_user_version(path), NS_REGISTRY_SCHEMA + 1);
	free(sql);
	free(path);
}

/* ---- the audit log ------------------------------------------------- */

static void test_event_recorded(void **state)
{
	struct ns_registry *r = open_new(state, "ns.db");
	json_t *row = NULL;

	setenv("NIGHTSHIFT_NOW", "2026-03-04T05:06:07Z!", 1);
	assert_int_equal(ns_registry_event(r, "alice", 12, 2, "billing/model",
					   "qa-approve", "looks good"),
			 0);
	unsetenv("NIGHTSHIFT_NOW");
	assert_int_equal(
		ns_registry_event(r, "bob", 0, 0, NULL, "rfs-add", NULL), 0);
	assert_int_equal(ns_registry_query_row(r, &row,
					       "SELECT * FROM events "
					       "ORDER BY id LIMIT 1",
					       NULL),
			 0);
	assert_string_equal(json_string_value(json_object_get(row, "at")),
			    "2026-03-04T05:06:07Z");
	assert_string_equal(json_string_value(json_object_get(row, "actor")),
			    "alice");
	/* numbers are numbers, whatever they were bound as */
	assert_true(json_is_integer(json_object_get(row, "enhancement")));
	assert_int_equal(
		json_integer_value(json_object_get(row, "enhancement")), 12);
	assert_int_equal(json_integer_value(json_object_get(row, "revision")),
			 2);
	assert_string_equal(
		json_string_value(json_object_get(row, "environment")),
		"billing/model");
	assert_string_equal(json_string_value(json_object_get(row, "event")),
			    "qa-approve");
	assert_string_equal(json_string_value(json_object_get(row, "detail")),
			    "looks good");
	json_decref(row);

	assert_int_equal(ns_registry_query_row(r, &row,
					       "SELECT * FROM events "
					       "WHERE actor = ?",
					       "s", "bob"),
			 0);
	assert_true(json_is_null(json_object_get(row, "enhancement")));
	assert_true(json_is_null(json_object_get(row, "revision")));
	assert_true(json_is_null(json_object_get(row, "environment")));
	assert_true(json_is_null(json_object_get(row, "detail")));
	json_decref(row);
	ns_registry_free(r);
}

static void test_events_append_only(void **state)
{
	struct ns_registry *r = open_new(state, "ns.db");
	json_t *rows = NULL;

	assert_int_equal(ns_registry_event(r, "alice", 1, 1, "b/model",
					   "submit", "first"),
			 0);
	assert_int_equal(ns_registry_event(r, "bob", 1, 1, "b/model",
					   "qa-approve", NULL),
			 0);

	assert_true(ns_registry_exec(r, "UPDATE events SET actor = 'mallory'",
				     NULL) < 0);
	tu_assert_error_has("append-only");
	assert_true(ns_registry_exec(r,
				     "UPDATE events SET detail = ? "
				     "WHERE id = 1",
				     "s", "edited") < 0);
	tu_assert_error_has("append-only");
	assert_true(ns_registry_exec(r, "DELETE FROM events WHERE id = 2",
				     NULL) < 0);
	tu_assert_error_has("append-only");
	assert_true(ns_registry_exec(r, "DELETE FROM events", NULL) < 0);

	/* inside a transaction too: the whole of it is refused */
	assert_int_equal(ns_registry_begin(r), 0);
	assert_int_equal(ns_registry_event(r, "carol", 1, 1, "b/model",
					   "schedule", NULL),
			 0);
	assert_true(ns_registry_exec(r, "DELETE FROM events WHERE id = 1",
				     NULL) < 0);
	ns_registry_rollback(r);

	assert_int_equal(ns_registry_query(r, &rows,
					   "SELECT id, actor, detail FROM "
					   "events ORDER BY id",
					   NULL),
			 0);
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(rows, 0), "actor")),
			    "alice");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(rows, 0), "detail")),
			    "first");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(rows, 1), "actor")),
			    "bob");
	json_decref(rows);
	ns_registry_free(r);
}

/* INSERT OR REPLACE on an existing id is an UPDATE by another name: the
 * schema must not let it rewrite an event either */
static void test_events_replace_refused(void **state)
{
	struct ns_registry *r = open_new(state, "ns.db");
	json_t *row = NULL;
	char actor[64], detail[64];
	int ok;

	assert_int_equal(ns_registry_event(r, "alice", 1, 1, "b/model",
					   "submit", "original"),
			 0);
	ns_registry_exec(r,
			 "INSERT OR REPLACE INTO events(id, at, actor, event, "
			 "detail) VALUES (1, '2000-01-01T00:00:00Z', "
			 "'mallory', 'submit', 'forged')",
			 NULL);
	ns_registry_exec(r,
			 "REPLACE INTO events(id, at, actor, event) VALUES "
			 "(1, '2000-01-01T00:00:00Z', 'mallory', 'submit')",
			 NULL);
	assert_int_equal(ns_registry_query_row(r, &row,
					       "SELECT actor, detail FROM "
					       "events WHERE id = 1",
					       NULL),
			 0);
	ns_registry_free(r);
	assert_non_null(row);
	snprintf(actor, sizeof(actor), "%s",
		 json_string_value(json_object_get(row, "actor")));
	snprintf(detail, sizeof(detail), "%s",
		 json_string_value(json_object_get(row, "detail"))
			 ? json_string_value(json_object_get(row, "detail"))
			 : "(null)");
	json_decref(row);
	ok = !strcmp(actor, "alice") && !strcmp(detail, "original");
	if (!ok)
		fail_msg("event 1 was rewritten: actor '%s', detail '%s'",
			 actor, detail);
}

/* ---- statements and queries ---------------------------------------- */

static void test_query_shapes(void **state)
{
	struct ns_registry *r = open_new(state, "ns.db");
	json_t *rows = NULL, *row = NULL, *o;
	long long big = 5000000000LL;

	assert_int_equal(ns_registry_exec(r,
					  "CREATE TABLE t(id INTEGER PRIMARY "
					  "KEY, name TEXT, n INTEGER, "
					  "big INTEGER, f REAL, note TEXT)",
					  NULL),
			 0);
	assert_int_equal(
		ns_registry_exec(r,
				 "INSERT INTO t(name, n, big, f, note) "
				 "VALUES (?, ?, ?, 2.5, ?)",
				 "siIs", "one", 1, big, "x"),
		0);
	assert_int_equal(ns_registry_last_id(r), 1);
	assert_int_equal(
		ns_registry_exec(r,
				 "INSERT INTO t(name, n, big, f, note) "
				 "VALUES (?, ?, ?, NULL, ?)",
				 "siIs", "two", -7, -big, NULL),
		0);
	assert_int_equal(ns_registry_last_id(r), 2);

	assert_int_equal(ns_registry_query(r, &rows,
					   "SELECT id, name, n, big, f, note "
					   "FROM t ORDER BY id",
					   NULL),
			 0);
	assert_true(json_is_array(rows));
	assert_int_equal(json_array_size(rows), 2);
	o = json_array_get(rows, 0);
	assert_true(json_is_object(o));
	assert_int_equal(json_object_size(o), 6);
	assert_int_equal(json_integer_value(json_object_get(o, "id")), 1);
	assert_string_equal(json_string_value(json_object_get(o, "name")),
			    "one");
	assert_int_equal(json_integer_value(json_object_get(o, "n")), 1);
	assert_true(json_integer_value(json_object_get(o, "big")) == big);
	assert_true(json_is_real(json_object_get(o, "f")));
	assert_true(json_real_value(json_object_get(o, "f")) == 2.5);
	assert_string_equal(json_string_value(json_object_get(o, "note")), "x");
	o = json_array_get(rows, 1);
	assert_int_equal(json_integer_value(json_object_get(o, "n")), -7);
	assert_true(json_integer_value(json_object_get(o, "big")) == -big);
	assert_true(json_is_null(json_object_get(o, "f")));
	assert_true(json_is_null(json_object_get(o, "note")));
	json_decref(rows);

	/* the keys are the column names as the query says them */
	assert_int_equal(ns_registry_query_row(r, &row,
					       "SELECT name AS who, n * 10 AS "
					       "tens FROM t WHERE id = ?",
					       "I", 2LL),
			 0);
	assert_non_null(row);
	assert_int_equal(json_object_size(row), 2);
	assert_string_equal(json_string_value(json_object_get(row, "who")),
			    "two");
	assert_int_equal(json_integer_value(json_object_get(row, "tens")), -70);
	json_decref(row);

	/* the first row only */
	assert_int_equal(ns_registry_query_row(r, &row,
					       "SELECT name FROM t ORDER BY "
					       "id DESC",
					       NULL),
			 0);
	assert_string_equal(json_string_value(json_object_get(row, "name")),
			    "two");
	json_decref(row);

	/* no rows: an empty array; no row: NULL and 0 */
	assert_int_equal(ns_registry_query(r, &rows,
					   "SELECT * FROM t WHERE id > ?", "i",
					   100),
			 0);
	assert_true(json_is_array(rows));
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	o = json_object();
	row = o; /* overwritten, not left as it was */
	assert_int_equal(ns_registry_query_row(r, &row,
					       "SELECT * FROM t WHERE name = ?",
					       "s", "nobody"),
			 0);
	assert_null(row);
	json_decref(o);
	ns_registry_free(r);
}

static void test_errors_name_the_registry(void **state)
{
	struct ns_registry *r = open_new(state, "ns.db");
	char *path = at(state, "ns.db");
	json_t *rows = NULL, *row = NULL;

	assert_int_equal(
		ns_registry_exec(r, "INSERT INTO nosuch VALUES (1)", NULL),
		NS_ERROR);
	tu_assert_error_has(path);
	tu_assert_error_has("nosuch");
	assert_int_equal(ns_registry_query(r, &rows, "SELEC 1", NULL),
			 NS_ERROR);
	tu_assert_error_has(path);
	assert_int_equal(
		ns_registry_query_row(r, &row, "SELECT * FROM nosuch", NULL),
		NS_ERROR);
	assert_null(row);
	/* a constraint failure at step time, not at prepare time (on a table
	 * whose triggers do not speak first, as events' chain guard does) */
	assert_int_equal(
		ns_registry_exec(r,
				 "INSERT INTO enhancements(title, system, "
				 "author, state, revision, created_at, "
				 "updated_at) VALUES (NULL, 's', 'a', 'x', 1, "
				 "'t', 't')",
				 NULL),
		NS_ERROR);
	tu_assert_error_has("NOT NULL");
	ns_registry_free(r);
	free(path);
}

static void test_transactions(void **state)
{
	struct ns_registry *r = open_new(state, "ns.db");

	assert_int_equal(ns_registry_begin(r), 0);
	assert_int_equal(ns_registry_exec(r,
					  "INSERT INTO environments(name) "
					  "VALUES (?)",
					  "s", "a/model"),
			 0);
	ns_registry_rollback(r);
	assert_int_equal(count_rows(r, "environments"), 0);
	ns_registry_rollback(r); /* outside a transaction: harmless */

	assert_int_equal(ns_registry_begin(r), 0);
	assert_int_equal(ns_registry_exec(r,
					  "INSERT INTO environments(name) "
					  "VALUES (?)",
					  "s", "a/model"),
			 0);
	assert_int_equal(ns_registry_commit(r), 0);
	assert_int_equal(count_rows(r, "environments"), 1);
	/* foreign keys are enforced */
	assert_true(ns_registry_exec(r,
				     "INSERT INTO revisions VALUES (99, 1, "
				     "'h', 'p', 1, 1, 'm', 'u', 't')",
				     NULL) < 0);
	tu_assert_error_has("FOREIGN KEY");
	ns_registry_free(r);
}

static void test_enh_parse(void **state)
{
	(void)state;
	assert_int_equal(ns_enh_parse("ENH-12"), 12);
	assert_int_equal(ns_enh_parse("enh-7"), 7);
	assert_int_equal(ns_enh_parse("12"), 12);
	assert_int_equal(ns_enh_parse("ENH-1"), 1);
	assert_true(ns_enh_parse("ENH-9223372036854775807") ==
		    9223372036854775807LL);
	assert_int_equal(ns_enh_parse("ENH-"), 0);
	assert_int_equal(ns_enh_parse(""), 0);
	assert_int_equal(ns_enh_parse("ENH-0"), 0);
	assert_int_equal(ns_enh_parse("0"), 0);
	assert_int_equal(ns_enh_parse("ENH--3"), 0);
	assert_int_equal(ns_enh_parse("-3"), 0);
	assert_int_equal(ns_enh_parse("+3"), 0);
	assert_int_equal(ns_enh_parse(" 3"), 0);
	assert_int_equal(ns_enh_parse("ENH-3x"), 0);
	assert_int_equal(ns_enh_parse("ENH-3 "), 0);
	assert_int_equal(ns_enh_parse("ENH12"), 0);
	assert_int_equal(ns_enh_parse("RFS-12"), 0);
	assert_int_equal(ns_enh_parse("ENH-9223372036854775808"), 0);
	assert_int_equal(ns_enh_parse("ENH-99999999999999999999999"), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, tu_scratch_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_creates_schema),
		T(test_reopen_is_idempotent),
		T(test_open_without_create),
		T(test_newer_schema_refused),
		T(test_event_recorded),
		T(test_events_append_only),
		T(test_events_replace_refused),
		T(test_query_shapes),
		T(test_errors_name_the_registry),
		T(test_transactions),
		T(test_enh_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
