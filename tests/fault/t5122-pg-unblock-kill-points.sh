#!/bin/bash
# A failed rollback on a PostgreSQL site, finished by `unblock`, killed at
# each of its steps. The run's verify fails, and its rollback cannot
# revert: a view someone made on the new table stands in the way of the
# revert's DROP TABLE. The environment is blocked with the site migrated.
# Once the person has dropped the view, `unblock` reverts the database,
# puts the files back from the archive and lifts the block. An unblock
# killed (SIGKILL, NIGHTSHIFT_CRASH_AT) at any of its steps and run again
# ends with the site — files and the database's canonical dump — exactly
# as before the run, the registry agreeing and nothing left behind.
# (functions only; lib.sh leaves the directory $0 is relative to)
. "$(dirname "$0")/kill-lib.sh"
. "$(dirname "$0")/pg-kill-lib.sh"
. "$(dirname "$0")/../e2e/lib.sh"

pg_kill_start

# the verify command: a view on the new table, made by "someone", and a
# failure
cat >"$T/view.sh" <<'SH'
#!/bin/sh
psql -X -q -c "CREATE VIEW coupon_codes AS SELECT code FROM coupons" >/dev/null || exit 2
exit 1
SH
chmod +x "$T/view.sh"

pg_kill_site
sed -i "s|^\[environment \"demo/model\"\]|&\n    verify = $T/view.sh|" nightshift.conf
make_pkg "$T/pkg" "coupons"
pg_kill_files
pg_kill_coupons_sql
pg_kill_ready
BEFORE=$(site_state)

ns window run --now
is "$rc" 4 "the verify fails and the revert cannot drop the table: exit 4"
like "$err" "ROLLBACK FAILED: .*sql/revert\.sql:1: .*cannot drop table coupons because other objects depend on it" \
	"… the message names the revert statement and why"
is "$(state_of ENH-1)" rollback-failed "… ENH-1 is rollback-failed"
is "$(cat "$T/site/root/lib/tax.conf")" "tax = 21" "… and the site stays as migrated"

# the person's repair: the view goes; the site is left as it is
pg_q "DROP VIEW coupon_codes" >/dev/null
sed -i "\|verify = $T/view.sh|d" nightshift.conf
pg_kill_save

# what an unblock must leave: a word for each thing that is not so
unblocked_state() {
	[ "$(site_state)" = "$BEFORE" ] || echo "site-not-before"
	[ "$(enh1_state)" = returned ] || echo "ENH-1-not-returned"
	[ "$(registry_q "SELECT group_concat(outcome) FROM runs WHERE token LIKE 'ENH-1-%'")" = rolled-back ] ||
		echo "run-not-rolled-back"
	[ "$(registry_q "SELECT count(*) FROM environments WHERE blocked = 1")" = 0 ] ||
		echo "still-blocked"
	[ -z "$(leftovers)" ] || echo "leftovers"
}

reset
rm -f "$T/steps"
NIGHTSHIFT_STEPS_FILE=$T/steps "$NS" unblock --env model --reason "view dropped" \
	>/dev/null 2>"$T/unblock.err"
is "$?" 0 "unblock once the view is gone: exit 0"
steps=$(cat "$T/steps" 2>/dev/null)
like "$steps" '^[1-9][0-9]*$' "… it counts its steps ($steps)"
is "$(unblocked_state)" "" "… the site is as before the run, ENH-1 returned, the run rolled back, nothing left"
like "$(cat "$T/home/outbox/"*-unblocked.msg 2>&1)" "finished the rollback of ENH-1-r1-[0-9]+ on site demo/model first: the site is as it was before" \
	"… and the unblocked notice says it finished the rollback"

unblock_matrix reset unblocked_state "${steps:-0}" ENH-1
done_testing
