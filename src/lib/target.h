/*
 * target — a site's database, behind one interface.
 *
 * The migration's commit point lives here: ns_target_deploy() runs, in ONE
 * transaction, the deploy script, the verify script and the insert of the
 * enhancement's row into nightshift_changes; its COMMIT is the moment the
 * enhancement is in. ns_target_revert() runs the revert script and deletes
 * the row in one transaction. Whether the row exists is what recovery asks
 * to learn which side of the commit point a crashed migration was on.
 *
 * With transaction = none (PostgreSQL only) ns_target_ops.deploy_none runs
 * the deploy statements one by one in autocommit, each committed on its
 * own, and then the verify script and the row in one transaction whose
 * COMMIT is still the commit point; revert_none undoes whatever part of
 * it happened: the revert statements one by one outside a transaction (a
 * failing one is written to DIR/revert.log and the next one runs: the
 * deploy may not have got that far), then the tables of DIR/database.pgdump
 * restored with pg_restore --clean --if-exists --single-transaction, then
 * the row deleted. Both are NULL for SQLite, which refuses the mode.
 *
 * Scripts run statement by statement (each one an ns_step) so that a
 * failure names "SCRIPT:LINE: message (statement)". A verify script fails
 * when a statement fails or when a statement's first row has a first
 * column that is NULL, 0 or false.
 *
 * Drivers: sqlite:PATH (target-sqlite.c); postgresql://… and postgres://…,
 * libpq connection URIs (target-pg.c).
 *
 * Lock waits: a deploy gives up, a putting back does not. After
 * ns_target_bound_locks() the deploy and verify SQL, and the archive's
 * copy or dump of the database, wait at most the environment's
 * lock-timeout for a lock another session holds (PostgreSQL lock_timeout,
 * SQLite's busy timeout), and the message of a statement that gave up
 * says which setting it was. A revert, and whatever recovery or a backout
 * asks, waits as long as it takes (PostgreSQL: as long as the URI's own
 * lock_timeout lets it, none by default).
 *
 * ns_target_lock() takes a lock on the database itself, held until the
 * target is freed, for the site NAME: PostgreSQL's pg_advisory_lock, which
 * a second nightshift on another machine would meet (NS_ELOCKED). A SQLite
 * file has no lock of its own beyond the environment's lock file.
 */
#ifndef NS_TARGET_H
#define NS_TARGET_H

struct ns_target;

/* the table both drivers create, in the deploy's transaction, when it is
 * missing: one SQL text that SQLite and PostgreSQL read alike */
#define NS_CHANGES_TABLE                                                       \
	"CREATE TABLE IF NOT EXISTS nightshift_changes("                       \
	"enhancement TEXT NOT NULL, revision INTEGER NOT NULL, "               \
	"payload_sha256 TEXT NOT NULL, deployed_at TEXT NOT NULL, "            \
	"deployed_by TEXT NOT NULL, PRIMARY KEY (enhancement, revision))"

struct ns_change_row {
	const char *enhancement; /* "ENH-1" */
	int revision;
	const char *payload_sha256;
	const char *deployed_at;
	const char *deployed_by;
};

struct ns_target_ops {
	int (*has_table)(struct ns_target *t, int *out);
	int (*row_exists)(struct ns_target *t, const char *enh, int rev,
			  int *out);
	int (*deploy)(struct ns_target *t, const char *deploy_sql,
		      const char *verify_sql, const struct ns_change_row *row);
	int (*revert)(struct ns_target *t, const char *revert_sql,
		      const char *enh, int rev, int drop_table);
	int (*backup)(struct ns_target *t, const char *dest);
	void (*free)(struct ns_target *t);
	int (*lock)(struct ns_target *t, const char *name); /* may be NULL */
	int (*dump)(struct ns_target *t, const char *deploy_sql,
		    const char *dir); /* may be NULL */
	int (*deploy_none)(struct ns_target *t, const char *deploy_sql,
			   const char *verify_sql,
			   const struct ns_change_row *row); /* may be NULL */
	/* *failed: how many revert statements failed */
	int (*revert_none)(struct ns_target *t, const char *revert_sql,
			   const char *dir, const char *enh, int rev,
			   int drop_table, int *failed); /* may be NULL */
	/* ns_target_bound_locks; sets locks_note for a bound of its own */
	int (*bound_locks)(struct ns_target *t, long long ms, int set);
};

struct ns_target {
	const struct ns_target_ops *ops;
	char *url;
	/* the bound of the deploy's lock waits, for messages ("lock-timeout
	 * = 60s of environment billing/model"); NULL: none */
	char *locks_note;
	/* the deploy's COMMIT was sent and its answer lost (the connection
	 * went with it): whether it committed only the database can tell */
	int commit_unknown;
};

/* NS_EINVALID for an unknown or unsupported scheme */
int ns_target_open(struct ns_target **out, const char *url);
void ns_target_free(struct ns_target *t);

/* NS_ELOCKED when another session holds the site's lock */
int ns_target_lock(struct ns_target *t, const char *name);

/* the deploy side's lock waits from now on: at most ms (-1: no limit);
 * set: the environment's lock-timeout says so, else ms is its default,
 * which a PostgreSQL URI's own lock_timeout overrides; env names the
 * environment for messages */
int ns_target_bound_locks(struct ns_target *t, long long ms, int set,
			  const char *env);
/* after a failed deploy: the message says which bound a statement that
 * gave up waiting for a lock met, if that is why it failed (gave_up) */
void ns_target_note_locks(struct ns_target *t, int gave_up);

/*
 * For the archive in dir, a copy for people of the tables the deploy
 * script names that exist now (environment key archive-dump):
 * PostgreSQL: DIR/database.pgdump, pg_dump's custom format, made with
 * the pg_dump found on PATH or else the newest of
 * /usr/lib/postgresql/VERSION/bin, its output in DIR/pg_dump.log; nothing
 * when no such table exists. SQLite: nothing, the archive holds the whole
 * database already.
 */
int ns_target_dump(struct ns_target *t, const char *deploy_sql,
		   const char *dir);

/* url without any password in it (what plan.json keeps): a PostgreSQL
 * URI's user:password@ and password= parameter are left out */
char *ns_target_url_public(const char *url);

/* what nightshift connects with to a PostgreSQL URI: the URI, with
 * bounds added for those it does not set itself, so that a server that
 * never answers or a connection that dies cannot hold a window:
 * - connect_timeout: a server that takes the connection and never
 *   answers (libpq's own default is to wait for ever);
 * - keepalives_idle, _interval, _count: a connection that went dead
 *   while a statement runs is noticed within about a minute, not after
 *   the kernel's two hours; a statement that merely runs long is not
 *   cut short (the server's kernel answers the probes);
 * - tcp_user_timeout: the same for data sent and never acknowledged.
 * pg_dump and pg_restore are given the same URI. */
#define NS_PG_CONNECT_TIMEOUT_S	    30
#define NS_PG_KEEPALIVES_IDLE_S	    30
#define NS_PG_KEEPALIVES_INTERVAL_S 10
#define NS_PG_KEEPALIVES_COUNT	    3
#define NS_PG_TCP_USER_TIMEOUT_MS   60000
char *ns_target_pg_conninfo(const char *url);

int ns_target_sqlite_open(struct ns_target **out, const char *path);
int ns_target_pg_open(struct ns_target **out, const char *url);

#endif
