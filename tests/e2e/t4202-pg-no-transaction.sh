#!/bin/bash
# transaction = none against a real PostgreSQL: an enhancement with
# CREATE INDEX CONCURRENTLY and an INSERT is refused by the analysis
# without the key (naming the statement and the key); with it the
# analysis warns, the deploy statements run outside a transaction, the
# index and the row exist and the archive holds database.pgdump. A verify
# SQL that fails after the autocommitted deploy rolls the database back
# from the revert SQL and the dump: canonical dump and files as before,
# exit 1, a notice; so does a verify command during which the server
# restarts (the rollback connects again). A manual rollback puts the
# database back the same way. A pg_dump that fails stops the run before any change. A bad value
# of the key is refused at submit (exit 3, file:line);
# on a SQLite site the mode is a blocking finding.
. "$(dirname "$0")/lib.sh"

export PGOPTIONS="-c client_min_messages=warning"
pg_scene

notices() { # ENH-n EVENT → how many such notices are in the outbox
	grep -l "^X-Nightshift-Enhancement: $1\$" "$T"/home/outbox/*.msg 2>/dev/null |
		xargs -r grep -l "^X-Nightshift-Event: $2\$" | grep -c .
}
n=0
pkg() { # DIR TITLE [MODE]: a new index built concurrently, and a row
	make_pkg "$1" "$2"
	[ -z "${3:-}" ] || echo "transaction = $3" >>"$1/enhancement.ini"
	mkdir -p "$1/files/lib" "$1/sql"
	echo "tax = 20" >"$1/files/lib/tax.conf"
	cat >"$1/sql/deploy.sql" <<'SQL'
INSERT INTO customers VALUES (3, 'cy');
CREATE INDEX CONCURRENTLY customers_name ON customers(name);
SQL
	cat >"$1/sql/revert.sql" <<'SQL'
DROP INDEX CONCURRENTLY IF EXISTS customers_name;
DELETE FROM customers WHERE id = 3;
SQL
	echo "SELECT count(*) FROM customers WHERE id = 3;" >"$1/sql/verify.sql"
}
submit() { # PKGDIR → ENH-n submitted and QA-approved
	n=$((n + 1))
	"$NS" submit "$1" >/dev/null 2>&1 || echo "submit $1 failed"
	"$NS" --as quinn qa approve "ENH-$n" >/dev/null 2>&1
}

# ---- a bad value: refused at submit --------------------------------------
pkg "$T/bad" "bad mode" autocommit
ns submit "$T/bad"
is "$rc" 3 "transaction = autocommit: refused at submit (exit 3)"
like "$err" "enhancement\.ini:4: \[enhancement\] transaction: expected single or none, not 'autocommit'" \
	"… naming the file, the line and the key"

# ---- without the key: refused --------------------------------------------
BEFORE=$(pg_site_state)
pkg "$T/p1" "concurrently, single"
submit "$T/p1"
ns analyze "ENH-$n" --env model
is "$rc" 1 "without the key: analyze has a blocking finding (exit 1)"
like "$out$err" "BLOCKING +NO-TRANSACTION +sql/deploy\.sql:2: CREATE INDEX CONCURRENTLY cannot run inside the migration's transaction.*declare transaction = none in enhancement\.ini" \
	"… naming the statement and the way out (the key)"
ns schedule "ENH-$n" --env model
is "$rc" 1 "schedule refuses it (exit 1)"
is "$(state_of "ENH-$n")" returned "… and returns it to the developer"

# ---- with transaction = none: warned, migrated ---------------------------
pkg "$T/p2" "concurrently, none" none
submit "$T/p2"
ns analyze "ENH-$n" --env model
is "$rc" 0 "with transaction = none: analyze passes (exit 0)"
like "$out" "warning +NO-TRANSACTION +sql/deploy\.sql:2: CREATE INDEX CONCURRENTLY cannot run inside a transaction; with transaction = none the statements run one by one outside one.*pg_dump of the touched tables.*restores those tables from the dump" \
	"… with a warning saying what will happen"
unlike "$out" "TRANSACTION-NONE" "… and no 'for nothing' warning: a statement needs it"
ns status "ENH-$n"
like "$out" "transaction: none" "status shows the mode"
"$NS" schedule "ENH-$n" --env model >/dev/null 2>&1
TRIG=$(find "$T/home/spool" -name "ENH-$n-r1.trigger")
is "$(python3 -c 'import json,sys,tarfile
print(json.load(tarfile.open(sys.argv[1]).extractfile("TRIGGER.json"))["transaction"])' "$TRIG")" \
	none "the trigger carries transaction: none"
export NIGHTSHIFT_STEPS_TRACE=$T/trace
ns window run --now
unset NIGHTSHIFT_STEPS_TRACE
is "$rc" 0 "the migration succeeds: exit 0"
is "$(pg_q "SELECT indisvalid FROM pg_index WHERE indexrelid = 'customers_name'::regclass")" t \
	"the index exists, built concurrently and valid"
is "$(pg_q "SELECT name FROM customers WHERE id = 3")" cy "the row exists"
is "$(pg_q "SELECT enhancement FROM nightshift_changes")" "ENH-$n" "nightshift_changes records it"
is "$(cat "$R/lib/tax.conf")" "tax = 20" "the file is in place"
DUMP=$(find "$T/home/archive" -path "*ENH-$n-*" -name database.pgdump)
like "$DUMP" "database\.pgdump$" "the archive holds database.pgdump, though archive-dump is not set"
createdb before2
pg_restore -d before2 "$DUMP" 2>/dev/null
is "$(psql -X -A -t -d before2 -c "SELECT * FROM customers ORDER BY id" | tr '\n' ' ')" "1|ann 2|bob " \
	"… of the touched table as it was before"
is "$(grep -E -o '^(PREPARED|AUTOCOMMIT|COMMITTED|DONE)' "$(find "$T/home/archive" -path "*ENH-$n-*" -name journal)" | tr '\n' ' ')" \
	"PREPARED AUTOCOMMIT COMMITTED DONE " "the journal recorded AUTOCOMMIT before the deploy, then the commit point"

# ---- manual rollback ------------------------------------------------------
ns rollback "ENH-$n" --env model --reason "defect"
is "$rc" 0 "rollback: exit 0"
is "$(pg_site_state)" "$BEFORE" "after the manual rollback files and database are exactly as before"

# ---- the dump fails: nothing changes --------------------------------------
# (an I/O error injected where pg_dump would run, the step the traced run
# above took for it)
pkg "$T/p6" "no dump" none
submit "$T/p6"
"$NS" schedule "ENH-$n" --env model >/dev/null 2>&1
export NIGHTSHIFT_FAIL_AT=$(awk '$2 == "pg_dump" { print $1; exit }' "$T/trace"):EIO
ns window run --now
unset NIGHTSHIFT_FAIL_AT
is "$rc" 1 "the archive's pg_dump fails: exit 1"
like "$err" "cannot archive the database into '.*/database\.pgdump': Input/output error.*nothing was changed" \
	"… saying so, and that nothing was changed"
is "$(pg_site_state)" "$BEFORE" "files and database as before"
is "$(state_of "ENH-$n")" scheduled "the environment's fault: the enhancement stays scheduled"
ns withdraw "ENH-$n" --reason "no dump, no run"
is "$rc:$(state_of "ENH-$n")" 0:withdrawn "withdrawn, so that it does not run in the next window"

# ---- a failing verify SQL after the autocommitted deploy ------------------
pkg "$T/p3" "verify fails" none
echo "SELECT count(*) FROM customers WHERE id = 99;" >"$T/p3/sql/verify.sql"
# the first revert statement fails (no such index): the rest still runs
sed -i 's/DROP INDEX CONCURRENTLY IF EXISTS customers_name/DROP INDEX CONCURRENTLY customers_nosuch/' "$T/p3/sql/revert.sql"
submit "$T/p3"
"$NS" schedule "ENH-$n" --env model >/dev/null 2>&1
ns window run --now
is "$rc" 1 "verify SQL false after the autocommitted deploy: exit 1"
like "$err" "sql/verify\.sql:1: verification returned false.*rolled back: site demo/model is as it was before \(1 statement of sql/revert\.sql failed and the rollback went on: see .*/revert\.log\)" \
	"… naming the cause, the rollback and the revert statement that failed"
is "$(pg_site_state)" "$BEFORE" "canonical dump of the database and the files equal to before"
is "$(state_of "ENH-$n")" rolled-back "returned to the developer"
is "$(notices "ENH-$n" rolled-back)" 1 "a rolled-back notice is in the outbox"
like "$(cat "$(find "$T/home/archive" -path "*ENH-$n-*" -name revert.log)")" \
	'sql/revert\.sql:1: ERROR 42704 index "customers_nosuch" does not exist' \
	"revert.log names the revert statement that failed"

# ---- a failing deploy statement after one that committed ------------------
pkg "$T/p4" "deploy fails" none
cat >>"$T/p4/sql/deploy.sql" <<'SQL'
INSERT INTO nosuch VALUES (1);
SQL
submit "$T/p4"
"$NS" schedule "ENH-$n" --env model >/dev/null 2>&1
ns window run --now
is "$rc" 1 "a deploy statement failing after two committed ones: exit 1"
like "$err" 'sql/deploy\.sql:3: ERROR 42P01 relation "nosuch" does not exist' "… naming it"
is "$(pg_site_state)" "$BEFORE" "the committed statements are undone: database and files as before"

# ---- the connection lost after the autocommitted deploy ------------------
# the server restarts while the verify command runs, which then fails:
# the rollback runs the revert SQL in a new session
pkg "$T/p5" "restarted" none
pg_restarter "$T/restart.sh"
printf '[verify]\ncommand = %s\n' "$T/restart.sh" >>"$T/p5/enhancement.ini"
submit "$T/p5"
"$NS" schedule "ENH-$n" --env model >/dev/null 2>&1
ns window run --now
is "$rc" 1 "the server restarts during the verify command, which fails: exit 1"
like "$err" "verify command '.*restart\.sh' failed .*; rolled back: site demo/model is as it was before" \
	"… the rollback made the connection again and put the site back"
is "$(pg_site_state)" "$BEFORE" "… database and files as before"

# ---- the mode for nothing; the mode on SQLite ------------------------------
make_pkg "$T/p5" "none for nothing"
echo "transaction = none" >>"$T/p5/enhancement.ini"
mkdir -p "$T/p5/sql"
echo "INSERT INTO customers VALUES (4, 'di');" >"$T/p5/sql/deploy.sql"
echo "DELETE FROM customers WHERE id = 4;" >"$T/p5/sql/revert.sql"
submit "$T/p5"
ns analyze "ENH-$n" --env model
is "$rc" 0 "transaction = none with no statement that needs it: not blocking"
like "$out" "warning +TRANSACTION-NONE +transaction = none, but no statement needs it" \
	"… but a warning: atomicity given up for nothing"
sed -i "s|database = $PGURL|database = sqlite:$T/site/app.db|" nightshift.conf
ns analyze "ENH-$n" --env model
is "$rc" 1 "transaction = none on a SQLite site: a blocking finding"
like "$out" "BLOCKING +TRANSACTION-NONE +transaction = none needs a PostgreSQL database.*: demo/model" \
	"… naming the site"

done_testing
