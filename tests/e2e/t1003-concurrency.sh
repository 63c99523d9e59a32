#!/bin/bash
# One environment, two nightshifts: while one migrates (slowly: its
# verify command sleeps), a second `window run` is refused at once with
# exit 4 and "locked", and changes nothing. A lock holder killed with
# SIGKILL in the middle of its verify leaves no stale lock: the next
# `window run` starts, recovers the interrupted run, and leaves the site
# byte-identical to before or after — never locked, never in between.
. "$(dirname "$0")/lib.sh"

ns_home
R=$T/site/root
DBF=$T/site/app.db
mkdir -p "$R/lib"
echo "v1" >"$R/lib/a.txt"

now_ms() { date +%s%3N; }
wait_for_content() { # FILE TEXT SECONDS: until FILE holds TEXT
	local end=$(($(now_ms) + $3 * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		[ "$(cat "$1" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
slow_pkg() { # DIR VERSION ROW-ID
	make_pkg "$1" "slow $2"
	mkdir -p "$1/files/lib" "$1/sql"
	echo "$2" >"$1/files/lib/a.txt"
	printf '[verify]\ncommand = sleep 3\n' >>"$1/enhancement.ini"
	echo "INSERT INTO customers VALUES ($3, 'row $3');" >"$1/sql/deploy.sql"
	echo "DELETE FROM customers WHERE id = $3;" >"$1/sql/revert.sql"
}
rows() { sqlite3 "$DBF" 'SELECT id FROM customers ORDER BY id' | tr '\n' ' '; }
changes() { sqlite3 "$DBF" 'SELECT enhancement FROM nightshift_changes ORDER BY 1' 2>/dev/null | tr '\n' ' '; }

# ---- two window runs at once ------------------------------------------
slow_pkg "$T/p1" v2 3
ns submit "$T/p1"
"$NS" --as quinn qa approve ENH-1 >/dev/null 2>&1
ns schedule ENH-1 --env model
"$NS" window run --now >"$T/first.out" 2>"$T/first.err" &
FIRST=$!
# the first is in its verify once the new file is in place
wait_for_content "$R/lib/a.txt" v2 10
ok_in=$?
is "$ok_in" 0 "the first run reached its verify (lib/a.txt is v2)"
t0=$(now_ms)
ns window run --now
t1=$(now_ms)
is "$rc" 4 "the second run at the same time: exit 4"
like "$err" "locked" "the second run says 'locked' on stderr"
ok_fast=$([ $((t1 - t0)) -lt 2000 ] && echo quick || echo "slow ($((t1 - t0)) ms)")
is "$ok_fast" quick "the second run is refused quickly, without waiting for the lock ($((t1 - t0)) ms)"
wait "$FIRST"
is "$?" 0 "the first run finishes: exit 0 (migrated)"
like "$(cat "$T/first.out")" "ENH-1 r1 .*migrated" "the first run migrated ENH-1"
is "$(cat "$R/lib/a.txt"):$(rows):$(changes)" "v2:1 2 3 :ENH-1 " \
	"the site holds ENH-1 exactly once (file, row, nightshift_changes)"
ns log ENH-1
is "$(printf '%s\n' "$out" | grep -c ' migrating ')" 1 "the registry records one migration run of ENH-1, not two"
ns status ENH-1 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["enhancement"]["state"])' 2>&1)" \
	migrated "ENH-1 is migrated"

# ---- the lock holder killed with SIGKILL ------------------------------
slow_pkg "$T/p2" v3 4
ns submit "$T/p2"
"$NS" --as quinn qa approve ENH-2 >/dev/null 2>&1
ns schedule ENH-2 --env model
BEFORE=$(site_state)
"$NS" window run --now >/dev/null 2>&1 &
VICTIM=$!
wait_for_content "$R/lib/a.txt" v3 10
ok_in=$?
is "$ok_in" 0 "the victim reached its verify (lib/a.txt is v3)"
kill -9 "$VICTIM"
wait "$VICTIM" 2>/dev/null
is "$?" 137 "the lock holder was killed by SIGKILL"

t0=$(now_ms)
ns window run --now
t1=$(now_ms)
diag "next window run: exit $rc in $((t1 - t0)) ms"
like "$rc" '^[01]$' "the next window run is not locked out: exit 0 or 1 (got $rc)"
unlike "$err" "locked|blocked" "the next window run does not say locked or blocked"
like "$out
$err" "recover" "the next window run recovered the interrupted run"
case $rc in
0)
	is "$(cat "$R/lib/a.txt"):$(rows):$(changes)" "v3:1 2 3 4 :ENH-1 ENH-2 " \
		"exit 0: the site is exactly after ENH-2 (file, row, nightshift_changes)"
	want=migrated
	;;
*)
	is "$(site_state)" "$BEFORE" "exit $rc: the site is byte-identical to before ENH-2"
	want=rolled-back
	;;
esac
ns status ENH-2 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["enhancement"]["state"])' 2>&1)" \
	"$want" "the registry agrees with the site: ENH-2 $want"
is "$(find "$T/site" -name '.nightshift*' | wc -l)" 0 "no staging file is left"
is "$(ls -A "$T/home/journal/demo/model" | wc -l)" 0 "no journal is left active"

# and the environment is free for the next night
ns window run --now
is "$rc:$out" "0:demo/model: no trigger due" "a further window run: exit 0, nothing due, not locked"

done_testing
