/* text: what is text of each kind, and a message never carries a control
 * character or a byte that is not UTF-8 to a terminal */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "text.h"

static void test_kinds(void **state)
{
	static const char tab_lf[] = "a\tb\nc";
	static const char cr[] = "a\rb";
	size_t at;

	(void)state;
	assert_null(ns_text_problem("caf\xc3\xa9", 5, NS_TEXT_NAME, &at));
	assert_int_equal(at, 5);
	assert_string_equal(ns_text_problem(tab_lf, 5, NS_TEXT_NAME, &at),
			    "control character");
	assert_int_equal(at, 1);
	assert_null(ns_text_problem(tab_lf, 5, NS_TEXT_FILE, NULL));
	assert_null(ns_text_problem(tab_lf, 5, NS_TEXT_MESSAGE, NULL));
	assert_null(ns_text_problem(cr, 3, NS_TEXT_FILE, NULL));
	assert_string_equal(ns_text_problem(cr, 3, NS_TEXT_MESSAGE, &at),
			    "control character");
	assert_int_equal(at, 1);
	assert_string_equal(ns_text_problem("a\0b", 3, NS_TEXT_FILE, &at),
			    "NUL byte");
	assert_string_equal(ns_text_problem("caf\xe9", 4, NS_TEXT_FILE, &at),
			    "not valid UTF-8");
	assert_int_equal(at, 3);
	assert_string_equal(ns_text_problem("\x7f", 1, NS_TEXT_MESSAGE, NULL),
			    "control character");
	/* C1 (U+0080..U+009F, in UTF-8): U+009B is an escape to some
	 * terminals; a text file may hold it, a name or message not */
	assert_string_equal(ns_text_problem("a\xc2\x9b"
					    "1m",
					    5, NS_TEXT_NAME, &at),
			    "control character");
	assert_int_equal(at, 1);
	assert_string_equal(
		ns_text_problem("\xc2\x85", 2, NS_TEXT_MESSAGE, NULL),
		"control character");
	assert_null(ns_text_problem("a\xc2\x9b"
				    "1m",
				    5, NS_TEXT_FILE, NULL));
	assert_null(ns_text_problem("\xc2\xa0", 2, NS_TEXT_NAME, NULL));
}

static void shown(const char *s, enum ns_text_kind kind, const char *want)
{
	char *got = ns_printable_as(s, kind);

	assert_string_equal(got, want);
	free(got);
}

static void test_printable(void **state)
{
	char *p;

	(void)state;
	shown("a\tb\nc\x1b[2J\rd\xe9\xc3\xa9", NS_TEXT_NAME,
	      "a\\x09b\\x0ac\\x1b[2J\\x0dd\\xe9\xc3\xa9");
	shown("a\tb\nc\x1b[2J\rd\xe9\xc3\xa9", NS_TEXT_MESSAGE,
	      "a\tb\nc\\x1b[2J\\x0dd\\xe9\xc3\xa9");
	shown("a\xc2\x9b"
	      "1m\xc2\xa0"
	      "b",
	      NS_TEXT_MESSAGE,
	      "a\\xc2\\x9b1m\xc2\xa0"
	      "b");
	p = ns_printable("plain \\x1b stays");
	assert_string_equal(p, "plain \\x1b stays");
	free(p);
}

/* the message of a failure is shown, whoever wrote what it quotes */
static void test_error_message_printable(void **state)
{
	(void)state;
	/* a value from a row, quoted by the database's error */
	ns_error_set("site a: deploy SQL: ERROR 22P02 invalid input syntax "
		     "for type integer: \"%s\"",
		     "\x1b]0;owned\x07x\r");
	assert_string_equal(ns_error_last(),
			    "site a: deploy SQL: ERROR 22P02 invalid input "
			    "syntax for type integer: "
			    "\"\\x1b]0;owned\\x07x\\x0d\"");
	/* a line feed and a tab are the message's own */
	ns_error_set("2 findings:\n\tCONFLICT-FILE a.txt");
	assert_string_equal(ns_error_last(),
			    "2 findings:\n\tCONFLICT-FILE a.txt");
	/* a name that is not UTF-8 */
	ns_error_set("cannot open '%s'", "caf\xe9");
	assert_string_equal(ns_error_last(), "cannot open 'caf\\xe9'");
	/* what a prefix or a replacement brings in is shown the same */
	ns_error_set("no such file");
	ns_error_prefix("site %s", "b\x1b[1m");
	assert_string_equal(ns_error_last(), "site b\\x1b[1m: no such file");
	ns_error_set("in /tmp/x: failed");
	ns_error_replace("/tmp/x", "pkg\x9b");
	assert_string_equal(ns_error_last(), "in pkg\\x9b: failed");
	ns_error_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_printable),
		cmocka_unit_test(test_error_message_printable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
