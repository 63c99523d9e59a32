#!/bin/bash
# Kill points against a PostgreSQL site: the process is killed with
# SIGKILL (NIGHTSHIFT_CRASH_AT=N) just before each SQL statement of a run
# — BEGIN, every deploy and verify statement, the nightshift_changes row,
# COMMIT — of a run that rolls back after the commit point (its revert
# statements too), and of a `rollback` of a migrated run, and at the step
# after each COMMIT; for the kill at the failing run's COMMIT and at the
# rollback's, recovery is killed at each of its own SQL statements as well.
# After `recover` the site — files and the database's canonical dump — is
# exactly its state before or after, the registry agrees, and a second
# recover changes nothing. NS_FULL=1 kills at every step instead.
# (functions only; lib.sh leaves the directory $0 is relative to)
. "$(dirname "$0")/kill-lib.sh"
. "$(dirname "$0")/pg-kill-lib.sh"
. "$(dirname "$0")/../e2e/lib.sh"

pg_kill_start

scene() { # ok|fail|rollback
	pg_kill_site
	[ "$1" = fail ] &&
		sed -i "s|^\[environment \"demo/model\"\]|&\n    verify = test -f no-such-file|" nightshift.conf
	make_pkg "$T/pkg" "kill points"
	pg_kill_files
	pg_kill_coupons_sql
	pg_kill_ready
	if [ "$1" = rollback ]; then # ENH-1 migrated, to be backed out
		"$NS" window run --now >/dev/null || exit 1
		pg_kill_save
		RUN=(rollback ENH-1 --env model --reason "a defect")
		REG_AFTER=rolled-back REG_BEFORE=migrated
	fi
}

# the kill points worth a database's while: each SQL statement and the
# step after a COMMIT, from step FROM on (NS_FULL: every step)
points() { # TRACE-FILE [FROM]
	if [ -n "${NS_FULL:-}" ]; then cut -d' ' -f1 "$1"; return; fi
	awk -v from="${2:-1}" '$1 < from { next }
	     $2 != "sql" && $2 != "BEGIN" && $2 != "COMMIT" &&
	     $2 != "nightshift_changes" { if (after) print $1; after = 0; next }
	     { print $1; after = ($2 == "COMMIT") }' "$1"
}

matrix() { # kind
	local kind=$1 bad total from
	scene "$kind"
	pg_kill_first_run "$kind"
	is "$(grep -c ' COMMIT$' "$T/trace")" "$([ "$kind" = fail ] && echo 2 || echo 1)" \
		"$kind: the run commits $([ "$kind" = fail ] && echo "twice (deploy, revert)" || echo once)"
	# the failing run's deploy is the good run's: its own points are
	# those of the revert (NS_FULL: all)
	from=1
	[ "$kind" = fail ] && from=$(awk '$2 == "COMMIT" { print $1 + 1; exit }' "$T/trace")
	pg_kill_each "$kind" "$T/trace" "$from" "kill at step"
	is "$bad" 0 "$kind: each of $total kill points recovers to exactly before or after"
	[ "$kind" = ok ] && return 0
	# killed just after the deploy's COMMIT (a rollback: at its revert's
	# COMMIT), then recovery (which runs the revert) killed at each of its
	# SQL statements
	[ "$kind" = rollback ] && from=$(awk '$2 == "COMMIT" { print $1; exit }' "$T/trace")
	pg_kill_crashed_recover "$from"
	pg_kill_each "$kind" "$T/rtrace" 1 "kill at step $from, recovery killed at" "$from"
	like "$total" '^[1-9]' "$kind: the recovery runs the revert SQL ($total kill points)"
	is "$bad" 0 "$kind: recovery killed at each of its $total SQL steps still ends consistent"
}

matrix ok
matrix fail
matrix rollback
done_testing
