#include "error.h"
#include "sqlobj.h"
#include "step.h"
#include "strbuf.h"
#include "target.h"
#include "xalloc.h"

#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sqlite_target {
	struct ns_target base;
	sqlite3 *db;
	char *path;
};

#define DB(t) (((struct sqlite_target *)(t))->db)

/* the busy timeout, ms; -1: as long as it takes */
static void wait_for_locks(sqlite3 *db, long long ms)
{
	sqlite3_busy_timeout(db, ms < 0 || ms > INT_MAX ? INT_MAX : (int)ms);
}

/* a full disk, an I/O error or a busy database is the environment's
 * fault, not the enhancement's */
static int sql_code(sqlite3 *db)
{
	switch (sqlite3_errcode(db) & 0xff) {
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_NOMEM:
		return NS_ERROR;
	default:
		return NS_EFAILED;
	}
}

static int exec1(sqlite3 *db, const char *sql, const char *what)
{
	char *err = NULL;

	if (ns_step(what) < 0) {
		ns_error_set("%s: %s", what, strerror(errno));
		return NS_ERROR;
	}
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		ns_error_set("%s: %s", what, err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return sql_code(db);
	}
	return 0;
}

/* the statement for a message: its first 80 bytes on one line */
static char *excerpt(const char *begin, const char *tail)
{
	size_t n =
		tail && tail > begin ? (size_t)(tail - begin) : strlen(begin);
	char *s = xstrndup(begin, n > 80 ? 80 : n);

	for (char *c = s; *c; c++)
		if (*c == '\n' || *c == '\r' || *c == '\t')
			*c = ' ';
	return s;
}

static int falsy(sqlite3_stmt *st)
{
	const unsigned char *s;

	if (sqlite3_column_count(st) < 1)
		return 0;
	switch (sqlite3_column_type(st, 0)) {
	case SQLITE_NULL:
		return 1;
	case SQLITE_INTEGER:
	case SQLITE_FLOAT:
		return sqlite3_column_double(st, 0) == 0.0;
	default:
		s = sqlite3_column_text(st, 0);
		return s && (!strcmp((const char *)s, "0") ||
			     !strcasecmp((const char *)s, "f") ||
			     !strcasecmp((const char *)s, "false"));
	}
}

/* one statement at a time, so that each is a kill point and a failure
 * names its line */
static int run_script(sqlite3 *db, const char *name, const char *sql,
		      int is_verify)
{
	const char *p = sql, *tail;

	while (p && *p) {
		sqlite3_stmt *st = NULL;
		int rc, first = 1, off, ret = 0;
		const char *begin = ns_sql_skip_blank(p);
		char *text;

		if (ns_step("sql") < 0) {
			ns_error_set("%s: %s", name, strerror(errno));
			return NS_ERROR;
		}
		rc = sqlite3_prepare_v2(db, p, -1, &st, &tail);
		if (rc != SQLITE_OK) {
			off = sqlite3_error_offset(db);
			ns_error_set(
				"%s:%d: %s", name,
				ns_sql_line(sql, off >= 0 ? p + off : begin),
				sqlite3_errmsg(db));
			return sql_code(db);
		}
		if (!st) { /* white space or a comment */
			p = tail;
			continue;
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (is_verify && first && falsy(st)) {
				ret = NS_EFAILED;
				break;
			}
			first = 0;
		}
		text = excerpt(begin, tail);
		if (ret)
			ns_error_set("%s:%d: verification returned false "
				     "(%s)",
				     name, ns_sql_line(sql, begin), text);
		else if (rc != SQLITE_DONE) {
			ns_error_set("%s:%d: %s (statement: %s)", name,
				     ns_sql_line(sql, begin),
				     sqlite3_errmsg(db), text);
			ret = sql_code(db);
		}
		free(text);
		sqlite3_finalize(st);
		if (ret)
			return ret;
		p = tail;
	}
	return 0;
}

static int has_table(struct ns_target *t, int *out)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(DB(t),
				"SELECT 1 FROM sqlite_master WHERE type='table'"
				" AND name='nightshift_changes'",
				-1, &st, NULL);
	if (rc != SQLITE_OK) {
		ns_error_set("%s: %s", t->url, sqlite3_errmsg(DB(t)));
		return NS_ERROR;
	}
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		ns_error_set("%s: %s", t->url, sqlite3_errmsg(DB(t)));
		return NS_ERROR;
	}
	return 0;
}

static int row_exists(struct ns_target *t, const char *enh, int rev, int *out)
{
	sqlite3_stmt *st;
	int rc, has;

	if ((rc = has_table(t, &has)) < 0)
		return rc;
	*out = 0;
	if (!has)
		return 0;
	rc = sqlite3_prepare_v2(DB(t),
				"SELECT 1 FROM nightshift_changes WHERE "
				"enhancement = ?1 AND revision = ?2",
				-1, &st, NULL);
	if (rc != SQLITE_OK) {
		ns_error_set("%s: %s", t->url, sqlite3_errmsg(DB(t)));
		return NS_ERROR;
	}
	sqlite3_bind_text(st, 1, enh, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, rev);
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : NS_ERROR;
}

static int insert_row(sqlite3 *db, const struct ns_change_row *row)
{
	sqlite3_stmt *st;
	int rc;

	if (ns_step("sql") < 0) {
		ns_error_set("nightshift_changes: %s", strerror(errno));
		return NS_ERROR;
	}
	rc = sqlite3_prepare_v2(db,
				"INSERT INTO nightshift_changes(enhancement, "
				"revision, payload_sha256, deployed_at, "
				"deployed_by) VALUES (?1, ?2, ?3, ?4, ?5)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, row->enhancement, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, row->revision);
	sqlite3_bind_text(st, 3, row->payload_sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, row->deployed_at, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, row->deployed_by, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;
fail:
	ns_error_set("nightshift_changes: cannot record %s r%d: %s",
		     row->enhancement, row->revision, sqlite3_errmsg(db));
	return sql_code(db);
}

static int deploy(struct ns_target *t, const char *deploy_sql,
		  const char *verify_sql, const struct ns_change_row *row)
{
	sqlite3 *db = DB(t);
	int r;

	if ((r = exec1(db, "BEGIN IMMEDIATE", "BEGIN")) == 0)
		r = exec1(db, NS_CHANGES_TABLE, "nightshift_changes");
	if (!r && deploy_sql)
		r = run_script(db, "sql/deploy.sql", deploy_sql, 0);
	if (!r && verify_sql)
		r = run_script(db, "sql/verify.sql", verify_sql, 1);
	if (!r)
		r = insert_row(db, row);
	if (!r)
		r = exec1(db, "COMMIT", "COMMIT");
	if (r < 0)
		ns_target_note_locks(t, (sqlite3_errcode(db) & 0xff) ==
						SQLITE_BUSY);
	if (r < 0 && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static int revert(struct ns_target *t, const char *revert_sql, const char *enh,
		  int rev, int drop_table)
{
	sqlite3 *db = DB(t);
	struct strbuf del = STRBUF_INIT;
	char *q;
	int r;

	wait_for_locks(db, -1); /* putting back does not give up */
	if ((r = exec1(db, "BEGIN IMMEDIATE", "BEGIN")) < 0)
		return r;
	if (revert_sql)
		r = run_script(db, "sql/revert.sql", revert_sql, 0);
	q = sqlite3_mprintf("DELETE FROM nightshift_changes WHERE "
			    "enhancement = %Q AND revision = %d",
			    enh, rev);
	strbuf_addstr(&del, q);
	sqlite3_free(q);
	if (!r)
		r = exec1(db, del.buf, "nightshift_changes");
	/* a table nightshift created for this run goes with it, so the
	 * database is exactly as before */
	if (!r && drop_table)
		r = exec1(db, "DROP TABLE IF EXISTS nightshift_changes",
			  "nightshift_changes");
	if (!r)
		r = exec1(db, "COMMIT", "COMMIT");
	if (r < 0 && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	strbuf_release(&del);
	return r;
}

static int backup(struct ns_target *t, const char *dest)
{
	sqlite3 *to = NULL;
	sqlite3_backup *b;
	int rc;

	if (ns_step("write") < 0) {
		ns_error_set("cannot archive the database into '%s': %s", dest,
			     strerror(errno));
		return NS_ERROR;
	}
	rc = sqlite3_open_v2(dest, &to,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK) {
		b = sqlite3_backup_init(to, "main", DB(t), "main");
		if (b) {
			sqlite3_backup_step(b, -1);
			sqlite3_backup_finish(b);
		}
		rc = sqlite3_errcode(to);
	}
	if (rc != SQLITE_OK) {
		ns_error_set("cannot archive the database into '%s': %s", dest,
			     to ? sqlite3_errmsg(to) : "out of memory");
		ns_target_note_locks(t, (rc & 0xff) == SQLITE_BUSY);
		sqlite3_close(to);
		return NS_ERROR;
	}
	if (sqlite3_close(to) != SQLITE_OK) {
		ns_error_set("cannot close the archived database '%s'", dest);
		return NS_ERROR;
	}
	return 0;
}

static void sqlite_free(struct ns_target *t)
{
	struct sqlite_target *s = (struct sqlite_target *)t;

	sqlite3_close(s->db);
	free(s->path);
	free(t->url);
	free(s);
}

static int bound_locks(struct ns_target *t, long long ms, int set)
{
	(void)set; /* a SQLite path has no setting of its own */
	wait_for_locks(DB(t), ms);
	return 0;
}

static const struct ns_target_ops sqlite_ops = {
	.has_table = has_table,
	.row_exists = row_exists,
	.deploy = deploy,
	.revert = revert,
	.backup = backup,
	.free = sqlite_free,
	.bound_locks = bound_locks,
};

int ns_target_sqlite_open(struct ns_target **out, const char *path)
{
	struct sqlite_target *s;
	sqlite3 *db = NULL;

	/* never made here: a database that is not there (its file system
	 * not mounted, say) is the environment's fault, as an unreachable
	 * server is */
	if (access(path, F_OK) < 0) {
		ns_error_set("target database '%s' does not exist", path);
		return NS_ERROR;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		ns_error_set("cannot open target database '%s': %s", path,
			     db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NS_ERROR;
	}
	wait_for_locks(db, -1); /* until ns_target_bound_locks */
	sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	s = xcalloc(1, sizeof(*s));
	s->base.ops = &sqlite_ops;
	s->base.url = xprintf("sqlite:%s", path);
	s->db = db;
	s->path = xstrdup(path);
	*out = &s->base;
	return 0;
}

int ns_target_open(struct ns_target **out, const char *url)
{
	if (!strncmp(url, "sqlite:", 7))
		return ns_target_sqlite_open(out, url + 7);
	if (!strncmp(url, "postgresql://", 13) ||
	    !strncmp(url, "postgres://", 11))
		return ns_target_pg_open(out, url);
	ns_error_set("database '%s': not sqlite:PATH or postgresql://...", url);
	return NS_EINVALID;
}

int ns_target_lock(struct ns_target *t, const char *name)
{
	return t->ops->lock ? t->ops->lock(t, name) : 0;
}

int ns_target_bound_locks(struct ns_target *t, long long ms, int set,
			  const char *env)
{
	int ret;

	free(t->locks_note);
	t->locks_note = NULL;
	ret = t->ops->bound_locks ? t->ops->bound_locks(t, ms, set) : 0;
	/* the driver notes a bound of its own (a URI's) */
	if (!ret && ms >= 0 && !t->locks_note)
		t->locks_note =
			xprintf("lock-timeout = %llds of environment %s%s",
				ms / 1000, env, set ? "" : " (the default)");
	return ret;
}

void ns_target_note_locks(struct ns_target *t, int gave_up)
{
	char *m;

	if (!gave_up || !t->locks_note)
		return;
	m = xstrdup(ns_error_last());
	ns_error_set("%s; it waited for the lock as long as %s allows", m,
		     t->locks_note);
	free(m);
}

int ns_target_dump(struct ns_target *t, const char *deploy_sql, const char *dir)
{
	return t->ops->dump && deploy_sql ? t->ops->dump(t, deploy_sql, dir)
					  : 0;
}

void ns_target_free(struct ns_target *t)
{
	char *note;

	if (!t)
		return;
	note = t->locks_note;
	t->ops->free(t);
	free(note);
}
