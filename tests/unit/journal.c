/* journal: the durable record of a migration in progress */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "journal.h"
#include "testutil.h"
#include "xalloc.h"

/* ---- fixtures ------------------------------------------------------ */

static int setup(void **state)
{
	*state = tu_scratch_new("journal");
	return *state ? 0 : -1;
}

static char *at(void **state, const char *rel)
{
	return tu_at(*state, rel);
}

/* ---- tests --------------------------------------------------------- */

static void test_state_names(void **state)
{
	static const char *const want[] = {
		"NONE", "PREPARED",	"AUTOCOMMIT",  "COMMITTED", "APPLIED",
		"DONE", "ROLLING_BACK", "ROLLED_BACK", "BLOCKED",
	};

	(void)state;
	for (int s = NS_J_NONE; s <= NS_J_BLOCKED; s++)
		assert_string_equal(ns_journal_state_name((enum ns_jstate)s),
				    want[s]);
	assert_true(ns_journal_final(NS_J_DONE));
	assert_true(ns_journal_final(NS_J_ROLLED_BACK));
	assert_true(ns_journal_final(NS_J_BLOCKED));
	assert_false(ns_journal_final(NS_J_NONE));
	assert_false(ns_journal_final(NS_J_PREPARED));
	assert_false(ns_journal_final(NS_J_AUTOCOMMIT));
	assert_false(ns_journal_final(NS_J_COMMITTED));
	assert_false(ns_journal_final(NS_J_APPLIED));
	assert_false(ns_journal_final(NS_J_ROLLING_BACK));
}

static void test_round_trip(void **state)
{
	struct ns_journal j = NS_JOURNAL_INIT;
	char *path = at(state, "ENH-1-r1-1.main.jnl");
	char *text;

	assert_int_equal(ns_journal_begin(path, "/srv/archive/ENH-1-r1-1/main"),
			 0);
	/* begun, nothing marked: the run was archiving */
	assert_int_equal(ns_journal_read(&j, path), 0);
	assert_string_equal(j.path, path);
	assert_string_equal(j.rundir, "/srv/archive/ENH-1-r1-1/main");
	assert_int_equal(j.state, NS_J_NONE);
	assert_null(j.note);
	ns_journal_release(&j);

	assert_int_equal(ns_journal_mark(path, NS_J_PREPARED, NULL), 0);
	assert_int_equal(ns_journal_mark(path, NS_J_COMMITTED, NULL), 0);
	assert_int_equal(ns_journal_mark(path, NS_J_APPLIED, "3 files"), 0);
	assert_int_equal(ns_journal_read(&j, path), 0);
	assert_int_equal(j.state, NS_J_APPLIED);
	assert_string_equal(j.note, "3 files");
	/* and the state before it, with its note */
	assert_int_equal(j.from, NS_J_COMMITTED);
	assert_null(j.from_note);
	ns_journal_release(&j);

	/* the last state and its note win; a state without a note has none */
	assert_int_equal(ns_journal_mark(path, NS_J_ROLLING_BACK,
					 "verify failed\nexit 3"),
			 0);
	assert_int_equal(ns_journal_mark(path, NS_J_ROLLED_BACK, NULL), 0);
	assert_int_equal(ns_journal_read(&j, path), 0);
	assert_int_equal(j.state, NS_J_ROLLED_BACK);
	assert_null(j.note);
	assert_int_equal(j.from, NS_J_ROLLING_BACK);
	assert_non_null(j.from_note);
	assert_string_equal(j.rundir, "/srv/archive/ENH-1-r1-1/main");
	ns_journal_release(&j);
	assert_null(j.from_note);
	assert_null(j.path);
	assert_null(j.rundir);

	/* the file is plain lines; a note's newline cannot break a record */
	text = tu_slurp(path, NULL);
	assert_string_equal(text, "RUNDIR /srv/archive/ENH-1-r1-1/main\n"
				  "PREPARED\n"
				  "COMMITTED\n"
				  "APPLIED 3 files\n"
				  "ROLLING_BACK verify failed exit 3\n"
				  "ROLLED_BACK\n");
	free(text);
	free(path);
}

static void test_every_state_reads_back(void **state)
{
	char *path = at(state, "all.jnl");

	assert_int_equal(ns_journal_begin(path, "/r"), 0);
	for (int s = NS_J_PREPARED; s <= NS_J_BLOCKED; s++) {
		struct ns_journal j = NS_JOURNAL_INIT;
		char *note = xprintf("note for %d", s);

		assert_int_equal(ns_journal_mark(path, (enum ns_jstate)s, note),
				 0);
		assert_int_equal(ns_journal_read(&j, path), 0);
		assert_int_equal(j.state, s);
		assert_string_equal(j.note, note);
		ns_journal_release(&j);
		free(note);
	}
	free(path);
}

/* a torn last line was never durable: it is ignored */
static void test_torn_last_line(void **state)
{
	struct ns_journal j = NS_JOURNAL_INIT;
	char *path = at(state, "torn.jnl");

	tu_put(path, "RUNDIR /a/b\nPREPARED\nCOMMITTED\nAPPLI", 0644);
	assert_int_equal(ns_journal_read(&j, path), 0);
	assert_int_equal(j.state, NS_J_COMMITTED);
	assert_null(j.note);
	assert_string_equal(j.rundir, "/a/b");
	ns_journal_release(&j);

	/* even one that would read as a whole state */
	tu_put(path, "RUNDIR /a/b\nPREPARED old\nDONE", 0644);
	assert_int_equal(ns_journal_read(&j, path), 0);
	assert_int_equal(j.state, NS_J_PREPARED);
	assert_string_equal(j.note, "old");
	ns_journal_release(&j);

	/* a torn first line: no run directory, no state */
	tu_put(path, "RUNDIR /a/", 0644);
	assert_int_equal(ns_journal_read(&j, path), 0);
	assert_null(j.rundir);
	assert_int_equal(j.state, NS_J_NONE);
	ns_journal_release(&j);

	/* lines that are no state are skipped, not misread */
	tu_put(path, "RUNDIR /r\nPREPARED\nDONEX\nDONE_\nBOGUS line\n", 0644);
	assert_int_equal(ns_journal_read(&j, path), 0);
	assert_int_equal(j.state, NS_J_PREPARED);
	ns_journal_release(&j);
	free(path);
}

/*
 * After a crash left a torn line, recovery marks the journal again. The
 * new record must count: recovery's ROLLED_BACK must not be glued onto the
 * torn fragment and lost.
 */
static void test_mark_after_torn_line(void **state)
{
	struct ns_journal j = NS_JOURNAL_INIT;
	char *path = at(state, "torn2.jnl");
	enum ns_jstate got;
	int marked, read;

	tu_put(path, "RUNDIR /a/b\nPREPARED\nCOMMI", 0644);
	marked = ns_journal_mark(path, NS_J_ROLLED_BACK, "undone");
	read = ns_journal_read(&j, path);
	got = j.state;
	ns_journal_release(&j);
	free(path);
	assert_int_equal(marked, 0);
	assert_int_equal(read, 0);
	if (got != NS_J_ROLLED_BACK)
		fail_msg("journal reads %s after ROLLED_BACK was marked "
			 "behind a torn line",
			 ns_journal_state_name(got));
}

static void test_read_missing(void **state)
{
	struct ns_journal j = NS_JOURNAL_INIT;
	char *path = at(state, "absent.jnl");

	assert_int_equal(ns_journal_read(&j, path), NS_ERROR);
	assert_non_null(strstr(ns_error_last(), path));
	assert_null(j.path);
	ns_journal_release(&j);
	free(path);
}

static void test_list_sorted(void **state)
{
	static const char *const names[] = {
		"ENH-2-r1-5.main.jnl",
		"ENH-10-r1-3.central.jnl",
		"ENH-1-r2-9.main.jnl",
		"ENH-1-r2-9.branch.jnl",
	};
	char *dir = at(state, "journal/billing/model");
	char **list = NULL;
	size_t nr = 99;

	/* an absent directory is empty */
	assert_int_equal(ns_journal_list(&list, &nr, dir), 0);
	assert_int_equal(nr, 0);
	assert_null(list);

	tu_mkdirs(dir);
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		char *p = xprintf("%s/%s", dir, names[i]);
		assert_int_equal(ns_journal_begin(p, "/r"), 0);
		free(p);
	}
	/* not journals: other suffixes, a bare ".jnl", a temporary */
	{
		static const char *const junk[] = { "notes.txt", ".jnl",
						    "x.jnl.tmp-12", "jnl" };
		for (size_t i = 0; i < sizeof(junk) / sizeof(*junk); i++) {
			char *p = xprintf("%s/%s", dir, junk[i]);
			tu_put(p, "x\n", 0644);
			free(p);
		}
	}
	assert_int_equal(ns_journal_list(&list, &nr, dir), 0);
	assert_int_equal(nr, 4);
	{
		static const char *const sorted[] = {
			"ENH-1-r2-9.branch.jnl",
			"ENH-1-r2-9.main.jnl",
			"ENH-10-r1-3.central.jnl",
			"ENH-2-r1-5.main.jnl",
		};
		for (size_t i = 0; i < nr; i++) {
			char *want = xprintf("%s/%s", dir, sorted[i]);
			assert_string_equal(list[i], want);
			free(want);
		}
	}
	for (size_t i = 0; i < nr; i++)
		free(list[i]);
	free(list);
	free(dir);
}

static void test_retire(void **state)
{
	struct ns_journal j = NS_JOURNAL_INIT;
	char *jdir = at(state, "journal");
	char *rundir = at(state, "archive/ENH-1-r1-1/main");
	char *path = at(state, "journal/ENH-1-r1-1.main.jnl");
	char *dst = at(state, "archive/ENH-1-r1-1/main/journal");
	char **list = NULL;
	size_t nr;

	tu_mkdirs(jdir);
	tu_mkdirs(rundir);
	assert_int_equal(ns_journal_begin(path, rundir), 0);
	assert_int_equal(ns_journal_mark(path, NS_J_DONE, "migrated"), 0);
	assert_int_equal(ns_journal_retire(path, rundir, "journal"), 0);
	assert_false(tu_exists(path));
	assert_true(tu_exists(dst));
	/* the active directory holds only what recovery must look at */
	assert_int_equal(ns_journal_list(&list, &nr, jdir), 0);
	assert_int_equal(nr, 0);
	free(list);
	/* the retired journal reads the same */
	assert_int_equal(ns_journal_read(&j, dst), 0);
	assert_int_equal(j.state, NS_J_DONE);
	assert_string_equal(j.note, "migrated");
	assert_string_equal(j.rundir, rundir);
	ns_journal_release(&j);

	/* retiring again: the journal is gone, so it fails and says so */
	assert_int_equal(ns_journal_retire(path, rundir, "journal"), NS_ERROR);
	assert_non_null(strstr(ns_error_last(), path));
	free(jdir);
	free(rundir);
	free(path);
	free(dst);
}

static void test_begin_unwritable(void **state)
{
	char *path = at(state, "no/such/dir/x.jnl");

	assert_int_equal(ns_journal_begin(path, "/r"), NS_ERROR);
	assert_non_null(strstr(ns_error_last(), path));
	assert_int_equal(ns_journal_mark(path, NS_J_PREPARED, NULL), NS_ERROR);
	free(path);
}

/* a backout's journal by its name's end, not by a site that says so */
static void test_is_backout(void **state)
{
	(void)state;
	assert_true(ns_journal_is_backout("j/ENH-1-r1-2.main.backout.jnl"));
	assert_false(ns_journal_is_backout("j/ENH-1-r1-2.main.jnl"));
	assert_false(ns_journal_is_backout("j/ENH-1-r1-2.backout.jnl.x.jnl"));
	assert_false(ns_journal_is_backout(".backout.jnl"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, tu_scratch_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_state_names),
		T(test_round_trip),
		T(test_every_state_reads_back),
		T(test_torn_last_line),
		T(test_mark_after_torn_line),
		T(test_read_missing),
		T(test_list_sorted),
		T(test_retire),
		T(test_begin_unwritable),
		cmocka_unit_test(test_is_backout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
