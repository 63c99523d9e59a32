/* sqlobj: the objects a deploy script names — each statement form, what
 * comments, literals and dollar quotes hide, quoted and qualified names,
 * and the words that only look like keywords */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sqlobj.h"
#include "strbuf.h"

/* ---- fixtures ------------------------------------------------------ */

/* the objects sql names, joined with "|" (names may hold blanks) */
static void expect(const char *sql, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	char **v = NULL;
	size_t nr = 12345;

	assert_int_equal(ns_sql_objects(&v, &nr, sql), 0);
	assert_non_null(v);
	for (size_t i = 0; i < nr; i++) {
		assert_non_null(v[i]);
		if (i)
			strbuf_addch(&sb, '|');
		strbuf_addstr(&sb, v[i]);
	}
	assert_null(v[nr]);
	if (strcmp(sb.buf, want))
		fail_msg("in:   %s\nfound '%s'\nwant  '%s'", sql, sb.buf, want);
	strbuf_release(&sb);
	ns_sql_objects_free(v);
}

/* ---- statement forms ----------------------------------------------- */

static void test_create(void **state)
{
	expect("CREATE TABLE t (a int);"
	       "create or replace view v as select 1;"
	       "CREATE TEMP TABLE tmp1 (x);"
	       "CREATE TEMPORARY TABLE tmp2(x);"
	       "CREATE TABLE IF NOT EXISTS t4 (a);"
	       "CREATE UNIQUE INDEX ix ON t2 (a);"
	       "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql "
	       "AS 'select 1';"
	       "CREATE PROCEDURE p() LANGUAGE sql AS 'select 1';"
	       "CREATE SEQUENCE IF NOT EXISTS s;"
	       "CREATE TYPE ty AS ENUM ('a', 'b');"
	       "CREATE SCHEMA sch;"
	       "CREATE MATERIALIZED VIEW mv AS SELECT 1;",
	       "f|ix|mv|p|s|sch|t|t2|t4|tmp1|tmp2|ty|v");
}

static void test_create_index_and_trigger_on(void **state)
{
	expect("CREATE INDEX ON t (a)", "t");
	expect("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix ON ONLY s.t "
	       "USING btree (a)",
	       "ix|s.t");
	expect("CREATE TRIGGER trg BEFORE UPDATE OF a, b ON accounts "
	       "FOR EACH ROW EXECUTE FUNCTION f()",
	       "accounts|trg");
	/* SQLite: the body's statements count as well */
	expect("CREATE TRIGGER IF NOT EXISTS trg2 AFTER UPDATE ON a "
	       "WHEN new.x <> old.x BEGIN UPDATE b SET n = n + 1; "
	       "INSERT INTO c VALUES (1); DELETE FROM d; END;",
	       "a|b|c|d|trg2");
}

static void test_alter(void **state)
{
	expect("ALTER TABLE t ADD COLUMN c int;"
	       "ALTER TABLE IF EXISTS ONLY u DROP COLUMN d;"
	       "ALTER VIEW v OWNER TO x;"
	       "ALTER INDEX i SET TABLESPACE y;"
	       "ALTER SEQUENCE s RESTART;"
	       "ALTER FUNCTION f(int) OWNER TO z;"
	       "ALTER TYPE ty ADD VALUE 'b';"
	       "ALTER TABLE w DROP CONSTRAINT w_fk;",
	       "f|i|s|t|ty|u|v|w");
	expect("ALTER TABLE old_t RENAME TO new_t", "new_t|old_t");
	expect("ALTER TABLE t RENAME COLUMN a TO b", "t");
	/* the new name stays in the schema */
	expect("ALTER TABLE app.a RENAME TO b", "app.a|app.b");
}

static void test_drop_list(void **state)
{
	expect("DROP TABLE IF EXISTS a, b, s.c CASCADE;"
	       "drop view v;"
	       "DROP INDEX CONCURRENTLY IF EXISTS ix;"
	       "DROP FUNCTION f(int), g(text, int) RESTRICT;"
	       "DROP MATERIALIZED VIEW mv;"
	       "DROP SCHEMA sch CASCADE;"
	       "DROP SEQUENCE sq;"
	       "DROP TYPE ty;"
	       "DROP PROCEDURE p;"
	       "DROP TRIGGER trg ON t;",
	       "a|b|f|g|ix|mv|p|s.c|sch|sq|t|trg|ty|v");
}

static void test_dml(void **state)
{
	expect("INSERT INTO a VALUES (1);"
	       "INSERT OR REPLACE INTO b VALUES (1);"
	       "INSERT OR IGNORE INTO c SELECT * FROM x;"
	       "insert or abort into c2 values (1);"
	       "INSERT OR FAIL INTO c3 DEFAULT VALUES;"
	       "REPLACE INTO d VALUES (1);"
	       "UPDATE e SET a = 1;"
	       "UPDATE OR ROLLBACK f SET a = 1;"
	       "UPDATE ONLY g SET a = 1;"
	       "DELETE FROM h;"
	       "DELETE FROM ONLY i WHERE 1;"
	       "TRUNCATE j;"
	       "TRUNCATE TABLE ONLY k, l *, ONLY m;",
	       "a|b|c|c2|c3|d|e|f|g|h|i|j|k|l|m");
}

/* ---- what hides a keyword ------------------------------------------ */

static void test_comments_and_strings(void **state)
{
	expect("-- DROP TABLE c1\n"
	       "/* DELETE FROM c2 /* nested: DROP TABLE c3 */ "
	       "DELETE FROM c4 */\n"
	       "INSERT INTO t VALUES ('DROP TABLE s1', "
	       "'it''s; DELETE FROM s2', E'\\' DELETE FROM s3', "
	       "e'\\\\', 'DELETE FROM s4'); -- UPDATE c5\n"
	       "SELECT 'x'; -- ; UPDATE c6\n"
	       "UPDATE u SET a = 'TRUNCATE s5';",
	       "t|u");
	/* an unterminated comment or literal hides the rest */
	expect("DELETE FROM a; /* DROP TABLE b", "a");
	expect("DELETE FROM a; SELECT 'DROP TABLE b", "a");
	expect("DELETE FROM a; SELECT \"DROP TABLE b", "a");
}

static void test_dollar_quotes(void **state)
{
	expect("CREATE FUNCTION f() RETURNS trigger AS $$\n"
	       "BEGIN DELETE FROM d1; END\n"
	       "$$ LANGUAGE plpgsql;\n"
	       "CREATE FUNCTION g() RETURNS void AS $body$\n"
	       "DROP TABLE d2; $$ still inside $ $x$ $body$ LANGUAGE sql;\n"
	       "PREPARE q AS DELETE FROM t WHERE a = $1;\n"
	       "SELECT $_$ UPDATE d3 $_$;",
	       "f|g|t");
	/* $ inside a word is part of it */
	expect("INSERT INTO a$b VALUES (1)", "a$b");
}

/* ---- names --------------------------------------------------------- */

static void test_quoted_identifiers(void **state)
{
	expect("CREATE TABLE \"Mixed\" (a);"
	       "INSERT INTO \"My \"\"Q\"\" T\" VALUES (1);"
	       "DROP TABLE `back`;"
	       "DELETE FROM [brack et];"
	       "UPDATE \"S\".\"T\" SET a = 1;"
	       "DROP TABLE UPPER, \"lower\";",
	       "Mixed|My \"Q\" T|S.T|back|brack et|lower|upper");
	/* a subscript is no quoted name */
	expect("UPDATE t SET a[1] = 2, b = ARRAY['x]', 'DROP TABLE z'];", "t");
}

static void test_schema_qualified(void **state)
{
	expect("INSERT INTO app.users VALUES (1);"
	       "UPDATE Public.Accounts SET x = 1;"
	       "CREATE TABLE main.\"Log\" (a);"
	       "DELETE FROM cat.sch.tbl;",
	       "app.users|cat.sch.tbl|main.Log|public.accounts");
}

static void test_multiple_statements_unique(void **state)
{
	char **v = NULL;
	size_t nr = 0;

	expect("INSERT INTO t VALUES (1); insert into T values (2);\n"
	       "update t set a = 1;\nDelete From t",
	       "t");
	assert_int_equal(ns_sql_objects(&v, &nr,
					"DELETE FROM b; DELETE FROM "
					"a; DELETE FROM b; UPDATE c "
					"SET x = 1"),
			 0);
	assert_int_equal(nr, 3);
	assert_string_equal(v[0], "a");
	assert_string_equal(v[1], "b");
	assert_string_equal(v[2], "c");
	assert_null(v[3]);
	ns_sql_objects_free(v);
}

static void test_cte(void **state)
{
	expect("WITH x AS (SELECT id FROM s WHERE a > 1) "
	       "UPDATE t SET a = x.id FROM x",
	       "t");
	expect("WITH moved AS (DELETE FROM a RETURNING *) "
	       "INSERT INTO b SELECT * FROM moved",
	       "a|b");
	expect("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM "
	       "r) "
	       "DELETE FROM t WHERE id IN (SELECT n FROM r)",
	       "t");
}

/* ---- words that are not keywords ----------------------------------- */

static void test_no_false_positives(void **state)
{
	expect("CREATE TABLE t (id int, created timestamp, update_count int, "
	       "deleted_at timestamp, created_by text, dropped bool);"
	       "SELECT created, update_count, deleted_at, x.update "
	       "FROM t x WHERE inserted AND truncated;"
	       "SELECT * FROM t FOR UPDATE;"
	       "SELECT * FROM t FOR UPDATE OF t SKIP LOCKED;"
	       "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) "
	       "REFERENCES p (id) ON DELETE CASCADE ON UPDATE CASCADE;"
	       "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON t TO bob;"
	       "CREATE TRIGGER trg AFTER INSERT OR UPDATE OR DELETE "
	       "OR TRUNCATE ON t FOR EACH ROW EXECUTE FUNCTION f();"
	       "INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE "
	       "SET update_count = t.update_count + 1;"
	       "SELECT replace(a, 'x', 'y'), trunc(2.5) FROM q;",
	       "t|trg");
	/* MERGE is not read; its actions must not pass for statements
	 * (UPDATE SET would give "set") */
	expect("MERGE INTO t USING s ON t.id = s.id "
	       "WHEN MATCHED THEN UPDATE SET a = s.a "
	       "WHEN MATCHED AND s.gone THEN DELETE "
	       "WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id)",
	       "");
}

static void test_empty_and_odd(void **state)
{
	expect("", "");
	expect("  -- only a comment\n", "");
	expect("SELECT 1", "");
	expect("CREATE", "");
	expect("DROP TABLE", "");
	expect("INSERT INTO", "");
	expect("UPDATE", "");
	expect("ALTER TABLE a RENAME TO", "a");
	expect("DROP TABLE a,", "a");
	expect("DELETE FROM \"\"", "");
	expect("INSERT INTO 42 VALUES (1)", "");
	expect("CREATE TABLE a.", "");
	expect("$$", "");
	expect("[", "");
}

/* the statements that cannot run in the migration's transaction */
static void expect_notx(const char *sql, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	char **v = NULL;
	size_t nr = 12345;

	assert_int_equal(ns_sql_no_transaction(&v, &nr, sql), 0);
	for (size_t i = 0; i < nr; i++) {
		if (i)
			strbuf_addch(&sb, '|');
		strbuf_addstr(&sb, v[i]);
	}
	assert_null(v[nr]);
	if (strcmp(sb.buf, want))
		fail_msg("in:   %s\nfound '%s'\nwant  '%s'", sql, sb.buf, want);
	strbuf_release(&sb);
	ns_sql_objects_free(v);
}

static void test_no_transaction(void **state)
{
	(void)state;
	expect_notx("CREATE TABLE a(x int);\n"
		    "create unique index concurrently i on a(x);\n"
		    "DROP INDEX CONCURRENTLY IF EXISTS j;\n"
		    "REINDEX (VERBOSE) TABLE CONCURRENTLY a;\n"
		    "vacuum analyze a;\n",
		    "2: CREATE INDEX CONCURRENTLY|3: DROP INDEX CONCURRENTLY|"
		    "4: REINDEX CONCURRENTLY|5: VACUUM");
	expect_notx("CREATE DATABASE d; DROP TABLESPACE t;\nALTER SYSTEM SET "
		    "work_mem = '8MB'; REINDEX DATABASE d",
		    "1: CREATE DATABASE|1: DROP TABLESPACE|2: ALTER SYSTEM|"
		    "2: REINDEX DATABASE/SYSTEM");
	expect_notx("INSERT INTO a VALUES (1);\nCOMMIT;\nBEGIN;\n"
		    "START TRANSACTION; ROLLBACK",
		    "2: transaction control (BEGIN, COMMIT, ROLLBACK)|"
		    "3: transaction control (BEGIN, COMMIT, ROLLBACK)|"
		    "4: transaction control (BEGIN, COMMIT, ROLLBACK)|"
		    "4: transaction control (BEGIN, COMMIT, ROLLBACK)");
	/* what runs in a transaction, and the words hidden in bodies,
	 * literals and comments */
	expect_notx("CREATE INDEX i ON a(x); REINDEX TABLE a; "
		    "ALTER TYPE mood ADD VALUE 'meh'; "
		    "CREATE FUNCTION f() RETURNS void AS $$ BEGIN VACUUM; "
		    "COMMIT; END $$ LANGUAGE plpgsql; "
		    "-- VACUUM;\nSELECT 'COMMIT; VACUUM'; "
		    "UPDATE a SET x = 1 WHERE vacuum = 2",
		    "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_create_index_and_trigger_on),
		cmocka_unit_test(test_alter),
		cmocka_unit_test(test_drop_list),
		cmocka_unit_test(test_dml),
		cmocka_unit_test(test_comments_and_strings),
		cmocka_unit_test(test_dollar_quotes),
		cmocka_unit_test(test_quoted_identifiers),
		cmocka_unit_test(test_schema_qualified),
		cmocka_unit_test(test_multiple_statements_unique),
		cmocka_unit_test(test_cte),
		cmocka_unit_test(test_no_false_positives),
		cmocka_unit_test(test_empty_and_odd),
		cmocka_unit_test(test_no_transaction),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
