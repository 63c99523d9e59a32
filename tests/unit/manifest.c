/* manifest: enhancement.ini parsing and ns_path_check */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "manifest.h"

#define HASH_A                                                                 \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B                                                                 \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int parse(struct ns_manifest *m, const char *text)
{
	return ns_manifest_parse(m, "enh/enhancement.ini", text, strlen(text),
				 1024);
}

/* parse text, expect a refusal whose message contains want */
static void refused(const char *text, const char *want)
{
	struct ns_manifest m = NS_MANIFEST_INIT;
	int r = parse(&m, text);

	if (r != NS_EINVALID || !strstr(ns_error_last(), want))
		fail_msg("expected NS_EINVALID with '%s', got %d: %s", want, r,
			 ns_error_last());
	assert_null(m.title);
	assert_int_equal(m.deletes_nr, 0);
}

static void test_full(void **state)
{
	struct ns_manifest m = NS_MANIFEST_INIT;
	const char *text = "; a comment\n"
			   "[enhancement]\n"
			   "    title = Faster invoices\n"
			   "    rfs = RFS-7\n"
			   "    system = billing\n"
			   "    author = alice\n"
			   "    requires = ENH-1, ENH-2 ENH-3\n"
			   "    conflicts = ENH-9\n"
			   "[schedule]\n"
			   "not-before = 2026-01-05 23:00\n"
			   "model = 2026-01-06 23:30\n"
			   "production = 2026-01-13 23:30\n"
			   "[distribution]\n"
			   "sites = central,north ,  south\n"
			   "[instructions]\n"
			   "operator = none\n"
			   "special = restart the spooler\n"
			   "[files]\n"
			   "delete = lib/old.c\n"
			   "delete = lib/older.c\n"
			   "base = lib/a b.c " HASH_A "\n"
			   "base = lib/old.c\t" HASH_B "\n"
			   "[verify]\n"
			   "command = bin/smoke-test --quick\n";

	assert_int_equal(parse(&m, text), 0);
	assert_string_equal(m.title, "Faster invoices");
	assert_string_equal(m.rfs, "RFS-7");
	assert_string_equal(m.system, "billing");
	assert_string_equal(m.author, "alice");
	assert_int_equal(m.requires_nr, 3);
	assert_string_equal(m.requires[0], "ENH-1");
	assert_string_equal(m.requires[1], "ENH-2");
	assert_string_equal(m.requires[2], "ENH-3");
	assert_int_equal(m.conflicts_nr, 1);
	assert_string_equal(m.not_before, "2026-01-05 23:00");
	assert_string_equal(m.sched_model, "2026-01-06 23:30");
	assert_string_equal(m.sched_production, "2026-01-13 23:30");
	assert_int_equal(m.sites_nr, 3);
	assert_string_equal(m.sites[1], "north");
	assert_string_equal(m.sites[2], "south");
	assert_string_equal(m.instr_operator, "none");
	assert_string_equal(m.instr_special, "restart the spooler");
	assert_int_equal(m.deletes_nr, 2);
	assert_string_equal(m.deletes[1], "lib/older.c");
	assert_int_equal(m.bases_nr, 2);
	assert_string_equal(m.bases[0].path, "lib/a b.c");
	assert_string_equal(ns_manifest_base(&m, "lib/a b.c"), HASH_A);
	assert_string_equal(ns_manifest_base(&m, "lib/old.c"), HASH_B);
	assert_null(ns_manifest_base(&m, "lib/none.c"));
	assert_string_equal(m.verify_command, "bin/smoke-test --quick");
	ns_manifest_release(&m);
	assert_null(m.title);
	ns_manifest_release(&m); /* twice is harmless */
}

static void test_minimal(void **state)
{
	struct ns_manifest m = NS_MANIFEST_INIT;

	assert_int_equal(parse(&m, "[enhancement]\ntitle=x\n[verify]\n"), 0);
	assert_string_equal(m.title, "x");
	assert_null(m.rfs);
	assert_int_equal(m.requires_nr, 0);
	ns_manifest_release(&m);
	/* CRLF line ends and an empty optional value */
	assert_int_equal(parse(&m, "[enhancement]\r\ntitle = y\r\nrfs =\r\n"),
			 0);
	assert_string_equal(m.title, "y");
	assert_null(m.rfs);
	ns_manifest_release(&m);
}

static void test_syntax(void **state)
{
	refused("[enhancement]\ntitle = x\nthis is not ini\n",
		"enh/enhancement.ini:3: syntax error");
	refused("[enhancement\ntitle = x\n", "enh/enhancement.ini:1: syntax");
}

static void test_unknown(void **state)
{
	refused("[enhancement]\ntitle = x\n[bogus]\nk = v\n",
		"enh/enhancement.ini:3: unknown section [bogus]");
	/* a section with no key is still looked at */
	refused("[enhancement]\ntitle = x\n\n[empty]\n",
		"enh/enhancement.ini:4: unknown section [empty]");
	refused("[enhancement]\ntitle = x\ncolour = red\n",
		"enh/enhancement.ini:3: unknown key 'colour' in [enhancement]");
	refused("title = x\n[enhancement]\n", "unknown key 'title'");
	refused("[files]\ntitle = x\n", "unknown key 'title' in [files]");
}

static void test_duplicate(void **state)
{
	refused("[enhancement]\ntitle = x\ntitle = y\n",
		"enh/enhancement.ini:3: duplicate key 'title' in "
		"[enhancement]");
	refused("[enhancement]\ntitle = x\n[distribution]\nsites = a\n"
		"[distribution]\nsites = b\n",
		"enh/enhancement.ini:6: duplicate key 'sites'");
	refused("[enhancement]\ntitle = x\n[files]\ndelete = a\n"
		"delete = b\ndelete = a\n",
		"enh/enhancement.ini:6: [files] delete: duplicate");
	refused("[enhancement]\ntitle = x\n[files]\nbase = a " HASH_A "\n"
		"base = a " HASH_B "\n",
		"enh/enhancement.ini:5: [files] base: duplicate");
}

static void test_base(void **state)
{
	const char *want = "enh/enhancement.ini:3: [files] base: expected "
			   "PATH SHA256";

	refused("[enhancement]\ntitle = x\nbase = a\n[files]\n",
		"unknown key 'base' in [enhancement]");
	refused("[files]\nbase = a\n[enhancement]\ntitle = x\n",
		"enh/enhancement.ini:2: [files] base: expected PATH SHA256");
	refused("[enhancement]\n[files]\nbase = " HASH_A "\n", want);
	refused("[enhancement]\n[files]\nbase = a "
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		"AA"
		"\n",
		want);
	refused("[enhancement]\n[files]\nbase = a abc\n", want);
	refused("[enhancement]\n[files]\nbase = ../a " HASH_A "\n",
		"enh/enhancement.ini:3: [files] base: '..' component");
}

static void test_delete_paths(void **state)
{
	refused("[files]\ndelete = a/../b\n",
		"enh/enhancement.ini:2: [files] delete: '..' component");
	refused("[files]\ndelete = /etc/passwd\n",
		"enh/enhancement.ini:2: [files] delete: absolute path");
	refused("[files]\ndelete = a//b\n",
		"[files] delete: empty or '.' component");
	refused("[files]\ndelete = ./a\n",
		"[files] delete: empty or '.' component");
	refused("[files]\ndelete = a/\n",
		"[files] delete: empty or '.' component");
	refused("[files]\ndelete =\n", "[files] delete: empty path");
}

static void test_long_paths(void **state)
{
	struct ns_manifest m = NS_MANIFEST_INIT;
	char text[2048], name[300];
	int r;

	memset(name, 'n', 256);
	name[256] = '\0';
	snprintf(text, sizeof(text), "[files]\ndelete = d/%s\n", name);
	refused(text, "[files] delete: name too long");
	name[255] = '\0';
	snprintf(text, sizeof(text),
		 "[enhancement]\ntitle = t\n[files]\ndelete = d/%s\n", name);
	assert_int_equal(parse(&m, text), 0);
	ns_manifest_release(&m);
	/* d/ + 255 bytes = 257: over a max_path of 256 */
	r = ns_manifest_parse(&m, "e.ini", text, strlen(text), 256);
	assert_int_equal(r, NS_EINVALID);
	assert_string_equal(ns_error_last(),
			    "e.ini:4: [files] delete: path too long");
}

static void test_long_line(void **state)
{
	char *text = malloc(5000);

	memcpy(text, "[enhancement]\ntitle = ", 22);
	memset(text + 22, 't', 4900);
	text[4922] = '\0';
	refused(text, "enh/enhancement.ini:2: line longer than 4096 bytes");
	free(text);
}

static void test_missing_title(void **state)
{
	refused("[schedule]\nmodel = now\n",
		"enh/enhancement.ini: missing 'title'");
	refused("[enhancement]\ntitle =\n", "missing 'title'");
	refused("", "missing 'title'");
}

static void test_nul(void **state)
{
	struct ns_manifest m = NS_MANIFEST_INIT;
	const char text[] = "[enhancement]\ntitle = a\0b\n";

	assert_int_equal(
		ns_manifest_parse(&m, "x.ini", text, sizeof(text) - 1, 1024),
		NS_EINVALID);
	assert_string_equal(ns_error_last(), "x.ini:2: NUL byte");
	assert_null(m.title);
}

/* [enhancement] transaction: single by default, none when declared, and
 * nothing else */
static void test_transaction(void **state)
{
	struct ns_manifest m = NS_MANIFEST_INIT;

	(void)state;
	assert_int_equal(parse(&m, "[enhancement]\ntitle = t\n"), 0);
	assert_int_equal(m.transaction, NS_TX_SINGLE);
	ns_manifest_release(&m);
	assert_int_equal(
		parse(&m, "[enhancement]\ntitle = t\ntransaction = single\n"),
		0);
	assert_int_equal(m.transaction, NS_TX_SINGLE);
	ns_manifest_release(&m);
	assert_int_equal(
		parse(&m, "[enhancement]\ntransaction = none\ntitle = t\n"), 0);
	assert_int_equal(m.transaction, NS_TX_NONE);
	ns_manifest_release(&m);
	assert_int_equal(m.transaction, NS_TX_SINGLE); /* released: default */

	refused("[enhancement]\ntitle = t\ntransaction = off\n",
		"enh/enhancement.ini:3: [enhancement] transaction: expected "
		"single or none, not 'off'");
	refused("[enhancement]\ntitle = t\ntransaction = NONE\n",
		"enh/enhancement.ini:3: [enhancement] transaction");
	refused("[enhancement]\ntitle = t\ntransaction =\n",
		"enh/enhancement.ini:3: [enhancement] transaction: expected "
		"single or none, not ''");
	refused("[enhancement]\ntitle = t\ntransaction = none\n"
		"transaction = single\n",
		"enh/enhancement.ini:4: duplicate key 'transaction'");
	refused("[enhancement]\ntitle = t\n[schedule]\ntransaction = none\n",
		"enh/enhancement.ini:4: unknown key 'transaction' in "
		"[schedule]");
}

static void test_path_check(void **state)
{
	static const struct {
		const char *path, *reason;
	} bad[] = {
		{ "", "empty path" },
		{ "/a", "absolute path" },
		{ "..", "'..' component" },
		{ "a/..", "'..' component" },
		{ "a/../b", "'..' component" },
		{ ".", "empty or '.' component" },
		{ "a/./b", "empty or '.' component" },
		{ "a//b", "empty or '.' component" },
		{ "a/", "empty or '.' component" },
		{ "a\nb", "control character" },
		{ "a\tb", "control character" },
		{ "a\033[31mb", "control character" },
		{ "a\177", "control character" },
		{ "caf\xe9.txt", "not valid UTF-8" },	    /* Latin-1 */
		{ "a\xc0\xaf", "not valid UTF-8" },	    /* overlong '/' */
		{ "a\xed\xa0\x80", "not valid UTF-8" },	    /* a surrogate */
		{ "a\xf4\x90\x80\x80", "not valid UTF-8" }, /* > U+10FFFF */
		{ "a\xe2\x82", "not valid UTF-8" },	    /* cut off */
	};
	char msg[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ns_path_check("W", bad[i].path, 1024),
				 NS_EINVALID);
		snprintf(msg, sizeof(msg), "W: %s", bad[i].reason);
		assert_string_equal(ns_error_last(), msg);
	}
	assert_int_equal(ns_path_check("W", "a/b.c", 1024), 0);
	assert_int_equal(
		ns_path_check("W", "caf\xc3\xa9/\xe2\x82\xac.txt", 1024), 0);
	assert_int_equal(ns_path_check("W", "\xf0\x9f\x8c\x99", 1024), 0);
	assert_int_equal(ns_path_check("W", "...", 1024), 0);
	assert_int_equal(ns_path_check("W", ".hidden/..x", 1024), 0);
	assert_int_equal(ns_path_check("W", "abcde", 5), 0);
	assert_int_equal(ns_path_check("W", "abcdef", 5), NS_EINVALID);
	assert_string_equal(ns_error_last(), "W: path too long");
	/* the message shows the odd bytes, it does not send them on */
	assert_int_equal(ns_path_check("pkg/files/a\x1b]0;b\xe9", "a", 1024),
			 0);
	assert_int_equal(
		ns_path_check("pkg/files/a\x1b]0;b\xe9", "a\x1b]0;b\xe9", 1024),
		NS_EINVALID);
	assert_string_equal(ns_error_last(),
			    "pkg/files/a\\x1b]0;b\\xe9: control character");
}

/* enhancement.ini is UTF-8 text: a value in another encoding or with a
 * terminal escape is refused, naming the line */
static void test_text(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "[enhancement]\ntitle = caf\xe9\n",
		  "x.ini:2: not valid UTF-8" },
		{ "[enhancement]\ntitle = t\n\xc3",
		  "x.ini:3: not valid UTF-8" },
		{ "[enhancement]\ntitle = \x1b[2Jt\n",
		  "x.ini:2: control character" },
		{ "[enhancement]\n\ntitle = t\x7f\n",
		  "x.ini:3: control character" },
		/* the file may hold a CR and a C1 control, a value shown on
		 * its own not */
		{ "[enhancement]\ntitle = done\rrolled back\n",
		  "x.ini:2: [enhancement] title: control character in the "
		  "value" },
		{ "[enhancement]\ntitle = t\n[instructions]\n"
		  "operator = a\xc2\x9b"
		  "2Jb\n",
		  "x.ini:4: [instructions] operator: control character in the "
		  "value" },
		{ "[enhancement]\ntitle = t\nrequires = ENH-1\xc2\x85\n",
		  "x.ini:3: [enhancement] requires: control character in the "
		  "value" },
	};
	struct ns_manifest m;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ns_manifest_parse(&m, "x.ini", bad[i].text,
						   strlen(bad[i].text), 1024),
				 NS_EINVALID);
		assert_string_equal(ns_error_last(), bad[i].msg);
		assert_null(m.title);
	}
	/* UTF-8, tabs and CRLF line ends are text */
	assert_int_equal(ns_manifest_parse(
				 &m, "x.ini",
				 "[enhancement]\r\ntitle =\tcaf\xc3\xa9 "
				 "\xe2\x82\xac\r\n",
				 strlen("[enhancement]\r\ntitle =\tcaf\xc3\xa9 "
					"\xe2\x82\xac\r\n"),
				 1024),
			 0);
	assert_string_equal(m.title, "caf\xc3\xa9 \xe2\x82\xac");
	ns_manifest_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_base),
		cmocka_unit_test(test_delete_paths),
		cmocka_unit_test(test_long_paths),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_missing_title),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_transaction),
		cmocka_unit_test(test_path_check),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);

	ns_error_clear();
	return r;
}
