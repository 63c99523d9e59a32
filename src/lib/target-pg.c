/*
 * target-pg — a PostgreSQL site database (postgresql://… or postgres://…,
 * a libpq connection URI), behind target.h.
 *
 * Scripts are split into statements here (PostgreSQL has no "prepare and
 * tell me where the next statement starts"), minding quotes, comments and
 * dollar quoting, and sent one by one so that each is a kill point and a
 * failure names "SCRIPT:LINE: ERROR SQLSTATE message (statement)".
 *
 * The session holds a pg_advisory_lock keyed by the site's name for as
 * long as the target is open (ns_target_lock): a second nightshift on
 * another machine, sharing the database but not the lock file, is refused.
 *
 * A connection lost on the way (the server restarted, the session ended
 * by an administrator) is made again once where the answer or the work
 * cannot be half done: a query, and a rollback's revert, whose
 * transaction either committed (its row is gone) or runs again. The new
 * session takes the site's lock again first; if another nightshift holds
 * it by then, nothing more is done.
 */
#include "error.h"
#include "hash.h"
#include "lazylib.h"
#include "sqlobj.h"
#include "step.h"
#include "strbuf.h"
#include "target.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* PostgreSQL's functions, loaded at first use (lazylib.h) */
#define PG_API(X)                                                              \
	X(PQclear)                                                             \
	X(PQconnectdb)                                                         \
	X(PQerrorMessage)                                                      \
	X(PQexec)                                                              \
	X(PQexecParams)                                                        \
	X(PQfinish)                                                            \
	X(PQfreemem)                                                           \
	X(PQgetCopyData)                                                       \
	X(PQgetResult)                                                         \
	X(PQgetisnull)                                                         \
	X(PQgetvalue)                                                          \
	X(PQnfields)                                                           \
	X(PQntuples)                                                           \
	X(PQpass)                                                              \
	X(PQputCopyEnd)                                                        \
	X(PQreset)                                                             \
	X(PQresultErrorField)                                                  \
	X(PQresultStatus)                                                      \
	X(PQsetNoticeProcessor)                                                \
	X(PQstatus)                                                            \
	X(PQtransactionStatus)
PG_API(NS_LAZY_SLOT)

NS_LAZY_LOADER(pq_load, PG_API, NS_SONAME_PQ, "PostgreSQL sites")

#define PQclear		     lazy_PQclear
#define PQconnectdb	     lazy_PQconnectdb
#define PQerrorMessage	     lazy_PQerrorMessage
#define PQexec		     lazy_PQexec
#define PQexecParams	     lazy_PQexecParams
#define PQfinish	     lazy_PQfinish
#define PQfreemem	     lazy_PQfreemem
#define PQgetCopyData	     lazy_PQgetCopyData
#define PQgetResult	     lazy_PQgetResult
#define PQgetisnull	     lazy_PQgetisnull
#define PQgetvalue	     lazy_PQgetvalue
#define PQnfields	     lazy_PQnfields
#define PQntuples	     lazy_PQntuples
#define PQpass		     lazy_PQpass
#define PQputCopyEnd	     lazy_PQputCopyEnd
#define PQreset		     lazy_PQreset
#define PQresultErrorField   lazy_PQresultErrorField
#define PQresultStatus	     lazy_PQresultStatus
#define PQsetNoticeProcessor lazy_PQsetNoticeProcessor
#define PQstatus	     lazy_PQstatus
#define PQtransactionStatus  lazy_PQtransactionStatus

struct pg_target {
	struct ns_target base; /* url: the URI without its password */
	PGconn *conn;
	char *conninfo;	  /* the URI as configured, with its bounds */
	char *site;	  /* the site whose lock the session holds, or NULL */
	int reconnecting; /* taking the lock again: no second try */
};

#define CONN(t) (((struct pg_target *)(t))->conn)

/* libpq prints notices on stderr unless told otherwise; the engine never
 * prints */
static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* a lost connection, a full disk, a shutdown or a deadlock is the
 * environment's fault, not the enhancement's */
static int pg_code(PGconn *conn, const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(conn) != CONNECTION_OK || !st)
		return NS_ERROR;
	if (!strncmp(st, "08", 2) || !strncmp(st, "53", 2) ||
	    !strncmp(st, "57", 2) || !strncmp(st, "58", 2) ||
	    !strcmp(st, "40P01") || !strcmp(st, "55P03") ||
	    !strncmp(st, "XX", 2))
		return NS_ERROR;
	return NS_EFAILED;
}

/* libpq's message about a connection on one line, its lines joined by
 * "; " and without the indented hints: "FATAL:  terminating connection
 * …\nserver closed the connection unexpectedly\n\tThis probably means
 * …\n" → "FATAL: terminating connection …; server closed the connection
 * unexpectedly" */
static char *conn_message(PGconn *conn)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = PQerrorMessage(conn), *end;

	for (; *p; p = *end ? end + 1 : end) {
		end = p + strcspn(p, "\n");
		if (*p == ' ' || *p == '\t' || p == end)
			continue; /* a hint, or nothing */
		if (sb.len)
			strbuf_addstr(&sb, "; ");
		for (const char *c = p; c < end; c++)
			if (!(c > p && *c == ' ' && c[-1] == ' ') && *c != '\r')
				strbuf_addch(&sb, *c);
	}
	return strbuf_detach(&sb, NULL);
}

/* "ERROR 42P01 relation "x" does not exist" */
static char *pg_message(PGconn *conn, const PGresult *res)
{
	const char *sev, *st, *msg;
	char *s, *m, *nl;

	sev = res ? PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED)
		  : NULL;
	st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (!msg) { /* "FATAL: …" from the server, or libpq's own */
		s = conn_message(conn);
		if (strncmp(s, "FATAL:", 6) && strncmp(s, "PANIC:", 6) &&
		    strncmp(s, "ERROR:", 6)) {
			m = xprintf("ERROR %s", s);
			free(s);
			s = m;
		}
		return s;
	}
	s = xprintf("%s %s %s", sev ? sev : "ERROR", st ? st : "?????", msg);
	if ((nl = strchr(s, '\n')) && !nl[1])
		*nl = '\0';
	return s;
}

static int exec1(PGconn *conn, const char *sql, const char *what)
{
	PGresult *res;
	char *m;
	int ret = 0;

	if (ns_step(what) < 0) {
		ns_error_set("%s: %s", what, strerror(errno));
		return NS_ERROR;
	}
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		m = pg_message(conn, res);
		ns_error_set("%s: %s", what, m);
		free(m);
		ret = pg_code(conn, res);
	}
	PQclear(res);
	return ret;
}

static void roll_back_tx(PGconn *conn)
{
	if (PQstatus(conn) == CONNECTION_OK &&
	    PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
}

/* ---- statements --------------------------------------------------------- */

static size_t dollar_tag(const char *p)
{
	size_t n = 1;

	if (p[0] != '$')
		return 0;
	if (p[1] >= '0' && p[1] <= '9')
		return 0; /* $1 is a parameter */
	while (p[n] == '_' || (p[n] >= 'a' && p[n] <= 'z') ||
	       (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' && p[n] <= '9') ||
	       (unsigned char)p[n] >= 0x80)
		n++;
	return p[n] == '$' ? n + 1 : 0;
}

static const char *skip_quoted(const char *p, char q, int backslash)
{
	for (p++; *p; p++) {
		if (backslash && *p == '\\' && p[1])
			p++;
		else if (*p == q && p[1] == q)
			p++;
		else if (*p == q)
			return p + 1;
	}
	return p;
}

/* past the statement that starts at p: at its ';' or the end */
static const char *statement_end(const char *p)
{
	int depth;
	size_t tag;
	const char *e;

	while (*p && *p != ';') {
		if (p[0] == '-' && p[1] == '-') {
			p += strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			for (depth = 1, p += 2; *p && depth; p++) {
				if (p[0] == '/' && p[1] == '*')
					depth++, p++;
				else if (p[0] == '*' && p[1] == '/')
					depth--, p++;
			}
		} else if (*p == '\'') {
			p = skip_quoted(p, '\'', 0);
		} else if ((*p == 'E' || *p == 'e') && p[1] == '\'') {
			p = skip_quoted(p + 1, '\'', 1);
		} else if (*p == '"') {
			p = skip_quoted(p, '"', 0);
		} else if ((tag = dollar_tag(p)) > 0) {
			for (e = p + tag; *e && strncmp(e, p, tag); e++)
				;
			p = *e ? e + tag : e;
		} else {
			p++;
		}
	}
	return p;
}

/* the statement for a message: its first 80 bytes on one line, each run
 * of white space one blank */
static char *excerpt(const char *begin, size_t n)
{
	char *s = xstrndup(begin, n > 80 ? 80 : n), *w = s;

	for (const char *c = s; *c; c++) {
		if (strchr(" \n\r\t", *c)) {
			if (w > s && w[-1] == ' ')
				continue;
			*w++ = ' ';
		} else {
			*w++ = *c;
		}
	}
	*w = '\0';
	return s;
}

/* the server's error position counts characters from 1; the line is the
 * statement's line plus the newlines before that character */
static const char *error_at(const PGresult *res, const char *stmt)
{
	const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	long chars = pos ? strtol(pos, NULL, 10) : 0;
	const char *p = stmt;

	while (*p && chars > 1) {
		p++;
		if (((unsigned char)*p & 0xc0) != 0x80)
			chars--;
	}
	return p;
}

static int falsy(const PGresult *res)
{
	const char *v;
	char *end;
	double d;

	if (PQntuples(res) < 1 || PQnfields(res) < 1)
		return 0;
	if (PQgetisnull(res, 0, 0))
		return 1;
	v = PQgetvalue(res, 0, 0);
	if (!strcmp(v, "f") || !strcasecmp(v, "false"))
		return 1;
	d = strtod(v, &end);
	return end != v && !*end && d == 0.0;
}

static void end_copy(PGconn *conn, ExecStatusType st)
{
	PGresult *r;
	char *buf;

	if (st == PGRES_COPY_IN)
		PQputCopyEnd(conn, "not supported by nightshift");
	else
		while (PQgetCopyData(conn, &buf, 0) > 0)
			PQfreemem(buf);
	while ((r = PQgetResult(conn)))
		PQclear(r);
}

static int run_one(PGconn *conn, const char *name, const char *script,
		   const char *begin, size_t len, int is_verify)
{
	char *stmt = xstrndup(begin, len), *text = excerpt(begin, len), *m;
	PGresult *res;
	int ret = 0;

	if (ns_step("sql") < 0) {
		ns_error_set("%s: %s", name, strerror(errno));
		ret = NS_ERROR;
		goto done;
	}
	res = PQexec(conn, stmt);
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
		if (is_verify && falsy(res)) {
			ns_error_set("%s:%d: verification returned false (%s)",
				     name, ns_sql_line(script, begin), text);
			ret = NS_EFAILED;
		}
		break;
	case PGRES_COMMAND_OK:
	case PGRES_EMPTY_QUERY:
		break;
	case PGRES_COPY_IN:
	case PGRES_COPY_OUT:
		/* a script has no data stream beside it: end the copy, so
		 * that the session is usable again, and refuse */
		ns_error_set("%s:%d: COPY FROM STDIN and TO STDOUT cannot run "
			     "in a script; use INSERT or SELECT (%s)",
			     name, ns_sql_line(script, begin), text);
		ret = NS_EFAILED;
		end_copy(conn, PQresultStatus(res));
		break;
	default:
		m = pg_message(conn, res);
		ns_error_set("%s:%d: %s (%s)", name,
			     ns_sql_line(script, begin) +
				     ns_sql_line(stmt, error_at(res, stmt)) - 1,
			     m, text);
		free(m);
		ret = pg_code(conn, res);
	}
	PQclear(res);
done:
	free(stmt);
	free(text);
	return ret;
}

static int run_script(PGconn *conn, const char *name, const char *sql)
{
	int is_verify = !strcmp(name, "sql/verify.sql"), ret;
	const char *p = sql, *begin, *end;

	while (*(begin = ns_sql_skip_blank(p))) {
		end = statement_end(begin);
		if (end > begin &&
		    (ret = run_one(conn, name, sql, begin,
				   (size_t)(end - begin), is_verify)) < 0)
			return ret;
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* ---- the interface ------------------------------------------------------ */

static int reconnect(struct ns_target *t);

/* the session is gone: libpq noticed when a statement could not be sent
 * or its answer did not come */
static int lost(struct ns_target *t)
{
	return PQstatus(CONN(t)) != CONNECTION_OK;
}

static int query_bool(struct ns_target *t, const char *sql, int nparams,
		      const char *const *params, int *out)
{
	PGconn *conn = CONN(t);
	PGresult *res;
	char *m;
	int ret;

	/* a connection lost (at COMMIT, say) is worth one new try: the
	 * answer decides which side of the commit point the run is on */
	for (int again = !((struct pg_target *)t)->reconnecting;; again = 0) {
		res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL,
				   0);
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			break;
		if (again && lost(t)) {
			PQclear(res);
			if ((ret = reconnect(t)) < 0)
				return ret;
			continue;
		}
		m = pg_message(conn, res);
		ns_error_set("%s: %s", t->url, m);
		free(m);
		PQclear(res);
		return NS_ERROR;
	}
	*out = PQntuples(res) > 0 && !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	return 0;
}

static int has_table(struct ns_target *t, int *out)
{
	return query_bool(t,
			  "SELECT to_regclass('nightshift_changes') IS NOT "
			  "NULL",
			  0, NULL, out);
}

static int row_exists(struct ns_target *t, const char *enh, int rev, int *out)
{
	char revs[16];
	const char *params[] = { enh, revs };
	int ret, has;

	if ((ret = has_table(t, &has)) < 0)
		return ret;
	*out = 0;
	if (!has)
		return 0;
	snprintf(revs, sizeof(revs), "%d", rev);
	return query_bool(t,
			  "SELECT EXISTS (SELECT 1 FROM nightshift_changes "
			  "WHERE enhancement = $1 AND revision = $2::int)",
			  2, params, out);
}

static int insert_row(PGconn *conn, const struct ns_change_row *row)
{
	char revs[16];
	const char *params[] = { row->enhancement, revs, row->payload_sha256,
				 row->deployed_at, row->deployed_by };
	PGresult *res;
	char *m;
	int ret = 0;

	if (ns_step("sql") < 0) {
		ns_error_set("nightshift_changes: %s", strerror(errno));
		return NS_ERROR;
	}
	snprintf(revs, sizeof(revs), "%d", row->revision);
	res = PQexecParams(conn,
			   "INSERT INTO nightshift_changes(enhancement, "
			   "revision, payload_sha256, deployed_at, "
			   "deployed_by) VALUES ($1, $2::int, $3, $4, $5)",
			   5, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		m = pg_message(conn, res);
		ns_error_set("nightshift_changes: cannot record %s r%d: %s",
			     row->enhancement, row->revision, m);
		free(m);
		ret = pg_code(conn, res);
	}
	PQclear(res);
	return ret;
}

/* did the statement whose message is the last one give up waiting for a
 * lock (lock_timeout)? */
static int gave_up_waiting(void)
{
	return strstr(ns_error_last(), " 55P03 ") != NULL;
}

static int deploy(struct ns_target *t, const char *deploy_sql,
		  const char *verify_sql, const struct ns_change_row *row)
{
	PGconn *conn = CONN(t);
	int r;

	if ((r = exec1(conn, "BEGIN", "BEGIN")) < 0)
		return r;
	r = exec1(conn, NS_CHANGES_TABLE, "nightshift_changes");
	if (!r && deploy_sql)
		r = run_script(conn, "sql/deploy.sql", deploy_sql);
	if (!r && verify_sql)
		r = run_script(conn, "sql/verify.sql", verify_sql);
	if (!r)
		r = insert_row(conn, row);
	if (!r && (r = exec1(conn, "COMMIT", "COMMIT")) < 0 && lost(t))
		t->commit_unknown = 1;
	if (r < 0) {
		roll_back_tx(conn);
		ns_target_note_locks(t, gave_up_waiting());
	}
	return r;
}

static int revert_tx(struct ns_target *t, const char *revert_sql,
		     const char *enh, int rev, int drop_table)
{
	PGconn *conn = CONN(t);
	char revs[16];
	const char *params[] = { enh, revs };
	PGresult *res;
	char *m;
	int r;

	/* putting back waits as long as the URI lets it */
	PQclear(PQexec(conn, "RESET lock_timeout"));
	if ((r = exec1(conn, "BEGIN", "BEGIN")) < 0)
		return r;
	if (revert_sql)
		r = run_script(conn, "sql/revert.sql", revert_sql);
	if (!r && ns_step("sql") < 0) {
		ns_error_set("nightshift_changes: %s", strerror(errno));
		r = NS_ERROR;
	}
	if (!r) {
		snprintf(revs, sizeof(revs), "%d", rev);
		res = PQexecParams(conn,
				   "DELETE FROM nightshift_changes WHERE "
				   "enhancement = $1 AND revision = $2::int",
				   2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			m = pg_message(conn, res);
			ns_error_set("nightshift_changes: %s", m);
			free(m);
			r = pg_code(conn, res);
		}
		PQclear(res);
	}
	/* a table nightshift created for this run goes with it, so the
	 * database is exactly as before */
	if (!r && drop_table)
		r = exec1(conn, "DROP TABLE IF EXISTS nightshift_changes",
			  "nightshift_changes");
	if (!r)
		r = exec1(conn, "COMMIT", "COMMIT");
	if (r < 0)
		roll_back_tx(conn);
	return r;
}

/* a session lost before or during the revert: in a new one, the revert
 * runs again unless its transaction committed (the row is gone) */
static int revert(struct ns_target *t, const char *revert_sql, const char *enh,
		  int rev, int drop_table)
{
	int r = lost(t) ? reconnect(t) : 0, row;

	if (!r)
		r = revert_tx(t, revert_sql, enh, rev, drop_table);
	if (r < 0 && lost(t)) {
		if ((r = reconnect(t)) < 0 ||
		    (r = row_exists(t, enh, rev, &row)) < 0)
			return r;
		r = row ? revert_tx(t, revert_sql, enh, rev, drop_table) : 0;
	}
	return r;
}

static int backup(struct ns_target *t, const char *dest)
{
	ns_error_set("%s: a PostgreSQL database is archived with pg_dump, "
		     "not copied to '%s'",
		     t->url, dest);
	return NS_ERROR;
}

/* the key: the first 63 bits of SHA-256("nightshift site " NAME) */
static int lock(struct ns_target *t, const char *name)
{
	char hex[NS_HEX_LEN + 1], key[24],
		*s = xprintf("nightshift site %s", name);
	const char *params[] = { key };
	unsigned long long k;
	int got, ret;

	ns_sha256_buf(hex, s, strlen(s));
	free(s);
	hex[16] = '\0';
	k = strtoull(hex, NULL, 16) & 0x7fffffffffffffffULL;
	snprintf(key, sizeof(key), "%llu", k);
	/* a session of a nightshift killed a moment ago may still be
	 * ending on the server: wait a little, not for a whole migration */
	PQclear(PQexec(CONN(t), "SET lock_timeout = '3s'"));
	ret = query_bool(t, "SELECT pg_advisory_lock($1::bigint) IS NULL", 1,
			 params, &got);
	PQclear(PQexec(CONN(t), "RESET lock_timeout"));
	if (ret < 0 && strstr(ns_error_last(), " 55P03 ")) {
		ns_error_set("%s: site %s is locked by another nightshift "
			     "(pg_advisory_lock %s is held)",
			     t->url, name, key);
		return NS_ELOCKED;
	}
	if (!ret && name != ((struct pg_target *)t)->site) {
		free(((struct pg_target *)t)->site);
		((struct pg_target *)t)->site = xstrdup(name);
	}
	return ret;
}

static int reconnect(struct ns_target *t)
{
	struct pg_target *p = (struct pg_target *)t;
	char *m, *was = conn_message(p->conn);
	int ret = 0;

	if (!*was) {
		free(was);
		was = xstrdup("no answer");
	}
	PQreset(p->conn);
	if (PQstatus(p->conn) != CONNECTION_OK) {
		m = conn_message(p->conn);
		ns_error_set("%s: the connection was lost (%s) and cannot be "
			     "made again: %s",
			     t->url, was, m);
		free(m);
		ret = NS_ERROR;
	} else {
		PQclear(PQexec(p->conn, "SET client_min_messages = warning"));
		p->reconnecting = 1;
		if (p->site && (ret = lock(t, p->site)) < 0) {
			m = xstrdup(ns_error_last());
			ns_error_set("the connection was lost (%s), and in a "
				     "new one %s",
				     was, m);
			free(m);
		}
		p->reconnecting = 0;
	}
	free(was);
	return ret;
}

static void pg_free(struct ns_target *t)
{
	PQfinish(CONN(t));
	free(((struct pg_target *)t)->conninfo);
	free(((struct pg_target *)t)->site);
	free(t->url);
	free(t);
}

/* the session's lock_timeout ("1s"), or NULL when it has none (0) */
static char *session_lock_timeout(PGconn *conn)
{
	PGresult *res = PQexec(conn, "SHOW lock_timeout");
	char *v = NULL;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "0"))
		v = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* lock_timeout for the deploy: the environment's lock-timeout when it
 * says one, else the URI's own lock_timeout when it has one (noted
 * here), else the default */
static int bound_locks(struct ns_target *t, long long ms, int set)
{
	PGconn *conn = CONN(t);
	PGresult *res;
	char *sql, *m;
	int ret = 0;

	if (!set && (m = session_lock_timeout(conn))) {
		t->locks_note = xprintf("the lock_timeout = %s of its URI", m);
		free(m);
		return 0;
	}
	sql = xprintf("SET lock_timeout = %lld", ms < 0 ? 0 : ms);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		m = pg_message(conn, res);
		ns_error_set("%s: lock-timeout: %s", t->url, m);
		free(m);
		ret = NS_ERROR;
	}
	PQclear(res);
	free(sql);
	return ret;
}

/* the URI with its password, in user:password@ or a password=
 * parameter, replaced by with; with NULL: left out */
static char *mask(const char *url, const char *with)
{
	struct strbuf sb = STRBUF_INIT;
	const char *auth = strstr(url, "://"), *at, *colon, *p, *end;

	auth = auth ? auth + 3 : url;
	at = strchr(auth, '@');
	colon = strchr(auth, ':');
	if (at && colon && colon < at &&
	    !memchr(auth, '/', (size_t)(at - auth))) {
		strbuf_add(&sb, url, (size_t)(colon - url));
		if (with) {
			strbuf_addch(&sb, ':');
			strbuf_addstr(&sb, with);
		}
		url = at;
	}
	while ((p = strstr(url, "password="))) {
		end = p + 9 + strcspn(p + 9, "&");
		if (with || (p[-1] != '?' && p[-1] != '&')) {
			/* masked: any value after "password=" */
			strbuf_add(&sb, url, (size_t)(p + 9 - url));
			strbuf_addstr(&sb, with ? with : "");
			url = end;
		} else if (*end) { /* "?password=x&a" → "?a" */
			strbuf_add(&sb, url, (size_t)(p - url));
			url = end + 1;
		} else { /* "?a&password=x" → "?a"; "?password=x" → "" */
			strbuf_add(&sb, url, (size_t)(p - 1 - url));
			url = end;
		}
	}
	strbuf_addstr(&sb, url);
	return strbuf_detach(&sb, NULL);
}

/* the URI for messages: a password replaced by *** */
static char *redact(const char *url)
{
	return mask(url, "***");
}

/* the URI's query sets parameter name (a whole "name=", not one that
 * ends in it) */
static bool has_param(const char *url, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = strchr(url, '?'); p; p = strchr(p + 1, '&'))
		if (!strncmp(p + 1, name, n) && p[1 + n] == '=')
			return true;
	return false;
}

char *ns_target_pg_conninfo(const char *url)
{
	static const struct {
		const char *name;
		int value;
	} bounds[] = {
		{ "connect_timeout", NS_PG_CONNECT_TIMEOUT_S },
		{ "keepalives_idle", NS_PG_KEEPALIVES_IDLE_S },
		{ "keepalives_interval", NS_PG_KEEPALIVES_INTERVAL_S },
		{ "keepalives_count", NS_PG_KEEPALIVES_COUNT },
		{ "tcp_user_timeout", NS_PG_TCP_USER_TIMEOUT_MS },
	};
	const char *q = strchr(url, '?');
	struct strbuf sb = STRBUF_INIT;
	char sep = !q ? '?' : q[1] ? '&' : '\0';

	strbuf_addstr(&sb, url);
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		if (has_param(url, bounds[i].name))
			continue;
		if (sep)
			strbuf_addch(&sb, sep);
		strbuf_addf(&sb, "%s=%d", bounds[i].name, bounds[i].value);
		sep = '&';
	}
	return strbuf_detach(&sb, NULL);
}

char *ns_target_url_public(const char *url)
{
	if (strncmp(url, "postgresql://", 13) &&
	    strncmp(url, "postgres://", 11))
		return xstrdup(url);
	return mask(url, NULL);
}

/* ---- pg_dump into the archive ------------------------------------------ */

static int fsync_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0 || fsync(fd) < 0) {
		ns_error_set("cannot fsync '%s': %s", path, strerror(errno));
		ret = NS_ERROR;
	}
	if (fd >= 0 && close(fd) < 0 && !ret) {
		ns_error_set("cannot close '%s': %s", path, strerror(errno));
		ret = NS_ERROR;
	}
	return ret;
}

/* pg_dump or pg_restore: on PATH, else the newest server version's */
static char *find_tool(const char *name)
{
	const char *path = getenv("PATH");
	char *best = NULL, *p;
	glob_t g;

	while (path && *path) {
		size_t n = strcspn(path, ":");
		p = xprintf("%.*s/%s", (int)n, n ? path : ".", name);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
		path += n + (path[n] == ':');
	}
	p = xprintf("/usr/lib/postgresql/*/bin/%s", name);
	if (glob(p, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			if (access(g.gl_pathv[i], X_OK) == 0 &&
			    (!best || strverscmp(g.gl_pathv[i], best) > 0))
				best = g.gl_pathv[i];
		best = best ? xstrdup(best) : NULL;
		globfree(&g);
	}
	free(p);
	return best;
}

/* the existing tables among the names, as pg_dump -t patterns */
static int existing_tables(struct ns_target *t, char **names, char ***out,
			   size_t *nr)
{
	size_t alloc = 0;

	*out = NULL;
	*nr = 0;
	for (char **n = names; *n; n++) {
		const char *params[] = { *n };
		PGresult *res = PQexecParams(
			CONN(t),
			"SELECT format('%I.%I', ns.nspname, c.relname) FROM "
			"pg_class c JOIN pg_namespace ns ON ns.oid = "
			"c.relnamespace WHERE c.oid = to_regclass($1) AND "
			"c.relkind IN ('r', 'p')",
			1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) == PGRES_TUPLES_OK &&
		    PQntuples(res) == 1) {
			ALLOC_GROW(*out, *nr, alloc);
			(*out)[(*nr)++] = xstrdup(PQgetvalue(res, 0, 0));
		}
		PQclear(res);
		if (PQstatus(CONN(t)) != CONNECTION_OK) {
			ns_error_set("%s: %s", t->url, PQerrorMessage(CONN(t)));
			return NS_ERROR;
		}
	}
	return 0;
}

/* what: what the tool works on, for the message */
/* "--dbname=URI" for a client tool: the URI without its password, which
 * goes in the tool's environment (PGPASSWORD) instead, out of the command
 * line that every local user may read in /proc */
static char *dbname_option(struct ns_target *t)
{
	char *pub = ns_target_url_public(((struct pg_target *)t)->conninfo);
	char *opt = xprintf("--dbname=%s", pub);

	free(pub);
	return opt;
}

/* the environment of a client tool: ours, and PGPASSWORD with the
 * password the session logged in with (if any); caller frees envp[0..] up
 * to the one it added, then envp */
static char **tool_env(struct ns_target *t, char **added)
{
	extern char **environ;
	const char *pw = PQpass(CONN(t));
	size_t n = 0, k = 0;
	char **envp;

	while (environ[n])
		n++;
	envp = xcalloc(n + 2, sizeof(*envp));
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "PGPASSWORD=", 11))
			envp[k++] = environ[i];
	*added = pw && *pw ? xprintf("PGPASSWORD=%s", pw) : NULL;
	if (*added)
		envp[k++] = *added;
	return envp;
}

static int run_tool(struct ns_target *t, const char *tool, char **argv,
		    const char *log, const char *what)
{
	char *added, **envp = tool_env(t, &added);
	pid_t pid;
	int status, fd;

	/* made before the fork: the child only opens, dups and execs */
	pid = fork();
	if (pid != 0) {
		if (added) /* the password does not linger in our memory */
			explicit_bzero(added, strlen(added));
		free(added);
		free(envp);
	}
	if (pid < 0) {
		ns_error_set("cannot start %s: %s", tool, strerror(errno));
		return NS_ERROR;
	}
	if (pid == 0) {
		/* a nightshift killed mid-restore must not leave its
		 * pg_restore racing the recovery's own */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execve(tool, argv, envp);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			ns_error_set("%s: %s", tool, strerror(errno));
			return NS_ERROR;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	ns_error_set("%s of %s failed (%s %d); its output is in %s", tool, what,
		     WIFEXITED(status) ? "exit" : "signal",
		     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		     log);
	return NS_ERROR;
}

/* "--lock-wait-timeout=T" when the session has a lock_timeout T (the
 * environment's lock-timeout, or the URI's options): pg_dump turns lock_timeout
 * off for itself, and would wait without limit for a table someone else holds;
 * else NULL */
static char *lock_wait_option(struct ns_target *t)
{
	char *v = session_lock_timeout(CONN(t)), *opt;

	if (!v)
		return NULL;
	opt = xprintf("--lock-wait-timeout=%s", v);
	free(v);
	return opt;
}

static int dump(struct ns_target *t, const char *deploy_sql, const char *dir)
{
	char **names = NULL, **tables = NULL, **argv = NULL;
	char *tool = NULL, *dest = xprintf("%s/database.pgdump", dir);
	char *log = xprintf("%s/pg_dump.log", dir), *file = NULL, *db = NULL;
	char *wait = NULL;
	size_t nt = 0, argc = 0;
	int ret;

	ns_sql_objects(&names, NULL, deploy_sql);
	if ((ret = existing_tables(t, names, &tables, &nt)) < 0 || !nt)
		goto done;
	if (!(tool = find_tool("pg_dump"))) {
		ns_error_set("archive-dump: no pg_dump on PATH nor in "
			     "/usr/lib/postgresql/*/bin (Debian: "
			     "postgresql-client)");
		ret = NS_ERROR;
		goto done;
	}
	file = xprintf("--file=%s", dest);
	db = dbname_option(t);
	argv = xcalloc(2 * nt + 7, sizeof(*argv));
	argv[argc++] = tool;
	argv[argc++] = "--format=custom";
	argv[argc++] = file;
	argv[argc++] = db;
	if ((wait = lock_wait_option(t)))
		argv[argc++] = wait;
	for (size_t i = 0; i < nt; i++) {
		argv[argc++] = "--table";
		argv[argc++] = tables[i];
	}
	if (ns_step("pg_dump") < 0) {
		ns_error_set("cannot archive the database into '%s': %s", dest,
			     strerror(errno));
		ret = NS_ERROR;
		goto done;
	}
	ret = run_tool(t, tool, argv, log, "the touched tables");
	if (!ret)
		ret = fsync_file(dest);
	if (!ret)
		ret = fsync_file(dir);
done:
	ns_sql_objects_free(names);
	for (size_t i = 0; i < nt; i++)
		free(tables[i]);
	free(tables);
	free(argv);
	free(tool);
	free(file);
	free(db);
	free(wait);
	free(dest);
	free(log);
	return ret;
}

/* ---- transaction = none ------------------------------------------------- */

/* the deploy statements in autocommit, each committed on its own; then
 * the verify script and the row in one transaction, the commit point */
static int deploy_none(struct ns_target *t, const char *deploy_sql,
		       const char *verify_sql, const struct ns_change_row *row)
{
	PGconn *conn = CONN(t);
	int r = 0;

	if (deploy_sql &&
	    (r = run_script(conn, "sql/deploy.sql", deploy_sql)) < 0)
		ns_target_note_locks(t, gave_up_waiting());
	if (!r && PQtransactionStatus(conn) != PQTRANS_IDLE) {
		ns_error_set("sql/deploy.sql: leaves a transaction open (a "
			     "BEGIN without its COMMIT)");
		roll_back_tx(conn);
		r = NS_EFAILED;
	}
	if (!r)
		r = deploy(t, NULL, verify_sql, row);
	return r;
}

/* every statement, whatever became of the ones before: a failure is
 * written to the log and the next one runs; only a lost connection stops */
static int run_script_each(PGconn *conn, const char *name, const char *sql,
			   const char *log, int *failed)
{
	const char *p = sql, *begin, *end;
	FILE *f = NULL;
	int ret = 0, r;

	while (!ret && *(begin = ns_sql_skip_blank(p))) {
		end = statement_end(begin);
		r = end > begin ? run_one(conn, name, sql, begin,
					  (size_t)(end - begin), 0)
				: 0;
		p = *end ? end + 1 : end;
		if (r == 0)
			continue;
		/* the environment's fault (a lost connection, a full disk)
		 * stops the rollback; the statement's own error does not */
		if (r != NS_EFAILED || PQstatus(conn) != CONNECTION_OK)
			return r;
		(*failed)++;
		if (!f && !(f = fopen(log, "ae"))) {
			ns_error_set("cannot write '%s': %s", log,
				     strerror(errno));
			return NS_ERROR;
		}
		fprintf(f, "%s\n", ns_error_last());
		roll_back_tx(conn); /* a statement of a BEGIN … COMMIT */
	}
	if (f && fclose(f) != 0) {
		ns_error_set("cannot write '%s': %s", log, strerror(errno));
		ret = NS_ERROR;
	}
	return ret;
}

static int restore_dump(struct ns_target *t, const char *dump, const char *dir)
{
	char *tool = find_tool("pg_restore"), *argv[8];
	char *db = dbname_option(t);
	char *log = xprintf("%s/pg_restore.log", dir);
	int ret;

	if (!tool) {
		ns_error_set("%s: no pg_restore on PATH nor in "
			     "/usr/lib/postgresql/*/bin (Debian: "
			     "postgresql-client)",
			     dump);
		ret = NS_ERROR;
		goto done;
	}
	argv[0] = tool;
	argv[1] = "--clean";
	argv[2] = "--if-exists";
	argv[3] = "--single-transaction";
	argv[4] = "--exit-on-error";
	argv[5] = db;
	argv[6] = (char *)dump;
	argv[7] = NULL;
	if (ns_step("pg_restore") < 0) {
		ns_error_set("cannot restore '%s': %s", dump, strerror(errno));
		ret = NS_ERROR;
		goto done;
	}
	ret = run_tool(t, tool, argv, log, "the archived tables");
done:
	free(tool);
	free(db);
	free(log);
	return ret;
}

static int revert_each(struct ns_target *t, const char *revert_sql,
		       const char *dir, const char *enh, int rev,
		       int drop_table, int *failed)
{
	PGconn *conn = CONN(t);
	char *log = xprintf("%s/revert.log", dir);
	char *dump = xprintf("%s/database.pgdump", dir);
	int r = 0, has = 0;

	*failed = 0;
	roll_back_tx(conn); /* what a failure before left open */
	PQclear(PQexec(conn, "RESET lock_timeout"));
	if (revert_sql)
		r = run_script_each(conn, "sql/revert.sql", revert_sql, log,
				    failed);
	/* no dump: none of the tables the deploy names existed before it */
	if (!r && access(dump, F_OK) == 0)
		r = restore_dump(t, dump, dir);
	/* the row last: until it is gone, a crash rolls back again (the
	 * table is missing when the deploy stopped before creating it) */
	if (!r)
		r = has_table(t, &has);
	if (!r && has)
		r = revert(t, NULL, enh, rev, drop_table);
	free(log);
	free(dump);
	return r;
}

/* a session lost before or during it: all of it again in a new one, as a
 * recovery would (the row goes last) */
static int revert_none(struct ns_target *t, const char *revert_sql,
		       const char *dir, const char *enh, int rev,
		       int drop_table, int *failed)
{
	int r = lost(t) ? reconnect(t) : 0;

	if (!r)
		r = revert_each(t, revert_sql, dir, enh, rev, drop_table,
				failed);
	if (r < 0 && lost(t) && (r = reconnect(t)) == 0)
		r = revert_each(t, revert_sql, dir, enh, rev, drop_table,
				failed);
	return r;
}

static const struct ns_target_ops pg_ops = {
	.has_table = has_table,
	.row_exists = row_exists,
	.deploy = deploy,
	.revert = revert,
	.backup = backup,
	.free = pg_free,
	.lock = lock,
	.dump = dump,
	.deploy_none = deploy_none,
	.revert_none = revert_none,
	.bound_locks = bound_locks,
};

int ns_target_pg_open(struct ns_target **out, const char *url)
{
	struct pg_target *p;
	PGconn *conn;
	char *m, *s, *conninfo;

	if (pq_load() < 0)
		return NS_ERROR;
	conninfo = ns_target_pg_conninfo(url);
	conn = PQconnectdb(conninfo);
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		m = xstrdup(conn ? PQerrorMessage(conn) : "out of memory");
		m[strcspn(m, "\n")] = '\0';
		s = redact(url);
		ns_error_set("cannot connect to target database '%s': %s", s,
			     m);
		free(s);
		free(m);
		free(conninfo);
		PQfinish(conn);
		return NS_ERROR;
	}
	PQsetNoticeProcessor(conn, quiet, NULL);
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	p = xcalloc(1, sizeof(*p));
	p->base.ops = &pg_ops;
	p->base.url = redact(url);
	p->conninfo = conninfo;
	p->conn = conn;
	*out = &p->base;
	return 0;
}
