#!/bin/bash
# Kill points for transaction = none against a PostgreSQL site: the
# process is killed with SIGKILL (NIGHTSHIFT_CRASH_AT=N) at the journal's
# AUTOCOMMIT record, before each deploy statement (each committed on its
# own, CREATE INDEX CONCURRENTLY among them), the verify SQL, the
# nightshift_changes row and COMMIT, and at the step after COMMIT; then
# in a run whose verify SQL fails after the autocommitted deploy, at each
# step of its rollback (every revert statement, pg_restore of the archived
# dump, the files). For a kill in the middle of the deploy, recovery —
# which runs the revert SQL and the restore — is killed at each of its own
# steps as well. After `recover` the site — files and the database's
# canonical dump — is exactly its state before or after, the registry
# agrees, and a second recover changes nothing. NS_FULL=1 kills at every
# step instead.
# (functions only; lib.sh leaves the directory $0 is relative to)
. "$(dirname "$0")/kill-lib.sh"
. "$(dirname "$0")/pg-kill-lib.sh"
. "$(dirname "$0")/../e2e/lib.sh"
pg_kill_start

scene() { # ok|fail
	pg_kill_site
	make_pkg "$T/pkg" "kill points, no transaction"
	echo "transaction = none" >>"$T/pkg/enhancement.ini"
	pg_kill_files
	cat >"$T/pkg/sql/deploy.sql" <<'SQL'
ALTER TABLE customers ADD COLUMN discount int NOT NULL DEFAULT 0;
UPDATE customers SET discount = 5 WHERE id = 1;
CREATE INDEX CONCURRENTLY customers_discount ON customers(discount);
CREATE TABLE coupons(code text PRIMARY KEY, pct int);
INSERT INTO coupons VALUES ('XMAS', 10);
SQL
	cat >"$T/pkg/sql/revert.sql" <<'SQL'
DROP TABLE coupons;
DROP INDEX CONCURRENTLY customers_discount;
ALTER TABLE customers DROP COLUMN discount;
SQL
	if [ "$1" = fail ]; then
		echo "SELECT count(*) FROM coupons WHERE pct > 50;" >"$T/pkg/sql/verify.sql"
	else
		echo "SELECT count(*) FROM coupons;" >"$T/pkg/sql/verify.sql"
	fi
	pg_kill_ready
}

# the kill points worth a database's while: each SQL statement, the
# restore of the dump, the step before each of them (the AUTOCOMMIT record
# among them) and the step after a COMMIT, from step FROM on (NS_FULL:
# every step)
points() { # TRACE-FILE [FROM]
	if [ -n "${NS_FULL:-}" ]; then cut -d' ' -f1 "$1"; return; fi
	awk -v from="${2:-1}" '
	     function db(w) { return w == "sql" || w == "BEGIN" || w == "COMMIT" ||
	                      w == "nightshift_changes" || w == "pg_restore" }
	     { n[NR] = $1; w[NR] = $2 }
	     END { for (i = 1; i <= NR; i++) if (n[i] >= from &&
	           (db(w[i]) || (i < NR && db(w[i + 1])) || (i > 1 && w[i - 1] == "COMMIT")))
	           print n[i] }' "$1"
}

matrix() { # kind
	local kind=$1 bad total from mid
	scene "$kind"
	pg_kill_first_run "$kind"
	[ "$kind" = ok ] ||
		is "$(grep -c ' pg_restore$' "$T/trace")" 1 "$kind: the rollback restores the archived dump"
	is "$(grep -c ' COMMIT$' "$T/trace")" "$([ "$kind" = ok ] && echo 1 || echo 0)" \
		"$kind: $([ "$kind" = ok ] && echo "one COMMIT, the commit point" || echo "no COMMIT: the verify SQL fails before it")"
	# the failing run's deploy is the good run's: its own points are
	# those of the rollback (NS_FULL: all)
	from=1
	# (five deploy statements, then the verify SQL: its rollback follows)
	[ "$kind" = fail ] && from=$(awk '$2 == "sql" && ++k == 6 { print $1 + 1; exit }' "$T/trace")
	pg_kill_each "$kind" "$T/trace" "${from:-1}" "kill at step"
	KP_TOTAL=$((KP_TOTAL + total)) KP_BAD=$((KP_BAD + bad))
	is "$bad" 0 "$kind: each of $total kill points recovers to exactly before or after"
	[ "$kind" = ok ] || return 0
	# killed at the third deploy statement (CREATE INDEX CONCURRENTLY;
	# two have committed), then recovery (revert SQL, pg_restore) killed
	# at each of its steps
	mid=$(awk '$2 == "sql" && ++k == 3 { print $1; exit }' "$T/trace")
	pg_kill_crashed_recover "$mid"
	is "$(site_state)" "$BEFORE" "$kind: killed in the middle of the deploy, recover rolls the database back"
	is "$(grep -c ' pg_restore$' "$T/rtrace")" 1 "… restoring the archived dump"
	pg_kill_each fail "$T/rtrace" 1 "kill at deploy statement $mid, recovery killed at" "$mid"
	KP_TOTAL=$((KP_TOTAL + total)) KP_BAD=$((KP_BAD + bad))
	like "$total" '^[1-9]' "$kind: the recovery runs the revert SQL and the restore ($total kill points)"
	is "$bad" 0 "$kind: recovery killed at each of its $total steps still ends at before"
}

KP_TOTAL=0 KP_BAD=0
matrix ok
matrix fail
echo "# matrix: $KP_TOTAL kill points, $KP_BAD inconsistent"
done_testing
