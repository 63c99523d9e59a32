/* config: nightshift.conf loaded whole, checked, paths made absolute */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "testutil.h"
#include "xalloc.h"

/* ---- fixtures ------------------------------------------------------ */

/* the loader makes relative paths absolute from the file's directory as
 * named; the scratch directory's name has no symbolic link, so that the
 * expected paths are plain string joins */
static int setup(void **state)
{
	*state = tu_scratch_new("config");
	return *state ? 0 : -1;
}

static char *at(void **state, const char *rel)
{
	return tu_at(*state, rel);
}

/* write rel under the scratch directory; returns its path */
static char *put(void **state, const char *rel, const char *text, size_t len)
{
	char *path = at(state, rel);

	tu_put_len(path, text, len, 0644);
	return path;
}

static char *put_conf(void **state, const char *text)
{
	return put(state, "etc/nightshift.conf", text, strlen(text));
}

/* the message starts "PATH:LINE: " with this line */
static void assert_error_at(const char *path, int line)
{
	char *want = xprintf("%s:%d: ", path, line);
	const char *msg = ns_error_last();

	if (strncmp(msg, want, strlen(want)))
		fail_msg("error message '%s' does not start with '%s'", msg,
			 want);
	free(want);
}

/* the message starts "PATH:N: " for some line N; frees path */
static void assert_error_has_line(char *path)
{
	char *pattern = xprintf("^%s:[0-9]+: ", path);
	const char *msg = ns_error_last();
	regex_t re;
	int m;

	free(path);
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	m = regexec(&re, msg, 0, NULL, 0);
	regfree(&re);
	free(pattern);
	if (m)
		fail_msg("error message '%s' does not start with FILE:LINE:",
			 msg);
}

/* load text as etc/nightshift.conf and expect a refusal at line */
static void refused_at(void **state, const char *text, int line,
		       const char *needle)
{
	struct ns_config c = NS_CONFIG_INIT;
	char *path = put_conf(state, text);
	int r = ns_config_load(&c, path);
	int handed_out = c.path != NULL || c.envs_nr != 0;
	char *want = xprintf("%s:%d: ", path, line);
	const char *msg = ns_error_last();
	int at_line = !strncmp(msg, want, strlen(want));

	/* free first: a failure below must not also leak */
	ns_config_release(&c);
	free(path);
	free(want);
	if (r != NS_EINVALID)
		fail_msg(
			"loaded with %d, not refused (expected at line %d: %s)",
			r, line, needle ? needle : "");
	if (!at_line)
		fail_msg("error message '%s' does not start with FILE:%d:", msg,
			 line);
	if (needle)
		tu_assert_error_has(needle);
	/* nothing half-loaded is handed out */
	assert_false(handed_out);
}

/* ---- the DESIGN's configuration ------------------------------------ */

static const char full_conf[] =
	"; nightshift.conf for billing\n"
	"[registry]\n"
	"    path = state/nightshift.db          ; next to this file\n"
	"[paths]\n"
	"    spool = spool\n"
	"    archive = /var/tmp/ns-archive\n"
	"[security]\n"
	"    impersonation = true        ; true lets --as act (tests)\n"
	"[limits]\n"
	"    max-file-size = 64M\n"
	"    max-total-size = 2G\n"
	"    max-files = 500\n"
	"    max-path = 4K\n"
	"[system \"billing\"]\n"
	"    users = users@example.com, ops@example.com\n"
	"[environment \"billing/model\"]\n"
	"    root = model-root            ; an environment with one site "
	"says it here…\n"
	"    database = sqlite:model/app.db\n"
	"    window = Mon-Fri 23:00-05:00\n"
	"    blackout = 2026-12-24..2026-12-26\n"
	"    verify = bin/smoke-test\n"
	"\n"
	"[environment \"billing/production\"]\n"
	"    warranty = 30d\n"
	"[site \"billing/production/central\"]  ; …one with several has a "
	"section per site\n"
	"    root = /srv/billing\n"
	"    database = postgresql://billing@db1/billing\n"
	"[site \"billing/production/branch\"]\n"
	"    root = branch-root\n"
	"    database = sqlite:/srv/branch/app.db\n"
	"[role \"qa\"]\n"
	"    members = bob, carol\n"
	"[role \"change-management\"]\n"
	"    members = dave erin\tfrank\n"
	"[notify]\n"
	"    outbox = outbox\n"
	"    smtp = smtp://localhost:2525\n"
	"    webhook = http://127.0.0.1:9000/hook\n";

static void test_full_design_conf(void **state)
{
	struct ns_config c = NS_CONFIG_INIT;
	char *path = put_conf(state, full_conf);
	char *dir = at(state, "etc");
	const struct ns_env *m, *p;
	const struct ns_system *sys;
	const struct ns_role *qa, *change;
	char *want;

	assert_int_equal(ns_config_load(&c, path), 0);
	assert_string_equal(c.path, path);
	assert_string_equal(c.dir, dir);

#define ABS(field, rel)                                                        \
	do {                                                                   \
		want = xprintf("%s/%s", dir, rel);                             \
		assert_string_equal(c.field, want);                            \
		free(want);                                                    \
	} while (0)
	ABS(registry, "state/nightshift.db");
	ABS(spool, "spool");
	assert_string_equal(c.archive, "/var/tmp/ns-archive");
	ABS(store, "store");
	ABS(journal, "journal");
	ABS(locks, "locks");
	ABS(outbox, "outbox");
#undef ABS
	assert_int_equal(c.impersonation, 1);
	assert_int_equal(c.limits.max_file_size, 64ULL << 20);
	assert_int_equal(c.limits.max_total_size, 2ULL << 30);
	assert_int_equal(c.limits.max_files, 500);
	assert_int_equal(c.limits.max_path, 4096);

	assert_int_equal(c.systems_nr, 1);
	sys = ns_config_system(&c, "billing");
	assert_non_null(sys);
	assert_int_equal(sys->users_nr, 2);
	assert_string_equal(sys->users[0], "users@example.com");
	assert_string_equal(sys->users[1], "ops@example.com");
	assert_null(ns_config_system(&c, "payroll"));

	assert_int_equal(c.envs_nr, 2);
	m = ns_config_env(&c, "billing/model");
	assert_non_null(m);
	assert_string_equal(m->name, "billing/model");
	assert_string_equal(m->system, "billing");
	assert_string_equal(m->kind, "model");
	want = xprintf("%s/model-root", dir);
	assert_string_equal(m->root, want);
	free(want);
	want = xprintf("sqlite:%s/model/app.db", dir);
	assert_string_equal(m->database, want);
	free(want);
	assert_string_equal(m->window, "Mon-Fri 23:00-05:00");
	assert_string_equal(m->blackout, "2026-12-24..2026-12-26");
	/* a verify command runs in the site root: it stays as written */
	assert_string_equal(m->verify, "bin/smoke-test");
	assert_null(m->warranty);
	/* an environment with a root is one site, "main" */
	assert_int_equal(m->sites_nr, 1);
	assert_string_equal(m->sites[0].name, "billing/model");
	assert_string_equal(m->sites[0].label, "main");
	assert_string_equal(m->sites[0].root, m->root);
	assert_string_equal(m->sites[0].database, m->database);

	p = ns_config_env(&c, "billing/production");
	assert_non_null(p);
	assert_string_equal(p->kind, "production");
	assert_string_equal(p->warranty, "30d");
	assert_null(p->root);
	assert_null(p->database);
	assert_null(p->window);
	assert_int_equal(p->sites_nr, 2);
	assert_string_equal(p->sites[0].name, "billing/production/central");
	assert_string_equal(p->sites[0].label, "central");
	assert_string_equal(p->sites[0].root, "/srv/billing");
	assert_string_equal(p->sites[0].database,
			    "postgresql://billing@db1/billing");
	assert_string_equal(p->sites[1].name, "billing/production/branch");
	assert_string_equal(p->sites[1].label, "branch");
	want = xprintf("%s/branch-root", dir);
	assert_string_equal(p->sites[1].root, want);
	free(want);
	assert_string_equal(p->sites[1].database, "sqlite:/srv/branch/app.db");

	/* one system: the SYSTEM/ part may be left out */
	assert_ptr_equal(ns_config_env(&c, "model"), m);
	assert_ptr_equal(ns_config_env(&c, "production"), p);
	assert_null(ns_config_env(&c, "staging"));
	tu_assert_error_has("billing/staging");
	assert_null(ns_config_env(&c, "payroll/model"));
	tu_assert_error_has("payroll/model");

	qa = ns_config_role(&c, "qa");
	assert_non_null(qa);
	assert_int_equal(qa->members_nr, 2);
	assert_string_equal(qa->members[0], "bob");
	assert_string_equal(qa->members[1], "carol");
	change = ns_config_role(&c, "change-management");
	assert_non_null(change);
	assert_int_equal(change->members_nr, 3);
	assert_string_equal(change->members[2], "frank");
	/* the policy's defaults; the warranty in seconds */
	assert_int_equal(c.require_rfs, 1);
	assert_int_equal(c.require_instructions, 0);
	assert_int_equal(c.acceptances, 1);
	assert_int_equal(c.archive_keep_s, 90LL * 86400);
	assert_int_equal(m->warranty_s, 30LL * 86400);
	assert_int_equal(p->warranty_s, 30LL * 86400);
	assert_null(ns_config_role(&c, "dba"));

	ns_config_release(&c);
	assert_null(c.path);
	assert_int_equal(c.envs_nr, 0);
	ns_config_release(&c); /* twice is harmless */
	free(path);
	free(dir);
}

/*
 * The DESIGN writes short sections on one line, git-config style:
 *   [role "qa"]     members = bob, carol
 * git reads that as role.qa.members. Whatever nightshift does with it, it
 * must not drop the key silently: either the key counts or the line is
 * refused.
 */
static void test_key_on_section_line(void **state)
{
	struct ns_config c = NS_CONFIG_INIT;
	char *path =
		put_conf(state, "[registry]      path = elsewhere.db\n"
				"[role \"qa\"]     members = bob, carol\n");
	const struct ns_role *qa;
	int r = ns_config_load(&c, path);
	int registry_ok = 0, role_ok = 0;

	if (r == 0) {
		registry_ok = strstr(c.registry, "/elsewhere.db") != NULL;
		qa = ns_config_role(&c, "qa");
		role_ok = qa && qa->members_nr == 2 &&
			  !strcmp(qa->members[0], "bob") &&
			  !strcmp(qa->members[1], "carol");
	}
	ns_config_release(&c);
	if (r == NS_EINVALID) {
		assert_error_at(path, 1);
	} else {
		free(path);
		path = NULL;
		assert_int_equal(r, 0);
		if (!registry_ok || !role_ok)
			fail_msg("'[section] key = value' loaded, but the "
				 "key was dropped (registry path %s, role qa "
				 "%s)",
				 registry_ok ? "kept" : "ignored",
				 role_ok ? "kept" : "missing or empty");
	}
	free(path);
}

/* a relative path to the file: its directory is taken from the cwd */
static void test_relative_conf_path(void **state)
{
	struct ns_config c = NS_CONFIG_INIT;
	char *path = put_conf(state, "[environment \"shop/model\"]\n"
				     "root = site\n"
				     "database = sqlite:db/shop.db\n");
	char *old = getcwd(NULL, 0);
	char *want;

	assert_non_null(old);
	assert_int_equal(chdir((char *)*state), 0);
	assert_int_equal(ns_config_load(&c, "etc/nightshift.conf"), 0);
	assert_int_equal(chdir(old), 0);
	want = xprintf("%s/etc", (char *)*state);
	assert_string_equal(c.dir, want);
	free(want);
	want = xprintf("%s/etc/site", (char *)*state);
	assert_string_equal(c.envs[0].root, want);
	assert_string_equal(c.envs[0].sites[0].root, want);
	free(want);
	want = xprintf("sqlite:%s/etc/db/shop.db", (char *)*state);
	assert_string_equal(c.envs[0].database, want);
	free(want);
	ns_config_release(&c);

	/* the file in the cwd itself */
	want = xprintf("%s/etc", (char *)*state);
	assert_int_equal(chdir(want), 0);
	assert_int_equal(ns_config_load(&c, "nightshift.conf"), 0);
	assert_int_equal(chdir(old), 0);
	assert_string_equal(c.dir, want);
	free(want);
	ns_config_release(&c);
	free(old);
	free(path);
}

/* what `init` writes loads, with every default in place */
/* how long `archive prune` keeps an archive: a period, or forever */
static void test_archive_keep(void **state)
{
	struct ns_config c = NS_CONFIG_INIT;
	char *path = put_conf(state, "[policy]\n    archive-keep = 12h\n");

	assert_int_equal(ns_config_load(&c, path), 0);
	assert_int_equal(c.archive_keep_s, 12LL * 3600);
	ns_config_release(&c);
	free(path);
	path = put_conf(state, "[policy]\n    archive-keep = forever\n");
	assert_int_equal(ns_config_load(&c, path), 0);
	assert_int_equal(c.archive_keep_s, -1);
	ns_config_release(&c);
	free(path);
}

/* lock-timeout and verify-timeout: the environment's, copied to each of
 * its sites; none is no limit; without it the default (which the site
 * says is a default, for lock-timeout) */
static void test_lock_timeout(void **state)
{
	struct ns_config c = NS_CONFIG_INIT;
	char *path = put_conf(state, "[environment \"b/model\"]\n"
				     "    root = /r\n"
				     "    lock-timeout = 5m\n"
				     "    verify-timeout = 90s\n"
				     "[site \"b/model/east\"]\n"
				     "    root = /e\n"
				     "[environment \"b/production\"]\n"
				     "    root = /p\n"
				     "    lock-timeout = none\n"
				     "    verify-timeout = none\n"
				     "[environment \"c/model\"]\n"
				     "    root = /c\n");
	const struct ns_env *e;

	assert_int_equal(ns_config_load(&c, path), 0);
	e = ns_config_env(&c, "b/model");
	assert_int_equal(e->sites_nr, 2);
	for (size_t i = 0; i < e->sites_nr; i++) {
		assert_int_equal(e->sites[i].lock_timeout_ms, 300000);
		assert_int_equal(e->sites[i].lock_timeout_set, 1);
		assert_int_equal(e->sites[i].verify_timeout_ms, 90000);
	}
	e = ns_config_env(&c, "b/production");
	assert_int_equal(e->sites[0].lock_timeout_ms, -1);
	assert_int_equal(e->sites[0].lock_timeout_set, 1);
	assert_int_equal(e->sites[0].verify_timeout_ms, -1);
	e = ns_config_env(&c, "c/model");
	assert_int_equal(e->sites[0].lock_timeout_ms,
			 NS_LOCK_TIMEOUT_DEFAULT_MS);
	assert_int_equal(e->sites[0].lock_timeout_set, 0);
	assert_int_equal(e->sites[0].verify_timeout_ms,
			 NS_VERIFY_TIMEOUT_DEFAULT_MS);
	ns_config_release(&c);
	free(path);
}

/* the trigger keys are paths relative to the configuration file */
static void test_trigger_keys(void **state)
{
	struct ns_config c = NS_CONFIG_INIT;
	char *path = put_conf(state, "[security]\n"
				     "    trigger-signing-key = keys/s.pem\n"
				     "    trigger-verify-key = /k/v.pub\n");
	char *want = at(state, "etc/keys/s.pem");

	assert_int_equal(ns_config_load(&c, path), 0);
	assert_string_equal(c.signing_key, want);
	assert_string_equal(c.verify_key, "/k/v.pub");
	ns_config_release(&c);
	free(want);
	free(path);
}

static void test_template_loads(void **state)
{
	struct ns_config c = NS_CONFIG_INIT;
	char *path = put_conf(state, ns_config_template);
	char *want = at(state, "etc/nightshift.db");
	struct ns_limits lim = NS_LIMITS_DEFAULT;

	assert_int_equal(ns_config_load(&c, path), 0);
	assert_string_equal(c.registry, want);
	assert_int_equal(c.envs_nr, 0);
	assert_int_equal(c.systems_nr, 0);
	assert_int_equal(c.impersonation, 0);
	assert_memory_equal(&c.limits, &lim, sizeof(lim));
	ns_config_release(&c);
	free(want);
	free(path);
}

static void test_two_systems_need_a_name(void **state)
{
	struct ns_config c = NS_CONFIG_INIT;
	char *path = put_conf(state, "[environment \"billing/model\"]\n"
				     "    root = /srv/b\n"
				     "[environment \"payroll/model\"]\n"
				     "    root = /srv/p\n");

	assert_int_equal(ns_config_load(&c, path), 0);
	/* systems named only by their environments exist too */
	assert_int_equal(c.systems_nr, 2);
	assert_non_null(ns_config_system(&c, "payroll"));
	assert_null(ns_config_env(&c, "model"));
	tu_assert_error_has("SYSTEM/model");
	assert_string_equal(ns_config_env(&c, "payroll/model")->sites[0].root,
			    "/srv/p");
	ns_config_release(&c);
	free(path);
}

/* ---- refusals: NS_EINVALID, "FILE:LINE: ..." ------------------------ */

static void test_unknown_key(void **state)
{
	refused_at(state,
		   "[environment \"billing/model\"]\n"
		   "    root = /srv/b\n"
		   "    colour = blue   ; no such key\n",
		   3, "colour");
	refused_at(state, "[registry]\n    path = x.db\n    size = 3\n", 3,
		   "size");
	refused_at(state,
		   "[site \"billing/model/a\"]\n    root = /a\n"
		   "    window = never\n",
		   3, "window");
	refused_at(state, "[paths]\n    tmp = /tmp\n", 2, "tmp");
	refused_at(state, "[limits]\n    max-things = 5\n", 2, "max-things");
	refused_at(state, "[role \"qa\"]\n    people = bob\n", 2, "people");
	refused_at(state, "[system \"billing\"]\n    owner = bob\n", 2,
		   "owner");
}

/* a section is named at its own line, keys or not */
static void test_unknown_section(void **state)
{
	refused_at(state, "; comment\n[frobnicate]\n    x = 1\n", 2,
		   "frobnicate");
	refused_at(state, "[widget \"billing\"]\n    x = 1\n", 1, "widget");
	/* a misspelt section is not taken for the right one */
	refused_at(state, "[enviroment \"billing/model\"]\n    root = /r\n", 1,
		   "enviroment");
	/* an unknown section with nothing in it is not passed over */
	refused_at(state, "[registry]\n    path = a.db\n[frobnicate]\n", 3,
		   "frobnicate");
}

static void test_duplicate_key(void **state)
{
	refused_at(state,
		   "[registry]\n"
		   "    path = a.db\n"
		   "    path = b.db\n",
		   3, "path");
	/* the same section given twice is still one section */
	refused_at(state,
		   "[environment \"billing/model\"]\n"
		   "    root = /a\n"
		   "[security]\n"
		   "    impersonation = false\n"
		   "[environment \"billing/model\"]\n"
		   "    root = /b\n",
		   6, "root");
	refused_at(state,
		   "[role \"qa\"]\n    members = bob\n"
		   "[role \"qa\"]\n    members = carol\n",
		   4, "members");
	refused_at(state,
		   "[environment \"billing/model\"]\n"
		   "    root = /a\n"
		   "    timezone = Europe/Berlin\n"
		   "    timezone = UTC\n",
		   4, "timezone");
}

/* window and blackout may be given on several lines, each kept with its
 * line for the calendar's messages; the timezone is checked when loaded */
static void test_window_lines(void **state)
{
	struct ns_config c = NS_CONFIG_INIT;
	const struct ns_env *e;
	char *path = put_conf(state,
			      "[environment \"billing/model\"]\n"
			      "    root = /a\n"
			      "    window = Mon-Fri 23:00-05:00\n"
			      "    timezone = America/New_York\n"
			      "    window = Sat 01:00-04:00, Sun 02:00-03:00\n"
			      "    blackout = 2026-12-24..2026-12-26\n"
			      "[security]\n"
			      "    impersonation = false\n"
			      "[environment \"billing/model\"]\n"
			      "    blackout = 2026-12-31 18:00..2027-01-01 "
			      "06:00\n");

	assert_int_equal(ns_config_load(&c, path), 0);
	e = ns_config_env(&c, "billing/model");
	assert_non_null(e);
	assert_int_equal(e->windows_nr, 2);
	assert_string_equal(e->windows[0].value, "Mon-Fri 23:00-05:00");
	assert_int_equal(e->windows[0].line, 3);
	assert_string_equal(e->windows[1].value,
			    "Sat 01:00-04:00, Sun 02:00-03:00");
	assert_int_equal(e->windows[1].line, 5);
	assert_string_equal(e->window, "Mon-Fri 23:00-05:00, Sat 01:00-04:00, "
				       "Sun 02:00-03:00");
	assert_int_equal(e->blackouts_nr, 2);
	assert_int_equal(e->blackouts[1].line, 10);
	assert_string_equal(e->blackouts[1].value,
			    "2026-12-31 18:00..2027-01-01 06:00");
	assert_string_equal(e->timezone, "America/New_York");
	assert_int_equal(e->timezone_line, 4);
	assert_string_equal(e->file, path);
	ns_config_release(&c);
	free(path);

	refused_at(state,
		   "[environment \"b/model\"]\n    root = /r\n"
		   "    timezone = Europe/Atlantis\n",
		   3, "unknown time zone 'Europe/Atlantis'");
	refused_at(state,
		   "[environment \"b/model\"]\n    root = /r\n"
		   "    window = daily 01:00-02:00\n"
		   "    window = daily 01:00-2\n",
		   4, "bad time range");
	refused_at(state,
		   "[environment \"b/model\"]\n    root = /r\n"
		   "    blackout = 2026-12-31 18:00..2026-12-31 17:00\n",
		   3, "the range ends before it starts");
}

static void test_bad_environment_name(void **state)
{
	refused_at(state, "[environment \"billing/staging\"]\n    root = /r\n",
		   1, "billing/staging");
	refused_at(state, "[environment \"billing\"]\n    root = /r\n", 1,
		   "billing");
	refused_at(state, "[environment \"/model\"]\n    root = /r\n", 1,
		   "/model");
	refused_at(state, "[environment \"a/b/model\"]\n    root = /r\n", 1,
		   "a/b/model");
	/* a site's environment part is checked too */
	refused_at(state, "[site \"billing/test/central\"]\n    root = /r\n", 2,
		   "billing/test/central");
	refused_at(state, "[site \"billing/model\"]\n    root = /r\n", 2,
		   "billing/model");
}

static void test_site_without_root(void **state)
{
	struct ns_config c = NS_CONFIG_INIT;
	char *path = put_conf(state, "[environment \"billing/production\"]\n"
				     "    warranty = 30d\n"
				     "[site \"billing/production/central\"]\n"
				     "    database = sqlite:/srv/c.db\n");

	int r = ns_config_load(&c, path);

	ns_config_release(&c);
	assert_int_equal(r, NS_EINVALID);
	tu_assert_error_has("billing/production/central");
	tu_assert_error_has("root");
	assert_error_has_line(path);
}

static void test_environment_without_site(void **state)
{
	struct ns_config c = NS_CONFIG_INIT;
	char *path = put_conf(state, "[environment \"billing/model\"]\n"
				     "    window = Mon-Fri 23:00-05:00\n");

	int r = ns_config_load(&c, path);

	ns_config_release(&c);
	assert_int_equal(r, NS_EINVALID);
	tu_assert_error_has("billing/model");
	assert_error_has_line(path);
}

static void test_bad_limits(void **state)
{
	refused_at(state, "[limits]\n    max-files = lots\n", 2, "max-files");
	refused_at(state, "[limits]\n    max-file-size = 0\n", 2,
		   "max-file-size");
	refused_at(state, "[limits]\n    max-file-size = 64X\n", 2, "64X");
	refused_at(state, "[limits]\n    max-file-size = 64 M\n", 2,
		   "max-file-size");
	refused_at(state, "[limits]\n    max-path =\n", 2, "max-path");
}

/* a negative size, or one that overflows 64 bits once scaled, is not a
 * positive size either */
static void test_limits_negative_or_overflowing(void **state)
{
	refused_at(state, "[limits]\n    max-file-size = -1\n", 2,
		   "max-file-size");
	refused_at(state, "[limits]\n    max-files = -5\n", 2, "max-files");
	/* 2^34 + 1 GiB wraps to 1 GiB when shifted by 30 */
	refused_at(state, "[limits]\n    max-total-size = 17179869185G\n", 2,
		   "max-total-size");
}

/* a value as written and as a refusal shows it */
static const char *const bad_values[][2] = {
	{ "bin/check \x1b[2J", "bin/check \\x1b[2J" },
	{ "bin/check\rrm -rf /", "bin/check\\x0drm -rf /" },
	{ "bin/check \xc2\x9b"
	  "2J",
	  "bin/check \\xc2\\x9b2J" },
};

static void test_other_bad_values(void **state)
{
	struct ns_config c = NS_CONFIG_INIT;
	char *path;

	refused_at(state, "[security]\n    impersonation = yes\n", 2,
		   "impersonation");
	refused_at(state, "[notify]\n    pager = 555\n", 2, "pager");
	/* roles are the known ones, each given once */
	refused_at(state, "[role \"QA\"]\n    members = bob\n", 1,
		   "unknown role [role \"QA\"]");
	refused_at(state,
		   "[role \"qa\"]\n    members = bob\n[role \"qa\"]\n"
		   "    members = eve\n",
		   4, "duplicate key 'members'");
	/* the policy */
	refused_at(state, "[policy]\n    acceptances = 0\n", 2, "acceptances");
	refused_at(state, "[policy]\n    acceptances = two\n", 2,
		   "acceptances");
	refused_at(state, "[policy]\n    require-rfs = yes\n", 2,
		   "require-rfs");
	refused_at(state, "[policy]\n    approvals = 2\n", 2, "approvals");
	refused_at(state, "[policy]\n    archive-keep = 90 days\n", 2,
		   "[policy] archive-keep: expected a period");
	refused_at(state, "[policy]\n    archive-keep = never\n", 2,
		   "not 'never'");
	refused_at(state,
		   "[environment \"b/model\"]\n    root = /r\n"
		   "    lock-timeout = 0s\n",
		   3,
		   "[environment \"b/model\"] lock-timeout: expected a "
		   "period such as 60s or 5m, or 'none', not '0s'");
	refused_at(state,
		   "[environment \"b/model\"]\n    root = /r\n"
		   "    lock-timeout = 1 minute\n",
		   3, "not '1 minute'");
	refused_at(state,
		   "[environment \"b/model\"]\n    root = /r\n"
		   "    verify-timeout = 0s\n",
		   3,
		   "[environment \"b/model\"] verify-timeout: expected a "
		   "period such as 10m or 90s, or 'none', not '0s'");
	refused_at(state,
		   "[environment \"b/model\"]\n    root = /r\n"
		   "    verify-timeout = forever\n",
		   3, "not 'forever'");
	/* the warranty, windows and blackouts are checked when loaded */
	refused_at(state,
		   "[environment \"b/production\"]\n    root = /r\n"
		   "    warranty = 30 days\n",
		   3, "warranty");
	refused_at(state,
		   "[environment \"b/model\"]\n    root = /r\n"
		   "    window = Mon-Fry 23:00-05:00\n",
		   3, "Fry");
	refused_at(state,
		   "[environment \"b/model\"]\n    root = /r\n"
		   "    blackout = 2026-02-30\n",
		   3, "2026-02-30");
	/* not INI at all */
	refused_at(state, "[registry]\nthis line is not a key\n", 2, "syntax");
	refused_at(state, "[environment \"billing/model]\n    root = /r\n", 1,
		   "malformed section");

	path = put_conf(state, "[environment \"billing/model\"]\n"
			       "    root = /r\n"
			       "    database = mysql://db/app\n");
	assert_int_equal(ns_config_load(&c, path), NS_EINVALID);
	tu_assert_error_has("mysql://db/app");
	tu_assert_error_has(path);
	free(path);

	/* a NUL byte is refused before parsing */
	path = put(state, "etc/nightshift.conf", "[registry]\npath = a\0b\n",
		   22);
	assert_int_equal(ns_config_load(&c, path), NS_EINVALID);
	tu_assert_error_has("NUL");
	free(path);

	/* names and values are UTF-8 text (they go into TRIGGER.json and
	 * the archive's plan); a comment may be anything */
	path = put_conf(state,
			"; caf\xe9, a Latin-1 comment\n[system \"billing\"]\n"
			"[environment \"billing/mod\xe8le\"]\nroot = /srv\n");
	assert_int_equal(ns_config_load(&c, path), NS_EINVALID);
	tu_assert_error_has("nightshift.conf:3: section [environment "
			    "\"billing/mod\\xe8le\"]: not valid UTF-8");
	free(path);
	/* a value is one line of text: an escape, a bare CR inside it or a
	 * C1 control (U+009B, the one-byte CSI) is refused, shown as \xNN */
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(*bad_values); i++) {
		char *text = xprintf("[system \"billing\"]\n"
				     "[environment \"billing/model\"]\n"
				     "root = /srv\nverify = %s\n",
				     bad_values[i][0]);
		char *want = xprintf("nightshift.conf:4: [environment "
				     "\"billing/model\"] value '%s': control "
				     "character",
				     bad_values[i][1]);
		path = put_conf(state, text);
		assert_int_equal(ns_config_load(&c, path), NS_EINVALID);
		tu_assert_error_has(want);
		free(path);
		free(text);
		free(want);
	}
	/* a file with CRLF line ends is read as the same file with LF */
	path = put_conf(state, "[system \"billing\"]\r\n"
			       "[environment \"billing/model\"]\r\n"
			       "root = /srv\r\nverify = bin/check\r\n");
	assert_int_equal(ns_config_load(&c, path), 0);
	assert_string_equal(ns_config_env(&c, "billing/model")->verify,
			    "bin/check");
	ns_config_release(&c);
	free(path);

	/* no file: a usage error naming it */
	path = at(state, "etc/absent.conf");
	assert_int_equal(ns_config_load(&c, path), NS_EUSAGE);
	tu_assert_error_has(path);
	free(path);
	ns_config_release(&c);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, tu_scratch_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_full_design_conf),
		T(test_key_on_section_line),
		T(test_relative_conf_path),
		T(test_template_loads),
		T(test_archive_keep),
		T(test_lock_timeout),
		T(test_trigger_keys),
		T(test_two_systems_need_a_name),
		T(test_unknown_key),
		T(test_unknown_section),
		T(test_duplicate_key),
		T(test_window_lines),
		T(test_bad_environment_name),
		T(test_site_without_root),
		T(test_environment_without_site),
		T(test_bad_limits),
		T(test_limits_negative_or_overflowing),
		T(test_other_bad_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
