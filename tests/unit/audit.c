/* audit: the hash chain of the audit log — the record and its hash, the
 * chaining of new events and of a schema-1 log on upgrade, and what
 * `audit verify` finds after someone edited the file with another tool */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "error.h"
#include "registry.h"
#include "testutil.h"
#include "xalloc.h"

/* Computed from the record as audit.h spells it, by an implementation of
 * its own (Python's hashlib and struct), so that a change of the format —
 * which would make every existing chain fail — cannot pass unnoticed. */
#define KAT_1 "5c870e5b040758b1849039da08f492cb2b173e876af97c07bbfb5825d66ea791"
#define KAT_2 "7f5b04341a969971363f1289dbf34825169e6ceaf17fd5479bb1865e0f6114a3"
/* KAT_2's event with an empty detail instead of NULL */
#define KAT_2E                                                                 \
	"c1d2af4deba72d62604dbe891e78ac64901c9b6ed9c012eb81acbb9f9614f2c3"
#define NOW "2026-03-04T05:06:07Z"

/* version 1 of the schema, as nightshift 0.1 made it */
static const char schema_v1[] =
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
	"CREATE TRIGGER events_append_only_i BEFORE INSERT ON events"
	" WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM events"
	" WHERE id = NEW.id)"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"PRAGMA user_version = 1;";

/* what someone with the sqlite3 shell does first */
static const char drop_guards[] = "DROP TRIGGER events_append_only_u;"
				  "DROP TRIGGER events_append_only_d;"
				  "DROP TRIGGER events_append_only_i;"
				  "DROP TRIGGER events_chained_i;";

/* ---- fixtures ------------------------------------------------------ */

static int setup(void **state)
{
	*state = tu_scratch_new("audit");
	return *state ? 0 : -1;
}

static char *db_path(void **state)
{
	return tu_at(*state, "ns.db");
}

/* SQL run on the file by another program, with nightshift's closed */
static void raw_exec(void **state, const char *sql)
{
	char *path = db_path(state);
	sqlite3 *db = NULL;
	char *err = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
	free(path);
}

static struct ns_registry *open_reg(void **state)
{
	struct ns_registry *r = NULL;
	char *path = db_path(state);

	assert_int_equal(ns_registry_open(&r, path, 1), 0);
	free(path);
	return r;
}

/* a registry with n events, closed again */
static void make_log(void **state, int n)
{
	struct ns_registry *r = open_reg(state);

	setenv("NIGHTSHIFT_NOW", NOW "!", 1);
	for (int i = 1; i <= n; i++) {
		char detail[32];
		snprintf(detail, sizeof(detail), "step %d", i);
		assert_int_equal(ns_registry_event(r, "alice", i, 1,
						   "demo/model", "submitted",
						   detail),
				 0);
	}
	unsetenv("NIGHTSHIFT_NOW");
	ns_registry_free(r);
}

static json_t *events(struct ns_registry *r)
{
	json_t *rows = NULL;

	assert_int_equal(ns_registry_query(r, &rows,
					   "SELECT * FROM events ORDER BY id",
					   NULL),
			 0);
	return rows;
}

static const char *col(json_t *rows, size_t i, const char *k)
{
	return json_string_value(json_object_get(json_array_get(rows, i), k));
}

/* verify the closed registry; its code, with the report in *rep */
static int verify(void **state, struct ns_audit_report *rep)
{
	struct ns_registry *r = open_reg(state);
	int ret = ns_audit_verify(rep, r);

	ns_registry_free(r);
	return ret;
}

/* verify finds event id bad, after good events that checked out */
static void assert_bad(void **state, long long id, long long good,
		       enum ns_audit_fault f, const char *needle)
{
	struct ns_audit_report rep;
	char name[32];

	assert_int_equal(verify(state, &rep), NS_EFAILED);
	assert_int_equal(rep.bad_id, id);
	assert_string_equal(ns_audit_fault_name(rep.fault),
			    ns_audit_fault_name(f));
	assert_int_equal(rep.events, good);
	snprintf(name, sizeof(name), "event %lld", id);
	tu_assert_error_has(name);
	tu_assert_error_has(needle);
}

static void sha_of_event(void **state, long long id, char out[65])
{
	struct ns_registry *r = open_reg(state);
	json_t *row = NULL;

	assert_int_equal(ns_registry_query_row(r, &row,
					       "SELECT sha256 FROM events "
					       "WHERE id = ?",
					       "I", id),
			 0);
	assert_non_null(row);
	snprintf(out, 65, "%s",
		 json_string_value(json_object_get(row, "sha256")));
	json_decref(row);
	ns_registry_free(r);
}

/* ---- the record ---------------------------------------------------- */

static struct ns_audit_event kat_event(void)
{
	struct ns_audit_event ev;

	ev.f[NS_AUDIT_ID] = ns_audit_int(1);
	ev.f[NS_AUDIT_AT] = ns_audit_text(NOW);
	ev.f[NS_AUDIT_ACTOR] = ns_audit_text("alice");
	ev.f[NS_AUDIT_ENHANCEMENT] = ns_audit_int(12);
	ev.f[NS_AUDIT_REVISION] = ns_audit_int(2);
	ev.f[NS_AUDIT_ENVIRONMENT] = ns_audit_text("billing/model");
	ev.f[NS_AUDIT_EVENT] = ns_audit_text("qa-approve");
	ev.f[NS_AUDIT_DETAIL] = ns_audit_text("looks good");
	ev.prev_sha256 = ns_audit_text(ns_audit_genesis);
	ev.sha256 = ns_audit_text(NULL);
	return ev;
}

static void test_record_known_answer(void **state)
{
	struct ns_audit_event ev = kat_event();
	char sha[65];

	(void)state;
	ns_audit_event_sha256(sha, &ev);
	assert_string_equal(sha, KAT_1);
	/* its own sha256 is not part of the record */
	ev.sha256 = ns_audit_text("whatever");
	ns_audit_event_sha256(sha, &ev);
	assert_string_equal(sha, KAT_1);

	ev.f[NS_AUDIT_ID] = ns_audit_int(2);
	ev.f[NS_AUDIT_ACTOR] = ns_audit_text("bob");
	ev.f[NS_AUDIT_ENHANCEMENT] = ns_audit_text(NULL);
	ev.f[NS_AUDIT_REVISION] = ns_audit_text(NULL);
	ev.f[NS_AUDIT_ENVIRONMENT] = ns_audit_text(NULL);
	ev.f[NS_AUDIT_EVENT] = ns_audit_text("rfs-add");
	ev.f[NS_AUDIT_DETAIL] = ns_audit_text(NULL);
	ev.prev_sha256 = ns_audit_text(KAT_1);
	ns_audit_event_sha256(sha, &ev);
	assert_string_equal(sha, KAT_2);
	ev.f[NS_AUDIT_DETAIL] = ns_audit_text("");
	ns_audit_event_sha256(sha, &ev);
	assert_string_equal(sha, KAT_2E);
}

/* every change of a field, of its type, or of where one field ends and
 * the next begins, gives another hash */
static void test_record_unambiguous(void **state)
{
	struct ns_audit_event ev = kat_event();
	char base[65], sha[65];
	/* none of these is the value of any field of kat_event() */
	struct ns_audit_value vals[] = {
		ns_audit_text(NULL), ns_audit_text(""),	  ns_audit_int(0),
		ns_audit_text("1"),  ns_audit_text("12"), ns_audit_int(13),
	};

	(void)state;
	ns_audit_event_sha256(base, &ev);
	for (int i = 0; i < NS_AUDIT_FIELDS; i++) {
		for (size_t k = 0; k < sizeof(vals) / sizeof(*vals); k++) {
			struct ns_audit_event e = kat_event();
			e.f[i] = vals[k];
			ns_audit_event_sha256(sha, &e);
			assert_string_not_equal(sha, base);
		}
	}
	/* NULL and "" differ, and so do 12 and "12" */
	ev.f[NS_AUDIT_DETAIL] = ns_audit_text(NULL);
	ns_audit_event_sha256(sha, &ev);
	ev.f[NS_AUDIT_DETAIL] = ns_audit_text("");
	ns_audit_event_sha256(base, &ev);
	assert_string_not_equal(sha, base);
	/* a boundary moved between two fields */
	ev = kat_event();
	ev.f[NS_AUDIT_EVENT] = ns_audit_text("qa-approvelooks");
	ev.f[NS_AUDIT_DETAIL] = ns_audit_text(" good");
	ns_audit_event_sha256(sha, &ev);
	ev.f[NS_AUDIT_EVENT] = ns_audit_text("qa-approve");
	ev.f[NS_AUDIT_DETAIL] = ns_audit_text("looks good");
	ns_audit_event_sha256(base, &ev);
	assert_string_not_equal(sha, base);
	/* a field that carries the encoding of the next one: actor
	 * "alice" + 'I' + int64 12, enhancement NULL, would be
	 * actor "alice", enhancement 12 if values did not carry lengths */
	{
		static const char run_on[] = "aliceI\0\0\0\0\0\0\0\x0c";
		struct ns_audit_event e = kat_event();
		e.f[NS_AUDIT_ACTOR].s = run_on;
		e.f[NS_AUDIT_ACTOR].len = sizeof(run_on) - 1;
		e.f[NS_AUDIT_ENHANCEMENT] = ns_audit_text(NULL);
		ns_audit_event_sha256(sha, &e);
		assert_string_not_equal(sha, KAT_1);
	}
	/* the previous hash is in the record */
	ev = kat_event();
	ev.prev_sha256 = ns_audit_text(KAT_2);
	ns_audit_event_sha256(sha, &ev);
	assert_string_not_equal(sha, KAT_1);
}

/* ---- new events ---------------------------------------------------- */

static void test_events_are_chained(void **state)
{
	struct ns_registry *r = open_reg(state);
	json_t *rows;

	setenv("NIGHTSHIFT_NOW", NOW "!", 1);
	assert_int_equal(ns_registry_event(r, "alice", 12, 2, "billing/model",
					   "qa-approve", "looks good"),
			 0);
	assert_int_equal(
		ns_registry_event(r, "bob", 0, 0, NULL, "rfs-add", NULL), 0);
	unsetenv("NIGHTSHIFT_NOW");
	rows = events(r);
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(col(rows, 0, "prev_sha256"), ns_audit_genesis);
	/* the stored hash is the record's, as audit.h spells it */
	assert_string_equal(col(rows, 0, "sha256"), KAT_1);
	assert_string_equal(col(rows, 1, "prev_sha256"), KAT_1);
	assert_string_equal(col(rows, 1, "sha256"), KAT_2);
	json_decref(rows);
	ns_registry_free(r);
}

/* inside the caller's transaction the event comes and goes with it */
static void test_event_in_transaction(void **state)
{
	struct ns_registry *r = open_reg(state);
	struct ns_audit_report rep;
	json_t *rows;

	assert_int_equal(ns_registry_event(r, "a", 1, 1, NULL, "one", NULL), 0);
	assert_int_equal(ns_registry_begin(r), 0);
	assert_int_equal(ns_registry_event(r, "a", 1, 1, NULL, "two", NULL), 0);
	assert_int_equal(ns_registry_event(r, "a", 1, 1, NULL, "three", NULL),
			 0);
	ns_registry_rollback(r);
	assert_int_equal(ns_registry_begin(r), 0);
	assert_int_equal(ns_registry_event(r, "a", 1, 1, NULL, "two", NULL), 0);
	assert_int_equal(ns_registry_commit(r), 0);
	/* and one on its own left no transaction open */
	assert_int_equal(ns_registry_event(r, "a", 1, 1, NULL, "three", NULL),
			 0);
	assert_int_equal(ns_registry_begin(r), 0);
	assert_int_equal(ns_registry_commit(r), 0);

	rows = events(r);
	assert_int_equal(json_array_size(rows), 3);
	assert_string_equal(col(rows, 1, "event"), "two");
	assert_string_equal(col(rows, 1, "prev_sha256"),
			    col(rows, 0, "sha256"));
	assert_string_equal(col(rows, 2, "prev_sha256"),
			    col(rows, 1, "sha256"));
	assert_int_equal(ns_audit_verify(&rep, r), 0);
	assert_int_equal(rep.events, 3);
	assert_string_equal(rep.head, col(rows, 2, "sha256"));
	json_decref(rows);
	ns_registry_free(r);
}

/* writers in several processes at once still make one chain */
static void test_concurrent_writers(void **state)
{
	struct ns_audit_report rep;
	enum { PROCS = 4, EACH = 15 };
	pid_t pids[PROCS];
	int status;

	make_log(state, 0);
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			struct ns_registry *r = NULL;
			char *path = db_path(state);
			int bad = ns_registry_open(&r, path, 0) < 0;
			for (int i = 0; !bad && i < EACH; i++)
				bad = ns_registry_event(r, "w", p + 1, 1, NULL,
							"tick", NULL) < 0;
			ns_registry_free(r);
			free(path);
			_exit(bad);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(verify(state, &rep), 0);
	assert_int_equal(rep.events, PROCS * EACH);
}

/* a head the program cannot chain on is refused, not papered over */
static void test_append_on_malformed_head(void **state)
{
	struct ns_registry *r;

	make_log(state, 2);
	raw_exec(state, "DROP TRIGGER events_append_only_u;"
			"UPDATE events SET sha256 = NULL WHERE id = 2;");
	r = open_reg(state);
	assert_int_equal(ns_registry_event(r, "a", 0, 0, NULL, "x", NULL),
			 NS_EINVALID);
	tu_assert_error_has("audit event 2");
	tu_assert_error_has("audit verify");
	ns_registry_free(r);
}

/* ---- upgrade from schema 1 ----------------------------------------- */

static void test_upgrade_chains_schema_1(void **state)
{
	struct ns_registry *r;
	struct ns_audit_report rep;
	json_t *rows, *row = NULL;

	raw_exec(state, schema_v1);
	raw_exec(state,
		 "INSERT INTO events(at, actor, enhancement, revision, "
		 "environment, event, detail) VALUES"
		 " ('" NOW "', 'alice', 12, 2, 'billing/model', 'qa-approve',"
		 " 'looks good'),"
		 " ('" NOW "', 'bob', NULL, NULL, NULL, 'rfs-add', NULL),"
		 " ('" NOW "', 'carol', 12, 2, 'billing/model', 'scheduled',"
		 " '');");
	r = open_reg(state);
	assert_int_equal(
		ns_registry_query_row(r, &row, "PRAGMA user_version", NULL), 0);
	assert_int_equal(
		json_integer_value(json_object_get(row, "user_version")),
		NS_REGISTRY_SCHEMA);
	json_decref(row);

	rows = events(r);
	assert_int_equal(json_array_size(rows), 3);
	/* chained in id order, with the very hashes a new log would have */
	assert_string_equal(col(rows, 0, "prev_sha256"), ns_audit_genesis);
	assert_string_equal(col(rows, 0, "sha256"), KAT_1);
	assert_string_equal(col(rows, 1, "prev_sha256"), KAT_1);
	assert_string_equal(col(rows, 1, "sha256"), KAT_2);
	assert_string_equal(col(rows, 2, "prev_sha256"), KAT_2);
	/* the content is untouched */
	assert_string_equal(col(rows, 2, "actor"), "carol");
	assert_string_equal(col(rows, 2, "detail"), "");
	assert_int_equal(ns_audit_verify(&rep, r), 0);
	assert_int_equal(rep.events, 3);
	assert_string_equal(rep.head, col(rows, 2, "sha256"));

	/* the log is append-only again, and unchained rows are refused */
	assert_true(ns_registry_exec(r, "UPDATE events SET actor = 'm'", NULL) <
		    0);
	tu_assert_error_has("append-only");
	assert_true(ns_registry_exec(r, "DELETE FROM events", NULL) < 0);
	assert_true(ns_registry_exec(r,
				     "INSERT INTO events(at, actor, event) "
				     "VALUES ('t', 'm', 'forged')",
				     NULL) < 0);
	tu_assert_error_has("hash-chained");

	/* and new events carry on from the upgraded head */
	assert_int_equal(ns_registry_event(r, "dave", 0, 0, NULL, "n", NULL),
			 0);
	assert_int_equal(ns_audit_verify(&rep, r), 0);
	assert_int_equal(rep.events, 4);
	json_decref(rows);
	ns_registry_free(r);
}

/* the daemon and a command that both meet the old registry first: one
 * upgrades it, the other finds it done, and neither fails */
static void test_upgrade_concurrent_opens(void **state)
{
	struct ns_audit_report rep;
	enum { PROCS = 6 };
	pid_t pids[PROCS];
	int status;

	raw_exec(state, schema_v1);
	raw_exec(state, "PRAGMA journal_mode = WAL;"
			"INSERT INTO events(at, actor, event) VALUES"
			" ('t', 'a', 'one'), ('t', 'b', 'two');");
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			struct ns_registry *r = NULL;
			char *path = db_path(state);
			int bad = ns_registry_open(&r, path, 0) < 0;
			if (bad)
				fprintf(stderr, "%s\n", ns_error_last());
			ns_registry_free(r);
			free(path);
			_exit(bad);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(verify(state, &rep), 0);
	assert_int_equal(rep.events, 2);
}

/* an event deleted before there was a chain stays a hole, and is told */
static void test_upgrade_keeps_old_hole(void **state)
{
	raw_exec(state, schema_v1);
	raw_exec(state, "INSERT INTO events(id, at, actor, event) VALUES"
			" (1, 't', 'a', 'one'), (2, 't', 'a', 'two'),"
			" (4, 't', 'a', 'four');");
	assert_bad(state, 4, 2, NS_AUDIT_GAP, "deleted");
}

/* ---- verify ---------------------------------------------------------- */

static void test_verify_empty_and_intact(void **state)
{
	struct ns_audit_report rep;
	char head[65];

	make_log(state, 0);
	assert_int_equal(verify(state, &rep), 0);
	assert_int_equal(rep.events, 0);
	assert_string_equal(rep.head, ns_audit_genesis);
	make_log(state, 5);
	assert_int_equal(verify(state, &rep), 0);
	assert_int_equal(rep.events, 5);
	sha_of_event(state, 5, head);
	assert_string_equal(rep.head, head);
	assert_int_equal(rep.fault, NS_AUDIT_INTACT);
}

static void test_verify_finds_edits(void **state)
{
	make_log(state, 5);
	raw_exec(state, drop_guards);
	raw_exec(state, "UPDATE events SET detail = 'step 3, honestly' "
			"WHERE id = 3;");
	assert_bad(state, 3, 2, NS_AUDIT_EDITED, "edited");

	/* NULL for "" is an edit; so is a number stored as text */
	raw_exec(state, "UPDATE events SET detail = 'step 3' WHERE id = 3;");
	raw_exec(state, "UPDATE events SET detail = NULL WHERE id = 2;");
	assert_bad(state, 2, 1, NS_AUDIT_EDITED, "edited");
	raw_exec(state, "UPDATE events SET detail = 'step 2' WHERE id = 2;");
	raw_exec(state, "UPDATE events SET enhancement = CAST('1' AS BLOB) "
			"WHERE id = 1;");
	assert_bad(state, 1, 0, NS_AUDIT_EDITED, "edited");
	raw_exec(state, "UPDATE events SET enhancement = 1 WHERE id = 1;");
	assert_int_equal(verify(state, &(struct ns_audit_report){ 0 }), 0);

	/* the hash columns themselves */
	raw_exec(state, "UPDATE events SET prev_sha256 = NULL WHERE id = 4;");
	assert_bad(state, 4, 3, NS_AUDIT_MALFORMED, "no valid prev_sha256");
	raw_exec(state, "UPDATE events SET prev_sha256 = (SELECT sha256 FROM "
			"events WHERE id = 3) WHERE id = 4;");
	assert_int_equal(verify(state, &(struct ns_audit_report){ 0 }), 0);
	raw_exec(state, "UPDATE events SET sha256 = prev_sha256 WHERE id = 4;");
	assert_bad(state, 4, 3, NS_AUDIT_EDITED, "edited");
	raw_exec(state, "UPDATE events SET sha256 = upper(sha256) "
			"WHERE id = 4;");
	assert_bad(state, 4, 3, NS_AUDIT_MALFORMED, "no valid sha256");
}

/* an editor who recomputes the edited event's hash is caught one later */
static void test_verify_finds_rehashed_edit(void **state)
{
	struct ns_registry *r;
	struct ns_audit_event ev;
	json_t *rows;
	char sha[65], *sql;

	make_log(state, 4);
	raw_exec(state, drop_guards);
	raw_exec(state, "UPDATE events SET actor = 'mallory' WHERE id = 2;");
	r = open_reg(state);
	rows = events(r);
	ns_registry_free(r);
	ev.f[NS_AUDIT_ID] = ns_audit_int(2);
	ev.f[NS_AUDIT_AT] = ns_audit_text(col(rows, 1, "at"));
	ev.f[NS_AUDIT_ACTOR] = ns_audit_text("mallory");
	ev.f[NS_AUDIT_ENHANCEMENT] = ns_audit_int(2);
	ev.f[NS_AUDIT_REVISION] = ns_audit_int(1);
	ev.f[NS_AUDIT_ENVIRONMENT] = ns_audit_text("demo/model");
	ev.f[NS_AUDIT_EVENT] = ns_audit_text("submitted");
	ev.f[NS_AUDIT_DETAIL] = ns_audit_text("step 2");
	ev.prev_sha256 = ns_audit_text(col(rows, 1, "prev_sha256"));
	ns_audit_event_sha256(sha, &ev);
	json_decref(rows);
	sql = xprintf("UPDATE events SET sha256 = '%s' WHERE id = 2;", sha);
	raw_exec(state, sql);
	free(sql);
	assert_bad(state, 3, 2, NS_AUDIT_BROKEN,
		   "is not the sha256 of event 2");
}

static void test_verify_finds_deletions(void **state)
{
	struct ns_audit_report rep;
	char head[65];

	make_log(state, 5);
	raw_exec(state, drop_guards);
	raw_exec(state, "DELETE FROM events WHERE id = 3;");
	assert_bad(state, 4, 2, NS_AUDIT_GAP, "follows event 2");
	/* closing the gap by renumbering breaks the chain instead */
	raw_exec(state, "UPDATE events SET id = id - 1 WHERE id > 3;");
	assert_bad(state, 3, 2, NS_AUDIT_BROKEN, "breaks the chain");

	tu_try_rm_rf(*state);
	tu_mkdirs(*state);
	make_log(state, 3);
	raw_exec(state, drop_guards);
	raw_exec(state, "DELETE FROM events WHERE id = 1;");
	assert_bad(state, 2, 0, NS_AUDIT_GAP, "starts at event 2: event 1 was");
	raw_exec(state, "UPDATE events SET id = id - 1;");
	assert_bad(state, 1, 0, NS_AUDIT_BROKEN, "not 64 zeros");

	/* what a chain cannot see: the newest events cut off. The head
	 * then differs from one recorded before. */
	tu_try_rm_rf(*state);
	tu_mkdirs(*state);
	make_log(state, 3);
	sha_of_event(state, 3, head);
	raw_exec(state, drop_guards);
	raw_exec(state, "DELETE FROM events WHERE id = 3;");
	assert_int_equal(verify(state, &rep), 0);
	assert_int_equal(rep.events, 2);
	assert_string_not_equal(rep.head, head);
}

static void test_verify_finds_insertions(void **state)
{
	struct ns_audit_event ev;
	char prev[65], sha[65], *sql;

	make_log(state, 4);
	raw_exec(state, drop_guards);
	/* a forged event 3 with a hash as good as nightshift's own, the
	 * later events moved up to make room */
	sha_of_event(state, 2, prev);
	ev.f[NS_AUDIT_ID] = ns_audit_int(3);
	ev.f[NS_AUDIT_AT] = ns_audit_text(NOW);
	ev.f[NS_AUDIT_ACTOR] = ns_audit_text("qa@example.com");
	ev.f[NS_AUDIT_ENHANCEMENT] = ns_audit_int(2);
	ev.f[NS_AUDIT_REVISION] = ns_audit_int(1);
	ev.f[NS_AUDIT_ENVIRONMENT] = ns_audit_text(NULL);
	ev.f[NS_AUDIT_EVENT] = ns_audit_text("qa-approved");
	ev.f[NS_AUDIT_DETAIL] = ns_audit_text(NULL);
	ev.prev_sha256 = ns_audit_text(prev);
	ns_audit_event_sha256(sha, &ev);
	sql = xprintf("UPDATE events SET id = -id WHERE id >= 3;"
		      "UPDATE events SET id = 1 - id WHERE id < 0;"
		      "INSERT INTO events VALUES (3, '%s', 'qa@example.com', "
		      "2, 1, NULL, 'qa-approved', NULL, '%s', '%s');",
		      NOW, prev, sha);
	raw_exec(state, sql);
	free(sql);
	assert_bad(state, 4, 3, NS_AUDIT_BROKEN,
		   "is not the sha256 of event 3");

	/* one appended with a made-up hash */
	tu_try_rm_rf(*state);
	tu_mkdirs(*state);
	make_log(state, 2);
	raw_exec(state, drop_guards);
	sha_of_event(state, 2, prev);
	sql = xprintf("INSERT INTO events VALUES (3, '%s', 'm', NULL, NULL, "
		      "NULL, 'x', NULL, '%s', '%s');",
		      NOW, prev, ns_audit_genesis);
	raw_exec(state, sql);
	free(sql);
	assert_bad(state, 3, 2, NS_AUDIT_EDITED, "edited");
	/* one without hashes at all */
	raw_exec(state, "DELETE FROM events WHERE id = 3;"
			"INSERT INTO events(id, at, actor, event) VALUES "
			"(3, 't', 'm', 'x');");
	assert_bad(state, 3, 2, NS_AUDIT_MALFORMED, "no valid");
	/* one put before the first */
	raw_exec(state, "DELETE FROM events WHERE id = 3;"
			"INSERT INTO events(id, at, actor, event) VALUES "
			"(0, 't', 'm', 'x');");
	assert_bad(state, 0, 0, NS_AUDIT_GAP, "out of sequence");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, tu_scratch_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_record_known_answer),
		T(test_record_unambiguous),
		T(test_events_are_chained),
		T(test_event_in_transaction),
		T(test_concurrent_writers),
		T(test_append_on_malformed_head),
		T(test_upgrade_chains_schema_1),
		T(test_upgrade_concurrent_opens),
		T(test_upgrade_keeps_old_hole),
		T(test_verify_empty_and_intact),
		T(test_verify_finds_edits),
		T(test_verify_finds_rehashed_edit),
		T(test_verify_finds_deletions),
		T(test_verify_finds_insertions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
