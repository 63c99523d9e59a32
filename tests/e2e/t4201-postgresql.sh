#!/bin/bash
# PostgreSQL targets, against a real server started for the test: a
# migration's deploy SQL, verify SQL and nightshift_changes row commit
# together; a failing deploy (named SCRIPT:LINE: ERROR SQLSTATE … with
# its statement), a failing verify SQL and a failing verify command each
# leave files and database (canonical dump) byte-identical to before; a
# manual rollback puts the database back; two window runs at once: one
# exits 4; a session on "another machine" holding the site's
# pg_advisory_lock makes the run exit 4 and keeps the enhancement
# scheduled, which then migrates once the lock is free; a table held by
# another session: the deploy gives up after the environment's
# lock-timeout (the archive's pg_dump after the URI's lock_timeout),
# nothing changed, still scheduled; a rollback waits for it instead. The
# connection: TCP keepalives within a minute; lost after the commit point
# (the server restarted, the session ended), made again for the rollback,
# which holds the site's lock again first; the answer to the COMMIT lost
# (a relay, pgproxy.py): the run asks until the server answers and the
# files follow the database, or, with no answer, blocks with its journal
# kept for unblock and recover — at the first of two sites too, where
# recovery then backs the first out again (the second was not begun).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

pg_scene

n=0
pkg() { # DIR TITLE: replaces lib/tax.conf (tax = $TAX, 20), adds a column and a row
	make_pkg "$1" "$2"
	mkdir -p "$1/files/lib" "$1/sql"
	echo "tax = ${TAX:-20}" >"$1/files/lib/tax.conf"
	cat >"$1/sql/deploy.sql" <<'SQL'
ALTER TABLE customers ADD COLUMN tier text;
-- a semicolon inside quotes is no statement's end
INSERT INTO customers(id, name, tier) VALUES (3, $$c;y$$, 'gold');
SQL
	cat >"$1/sql/revert.sql" <<'SQL'
DELETE FROM customers WHERE id = 3;
ALTER TABLE customers DROP COLUMN tier;
SQL
	echo "SELECT count(*) FROM customers WHERE tier = 'gold';" >"$1/sql/verify.sql"
}
sql_pkg() { # DIR TITLE DEPLOY REVERT VERIFY [TX] → ENH-n submitted and scheduled
	pkg "$1" "$2"
	[ -z "${6:-}" ] || echo "transaction = $6" >>"$1/enhancement.ini"
	echo "$3" >"$1/sql/deploy.sql"
	echo "$4" >"$1/sql/revert.sql"
	echo "$5" >"$1/sql/verify.sql"
	n=$((n + 1))
	"$NS" submit "$1" >/dev/null 2>&1
	ns_ready "ENH-$n" >/dev/null 2>&1
}
run() { # PKGDIR → ENH-n submitted, approved, scheduled and run
	n=$((n + 1))
	"$NS" submit "$1" >/dev/null 2>&1 || echo "submit $1 failed"
	ns_ready "ENH-$n" >/dev/null 2>&1
	ns window run --now
}
expect_rollback() { # PKGDIR NAME MESSAGE-REGEX
	local before
	before=$(pg_site_state)
	run "$1"
	is "$rc" 1 "$2: exit 1"
	like "$err" "$3" "$2: the message names the cause"
	is "$(pg_site_state)" "$before" "$2: files and database byte-identical to before"
	is "$(state_of "ENH-$n")" rolled-back "$2: returned to the developer"
}

# ---- failures -----------------------------------------------------------
pkg "$T/p1" "deploy fails"
cat >"$T/p1/sql/deploy.sql" <<'SQL'
ALTER TABLE customers ADD COLUMN tier text;
UPDATE customers SET tier = 'x';
INSERT INTO
  nosuch VALUES (1);
SQL
expect_rollback "$T/p1" "a failing deploy" \
	'sql/deploy\.sql:4: ERROR 42P01 relation "nosuch" does not exist \(INSERT INTO nosuch VALUES \(1\)\)'

pkg "$T/p2" "verify SQL false"
echo "SELECT count(*) FROM customers WHERE tier = 'platinum';" >"$T/p2/sql/verify.sql"
expect_rollback "$T/p2" "a verify SQL returning 0" \
	'sql/verify\.sql:1: verification returned false'

pkg "$T/p2b" "copy from stdin"
cat >"$T/p2b/sql/deploy.sql" <<'SQL'
INSERT INTO customers VALUES (5, 'eve');
COPY customers FROM STDIN;
SQL
expect_rollback "$T/p2b" "COPY FROM STDIN in a script" \
	'sql/deploy\.sql:2: COPY FROM STDIN and TO STDOUT cannot run in a script'

# a value in a row, quoted by the server's error, with a terminal escape
# and a carriage return in it: the message shows them, it does not send
# them to the operator's terminal, the log or the mail
pg_q "CREATE TABLE labels(v text); INSERT INTO labels VALUES (E'\\x1b]0;owned\\x07\\r')"
pkg "$T/p2c" "a row the deploy cannot cast"
echo "ALTER TABLE labels ALTER COLUMN v TYPE integer USING v::integer;" >"$T/p2c/sql/deploy.sql"
echo "ALTER TABLE labels ALTER COLUMN v TYPE text;" >"$T/p2c/sql/revert.sql"
expect_rollback "$T/p2c" "a deploy failing on a row's value" \
	'invalid input syntax for type integer: "\\x1b\]0;owned\\x07\\x0d"'
is "$(printf '%s' "$err" | tr -cd '\033\r' | wc -c)" 0 "no escape or carriage return reaches the terminal"
is "$(cat "$T/home/outbox"/*.msg | tr -cd '\033\r' | wc -c) $(sqlite3 "$T/home/nightshift.db" \
	"SELECT count(*) FROM events WHERE instr(detail, char(27)) OR instr(detail, char(13))") $(sqlite3 \
	"$T/home/nightshift.db" "SELECT count(*) FROM run_sites WHERE instr(message, char(27))")" "0 0 0" \
	"nor the notices, the audit trail or the run's record"
like "$(sqlite3 "$T/home/nightshift.db" "SELECT message FROM run_sites ORDER BY rowid DESC LIMIT 1")" \
	'integer: "\\x1b\]0;owned\\x07\\x0d"' "the run's record shows them"
pg_q "DROP TABLE labels"

pkg "$T/p3" "verify command fails"
printf '[verify]\ncommand = grep -q "tax = 21" lib/tax.conf\n' >>"$T/p3/enhancement.ini"
expect_rollback "$T/p3" "a failing verify command (after the commit point)" \
	"verify command .* failed"
is "$(pg_q "SELECT to_regclass('nightshift_changes') IS NULL")" t \
	"no nightshift_changes table is left by the rolled-back runs (it did not exist before)"

# ---- success, then a manual rollback -------------------------------------
BEFORE=$(pg_site_state)
createdb -T app expect
psql -X -q -1 -v ON_ERROR_STOP=1 -d expect -f "$T/p3/sql/deploy.sql"
cp -a "$R" "$T/expect-root"
cp "$T/p3/files/lib/tax.conf" "$T/expect-root/lib/tax.conf"
pkg "$T/p4" "gold customers"
# its verify command looks at nightshift's connection to the server (the
# only one to this port then): TCP keepalive probes within a minute, so
# that a connection that dies while a statement runs cannot hold the
# window for the kernel's two hours
cat >"$T/sockets.sh" <<SH
#!/bin/sh
ss -tnoH state established "( dport = :$PGPORT )" >"$T/sockets.out"
SH
chmod +x "$T/sockets.sh"
printf '[verify]\ncommand = %s\n' "$T/sockets.sh" >>"$T/p4/enhancement.ini"
# this one with a pg_dump of the touched tables in its archive
sed -i 's|^\[environment "demo/model"\]|&\n    archive-dump = true|' nightshift.conf
run "$T/p4"
sed -i '/archive-dump = true/d' nightshift.conf
is "$rc" 0 "a good enhancement migrates: exit 0"
is "$(tree_hash "$R")" "$(tree_hash "$T/expect-root")" "the tree is the expected one"
pg_dump -t nightshift_changes "$PGURL" | psql -X -q -d expect >/dev/null 2>&1
is "$(pg_dump_canon)" "$(PGDATABASE=expect PGURL=${PGURL%/app}/expect pg_dump_canon)" \
	"the database is the deploy script's result"
is "$(pg_q "SELECT enhancement || ' r' || revision || ' ' || deployed_by FROM nightshift_changes")" \
	"ENH-$n r1 alice" "the nightshift_changes row is there"
is "$(wc -l <"$T/sockets.out")" 1 "while it verifies, nightshift holds one connection to the server"
like "$(cat "$T/sockets.out")" 'timer:\(keepalive,[0-9.]+(ms|sec),0\)' \
	"… with TCP keepalive probes due within a minute (keepalives_idle = 30 s)"
DUMP=$(find "$T/home/archive" -path "*ENH-$n-*" -name database.pgdump)
createdb restored
pg_restore -d restored "$DUMP" 2>/dev/null
is "$(psql -X -A -t -d restored -c "SELECT * FROM customers ORDER BY id" | tr '\n' ' ')" "1|ann 2|bob " \
	"archive-dump: the archive holds a pg_dump of the touched table as it was before"
ns rollback "ENH-$n" --env model --reason "defect"
is "$rc" 0 "rollback: exit 0"
is "$(pg_site_state)" "$BEFORE" "after the rollback files and database are byte-identical to before"

# ---- two window runs at once ---------------------------------------------
pkg "$T/p5" "slow"
printf '[verify]\ncommand = sleep 2\n' >>"$T/p5/enhancement.ini"
n=$((n + 1))
"$NS" submit "$T/p5" >/dev/null 2>&1
ns_ready "ENH-$n" >/dev/null 2>&1
"$NS" window run --now >"$T/first.out" 2>&1 &
FIRST=$!
for _ in $(seq 100); do grep -q "tax = 20" "$R/lib/tax.conf" && break; sleep 0.05; done
ns window run --now
is "$rc" 4 "a second window run while the first migrates: exit 4"
like "$err" "locked" "… saying 'locked'"
wait "$FIRST"
is "$?" 0 "the first run migrates"
is "$(pg_q "SELECT count(*) FROM customers WHERE id = 3"):$(pg_q "SELECT enhancement FROM nightshift_changes")" \
	"1:ENH-$n" "the row is in once, recorded once"
ns rollback "ENH-$n" --env model --reason "again"
is "$(pg_site_state)" "$BEFORE" "rolled back again"

# ---- another machine holds the site's advisory lock ----------------------
KEY=$(python3 -c 'import hashlib; print(int(hashlib.sha256(b"nightshift site demo/model").hexdigest()[:16], 16) & 0x7fffffffffffffff)')
pkg "$T/p6" "locked"
n=$((n + 1))
"$NS" submit "$T/p6" >/dev/null 2>&1
ns_ready "ENH-$n" >/dev/null 2>&1
psql -X -q -c "SELECT pg_advisory_lock($KEY)" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
HOLDER=$!
for _ in $(seq 100); do
	[ "$(pg_q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ] && break
	sleep 0.05
done
ns window run --now
is "$rc" 4 "the site's pg_advisory_lock held by another session: exit 4"
like "$err" "locked by another nightshift \(pg_advisory_lock $KEY is held\)" "… naming the lock"
is "$(pg_site_state)" "$BEFORE" "nothing changed"
is "$(state_of "ENH-$n")" scheduled "the enhancement stays scheduled for the next window"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
pg_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()" >/dev/null
ns window run --now
is "$rc" 0 "once the lock is free the next run migrates it"
is "$(pg_q "SELECT enhancement FROM nightshift_changes")" "ENH-$n" "… and records it"

# ---- statements that cannot run in the migration's transaction ----------
pkg "$T/p7" "concurrently"
cat >"$T/p7/sql/deploy.sql" <<'SQL'
ALTER TABLE customers ADD COLUMN tier text;
CREATE INDEX CONCURRENTLY customers_tier ON customers(tier);
SQL
n=$((n + 1))
"$NS" submit "$T/p7" >/dev/null 2>&1
"$NS" --as quinn qa approve "ENH-$n" >/dev/null 2>&1
ns analyze "ENH-$n" --env model
is "$rc" 1 "analyze: CREATE INDEX CONCURRENTLY is a finding (exit 1)"
like "$out$err" "NO-TRANSACTION.*sql/deploy\.sql:2: CREATE INDEX CONCURRENTLY cannot run inside the migration's transaction" \
	"… naming the script, the line and the statement"
ns schedule "ENH-$n" --env model
is "$rc" 1 "schedule refuses it (exit 1)"
is "$(state_of "ENH-$n")" returned "… and returns it to the developer"

# ---- a table held by another session -------------------------------------
# The environment's lock-timeout (nightshift.conf(5)) bounds the lock
# waits of the deploy: its ALTER TABLE waiting for a table another
# session holds fails after that time and the run rolls back, instead of
# waiting as long as the other session does; it is the environment's
# fault, so the enhancement stays scheduled. Without lock-timeout, a
# lock_timeout in the URI's options does the same (here for the
# archive's pg_dump).
BEFORE=$(pg_site_state)
sql_pkg "$T/p9" "held" "ALTER TABLE customers ADD COLUMN note text;" \
	"ALTER TABLE customers DROP COLUMN note;" \
	"SELECT count(*) = 0 FROM customers WHERE note IS NOT NULL;"
held() { # how many other sessions hold a lock on customers
	pg_q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		WHERE c.relname = 'customers' AND l.granted AND l.pid <> pg_backend_pid()"
}
wait_held() { # until another session holds a lock on customers
	for _ in $(seq 100); do
		[ "$(held)" = 1 ] && break
		sleep 0.05
	done
}
psql -X -q -c "BEGIN; LOCK TABLE customers IN ACCESS SHARE MODE; SELECT pg_sleep(60);" >/dev/null 2>&1 &
HOLDER=$!
wait_held
sed -i 's|^\[environment "demo/model"\]|&\n    lock-timeout = 1s|' nightshift.conf
ns window run --now
is "$rc" 1 "a table held by another session, lock-timeout = 1s: exit 1"
like "$err" "sql/deploy\.sql:1: ERROR 55P03 .*lock timeout" "… naming the statement and the lock timeout"
like "$err" "it waited for the lock as long as lock-timeout = 1s of environment demo/model allows" \
	"… and the setting it waited for"
sed -i '/lock-timeout = 1s/d' nightshift.conf
is "$(kill -0 "$HOLDER" 2>/dev/null && echo holding)" holding \
	"… while the other session still holds the table (it did not wait for it)"
is "$(pg_site_state)" "$BEFORE" "… files and database byte-identical to before"
is "$(state_of "ENH-$n")" scheduled "… and the enhancement stays scheduled for the next window"
release_holder() {
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null
	pg_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()" >/dev/null
}
release_holder
# the archive's pg_dump (archive-dump) turns lock_timeout off for itself:
# nightshift passes the session's value on as --lock-wait-timeout
sed -i 's|^\[environment "demo/model"\]|&\n    archive-dump = true|' nightshift.conf
sed -i "s|database = $PGURL|database = $PGURL?options=-c%20lock_timeout%3D1s|" nightshift.conf
psql -X -q -c "BEGIN; LOCK TABLE customers IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);" >/dev/null 2>&1 &
HOLDER=$!
wait_held
ns window run --now
is "$rc" 1 "archive-dump, the table held exclusively elsewhere: exit 1"
like "$err" "pg_dump of the touched tables failed" "… the archive's pg_dump failed"
like "$(cat "$(find "$T/home/archive" -path "*ENH-$n-*" -name pg_dump.log | tail -n 1)")" \
	"LOCK TABLE public\.customers" "… its log names the lock it could not take"
is "$(kill -0 "$HOLDER" 2>/dev/null && echo holding)" holding \
	"… while the other session still holds the table"
release_holder # (the canonical dump below needs the table too)
is "$(pg_site_state)" "$BEFORE" "… files and database byte-identical to before"
is "$(state_of "ENH-$n")" scheduled "… and the enhancement stays scheduled"
sed -i '/archive-dump = true/d' nightshift.conf
sed -i "s|database = $PGURL?options=-c%20lock_timeout%3D1s|database = $PGURL|" nightshift.conf
ns window run --now
is "$rc" 0 "once the table is free the next run migrates it"
# putting back does not give up: the revert's ALTER TABLE waits for the
# session that holds the table (3 s, beyond lock-timeout = 1s) and then
# runs
sed -i 's|^\[environment "demo/model"\]|&\n    lock-timeout = 1s|' nightshift.conf
psql -X -q -c "BEGIN; LOCK TABLE customers IN ACCESS SHARE MODE; SELECT pg_sleep(3);" >/dev/null 2>&1 &
HOLDER=$!
wait_held
is "$(held)" 1 "another session holds the table for 3 s as the rollback starts"
ns rollback "ENH-$n" --env model --reason "held"
is "$rc" 0 "… the rollback waits beyond lock-timeout = 1s for it: exit 0"
wait "$HOLDER" 2>/dev/null
is "$(pg_site_state)" "$BEFORE" "rolled back"
# … and so does the rollback that follows a failed run at once, in the
# session whose deploy had lock-timeout = 1s: the environment's verify
# command lets another session take the table for 3 s and fails
cat >"$T/take-table.sh" <<'SH'
#!/bin/sh
psql -X -q -c "BEGIN; LOCK TABLE customers IN ACCESS SHARE MODE; SELECT pg_sleep(3);" >/dev/null 2>&1 &
for _ in $(seq 100); do
	[ "$(psql -X -A -t -c "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		WHERE c.relname = 'customers' AND l.granted AND l.pid <> pg_backend_pid()")" = 1 ] && break
	sleep 0.05
done
echo "the table is held"
exit 1
SH
chmod +x "$T/take-table.sh"
sed -i "s|^\[environment \"demo/model\"\]|&\n    verify = $T/take-table.sh|" nightshift.conf
sql_pkg "$T/p10" "held after the commit" "ALTER TABLE customers ADD COLUMN note text;" \
	"ALTER TABLE customers DROP COLUMN note;" "SELECT 1;"
ns window run --now
is "$rc" 1 "the verify command fails while another session takes the table for 3 s: exit 1 (rolled back, not blocked)"
like "$err" "verify command '.*take-table\.sh' failed" "… naming the verify command"
is "$(grep -c 'the table is held' "$(find "$T/home/archive" -path "*ENH-$n-*" -name verify.log)")" 1 \
	"… which had let the other session take the table"
is "$(pg_site_state)" "$BEFORE" "… the revert waited for the table: files and database as before"
is "$(state_of "ENH-$n")" rolled-back "… and the enhancement is rolled back"
sed -i '/lock-timeout = 1s/d; /take-table/d' nightshift.conf

# ---- the connection lost after the commit point --------------------------
# The server restarts while the environment's verify command runs, and the
# command fails: the rollback makes the connection again, takes the site's
# lock again, and puts everything back by itself
pg_restarter "$T/restart.sh"
sed -i "s|^\[environment \"demo/model\"\]|&\n    verify = $T/restart.sh|" nightshift.conf
TAX=21 sql_pkg "$T/p12" "restarted" "ALTER TABLE customers ADD COLUMN note text;" \
	"ALTER TABLE customers DROP COLUMN note;" "SELECT 1;"
ns window run --now
is "$rc" 1 "the server restarts during the verify command, which fails: exit 1 (rolled back, not blocked)"
like "$err" "verify command '.*restart\.sh' failed .*; rolled back: site demo/model is as it was before" \
	"… the rollback made the connection again and put the site back"
unlike "$(cat "$(find "$T/home/archive" -path "*ENH-$n-*" -name verify.log)")" "did not restart" \
	"… (the server did restart)"
is "$(pg_site_state)" "$BEFORE" "… files and database byte-identical to before"
is "$(state_of "ENH-$n")" rolled-back "… and the enhancement is rolled back"
# the session ended by another, which takes the site's lock before the
# rollback's new session can: the rollback changes nothing while the
# other holds the site, and the site is blocked for a person
cat >"$T/steal.sh" <<SH
#!/bin/sh
psql -X -q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" >/dev/null
psql -X -q -c "SELECT pg_advisory_lock($KEY)" -c "SELECT pg_sleep(30)" >/dev/null 2>&1 &
for _ in \$(seq 100); do
	[ "\$(psql -X -A -t -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ] && break
	sleep 0.05
done
exit 1
SH
chmod +x "$T/steal.sh"
HAD_TABLE=$(pg_q "SELECT to_regclass('nightshift_changes') IS NOT NULL")
sed -i "s|verify = $T/restart.sh|verify = $T/steal.sh|" nightshift.conf
TAX=22 sql_pkg "$T/p13" "stolen" "ALTER TABLE customers ADD COLUMN note text;" \
	"ALTER TABLE customers DROP COLUMN note;" "SELECT 1;"
ns window run --now
is "$rc" 4 "another session takes the site's lock while the connection is lost: exit 4"
like "$err" "ROLLBACK FAILED: the connection was lost \(FATAL: terminating connection due to administrator command; server closed the connection unexpectedly\), and in a new one postgresql://nightshift@127\.0\.0\.1:$PGPORT/app: site demo/model is locked by another nightshift \(pg_advisory_lock $KEY is held\)" \
	"… naming both causes on one line"
is "$(pg_q "SELECT count(*) FROM nightshift_changes WHERE enhancement = 'ENH-$n'")" 1 \
	"… nothing was put back while the other held the lock"
is "$(cat "$R/lib/tax.conf")" "tax = 22" "… nor the files"
is "$(state_of "ENH-$n")" rollback-failed "… and the enhancement is rollback-failed"
pg_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()" >/dev/null
sed -i '/steal\.sh/d' nightshift.conf
# the person's repair: the file from the archive (files/0 in it is the
# plan's first file, lib/tax.conf), the revert by hand
cp "$(find "$T/home/archive" -path "*/ENH-$n-*/files/0")" "$R/lib/tax.conf"
pg_q "ALTER TABLE customers DROP COLUMN note; DELETE FROM nightshift_changes WHERE enhancement = 'ENH-$n';" >/dev/null
[ "$HAD_TABLE" = t ] || pg_q "DROP TABLE nightshift_changes" >/dev/null
is "$(pg_site_state)" "$BEFORE" "repaired by hand from the archive"
ns unblock --env model --reason "repaired from the archive"
is "$rc:$(state_of "ENH-$n")" 0:returned "unblocked: the enhancement is returned to its developer"

# ---- the answer to the COMMIT lost ---------------------------------------
# The site's database is reached through a relay (pgproxy.py) that
# passes the deploy's COMMIT to the server and loses its answer, then
# refuses connections for a while, as a server restarting would. The run
# cannot tell which side of the commit point it is on: it asks again
# until the server answers (here after 3 s): the COMMIT went through, so
# the files follow. Undoing the files instead would leave the database
# migrated under the old files.
mkdir -p "$T/proxy"
/usr/bin/python3 "$HERE/pgproxy.py" "$PGPORT" "$T/proxy" >>"$T/proxy.log" 2>&1 &
PROXY=$!
for _ in $(seq 100); do [ -s "$T/proxy/port" ] && break; sleep 0.1; done
PXURL=postgresql://nightshift@127.0.0.1:$(cat "$T/proxy/port")/app
sed -i "s|database = $PGURL\$|database = $PXURL|" nightshift.conf
TAX=23 sql_pkg "$T/p14" "answer lost" "ALTER TABLE customers ADD COLUMN note text;" \
	"ALTER TABLE customers DROP COLUMN note;" "SELECT 1;"
touch "$T/proxy/arm"
(
	for _ in $(seq 600); do [ -e "$T/proxy/down" ] && break; sleep 0.1; done
	sleep 3
	rm -f "$T/proxy/down"
) &
ns window run --now
wait $!
is "$rc" 0 "the COMMIT's answer lost, the server back 3 s later: exit 0"
is "$(cat "$R/lib/tax.conf"):$(pg_q "SELECT count(*) FROM nightshift_changes WHERE enhancement = 'ENH-$n'")" \
	"tax = 23:1" "… the database committed and the files followed it"
is "$(state_of "ENH-$n")" migrated "… and the enhancement is migrated"
ns rollback "ENH-$n" --env model --reason "again"
is "$rc:$(pg_site_state)" "0:$BEFORE" "rolled back"
# the server does not answer within the time the run asks (shortened to
# 3 s here): the site is blocked with its journal kept, and once the
# server answers, unblock and recover finish the run
TAX=24 sql_pkg "$T/p15" "answer lost for long" "ALTER TABLE customers ADD COLUMN note text;" \
	"ALTER TABLE customers DROP COLUMN note;" "SELECT 1;"
touch "$T/proxy/arm"
OLD_TAX=$(cat "$R/lib/tax.conf")
NIGHTSHIFT_TEST_MS_commit_ask=3000 ns window run --now
is "$rc" 4 "the COMMIT's answer lost and no server for longer than the run asks: exit 4"
like "$err" "the answer to its COMMIT was lost, and whether the database committed cannot be told: .* — site demo/model is blocked, its journal kept: once the database answers, \`nightshift unblock --env demo/model --reason \.\.\.\` and \`nightshift recover --env demo/model\` finish the run" \
	"… saying so, and what finishes it"
is "$(cat "$R/lib/tax.conf")" "$OLD_TAX" "… the files neither carried forward nor undone: as before"
is "$(find "$T/home/journal" -name '*.jnl' | wc -l)" 1 "… the journal kept"
is "$(state_of "ENH-$n")" migrating "… the enhancement still migrating"
like "$(grep -l "^X-Nightshift-Event: environment-blocked" "$T"/home/outbox/*.msg | xargs cat)" \
	"Subject: \\[nightshift\\] ENH-$n r1 NOT FINISHED \(the database did not answer\) in demo/model" \
	"… and a notice says the run is not finished"
rm -f "$T/proxy/down"
ns unblock --env model --reason "the database is back"
is "$rc" 0 "unblocked"
ns recover --env model
is "$rc" 0 "recover: exit 0"
is "$(cat "$R/lib/tax.conf"):$(pg_q "SELECT count(*) FROM nightshift_changes WHERE enhancement = 'ENH-$n'")" \
	"tax = 24:1" "… it found that the COMMIT went through and carried the files forward"
is "$(state_of "ENH-$n")" migrated "… and recorded it: migrated"
# the same at the first of two sites (a: PostgreSQL through the relay, a
# database of its own; b: SQLite): the run stops there, undecided, before
# site b. Its registry row stays open, as after a crash, so that recovery
# knows site b was not begun: site a, found committed, goes back out,
# and the run ends with both sites as before
pg_q "CREATE DATABASE app2" >/dev/null
mkdir -p "$T/two/home" "$T/two/a/lib" "$T/two/b/lib"
echo "tax = 19" >"$T/two/a/lib/tax.conf"
echo "tax = 19" >"$T/two/b/lib/tax.conf"
sqlite3 "$T/two/b.db" "CREATE TABLE customers(id INTEGER PRIMARY KEY);"
"$NS" init "$T/two/home" >/dev/null
cat >>"$T/two/home/nightshift.conf" <<CONF
[system "demo"]
    users = users@example.com
[environment "demo/model"]
[site "demo/model/a"]
    root = $T/two/a
    database = ${PXURL%/app}/app2
[site "demo/model/b"]
    root = $T/two/b
    database = sqlite:$T/two/b.db
CONF
ns_people "$T/two/home/nightshift.conf"
cd "$T/two/home" || exit 1
two_state() {
	echo "$(tree_hash "$T/two/a") $(tree_hash "$T/two/b") $(db_dump "$T/two/b.db" | sha256sum)" \
		"$(psql -X -A -t -c "SELECT count(*) FROM pg_tables WHERE tablename IN ('notes', 'nightshift_changes')" "${PGURL%/app}/app2")"
}
TWO0=$(two_state)
TAX=25 pkg "$T/p16" "two sites, answer lost"
echo "CREATE TABLE notes(a int);" >"$T/p16/sql/deploy.sql"
echo "DROP TABLE notes;" >"$T/p16/sql/revert.sql"
echo "SELECT 1;" >"$T/p16/sql/verify.sql"
"$NS" submit "$T/p16" >/dev/null 2>&1
ns_ready ENH-1 >/dev/null 2>&1
touch "$T/proxy/arm"
NIGHTSHIFT_TEST_MS_commit_ask=3000 ns window run --now
is "$rc" 4 "two sites: the COMMIT's answer lost at site a: exit 4"
is "$(cat "$T/two/b/lib/tax.conf")" "tax = 19" "… site b not begun"
is "$(sqlite3 "$T/two/home/nightshift.db" "SELECT coalesce(outcome, 'open') FROM runs")" open \
	"… the run's registry row left open, as after a crash"
rm -f "$T/proxy/down"
ns unblock --env model --reason "the database is back"
ns recover --env model
is "$rc" 0 "two sites: recover: exit 0"
like "$out" "site demo/model/b of the same run was not begun before the run was interrupted" \
	"… site a, committed, backed out because site b was not begun"
is "$(two_state)" "$TWO0" "… both sites as before (files, SQLite, the PostgreSQL tables)"
is "$(state_of ENH-1)" rolled-back "… and the registry says rolled-back"
cd "$T/home" || exit 1
kill "$PROXY"
wait "$PROXY" 2>/dev/null
sed -i "s|database = $PXURL\$|database = $PGURL|" nightshift.conf

# ---- a database user with a password ---------------------------------------
# The password in the site's URI is in no file nightshift writes: plan.json
# names the database without it, and a rollback or a recovery, which read
# the plan, take it back from nightshift.conf's URI for the site (the same
# database). The user vault logs in with its password only (scram).
pg_q "CREATE ROLE vault LOGIN PASSWORD 'v4ult-s3cret';
      GRANT CREATE ON SCHEMA public TO vault;
      GRANT ALL ON ALL TABLES IN SCHEMA public TO vault;
      CREATE TABLE vault_notes(id int); ALTER TABLE vault_notes OWNER TO vault;"
pg_as sed -i "1i host all vault 127.0.0.1/32 scram-sha-256" "$T/pg/data/pg_hba.conf"
pg_as "$PGBIN/pg_ctl" -D "$T/pg/data" reload >/dev/null
VURL=postgresql://vault:v4ult-s3cret@127.0.0.1:$PGPORT/app
for _ in $(seq 50); do # the reload takes a moment
	PGPASSFILE=/dev/null psql -w -X -q -c "SELECT 1" "postgresql://vault@127.0.0.1:$PGPORT/app" \
		>/dev/null 2>&1 || break
	sleep 0.1
done
like "$(PGPASSFILE=/dev/null psql -w -X -q -c "SELECT 1" "postgresql://vault@127.0.0.1:$PGPORT/app" 2>&1)" \
	"password" "the user vault cannot log in without its password"
is "$(psql -w -X -A -t -c "SELECT current_user" "$VURL" 2>&1)" vault "… and can with it"
BEFORE=$(pg_site_state)
sed -i "s|database = $PGURL\$|database = $VURL|" nightshift.conf
sql_pkg "$T/p11" "notes in the vault" "INSERT INTO vault_notes VALUES (1);" \
	"DELETE FROM vault_notes WHERE id = 1;" "SELECT count(*) = 1 FROM vault_notes;"
# with archive-dump: the archive's pg_dump gets the password in its
# environment, not on its command line (which every local user may read);
# a pg_dump first on PATH notes its arguments and whether PGPASSWORD is set
mkdir -p "$T/bin"
cat >"$T/bin/pg_dump" <<SH
#!/bin/sh
printf 'argv: %s\n' "\$*" >>"$T/pg_dump.seen"
[ -n "\${PGPASSWORD:-}" ] && echo "PGPASSWORD is set" >>"$T/pg_dump.seen"
exec "$PGBIN/pg_dump" "\$@"
SH
chmod +x "$T/bin/pg_dump"
sed -i 's|^\[environment "demo/model"\]|&\n    archive-dump = true|' nightshift.conf
rm -f "$T/trace"
PATH=$T/bin:$PATH NIGHTSHIFT_STEPS_TRACE=$T/trace ns window run --now
is "$rc:$(pg_q "SELECT count(*) FROM vault_notes")" "0:1" "a site whose URI holds a password migrates"
like "$(cat "$T/pg_dump.seen")" "argv: .*--dbname=postgresql://vault@127\.0\.0\.1:$PGPORT/app" \
	"… its archive's pg_dump is given the URI without the password"
unlike "$(cat "$T/pg_dump.seen")" "v4ult-s3cret" "… nowhere on its command line"
is "$(grep -c 'PGPASSWORD is set' "$T/pg_dump.seen")" 1 "… but in its environment"
is "$(find "$T/home/archive" -path "*ENH-$n-*" -name database.pgdump | grep -c .)" 1 \
	"… and the dump is in the archive"
is "$(grep -rl 'v4ult-s3cret' "$T/home" | grep -vc '/nightshift\.conf$')" 0 \
	"… and the password is in no file nightshift wrote (archive, journal, registry, outbox)"
like "$(cat "$(find "$T/home/archive" -path "*ENH-$n-*" -name plan.json)")" \
	"\"database\": \"postgresql://vault@127\\.0\\.0\\.1:$PGPORT/app\"" \
	"… plan.json names the database without it"
ns rollback "ENH-$n" --env model --reason "vault"
is "$rc" 0 "the rollback logs in with the password of nightshift.conf: exit 0"
is "$(pg_site_state)" "$BEFORE" "… and the site is as before"
# killed just after the deploy's COMMIT; the recovery finishes the run
AFTER=$(awk '$2 == "COMMIT" { print $1 + 1; exit }' "$T/trace")
"$NS" schedule "ENH-$n" --env model >/dev/null 2>&1
NIGHTSHIFT_CRASH_AT=$AFTER ns window run --now
is "$rc" 137 "a run killed just after its COMMIT (step $AFTER)"
ns recover
like "$rc:$out" "^0:.*recovered ENH-$n-r1-[0-9]+ \(migrated\)" \
	"recover logs in with the password of nightshift.conf and finishes it"
is "$(pg_q "SELECT count(*) FROM vault_notes")" 1 "… the row is there"
# nightshift.conf naming another database for the site: the run's
# database gets no password from it, and the message says why
sed -i "s|database = $VURL|database = postgresql://vault:v4ult-s3cret@127.0.0.1:$PGPORT/postgres|" nightshift.conf
ns rollback "ENH-$n" --env model --reason "vault"
is "$rc:$(pg_q "SELECT count(*) FROM vault_notes")" "5:1" \
	"nightshift.conf names another database: the rollback cannot log in (exit 5), nothing changed"
like "$err" "nightshift\.conf now names postgresql://vault@127\.0\.0\.1:$PGPORT/postgres for site demo/model, not the run's postgresql://vault@127\.0\.0\.1:$PGPORT/app, so the password could not be taken from it" \
	"… saying which database each names"
unlike "$err" "v4ult-s3cret" "… without the password"
like "$err" "not backed out, nothing changed: site demo/model: " "… and that nothing changed"
is "$(state_of "ENH-$n")" migrated "… the enhancement stays migrated (a refused rollback is no rollback)"
like "$("$NS" log "ENH-$n")" "back-out-refused" "… and the trail says the rollback was refused"
sed -i "s|database = postgresql://vault:v4ult-s3cret@127.0.0.1:$PGPORT/postgres|database = $VURL|" nightshift.conf
ns rollback "ENH-$n" --env model --reason "vault"
is "$rc:$(pg_site_state)" "0:$BEFORE" "rolled back again"
# transaction = none: its rollback's pg_restore gets the password the same way
cat >"$T/bin/pg_restore" <<SH
#!/bin/sh
printf 'argv: %s\n' "\$*" >>"$T/pg_restore.seen"
[ -n "\${PGPASSWORD:-}" ] && echo "PGPASSWORD is set" >>"$T/pg_restore.seen"
exec "$PGBIN/pg_restore" "\$@"
SH
chmod +x "$T/bin/pg_restore"
sql_pkg "$T/p12" "a note outside a transaction" "INSERT INTO vault_notes VALUES (2);" \
	"DELETE FROM vault_notes WHERE id = 2;" "SELECT count(*) = 1 FROM vault_notes WHERE id = 2;" none
ns window run --now
is "$rc:$(pg_q "SELECT count(*) FROM vault_notes")" "0:1" "transaction = none with the password: migrated"
PATH=$T/bin:$PATH ns rollback "ENH-$n" --env model --reason "vault"
is "$rc:$(pg_site_state)" "0:$BEFORE" "… rolled back (revert SQL, then the dump restored)"
like "$(cat "$T/pg_restore.seen")" "argv: .*--dbname=postgresql://vault@127\.0\.0\.1:$PGPORT/app" \
	"… its pg_restore is given the URI without the password"
unlike "$(cat "$T/pg_restore.seen")" "v4ult-s3cret" "… nowhere on its command line"
is "$(grep -c 'PGPASSWORD is set' "$T/pg_restore.seen")" 1 "… but in its environment"
sed -i "s|database = $VURL|database = $PGURL|; /archive-dump = true/d" nightshift.conf

# ---- a server that cannot be reached ---------------------------------------
# (port 1: nothing listens there) — the environment's fault: the
# enhancement stays scheduled, and the password is not in the message
pkg "$T/p8" "unreachable"
n=$((n + 1))
"$NS" submit "$T/p8" >/dev/null 2>&1
ns_ready "ENH-$n" >/dev/null 2>&1
sed -i "s|database = $PGURL|database = postgresql://nightshift:s3cret@127.0.0.1:1/app|" nightshift.conf
ns window run --now
is "$rc" 1 "an unreachable database server: exit 1"
like "$err" "cannot connect to target database 'postgresql://nightshift:\*\*\*@127\.0\.0\.1:1/app'" \
	"… saying so, the password replaced by ***"
unlike "$err" "s3cret" "… the password is in no message"
is "$(state_of "ENH-$n")" scheduled "… and the enhancement stays scheduled"

# ---- a bad archive-dump --------------------------------------------------
sed -i 's|^\[environment "demo/model"\]|&\n    archive-dump = yes|' nightshift.conf
ns status
is "$rc" 3 "archive-dump = yes: invalid configuration (exit 3)"
like "$err" 'nightshift\.conf:[0-9]+: \[environment "demo/model"\] archive-dump: expected true or false' \
	"… naming the file, the line and the key"

done_testing
