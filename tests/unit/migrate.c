/* migrate: one enhancement into one site, its rollback, backout, recovery */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archive.h"
#include "config.h"
#include "error.h"
#include "hash.h"
#include "journal.h"
#include "migrate.h"
#include "package.h"
#include "strbuf.h"
#include "testutil.h"
#include "trigger.h"
#include "xalloc.h"

static const struct ns_limits limits = NS_LIMITS_DEFAULT;

#define TOKEN "ENH-1-r1-1"
#define NOW   "2026-02-03T23:30:00Z"

/* ---- fixtures ------------------------------------------------------ */

struct fx {
	char *dir, *root, *db, *archive, *journal, *spool;
	char *dburl;
	struct ns_site site;
	struct ns_migrate_ctx ctx;
	char *tree0, *db0; /* the target before anything ran */
};

static char *at(const struct fx *fx, const char *rel)
{
	return tu_at(fx->dir, rel);
}

/* no cmocka asserts: used in forked children too */
static int put(const struct fx *fx, const char *rel, const char *text,
	       unsigned mode)
{
	char *path = at(fx, rel);
	int r = tu_try_put(path, text, strlen(text), mode);

	free(path);
	return r;
}

static void assert_error_has(const char *msg, const char *needle)
{
	if (!msg || !strstr(msg, needle))
		fail_msg("message '%s' does not contain '%s'",
			 msg ? msg : "(null)", needle);
}

/* ---- what a target holds: files with modes and hashes, database rows - */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void tree_walk(struct strbuf *out, const char *top, const char *rel)
{
	char *dir = *rel ? xprintf("%s/%s", top, rel) : xstrdup(top);
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t nr = 0, alloc = 0;

	if (!d) {
		strbuf_addf(out, "%s\t(unreadable)\n", rel);
		free(dir);
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ALLOC_GROW(names, nr, alloc);
		names[nr++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (nr)
		qsort(names, nr, sizeof(*names), cmp_str);
	for (size_t i = 0; i < nr; i++) {
		char *r = *rel ? xprintf("%s/%s", rel, names[i])
			       : xstrdup(names[i]);
		char *p = xprintf("%s/%s", top, r);
		struct stat st;

		if (lstat(p, &st) < 0) {
			strbuf_addf(out, "%s\t?\n", r);
		} else if (S_ISDIR(st.st_mode)) {
			strbuf_addf(out, "%s/\t%04o\n", r,
				    (unsigned)(st.st_mode & 07777));
			tree_walk(out, top, r);
		} else if (S_ISREG(st.st_mode)) {
			char sha[NS_HEX_LEN + 1] = "";
			int fd = open(p, O_RDONLY);
			if (fd >= 0) {
				ns_sha256_fd(sha, fd);
				close(fd);
			}
			strbuf_addf(out, "%s\t%04o\t%s\n", r,
				    (unsigned)(st.st_mode & 07777), sha);
		} else {
			strbuf_addf(out, "%s\tother %o\n", r,
				    (unsigned)st.st_mode);
		}
		free(r);
		free(p);
		free(names[i]);
	}
	free(names);
	free(dir);
}

/* every path below root with its mode and SHA-256; the caller frees */
static char *tree(const char *root)
{
	struct strbuf sb = STRBUF_INIT;

	tree_walk(&sb, root, "");
	return strbuf_detach(&sb, NULL);
}

static int dump_rows(void *data, int n, char **vals, char **cols)
{
	struct strbuf *sb = data;

	(void)cols;
	for (int i = 0; i < n; i++)
		strbuf_addf(sb, "%s%s", i ? "|" : "",
			    vals[i] ? vals[i] : "NULL");
	strbuf_addch(sb, '\n');
	return 0;
}

/* the schema and every row of every table; the caller frees */
static char *db_dump(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	/* read-write: a crashed transaction's hot journal is rolled back */
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT type, name, sql FROM sqlite_master "
			       "ORDER BY name",
			       -1, &st, NULL) != SQLITE_OK) {
		strbuf_addf(&sb, "cannot read %s: %s\n", path,
			    db ? sqlite3_errmsg(db) : "?");
		sqlite3_finalize(st);
		sqlite3_close(db);
		return strbuf_detach(&sb, NULL);
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(st, 0);
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *sql = (const char *)sqlite3_column_text(st, 2);
		strbuf_addf(&sb, "%s %s: %s\n", type, name, sql ? sql : "");
		if (!strcmp(type, "table")) {
			char *q = sqlite3_mprintf(
				"SELECT * FROM \"%w\" ORDER BY rowid", name);
			sqlite3_exec(db, q, dump_rows, &sb, NULL);
			sqlite3_free(q);
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return strbuf_detach(&sb, NULL);
}

/* the target before: three files, a database with two rows */
static int make_target(const struct fx *fx)
{
	sqlite3 *db = NULL;
	int ok;

	tu_mkdirs(fx->root);
	if (put(fx, "root/app/main.txt", "old main\n", 0644) < 0 ||
	    put(fx, "root/old.txt", "obsolete\n", 0600) < 0 ||
	    put(fx, "root/keep.txt", "keep\n", 0640) < 0)
		return -1;
	ok = sqlite3_open(fx->db, &db) == SQLITE_OK &&
	     sqlite3_exec(db,
			  "CREATE TABLE items(id INTEGER PRIMARY KEY, "
			  "name TEXT);"
			  "INSERT INTO items VALUES (1, 'one'), (2, 'two');",
			  NULL, NULL, NULL) == SQLITE_OK;
	sqlite3_close(db);
	return ok ? 0 : -1;
}

/* back to the state before: target, archive, journal */
static int reset_target(const struct fx *fx)
{
	char *j = xprintf("%s-journal", fx->db);

	tu_try_rm_rf(fx->root);
	unlink(fx->db);
	unlink(j);
	free(j);
	tu_try_rm_rf(fx->archive);
	tu_try_rm_rf(fx->journal);
	return make_target(fx);
}

/* every path and the site and context, from fx->dir */
static void fx_fill(struct fx *fx)
{
	fx->root = at(fx, "root");
	fx->db = at(fx, "app.db");
	fx->dburl = xprintf("sqlite:%s", fx->db);
	fx->archive = at(fx, "archive");
	fx->journal = at(fx, "journal");
	fx->spool = at(fx, "spool");
	fx->site.name = "demo/model";
	fx->site.label = "main";
	fx->site.root = fx->root;
	fx->site.database = fx->dburl;
	fx->ctx.archive_dir = xprintf("%s/demo/model", fx->archive);
	fx->ctx.journal_dir = xprintf("%s/demo/model", fx->journal);
	fx->ctx.token = TOKEN;
	fx->ctx.user = "tester";
	fx->ctx.env_name = "demo/model";
	fx->ctx.env_verify = NULL;
	fx->ctx.max_path = 1024;
}

static int setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));

	/* verify commands see the physical path: tu_scratch_new gives it */
	fx->dir = tu_scratch_new("migrate");
	if (!fx->dir)
		return -1;
	fx_fill(fx);
	tu_mkdirs(fx->spool);
	setenv("NIGHTSHIFT_NOW", NOW "!", 1);
	if (make_target(fx) < 0)
		return -1;
	fx->tree0 = tree(fx->root);
	fx->db0 = db_dump(fx->db);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	tu_scratch_free(fx->dir);
	free(fx->root);
	free(fx->db);
	free(fx->dburl);
	free(fx->archive);
	free(fx->journal);
	free(fx->spool);
	free((char *)fx->ctx.archive_dir);
	free((char *)fx->ctx.journal_dir);
	free(fx->tree0);
	free(fx->db0);
	free(fx);
	ns_error_clear();
	return 0;
}

/* ---- the enhancement ------------------------------------------------ */

#define MAIN_OLD_SHA                                                           \
	"368e07ab151ae4e8dbb4fecf9847c58c81e98c2a1a0c545d561438a0e6715be9"

static const char good_deploy[] = "CREATE TABLE extra(x INTEGER);\n"
				  "INSERT INTO extra VALUES (42);\n"
				  "INSERT INTO items VALUES (3, 'three');\n";
static const char bad_deploy[] = "CREATE TABLE extra(x INTEGER);\n"
				 "INSERT INTO nosuch VALUES (1);\n";
static const char revert[] = "DROP TABLE extra;\n"
			     "DELETE FROM items WHERE id = 3;\n";
static const char verify_sql[] = "SELECT count(*) = 1 FROM extra;\n";

struct enh {
	const char *deploy; /* NULL: no SQL at all */
	const char *verify_cmd;
	const char *base; /* app/main.txt's base hash */
};

/* set by the one test whose enhancement declares transaction = none */
static int build_tx_none;
/* set by the one test of new directories: more files to add (each holds
 * its own path), NULL-terminated, and more [files] lines */
static const char *const *build_extra;
static const char *build_files;

/* package dir → store tar → trigger file; 0 or an error code. Used in
 * forked children too, so no cmocka asserts. */
static int build(const struct fx *fx, const char *name, const struct enh *e,
		 char **trigger_path)
{
	struct ns_package pkg = NS_PACKAGE_INIT;
	struct ns_trigger_spec spec;
	static const char *sites[] = { "main" };
	char json_sha[NS_HEX_LEN + 1];
	char *src = xprintf("pkg-%s", name), *p;
	char *src_abs = at(fx, src);
	char *store = xprintf("%s/%s.tar", fx->spool, name);
	int r = 0;

	p = xprintf("[enhancement]\ntitle = Rounding\n%s"
		    "[files]\n%sdelete = old.txt\nbase = app/main.txt %s\n"
		    "%s%s%s",
		    build_tx_none ? "transaction = none\n" : "",
		    build_files ? build_files : "",
		    e->base ? e->base : MAIN_OLD_SHA,
		    e->verify_cmd ? "[verify]\ncommand = " : "",
		    e->verify_cmd ? e->verify_cmd : "",
		    e->verify_cmd ? "\n" : "");
	free(src);
#define PUT(rel, text, mode)                                                   \
	do {                                                                   \
		char *rr = xprintf("pkg-%s/%s", name, rel);                    \
		r |= put(fx, rr, text, mode);                                  \
		free(rr);                                                      \
	} while (0)
	PUT("enhancement.ini", p, 0644);
	PUT("files/app/main.txt", "new main\n", 0644);
	PUT("files/app/new/added.sh", "#!/bin/sh\necho added\n", 0755);
	for (size_t i = 0; build_extra && build_extra[i]; i++) {
		char *rel = xprintf("files/%s", build_extra[i]);
		PUT(rel, build_extra[i], 0644);
		free(rel);
	}
	if (e->deploy) {
		PUT("sql/deploy.sql", e->deploy, 0644);
		PUT("sql/revert.sql", revert, 0644);
		PUT("sql/verify.sql", verify_sql, 0644);
	}
#undef PUT
	free(p);
	*trigger_path = xprintf("%s/%s.trigger", fx->spool, name);
	memset(&spec, 0, sizeof(spec));
	spec.id = "ENH-1";
	spec.revision = 1;
	spec.system = "demo";
	spec.environment = "demo/model";
	spec.target = "model";
	spec.sites = sites;
	spec.sites_nr = 1;
	spec.creator = "carol";
	spec.created = NOW;
	if (!r)
		r = ns_package_read(&pkg, src_abs, &limits, store);
	if (!r)
		r = ns_trigger_write(json_sha, *trigger_path, &spec, &pkg,
				     store);
	ns_package_release(&pkg);
	free(src_abs);
	free(store);
	return r;
}

static void load(const struct fx *fx, const char *name, const struct enh *e,
		 struct ns_trigger *t)
{
	char *path = NULL;
	int r = build(fx, name, e, &path);

	if (r)
		fail_msg("building %s: %s", name, ns_error_last());
	assert_int_equal(ns_trigger_load(t, path, &limits), 0);
	free(path);
}

/* ---- checks --------------------------------------------------------- */

static void assert_target_is_before(const struct fx *fx)
{
	char *t = tree(fx->root), *d = db_dump(fx->db);

	assert_string_equal(t, fx->tree0);
	assert_string_equal(d, fx->db0);
	free(t);
	free(d);
}

static void assert_mode(const char *path, unsigned mode)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, mode);
}

static enum ns_jstate journal_state(const char *path)
{
	struct ns_journal j = NS_JOURNAL_INIT;
	enum ns_jstate s;

	if (ns_journal_read(&j, path) < 0)
		fail_msg("%s", ns_error_last());
	s = j.state;
	ns_journal_release(&j);
	return s;
}

static int sql_count(const char *dbpath, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int n = -1;

	assert_int_equal(
		sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL),
		SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* ---- a crash at every step, then recovery ---------------------------- */

/*
 * The crash hooks (NIGHTSHIFT_CRASH_AT) are read when a process starts, so
 * each run is a fresh process: this test program executed again with
 * NS_UNIT_MIGRATE_CHILD naming what to do (see main). Each run: reset the
 * target, migrate in a child killed at step N, recover in another child,
 * and check that the site is exactly as before or exactly as after — files
 * and database together.
 */

static int build_in_child(const struct fx *fx, const char *name)
{
	static const struct enh e = { good_deploy, "test -x app/new/added.sh",
				      NULL };
	static const struct enh fail = { good_deploy, "exit 9", NULL };
	char *path = NULL;
	int r = build(fx, name, strcmp(name, "fails") ? &e : &fail, &path);

	free(path);
	return r ? 1 : 0;
}

static int child_migrate(const struct fx *fx, const char *trigger)
{
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT;

	/* as `window run` loads it: the files' hashes checked while staged */
	if (ns_trigger_load_flags(&t, trigger, &limits,
				  NS_TRIGGER_DEFER_FILES) < 0)
		return 100;
	ns_migrate_site(&o, &t, &fx->site, &fx->ctx);
	return (int)o.kind;
}

/* bit (1 << kind) for every journal recovered; 0: there was none */
static int child_recover(const struct fx *fx, const char *unused)
{
	char **list = NULL;
	size_t nr = 0;
	int bits = 0;

	(void)unused;
	if (ns_journal_list(&list, &nr, fx->ctx.journal_dir) < 0)
		return 64;
	for (size_t i = 0; i < nr; i++) {
		struct ns_outcome o = NS_OUTCOME_INIT;
		ns_migrate_recover(&o, list[i], NULL);
		bits |= 1 << o.kind;
	}
	return bits;
}

/* what main runs when this program is a child: its exit status */
static int child_main(const char *role)
{
	struct fx fx;
	const char *dir = getenv("NS_UNIT_MIGRATE_DIR");
	const char *arg = getenv("NS_UNIT_MIGRATE_ARG");

	if (!dir || !arg)
		return 120;
	memset(&fx, 0, sizeof(fx));
	fx.dir = xstrdup(dir);
	fx_fill(&fx);
	if (!strcmp(role, "build"))
		return build_in_child(&fx, arg);
	if (!strcmp(role, "migrate"))
		return child_migrate(&fx, arg);
	if (!strcmp(role, "recover"))
		return child_recover(&fx, arg);
	return 121;
}

/* run this program as a child doing role with arg, killed at step
 * crash_at (0: never); its exit status, -1 with *killed when killed */
static int in_child(const struct fx *fx, long crash_at, const char *role,
		    const char *arg, int *killed)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		char n[32];
		snprintf(n, sizeof(n), "%ld", crash_at);
		if (crash_at)
			setenv("NIGHTSHIFT_CRASH_AT", n, 1);
		else
			unsetenv("NIGHTSHIFT_CRASH_AT");
		unsetenv("NIGHTSHIFT_FAIL_AT");
		setenv("NS_UNIT_MIGRATE_CHILD", role, 1);
		setenv("NS_UNIT_MIGRATE_DIR", fx->dir, 1);
		setenv("NS_UNIT_MIGRATE_ARG", arg, 1);
		execl("/proc/self/exe", "unit-migrate", (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			fail_msg("waitpid: %s", strerror(errno));
	*killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	if (WIFSIGNALED(status) && !*killed)
		fail_msg("child %s died of signal %d", role, WTERMSIG(status));
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* whether the nightshift_changes row is committed (read-write, so that a
 * crashed transaction is rolled back first, as recovery would) */
static int row_committed(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int n = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) ==
		    SQLITE_OK &&
	    sqlite3_prepare_v2(db,
			       "SELECT count(*) FROM nightshift_changes WHERE "
			       "enhancement = 'ENH-1' AND revision = 1",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n > 0;
}

static int staged_files(const char *root)
{
	char *t = tree(root);
	int n = 0;

	for (const char *p = t; (p = strstr(p, ".nightshift.")); p++)
		n++;
	free(t);
	return n;
}

__attribute__((unused)) static void crash_loop(struct fx *fx, const char *name,
					       int verify_fails)
{
	char *trigger = xprintf("%s/%s.trigger", fx->spool, name);
	char *tree1, *db1;
	struct strbuf errs = STRBUF_INIT;
	int killed, code, points = 0, seen_prepared_staged = 0,
			  seen_prepared_row = 0, seen_after = 0,
			  seen_before = 0;

	code = in_child(fx, 0, "build", name, &killed);
	assert_int_equal(code, 0);
	/* the run without a crash, for what "after" looks like */
	code = in_child(fx, 0, "migrate", trigger, &killed);
	assert_int_equal(code,
			 verify_fails ? NS_OUT_ROLLED_BACK : NS_OUT_MIGRATED);
	tree1 = tree(fx->root);
	db1 = db_dump(fx->db);
	if (!verify_fails)
		assert_string_not_equal(tree1, fx->tree0);

	for (long n = 1; n < 1000; n++) {
		char **list = NULL;
		size_t nr = 0;
		int before_state = -1, staged, row, rec, same0, same1;
		char *t, *d;

		assert_int_equal(reset_target(fx), 0);
		code = in_child(fx, n, "migrate", trigger, &killed);
		if (!killed) {
			/* past the last step: the run finished */
			if (n == 1)
				fail_msg("NIGHTSHIFT_CRASH_AT had no effect");
			assert_int_equal(code, verify_fails ? NS_OUT_ROLLED_BACK
							    : NS_OUT_MIGRATED);
			break;
		}
		points++;
		assert_int_equal(
			ns_journal_list(&list, &nr, fx->ctx.journal_dir), 0);
		if (nr)
			before_state = (int)journal_state(list[0]);
		for (size_t i = 0; i < nr; i++)
			free(list[i]);
		free(list);
		staged = staged_files(fx->root);
		row = row_committed(fx->db);
		rec = in_child(fx, 0, "recover", "", &killed);
		t = tree(fx->root);
		d = db_dump(fx->db);
		same0 = !strcmp(t, fx->tree0) && !strcmp(d, fx->db0);
		same1 = !strcmp(t, tree1) && !strcmp(d, db1);
		if (!same0 && !same1)
			strbuf_addf(
				&errs,
				"crash at step %ld (journal %s): site "
				"neither before nor after:\n%s%s\n",
				n,
				before_state < 0
					? "none"
					: ns_journal_state_name(
						  (enum ns_jstate)before_state),
				t, d);
		if (before_state >= 0 && rec != (1 << NS_OUT_MIGRATED) &&
		    rec != (1 << NS_OUT_ROLLED_BACK))
			strbuf_addf(
				&errs,
				"crash at step %ld (journal %s): "
				"recovery outcome bits %d, not migrated "
				"or rolled back\n",
				n,
				before_state < 0
					? "none"
					: ns_journal_state_name(
						  (enum ns_jstate)before_state),
				rec);
		/* recovery says what it did: a journal still active is
		 * final (one that never got its first line may be gone) */
		assert_int_equal(
			ns_journal_list(&list, &nr, fx->ctx.journal_dir), 0);
		for (size_t i = 0; i < nr; i++) {
			enum ns_jstate s = journal_state(list[i]);
			if (s != (same1 && !verify_fails ? NS_J_DONE
							 : NS_J_ROLLED_BACK))
				strbuf_addf(&errs,
					    "crash at step %ld: journal %s "
					    "after recovery\n",
					    n, ns_journal_state_name(s));
			free(list[i]);
		}
		free(list);
		/* PREPARED and staged: the row decides the side */
		if (before_state == NS_J_PREPARED && staged && !row) {
			seen_prepared_staged++;
			if (!same0)
				strbuf_addf(&errs,
					    "crash at step %ld: PREPARED with "
					    "staging was not undone\n",
					    n);
		}
		if (before_state == NS_J_PREPARED && row) {
			seen_prepared_row++;
			if (!same1 && !verify_fails)
				strbuf_addf(&errs,
					    "crash at step %ld: PREPARED with "
					    "the row committed was not "
					    "finished\n",
					    n);
		}
		seen_after += same1 && !same0;
		seen_before += same0;
		free(t);
		free(d);
	}
	if (errs.len)
		fail_msg("%s", errs.buf);
	assert_true(points > 10);
	assert_true(seen_prepared_staged > 0);
	assert_true(seen_prepared_row > 0);
	assert_true(seen_before > 0);
	if (!verify_fails)
		assert_true(seen_after > 0);
	strbuf_release(&errs);
	free(tree1);
	free(db1);
	free(trigger);
}

static void test_crash_anywhere_recovers(void **state)
{
#ifdef NS_TEST_HOOKS
	crash_loop(*state, "crash", 0);
#else
	(void)state;
	skip();
#endif
}

/* the second loop forks from a parent that took no step either: the
 * first loop ran all its steps in children */
static void test_crash_during_rollback_recovers(void **state)
{
#ifdef NS_TEST_HOOKS
	crash_loop(*state, "fails", 1);
#else
	(void)state;
	skip();
#endif
}

/* ---- migrating ------------------------------------------------------ */

static void test_success(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT;
	static const struct enh e = { good_deploy, "test -x app/new/added.sh",
				      NULL };
	char *p, *rundir, *jpath, *text;

	load(fx, "ok", &e, &t);
	fx->ctx.env_verify = "printf '%s %s %s %s\\n' \"$NIGHTSHIFT_ENV\" "
			     "\"$NIGHTSHIFT_ENHANCEMENT\" \"$NIGHTSHIFT_SITE\" "
			     "\"$NIGHTSHIFT_DATABASE\" > ../verify-env.txt && "
			     "pwd >> ../verify-env.txt";
	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx), 0);
	assert_int_equal(o.kind, NS_OUT_MIGRATED);
	assert_int_equal(o.code, 0);
	assert_string_equal(o.message, "files: 1 replaced, 1 added, 1 deleted; "
				       "the SQL committed");
	assert_string_equal(o.token, TOKEN);
	assert_string_equal(o.enhancement, "ENH-1");
	assert_int_equal(o.revision, 1);
	assert_string_equal(o.environment, "demo/model");
	assert_string_equal(o.site, "demo/model");
	assert_int_equal(o.recovered, 0);
	rundir = xprintf("%s/" TOKEN "/main", fx->ctx.archive_dir);
	jpath = xprintf("%s/" TOKEN ".main.jnl", fx->ctx.journal_dir);
	assert_string_equal(o.rundir, rundir);
	assert_string_equal(o.journal, jpath);

	/* the files */
	p = at(fx, "root/app/main.txt");
	tu_assert_file(p, "new main\n");
	assert_mode(p, 0644);
	free(p);
	p = at(fx, "root/app/new/added.sh");
	tu_assert_file(p, "#!/bin/sh\necho added\n");
	assert_mode(p, 0755);
	free(p);
	p = at(fx, "root/old.txt");
	assert_false(tu_exists(p));
	free(p);
	p = at(fx, "root/keep.txt");
	tu_assert_file(p, "keep\n");
	assert_mode(p, 0640);
	free(p);
	assert_int_equal(staged_files(fx->root), 0);

	/* the database: the deploy, and the row that is the commit point */
	assert_int_equal(sql_count(fx->db, "SELECT x FROM extra"), 42);
	assert_int_equal(sql_count(fx->db, "SELECT count(*) FROM items"), 3);
	p = xprintf("SELECT count(*) FROM nightshift_changes WHERE "
		    "enhancement = 'ENH-1' AND revision = 1 AND "
		    "payload_sha256 = '%s' AND deployed_at = '" NOW "' AND "
		    "deployed_by = 'tester'",
		    t.payload_sha256);
	assert_int_equal(sql_count(fx->db, p), 1);
	free(p);

	/* the journal went through every state to DONE */
	text = tu_slurp(jpath, NULL);
	p = xprintf("RUNDIR %s\nPREPARED\nCOMMITTED\nAPPLIED\nDONE\n", rundir);
	assert_string_equal(text, p);
	free(p);
	free(text);
	assert_int_equal(journal_state(jpath), NS_J_DONE);

	/* the archive: the plan, the old contents, the database */
	p = xprintf("%s/plan.json", rundir);
	assert_true(tu_exists(p));
	free(p);
	p = xprintf("%s/database.sqlite", rundir);
	assert_int_equal(sql_count(p, "SELECT count(*) FROM items"), 2);
	free(p);

	/* the verify command ran in the root with the environment set */
	p = at(fx, "verify-env.txt");
	text = xprintf("demo/model ENH-1 demo/model %s\n%s\n", fx->dburl,
		       fx->root);
	tu_assert_file(p, text);
	free(text);
	free(p);

	ns_outcome_release(&o);
	ns_trigger_release(&t);
	free(rundir);
	free(jpath);
}

/* a files-only enhancement on a site without a database */
static void test_files_only(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT;
	static const struct enh e = { NULL, NULL, NULL };
	struct ns_site site = fx->site;
	char *p, *text;

	site.database = NULL;
	load(fx, "files", &e, &t);
	assert_int_equal(ns_migrate_site(&o, &t, &site, &fx->ctx), 0);
	assert_int_equal(o.kind, NS_OUT_MIGRATED);
	p = at(fx, "root/app/main.txt");
	tu_assert_file(p, "new main\n");
	free(p);
	/* the journal's COMMITTED is the commit point */
	text = tu_slurp(o.journal, NULL);
	assert_non_null(strstr(text, "\nPREPARED\nCOMMITTED\nAPPLIED\nDONE\n"));
	free(text);
	/* the database was not touched */
	text = db_dump(fx->db);
	assert_string_equal(text, fx->db0);
	free(text);
	ns_outcome_release(&o);
	ns_trigger_release(&t);
}

static void test_sql_needs_a_database(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT;
	static const struct enh e = { good_deploy, NULL, NULL };
	struct ns_site site = fx->site;

	site.database = NULL;
	load(fx, "nodb", &e, &t);
	assert_int_equal(ns_migrate_site(&o, &t, &site, &fx->ctx), NS_EINVALID);
	assert_int_equal(o.kind, NS_OUT_REFUSED);
	assert_error_has(o.message, "no database");
	assert_null(o.rundir);
	assert_false(tu_exists(fx->archive));
	assert_target_is_before(fx);
	ns_outcome_release(&o);
	ns_trigger_release(&t);
}

/* transaction = none rolls back from a pg_dump of the touched tables:
 * a SQLite site refuses it before anything is written */
static void test_none_refused_on_sqlite(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT;
	static const struct enh e = { good_deploy, NULL, NULL };

	build_tx_none = 1;
	load(fx, "none", &e, &t);
	build_tx_none = 0;
	assert_int_equal(t.manifest.transaction, NS_TX_NONE);
	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx),
			 NS_EINVALID);
	assert_int_equal(o.kind, NS_OUT_REFUSED);
	assert_error_has(o.message, "transaction = none needs a PostgreSQL "
				    "database; site 'demo/model' has sqlite:");
	assert_null(o.rundir);
	assert_false(tu_exists(fx->archive));
	assert_target_is_before(fx);
	ns_outcome_release(&o);
	ns_trigger_release(&t);
}

static void test_deploy_sql_fails(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT;
	static const struct enh e = { bad_deploy, NULL, NULL };

	load(fx, "baddeploy", &e, &t);
	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx),
			 NS_EFAILED);
	assert_int_equal(o.kind, NS_OUT_ROLLED_BACK);
	assert_int_equal(o.code, NS_EFAILED);
	assert_error_has(o.message, "sql/deploy.sql:2");
	assert_error_has(o.message, "nosuch");
	assert_non_null(o.rundir);
	assert_int_equal(journal_state(o.journal), NS_J_ROLLED_BACK);
	/* root and database exactly as before: no staging, no new
	 * directory, no table, no row */
	assert_target_is_before(fx);
	ns_outcome_release(&o);
	ns_trigger_release(&t);
}

static void test_verify_sql_false(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT;
	/* deploys, but verify.sql's count is then 2, not 1 */
	static const struct enh e = { "CREATE TABLE extra(x INTEGER);\n"
				      "INSERT INTO extra VALUES (1), (2);\n",
				      NULL, NULL };

	load(fx, "badverify", &e, &t);
	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx),
			 NS_EFAILED);
	assert_int_equal(o.kind, NS_OUT_ROLLED_BACK);
	assert_error_has(o.message, "sql/verify.sql:1");
	assert_target_is_before(fx);
	ns_outcome_release(&o);
	ns_trigger_release(&t);
}

/* verification fails after the commit point: revert SQL, archive back */
static void test_verify_command_fails(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT;
	static const struct enh e = { good_deploy, NULL, NULL };
	char *log, *text;

	load(fx, "badcmd", &e, &t);
	fx->ctx.env_verify = "echo checking; test -f app/new/added.sh && "
			     "exit 3";
	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx),
			 NS_EFAILED);
	assert_int_equal(o.kind, NS_OUT_ROLLED_BACK);
	assert_int_equal(o.code, NS_EFAILED);
	assert_error_has(o.message, "verify command");
	assert_error_has(o.message, "exit 3");
	assert_error_has(o.message, "rolled back");
	assert_int_equal(journal_state(o.journal), NS_J_ROLLED_BACK);
	text = tu_slurp(o.journal, NULL);
	assert_non_null(strstr(text, "\nCOMMITTED\nAPPLIED\nROLLING_BACK "));
	free(text);
	/* files byte-identical with their modes; the row and the table
	 * nightshift created are gone */
	assert_target_is_before(fx);
	assert_int_equal(staged_files(fx->root), 0);
	/* the command's output is kept */
	log = xprintf("%s/verify.log", o.rundir);
	tu_assert_file(log, "checking\n");
	free(log);
	ns_outcome_release(&o);
	ns_trigger_release(&t);
}

/* the target changed since the developer's base: nothing written */
static void test_drift(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT;
	static const struct enh e = { good_deploy, NULL, NULL };
	char *t0, *d0;

	load(fx, "drift", &e, &t);
	assert_int_equal(put(fx, "root/app/main.txt", "hot fix\n", 0644), 0);
	t0 = tree(fx->root);
	d0 = db_dump(fx->db);
	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx),
			 NS_EDRIFT);
	assert_int_equal(o.kind, NS_OUT_REFUSED);
	assert_int_equal(o.code, NS_EDRIFT);
	assert_error_has(o.message, "app/main.txt");
	assert_error_has(o.message, "drift");
	/* no run directory, no journal, nothing changed */
	assert_null(o.rundir);
	assert_false(tu_exists(fx->archive));
	assert_false(tu_exists(fx->journal));
	{
		char *t1 = tree(fx->root), *d1 = db_dump(fx->db);
		assert_string_equal(t1, t0);
		assert_string_equal(d1, d0);
		free(t1);
		free(d1);
	}
	free(t0);
	free(d0);
	ns_outcome_release(&o);

	/* a file to delete that is already gone is drift too */
	assert_int_equal(put(fx, "root/app/main.txt", "old main\n", 0644), 0);
	{
		char *old = at(fx, "root/old.txt");
		assert_int_equal(unlink(old), 0);
		free(old);
	}
	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx),
			 NS_EDRIFT);
	assert_error_has(o.message, "old.txt");
	assert_false(tu_exists(fx->archive));
	ns_outcome_release(&o);

	/* a directory to delete that holds what the enhancement does not
	 * delete is drift: nothing is lost, nothing written */
	{
		char *old = at(fx, "root/old.txt");
		char *notes = at(fx, "root/old.txt/notes");
		assert_int_equal(mkdir(old, 0755), 0);
		assert_int_equal(put(fx, "root/old.txt/notes", "keep\n", 0644),
				 0);
		assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx),
				 NS_EDRIFT);
		assert_error_has(o.message,
				 "old.txt: drift: the directory to delete "
				 "holds 'notes', which the enhancement does "
				 "not delete");
		assert_false(tu_exists(fx->archive));
		tu_assert_file(notes, "keep\n");
		free(notes);
		free(old);
	}
	ns_outcome_release(&o);
	ns_trigger_release(&t);
}

/*
 * [files] delete may name a directory, which the enhancement's deletes
 * leave empty (here an empty one): the migration removes it, the
 * backout puts it back with its mode.
 */
static void test_delete_directory(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT, b = NS_OUTCOME_INIT;
	static const struct enh e = { good_deploy, NULL, NULL };
	char *old = at(fx, "root/old.txt");

	assert_int_equal(unlink(old), 0);
	assert_int_equal(mkdir(old, 0700), 0);
	assert_int_equal(chmod(old, 0750), 0);
	/* the target before the run is the one with the directory */
	free(fx->tree0);
	fx->tree0 = tree(fx->root);
	load(fx, "rmdir", &e, &t);
	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx), 0);
	assert_int_equal(o.kind, NS_OUT_MIGRATED);
	assert_false(tu_exists(old));
	assert_int_equal(ns_journal_retire(o.journal, o.rundir, "journal"), 0);
	assert_int_equal(ns_migrate_backout(&b, o.rundir, fx->ctx.journal_dir,
					    "defect", 1, NULL),
			 0);
	assert_int_equal(b.kind, NS_OUT_ROLLED_BACK);
	assert_mode(old, 0750);
	assert_target_is_before(fx);
	free(old);
	ns_outcome_release(&b);
	ns_outcome_release(&o);
	ns_trigger_release(&t);
}

/*
 * Added files in new directories, nested and side by side, in an order
 * where a name sorts between a directory and what it holds ("new.txt"
 * before "new/"): each directory the run needs is made once, parents
 * first, and a backout takes every one away again. Bases declared out of
 * path order are each found.
 */
static void test_new_directories(void **state)
{
	static const char *const extra[] = {
		"app/new.txt",	   "app/new/deep/x.txt",
		"app/newer/y.txt", "n/a.b",
		"n/a/x",	   "n/a/y",
		"n/b/c/d/e",	   "n/b/z",
		"keep.txt.d/k",	   "app/new/deep/z.txt",
		"keep.txt",	   NULL,
	};
	static const char *const want[] = {
		"app/new", "app/new/deep", "app/newer", "keep.txt.d", "n",
		"n/a",	   "n/b",	   "n/b/c",	"n/b/c/d",
	};
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT, b = NS_OUTCOME_INIT;
	struct ns_plan q = NS_PLAN_INIT;
	static const struct enh e = { good_deploy, NULL, NULL };
	char *bases, *p;

	/* keep.txt's base declared before app/main.txt's */
	{
		char h[NS_HEX_LEN + 1];
		ns_sha256_buf(h, "keep\n", 5);
		bases = xprintf("base = keep.txt %s\n", h);
	}
	build_extra = extra;
	build_files = bases;
	{
		char *path = NULL;
		int r = build(fx, "dirs", &e, &path);

		build_extra = NULL;
		build_files = NULL;
		if (r)
			fail_msg("building dirs: %s", ns_error_last());
		assert_int_equal(ns_trigger_load(&t, path, &limits), 0);
		free(path);
	}
	assert_string_equal(t.manifest.bases[0].path, "app/main.txt");
	assert_non_null(ns_manifest_base(&t.manifest, "keep.txt"));
	assert_string_equal(ns_manifest_base(&t.manifest, "app/main.txt"),
			    MAIN_OLD_SHA);
	assert_null(ns_manifest_base(&t.manifest, "app/new.txt"));
	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx), 0);
	assert_int_equal(o.kind, NS_OUT_MIGRATED);
	assert_int_equal(ns_plan_load(&q, o.rundir), 0);
	assert_int_equal(q.mkdirs_nr, sizeof(want) / sizeof(*want));
	for (size_t i = 0; i < q.mkdirs_nr; i++)
		assert_string_equal(q.mkdirs[i], want[i]);
	for (size_t i = 0; extra[i]; i++) {
		char *rel = xprintf("root/%s", extra[i]);
		p = at(fx, rel);
		tu_assert_file(p, extra[i]);
		free(p);
		free(rel);
	}
	assert_int_equal(ns_journal_retire(o.journal, o.rundir, "journal"), 0);
	assert_int_equal(ns_migrate_backout(&b, o.rundir, fx->ctx.journal_dir,
					    "defect", 1, NULL),
			 0);
	assert_int_equal(b.kind, NS_OUT_ROLLED_BACK);
	assert_target_is_before(fx);
	ns_plan_release(&q);
	ns_outcome_release(&b);
	ns_outcome_release(&o);
	ns_trigger_release(&t);
	free(bases);
}

/* a trigger that deletes a directory and puts a file below it (submit
 * refuses such a package, so the trigger is changed after its load, as
 * one made before that check could be): refused before anything is
 * written, naming both */
static void test_put_below_deleted_refused(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT;
	static const struct enh e = { good_deploy, NULL, NULL };

	load(fx, "below", &e, &t);
	t.manifest.deletes =
		xrealloc(t.manifest.deletes,
			 (t.manifest.deletes_nr + 1) * sizeof(char *));
	t.manifest.deletes[t.manifest.deletes_nr++] = xstrdup("app/new");
	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx),
			 NS_EINVALID);
	assert_int_equal(o.kind, NS_OUT_REFUSED);
	assert_error_has(o.message, "[files] delete 'app/new': the "
				    "enhancement puts 'app/new/added.sh' "
				    "below it");
	assert_null(o.rundir);
	assert_target_is_before(fx);
	ns_outcome_release(&o);
	ns_trigger_release(&t);
}

/* a symbolic link in the target on the way to a touched file is refused
 * before anything is written */
static void test_symlink_in_target_refused(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT;
	static const struct enh e = { good_deploy, NULL, NULL };
	char *app = at(fx, "root/app"), *real = at(fx, "elsewhere");

	load(fx, "symlink", &e, &t);
	assert_int_equal(rename(app, real), 0);
	assert_int_equal(symlink(real, app), 0);
	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx),
			 NS_EINVALID);
	assert_int_equal(o.kind, NS_OUT_REFUSED);
	assert_error_has(o.message, "symbolic link");
	assert_false(tu_exists(fx->archive));
	{
		char *p = at(fx, "elsewhere/main.txt");
		tu_assert_file(p, "old main\n");
		free(p);
	}
	free(app);
	free(real);
	ns_outcome_release(&o);
	ns_trigger_release(&t);
}

/* replace the first occurrence of FROM in the file by TO (same length) */
static void patch_file(const char *path, const char *from, const char *to)
{
	size_t len = 0, n = strlen(from);
	char *buf = tu_slurp(path, &len), *p = NULL;

	assert_int_equal(strlen(to), n);
	for (size_t i = 0; i + n <= len && !p; i++)
		if (!memcmp(buf + i, from, n))
			p = buf + i;
	if (!p)
		fail_msg("'%s' not in %s", from, path);
	memcpy(p, to, n);
	tu_put_len(path, buf, len, 0644);
	free(buf);
}

/* rename the tar member FROM to TO (no longer) in its ustar header */
static void rename_member(const char *path, const char *from, const char *to)
{
	size_t len = 0, n = strlen(from);
	char *buf = tu_slurp(path, &len);
	int done = 0;

	assert_true(strlen(to) <= n);
	for (size_t at = 0; at + 512 <= len && !done; at += 512) {
		unsigned char *h = (unsigned char *)buf + at;
		unsigned sum = 0;

		if (memcmp(h, from, n) || h[n] != '\0' ||
		    memcmp(h + 257, "ustar", 5))
			continue;
		memset(h, 0, n);
		memcpy(h, to, strlen(to));
		memset(h + 148, ' ', 8);
		for (int i = 0; i < 512; i++)
			sum += h[i];
		snprintf((char *)h + 148, 8, "%06o", sum);
		done = 1;
	}
	if (!done)
		fail_msg("no ustar header for '%s' in %s", from, path);
	tu_put_len(path, buf, len, 0644);
	free(buf);
}

/* the trigger changed after it was loaded so that a file to put is no
 * longer in it, or another one is in it twice: refused as invalid,
 * nothing left behind */
static void test_deferred_member_missing_or_twice(void **state)
{
	static const char *const to[] = { "payload/filez/app/new/added.sh",
					  "payload/files/app/main.txt" };
	static const char *const says[] = { "app/new/added.sh: member missing",
					    "app/main.txt: not in the plan "
					    "(a second time)" };
	struct fx *fx = *state;
	static const struct enh e = { good_deploy, NULL, NULL };

	for (int i = 0; i < 2; i++) {
		struct ns_trigger t = NS_TRIGGER_INIT;
		struct ns_outcome o = NS_OUTCOME_INIT;
		char *path = NULL, *name = xprintf("swap%d", i);

		if (build(fx, name, &e, &path))
			fail_msg("building: %s", ns_error_last());
		assert_int_equal(ns_trigger_load_flags(&t, path, &limits,
						       NS_TRIGGER_DEFER_FILES),
				 0);
		rename_member(path, "payload/files/app/new/added.sh", to[i]);
		assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx),
				 NS_EINVALID);
		assert_int_equal(o.kind, NS_OUT_REFUSED);
		assert_error_has(o.message, says[i]);
		assert_null(o.journal);
		assert_target_is_before(fx);
		assert_int_equal(staged_files(fx->root), 0);
		assert_int_equal(tu_count_entries(fx->ctx.journal_dir), 0);
		assert_int_equal(tu_count_entries(fx->ctx.archive_dir), 0);
		ns_outcome_release(&o);
		ns_trigger_release(&t);
		free(path);
		free(name);
	}
}

/* `window run` loads the trigger without hashing the payload's files
 * (NS_TRIGGER_DEFER_FILES); the staging hashes each one. A member altered
 * after it was loaded — the same size, one that needs a new directory —
 * is refused as the loader would have refused it: exit code, message,
 * and nothing left behind (no staged file, no new directory, no journal,
 * no run directory, the database untouched). */
static void test_deferred_payload_check(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT, full = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT;
	static const struct enh e = { good_deploy, NULL, NULL };
	char *path = NULL, *p;

	if (build(fx, "late", &e, &path))
		fail_msg("building: %s", ns_error_last());
	assert_int_equal(ns_trigger_load_flags(&t, path, &limits,
					       NS_TRIGGER_DEFER_FILES),
			 0);
	assert_int_equal(t.files_unverified, 1);
	patch_file(path, "echo added", "echo ADDED");
	/* the full check sees it; the deferred one skips the bytes */
	assert_int_equal(ns_trigger_load(&full, path, &limits), NS_EINVALID);
	tu_assert_error_has("payload/files/app/new/added.sh: hash mismatch");
	ns_trigger_release(&full);
	assert_int_equal(ns_trigger_load_flags(&full, path, &limits,
					       NS_TRIGGER_DEFER_FILES),
			 0);
	ns_trigger_release(&full);

	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx),
			 NS_EINVALID);
	assert_int_equal(o.kind, NS_OUT_REFUSED);
	assert_int_equal(o.code, NS_EINVALID);
	assert_error_has(o.message, "payload/files/app/new/added.sh");
	assert_error_has(o.message, "hash mismatch");
	assert_null(o.rundir);
	assert_null(o.journal);
	assert_target_is_before(fx);
	assert_int_equal(staged_files(fx->root), 0);
	p = at(fx, "root/app/new");
	assert_false(tu_exists(p));
	free(p);
	assert_int_equal(tu_count_entries(fx->ctx.journal_dir), 0);
	assert_int_equal(tu_count_entries(fx->ctx.archive_dir), 0);
	ns_outcome_release(&o);
	ns_trigger_release(&t);
	free(path);
}

static void test_backout_after_success(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT, b = NS_OUTCOME_INIT;
	static const struct enh e = { good_deploy, NULL, NULL };
	struct stat main0, old0, main1, old1;
	char *bj, *main = at(fx, "root/app/main.txt");
	char *old = at(fx, "root/old.txt"), *files, *kept;

	assert_int_equal(stat(main, &main0), 0);
	assert_int_equal(stat(old, &old0), 0);
	load(fx, "backout", &e, &t);
	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx), 0);
	assert_int_equal(ns_journal_retire(o.journal, o.rundir, "journal"), 0);

	assert_int_equal(ns_migrate_backout(&b, o.rundir, fx->ctx.journal_dir,
					    "defect in warranty", 1, NULL),
			 0);
	assert_int_equal(b.kind, NS_OUT_ROLLED_BACK);
	assert_int_equal(b.code, 0);
	assert_error_has(b.message, "defect in warranty");
	bj = xprintf("%s/" TOKEN ".main.backout.jnl", fx->ctx.journal_dir);
	assert_non_null(b.journal);
	assert_string_equal(b.journal, bj);
	assert_int_equal(journal_state(bj), NS_J_ROLLED_BACK);
	assert_target_is_before(fx);
	/* the very files the site had are back (moved, not copied); the
	 * archive holds what the backout took out of the site instead */
	assert_int_equal(stat(main, &main1), 0);
	assert_int_equal(stat(old, &old1), 0);
	assert_true(main1.st_ino == main0.st_ino);
	assert_true(old1.st_ino == old0.st_ino);
	files = xprintf("%s/files", o.rundir);
	assert_int_equal(tu_count_entries(files), 0);
	kept = xprintf("%s/rolled-back/0", o.rundir);
	tu_assert_file(kept, "new main\n");
	free(kept);
	kept = xprintf("%s/rolled-back/1", o.rundir);
	tu_assert_file(kept, "#!/bin/sh\necho added\n");
	free(kept);
	free(files);
	free(main);
	free(old);
	free(bj);
	ns_outcome_release(&b);
	ns_outcome_release(&o);
	ns_trigger_release(&t);
}

/* a good enhancement migrated and its journal retired; then damage(fx,
 * run directory) breaks what the backout needs: the backout fails, the
 * site is blocked, and the message says what is missing */
static void backout_blocked(struct fx *fx, const char *name,
			    void (*damage)(struct fx *, const char *),
			    const char *reason, int check_drift,
			    const char *needle)
{
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT, b = NS_OUTCOME_INIT;
	static const struct enh e = { good_deploy, NULL, NULL };

	load(fx, name, &e, &t);
	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx), 0);
	assert_int_equal(ns_journal_retire(o.journal, o.rundir, "journal"), 0);
	damage(fx, o.rundir);
	assert_int_not_equal(ns_migrate_backout(&b, o.rundir,
						fx->ctx.journal_dir, reason,
						check_drift, NULL),
			     0);
	assert_int_equal(b.kind, NS_OUT_BLOCKED);
	assert_error_has(b.message, needle);
	ns_outcome_release(&b);
	ns_outcome_release(&o);
	ns_trigger_release(&t);
}

static void lose_archived(struct fx *fx, const char *rundir)
{
	char *lost = xprintf("%s/files/0", rundir);

	(void)fx;
	assert_int_equal(unlink(lost), 0);
	free(lost);
}

static void remove_app_dir(struct fx *fx, const char *rundir)
{
	char *app = at(fx, "root/app");

	(void)rundir;
	assert_int_equal(tu_try_rm_rf(app), 0);
	free(app);
}

/* an archived file gone while the site is not as before: the backout
 * fails (the site is blocked) and says which file */
static void test_backout_archive_lost(void **state)
{
	backout_blocked(*state, "lost", lose_archived, "defect", 1,
			"app/main.txt' is missing from the archive");
}

/* the directory of a file that must come back is gone: the backout does
 * not end quietly half done, it fails (the site is blocked) and says so */
static void test_backout_directory_gone(void **state)
{
	backout_blocked(*state, "dirgone", remove_app_dir, "rejected", 0,
			"app/main.txt: its directory is gone");
}

static void test_backout_refused_on_drift(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT, b = NS_OUTCOME_INIT;
	static const struct enh e = { good_deploy, NULL, NULL };
	char *t1, *d1, *t2, *d2;

	load(fx, "backout2", &e, &t);
	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx), 0);
	assert_int_equal(
		put(fx, "root/app/new/added.sh", "edited later\n", 0755), 0);
	t1 = tree(fx->root);
	d1 = db_dump(fx->db);
	assert_int_equal(ns_migrate_backout(&b, o.rundir, fx->ctx.journal_dir,
					    "defect", 1, NULL),
			 NS_EDRIFT);
	assert_int_equal(b.kind, NS_OUT_REFUSED);
	assert_error_has(b.message, "app/new/added.sh");
	t2 = tree(fx->root);
	d2 = db_dump(fx->db);
	assert_string_equal(t2, t1);
	assert_string_equal(d2, d1);
	free(t1), free(d1), free(t2), free(d2);
	ns_outcome_release(&b);

	/* without the drift check (a rejection on the model) it goes back */
	assert_int_equal(ns_migrate_backout(&b, o.rundir, fx->ctx.journal_dir,
					    "rejected", 0, NULL),
			 0);
	assert_target_is_before(fx);
	ns_outcome_release(&b);
	ns_outcome_release(&o);
	ns_trigger_release(&t);
}

/* recovery of a run already final changes nothing and reports it */
static void test_recover_final(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT, r = NS_OUTCOME_INIT;
	static const struct enh e = { good_deploy, NULL, NULL };
	char *t1, *d1, *t2, *d2;

	load(fx, "final", &e, &t);
	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx), 0);
	t1 = tree(fx->root);
	d1 = db_dump(fx->db);
	assert_int_equal(ns_migrate_recover(&r, o.journal, NULL), 0);
	assert_int_equal(r.kind, NS_OUT_MIGRATED);
	assert_int_equal(r.recovered, 1);
	assert_string_equal(r.token, TOKEN);
	t2 = tree(fx->root);
	d2 = db_dump(fx->db);
	assert_string_equal(t2, t1);
	assert_string_equal(d2, d1);
	free(t1), free(d1), free(t2), free(d2);
	ns_outcome_release(&r);
	ns_outcome_release(&o);
	ns_trigger_release(&t);
}

/*
 * PREPARED with staged files, made without crash hooks: run to success,
 * then put the site back by hand to the moment after staging — old files
 * in place, the new ones as their hidden staged siblings, no row — and
 * cut the journal back to PREPARED. Recovery must undo.
 */
static void test_recover_prepared_by_hand(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_outcome o = NS_OUTCOME_INIT, r = NS_OUTCOME_INIT;
	static const struct enh e = { good_deploy, NULL, NULL };
	char *p, *q, *text, *jtext;
	sqlite3 *db = NULL;

	load(fx, "byhand", &e, &t);
	assert_int_equal(ns_migrate_site(&o, &t, &fx->site, &fx->ctx), 0);

	/* files: plan order is app/main.txt (0), app/new/added.sh (1),
	 * old.txt (2); the staged names are .nightshift.TOKEN.sN */
	p = at(fx, "root/app/main.txt");
	q = at(fx, "root/app/.nightshift." TOKEN ".s0");
	assert_int_equal(rename(p, q), 0);
	assert_int_equal(put(fx, "root/app/main.txt", "old main\n", 0644), 0);
	free(p), free(q);
	p = at(fx, "root/app/new/added.sh");
	q = at(fx, "root/app/new/.nightshift." TOKEN ".s1");
	assert_int_equal(rename(p, q), 0);
	free(p), free(q);
	assert_int_equal(put(fx, "root/old.txt", "obsolete\n", 0600), 0);
	/* the database: as before the commit */
	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "DROP TABLE extra; DROP TABLE "
				      "nightshift_changes; DELETE FROM items "
				      "WHERE id = 3;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(staged_files(fx->root), 2);
	/* the journal: begun and PREPARED, nothing after */
	jtext = xprintf("RUNDIR %s\nPREPARED\n", o.rundir);
	text = tu_slurp(o.journal, NULL);
	assert_non_null(strstr(text, jtext));
	free(text);
	{
		FILE *fp = fopen(o.journal, "w");
		assert_non_null(fp);
		fputs(jtext, fp);
		assert_int_equal(fclose(fp), 0);
	}
	free(jtext);

	assert_int_equal(ns_migrate_recover(&r, o.journal, NULL), NS_EFAILED);
	assert_int_equal(r.kind, NS_OUT_ROLLED_BACK);
	assert_int_equal(r.recovered, 1);
	assert_error_has(r.message, "before the commit point");
	assert_int_equal(journal_state(o.journal), NS_J_ROLLED_BACK);
	assert_int_equal(staged_files(fx->root), 0);
	assert_target_is_before(fx);

	/* recovering again is idempotent */
	ns_outcome_release(&r);
	assert_int_equal(ns_migrate_recover(&r, o.journal, NULL), NS_EFAILED);
	assert_target_is_before(fx);
	ns_outcome_release(&r);
	ns_outcome_release(&o);
	ns_trigger_release(&t);
}

/* a journal killed before its first line was durable: nothing was written,
 * and recovery must not leave it active forever */
static void test_recover_empty_journal(void **state)
{
	struct fx *fx = *state;
	struct ns_outcome r = NS_OUTCOME_INIT;
	struct ns_journal j = NS_JOURNAL_INIT;
	char *p = xprintf("%s/" TOKEN ".main.jnl", fx->ctx.journal_dir);

	tu_mkdirs(fx->ctx.journal_dir);
	assert_int_equal(
		put(fx, "journal/demo/model/" TOKEN ".main.jnl", "", 0644), 0);
	ns_migrate_recover(&r, p, NULL);
	assert_int_equal(r.recovered, 1);
	assert_int_not_equal(r.kind, NS_OUT_MIGRATED);
	assert_non_null(r.message);
	if (tu_exists(p)) {
		assert_int_equal(ns_journal_read(&j, p), 0);
		assert_true(ns_journal_final(j.state));
		ns_journal_release(&j);
	}
	assert_target_is_before(fx);
	ns_outcome_release(&r);
	free(p);
}

/* plan.json holds every string as it was, quotes, backslashes, tabs and
 * UTF-8 included; a string that is not UTF-8 fails the save, naming it,
 * and writes nothing (it was once left out, and a rollback then ran
 * without its revert SQL) */
static void test_plan_round_trip(void **state)
{
	static char *mkdirs[] = { "we\"ird\\dir", "caf\xc3\xa9" };
	static char *verify[] = { "test -f 'a b'\tx" };
	struct ns_plan_file files[2] = {
		{ .path = "we\"ird\\dir/\xe2\x82\xac 1.txt",
		  .op = NS_OP_PUT,
		  .mode = 0755,
		  .size = 5 },
		{ .path = "old.txt",
		  .op = NS_OP_DELETE,
		  .before_present = 1,
		  .before_mode = 0600 },
	};
	struct ns_plan p = {
		.token = "ENH-1-r1-1",
		.enhancement = "ENH-1",
		.revision = 1,
		.environment = "demo/model",
		.site = "main",
		.root = "/srv/app",
		.database = NULL,
		.user = "alice",
		.files = files,
		.nr = 2,
		.mkdirs = mkdirs,
		.mkdirs_nr = 2,
		.revert_sql = "-- \"q\" \\ caf\xc3\xa9\n\tDROP TABLE t;\r\n",
		.table_existed = 1,
		.tx_none = 1,
		.verify = verify,
		.verify_nr = 1
	};
	struct ns_plan q = NS_PLAN_INIT;
	struct fx *fx = *state;
	char *dir = xprintf("%s/run", fx->dir), *plan;

	memset(p.payload_sha256, 'a', NS_HEX_LEN);
	memset(files[0].sha256, 'b', NS_HEX_LEN);
	memset(files[1].before_sha256, 'c', NS_HEX_LEN);
	tu_mkdirs(dir);
	assert_int_equal(ns_plan_save(&p, dir), 0);
	assert_int_equal(ns_plan_load(&q, dir), 0);
	assert_string_equal(q.token, p.token);
	assert_string_equal(q.payload_sha256, p.payload_sha256);
	assert_null(q.database);
	assert_string_equal(q.root, p.root);
	assert_int_equal(q.nr, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(q.files[i].path, files[i].path);
		assert_int_equal(q.files[i].op, files[i].op);
		assert_string_equal(q.files[i].sha256, files[i].sha256);
		assert_int_equal(q.files[i].mode, files[i].mode);
		assert_int_equal(q.files[i].size, files[i].size);
		assert_int_equal(q.files[i].before_present,
				 files[i].before_present);
		assert_string_equal(q.files[i].before_sha256,
				    files[i].before_sha256);
		assert_int_equal(q.files[i].before_mode, files[i].before_mode);
	}
	assert_int_equal(q.mkdirs_nr, 2);
	assert_string_equal(q.mkdirs[0], mkdirs[0]);
	assert_string_equal(q.mkdirs[1], mkdirs[1]);
	assert_string_equal(q.revert_sql, p.revert_sql);
	assert_true(q.table_existed);
	assert_true(q.tx_none);
	assert_int_equal(q.verify_nr, 1);
	assert_string_equal(q.verify[0], verify[0]);
	ns_plan_release(&q);

	/* not UTF-8: refused, named, nothing written */
	plan = xprintf("%s/plan.json", dir);
	assert_int_equal(unlink(plan), 0);
	p.revert_sql = "-- caf\xe9\nDROP TABLE t;\n";
	assert_int_equal(ns_plan_save(&p, dir), NS_EINVALID);
	tu_assert_error_has("plan.json: 'revert_sql' is not UTF-8 text");
	assert_false(tu_exists(plan));
	assert_int_equal(tu_count_entries(dir), 0);
	free(plan);
	free(dir);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const char *role = getenv("NS_UNIT_MIGRATE_CHILD");
	const struct CMUnitTest tests[] = {
		T(test_crash_anywhere_recovers),
		T(test_crash_during_rollback_recovers),
		T(test_backout_archive_lost),
		T(test_backout_directory_gone),
		T(test_success),
		T(test_files_only),
		T(test_sql_needs_a_database),
		T(test_none_refused_on_sqlite),
		T(test_deploy_sql_fails),
		T(test_verify_sql_false),
		T(test_verify_command_fails),
		T(test_drift),
		T(test_delete_directory),
		T(test_new_directories),
		T(test_put_below_deleted_refused),
		T(test_symlink_in_target_refused),
		T(test_deferred_payload_check),
		T(test_deferred_member_missing_or_twice),
		T(test_backout_after_success),
		T(test_backout_refused_on_drift),
		T(test_recover_final),
		T(test_recover_prepared_by_hand),
		T(test_recover_empty_journal),
		T(test_plan_round_trip),
	};

	/* a child of the crash tests: one run, no cmocka */
	if (role && *role)
		_exit(child_main(role));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
