/* sqitch: the sqitch.plan parser */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "sqitch.h"

#define WHO  " Marge N. O'Vera <marge@example.com>"
#define HEAD "%syntax-version=1.0.0\n%project=flipr\n"

static int parse(struct ns_sqitch_plan *p, const char *text)
{
	return ns_sqitch_plan_parse(p, "sqitch.plan", text, strlen(text));
}

/* parse text, expect a refusal whose message is exactly want, and the
 * plan left empty (nothing for the caller to release) */
static void refused(const char *text, const char *want)
{
	struct ns_sqitch_plan p = NS_SQITCH_PLAN_INIT;
	int r = parse(&p, text);

	if (r != NS_EINVALID || strcmp(ns_error_last(), want))
		fail_msg("expected NS_EINVALID with\n  '%s', got %d:\n  '%s'",
			 want, r, ns_error_last());
	assert_null(p.project);
	assert_null(p.syntax_version);
	assert_null(p.changes);
	assert_null(p.tags);
}

static const char full[] =
	"%syntax-version=1.0.0\n"
	"%project=flipr\n"
	"%uri = https://github.com/sqitchers/sqitch-intro/\n"
	"\n"
	"# the users first\n"
	"appuser 2013-12-30T23:49:00Z" WHO " # Creates an application user.\n"
	"users [appuser] 2013-12-30T23:57:36Z" WHO "\n"
	"+flips [appuser users] 2013-12-31T00:26:20Z" WHO " # Adds flips.\n"
	"@v1.0.0-dev1 2013-12-31T00:33:42Z" WHO " # Tag v1.0.0-dev1.\n"
	"\n"
	"users [users@v1.0.0-dev1 !legacy other:auth] 2014-01-01T10:00:00Z" WHO
	" # Adds twitter column.\r\n"
	"-hashtags [ flips ] 2014-01-02T10:00:00Z" WHO "\n"
	"@v1.1 2014-01-03T10:00:00Z" WHO "\n";

static void test_full(void **state)
{
	struct ns_sqitch_plan p = NS_SQITCH_PLAN_INIT;
	const struct ns_sqitch_change *c;

	assert_int_equal(parse(&p, full), 0);
	assert_string_equal(p.syntax_version, "1.0.0");
	assert_string_equal(p.project, "flipr");
	assert_string_equal(p.uri,
			    "https://github.com/sqitchers/sqitch-intro/");
	assert_int_equal(p.nr, 5);
	assert_int_equal(p.tags_nr, 2);

	c = &p.changes[0];
	assert_string_equal(c->name, "appuser");
	assert_string_equal(c->script, "appuser");
	assert_string_equal(c->planned_at, "2013-12-30T23:49:00Z");
	assert_string_equal(c->planner, "Marge N. O'Vera");
	assert_string_equal(c->email, "marge@example.com");
	assert_string_equal(c->note, "Creates an application user.");
	assert_int_equal(c->line, 6);
	assert_int_equal(c->deps_nr, 0);

	/* reworked after the tag: the older one's scripts are users@TAG */
	c = &p.changes[1];
	assert_string_equal(c->name, "users");
	assert_string_equal(c->script, "users@v1.0.0-dev1");
	assert_null(c->note);
	assert_int_equal(c->deps_nr, 1);
	assert_string_equal(c->deps[0].change, "appuser");
	assert_null(c->deps[0].project);

	c = &p.changes[2];
	assert_int_equal(c->revert, 0);
	assert_int_equal(c->deps_nr, 2);
	assert_string_equal(c->deps[1].change, "users");

	c = &p.changes[3];
	assert_string_equal(c->name, "users");
	assert_string_equal(c->script, "users");
	assert_string_equal(c->note, "Adds twitter column.");
	assert_int_equal(c->deps_nr, 3);
	assert_string_equal(c->deps[0].change, "users");
	assert_string_equal(c->deps[0].tag, "v1.0.0-dev1");
	assert_int_equal(c->deps[1].conflict, 1);
	assert_string_equal(c->deps[1].change, "legacy");
	assert_string_equal(c->deps[2].project, "other");
	assert_string_equal(c->deps[2].change, "auth");

	c = &p.changes[4];
	assert_int_equal(c->revert, 1);
	assert_string_equal(c->name, "hashtags");
	assert_int_equal(c->deps_nr, 1);

	assert_string_equal(p.tags[0].name, "v1.0.0-dev1");
	assert_int_equal(p.tags[0].after, 2);
	assert_int_equal(p.tags[1].after, 4);
	ns_sqitch_plan_release(&p);
}

static void test_find(void **state)
{
	struct ns_sqitch_plan p = NS_SQITCH_PLAN_INIT;

	assert_int_equal(parse(&p, full), 0);
	/* from the end: the latest users; at the tag: the older one */
	assert_int_equal(ns_sqitch_plan_find(&p, "users", NULL, p.nr), 3);
	assert_int_equal(ns_sqitch_plan_find(&p, "users", "v1.0.0-dev1", p.nr),
			 1);
	/* from the reworked change itself: the one before it */
	assert_int_equal(ns_sqitch_plan_find(&p, "users", NULL, 3), 1);
	assert_int_equal(ns_sqitch_plan_find(&p, "flips", NULL, 2), -1);
	assert_int_equal(ns_sqitch_plan_find(&p, "users", "nope", p.nr), -1);
	/* a tag planned after the dependent does not count */
	assert_int_equal(ns_sqitch_plan_find(&p, "users", "v1.1", 4), -1);
	ns_sqitch_plan_release(&p);
}

static void test_malformed(void **state)
{
	refused(HEAD "users" WHO "\n",
		"sqitch.plan:3: expected the planned time "
		"YYYY-MM-DDTHH:MM:SSZ");
	refused(HEAD "users 2013-12-30 23:49:00Z" WHO "\n",
		"sqitch.plan:3: expected the planned time "
		"YYYY-MM-DDTHH:MM:SSZ");
	refused(HEAD "\nusers 2013-12-30T23:49:00Z Marge\n",
		"sqitch.plan:4: expected the planner: NAME <EMAIL>");
	refused(HEAD "users 2013-12-30T23:49:00Z <m@x>\n",
		"sqitch.plan:3: expected the planner: NAME <EMAIL>");
	refused(HEAD "users 2013-12-30T23:49:00Z" WHO " trailing\n",
		"sqitch.plan:3: expected '# NOTE' or the end of the line "
		"after the planner's email");
	refused(HEAD "users [appuser 2013-12-30T23:49:00Z" WHO "\n",
		"sqitch.plan:3: expected a blank or ']' after a dependency");
	refused(HEAD "users [appuser\n",
		"sqitch.plan:3: expected ']' to close the dependencies");
	refused(HEAD "users [a:] 2013-12-30T23:49:00Z" WHO "\n",
		"sqitch.plan:3: expected a change name after 'PROJECT:'");
	refused(HEAD "use:rs 2013-12-30T23:49:00Z" WHO "\n",
		"sqitch.plan:3: expected a blank after the change name");
	refused(HEAD "_users 2013-12-30T23:49:00Z" WHO "\n",
		"sqitch.plan:3: expected a change name (no blanks, none of "
		":@#\\, no '..', no punctuation first or last)");
	refused(HEAD "a/../../b 2013-12-30T23:49:00Z" WHO "\n",
		"sqitch.plan:3: expected a change name (no blanks, none of "
		":@#\\, no '..', no punctuation first or last)");
	refused(HEAD "@v1 2013-12-30T23:49:00Z" WHO "\n",
		"sqitch.plan:3: tag '@v1' before any change");
	refused(HEAD "a 2013-12-30T23:49:00Z" WHO "\n"
		     "@v1 2013-12-30T23:49:00Z" WHO "\n"
		     "@v1 2013-12-30T23:49:00Z" WHO "\n",
		"sqitch.plan:5: tag '@v1' is planned already");
	refused(HEAD "a 2013-12-30T23:49:00Z" WHO "\n"
		     "a 2013-12-30T23:49:01Z" WHO "\n",
		"sqitch.plan:4: change 'a' is planned already; a change is "
		"reworked only after a tag");
	refused(HEAD "a [b] 2013-12-30T23:49:00Z" WHO "\n"
		     "b 2013-12-30T23:49:01Z" WHO "\n",
		"sqitch.plan:3: requires 'b', which is not planned before it");
	refused(HEAD "a 2013-12-30T23:49:00Z" WHO "\n"
		     "b [a@v9] 2013-12-30T23:49:01Z" WHO "\n",
		"sqitch.plan:4: requires 'a', which is not planned before it");
	refused("%syntax-version=1.0.0\n"
		"a 2013-12-30T23:49:00Z" WHO "\n",
		"sqitch.plan:2: expected the %project pragma before the "
		"first change");
	refused("# nothing\n", "sqitch.plan:1: expected the %project pragma");
	refused("%project=a\n%project=b\n",
		"sqitch.plan:2: pragma given twice");
	refused("%project\n", "sqitch.plan:1: expected a pragma %NAME=VALUE");
}

static void test_nul(void **state)
{
	struct ns_sqitch_plan p = NS_SQITCH_PLAN_INIT;
	static const char text[] = "%project=a\nb\0c 2013-12-30T23:49:00Z\n";

	assert_int_equal(
		ns_sqitch_plan_parse(&p, "sqitch.plan", text, sizeof(text) - 1),
		NS_EINVALID);
	assert_string_equal(ns_error_last(), "sqitch.plan:2: a NUL byte");
	ns_sqitch_plan_release(&p);
}

/* conflicts and other projects' changes need not be in this plan */
static void test_foreign(void **state)
{
	struct ns_sqitch_plan p = NS_SQITCH_PLAN_INIT;

	assert_int_equal(parse(&p, HEAD "a [!gone other:x other:@v2 @v1] "
					"2013-12-30T23:49:00Z" WHO "\n"),
			 NS_EINVALID);
	/* a bare @TAG of this project must be planned before too */
	assert_string_equal(ns_error_last(),
			    "sqitch.plan:3: tag '@v1' is not planned before "
			    "it");
	ns_sqitch_plan_release(&p);
	assert_int_equal(parse(&p, HEAD "a [!gone other:x other:@v2] "
					"2013-12-30T23:49:00Z" WHO "\n"),
			 0);
	assert_int_equal(p.changes[0].deps_nr, 3);
	assert_null(p.changes[0].deps[2].change);
	assert_string_equal(p.changes[0].deps[2].tag, "v2");
	ns_sqitch_plan_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),	  cmocka_unit_test(test_find),
		cmocka_unit_test(test_malformed), cmocka_unit_test(test_nul),
		cmocka_unit_test(test_foreign),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);

	ns_error_clear();
	return r;
}
