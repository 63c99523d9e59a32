#!/bin/bash
# An environment with two sites: an enhancement goes into both or into
# neither. A failure on the second site backs the first out again. A
# backout that stops after the first site blocks the environment, and is
# finished by asking again once unblocked. A run killed after site a
# (before site b's commit point, or while it backs site a out again) is
# recovered to both sites as before; killed after site b's commit, to
# both as after. A reject or rollback killed between its sites is
# finished, or blocks when a site not reached cannot be backed out. A
# site whose rollback or backing out again could not write is rolled back
# by unblock.
. "$(dirname "$0")/lib.sh"

two_sites 'test "$NIGHTSHIFT_SITE" != demo/model/b || test ! -e lib/fail-on-b'

state() { # SITE
	db_dump "$T/sites/$1/app.db" | tree_hash_with "$T/sites/$1/root"
}
pkg() { # DIR with-failure?
	make_pkg "$1" "two sites"
	mkdir -p "$1/files/lib" "$1/sql"
	echo "v2" >"$1/files/lib/x.txt"
	[ -n "${2:-}" ] && echo "boom" >"$1/files/lib/fail-on-b"
	echo "INSERT INTO t VALUES (2);" >"$1/sql/deploy.sql"
	echo "DELETE FROM t WHERE a = 2;" >"$1/sql/revert.sql"
}

# DIR ID [with-failure]: the package handed in, approved, scheduled, run
run_pkg() {
	pkg "$1" "${3:-}"
	ns submit "$1"
	"$NS" --as quinn qa approve "$2" >/dev/null 2>&1
	ns schedule "$2" --env model
	ns window run --now
}

A0=$(state a)
B0=$(state b)

# a failure on site b, after its commit point
run_pkg "$T/bad" ENH-1 fail
is "$rc" 1 "a failure on the second site: exit 1"
like "$err" "site demo/model/b: rolled-back" "site b reports its rollback on stderr"
like "$err" "site demo/model/a backed out again" "site a is backed out again"
is "$(state a)" "$A0" "site a is byte-identical to before (files and database)"
is "$(state b)" "$B0" "site b is byte-identical to before (files and database)"
is "$(ls "$T/home/journal/demo/model" | wc -l)" 0 "no journal is left active"
ns status ENH-1 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["enhancement"]["state"])')" \
	rolled-back "the registry says rolled-back"
is "$(find "$T/sites" -name '.nightshift.*' | wc -l)" 0 "no staging file on either site"

# success on both sites, then a manual backout of both
run_pkg "$T/good" ENH-2
is "$rc" 0 "both sites migrate: exit 0"
for s in a b; do
	is "$(cat "$T/sites/$s/root/lib/x.txt")" "v2" "site $s has the new file"
	is "$(sqlite3 "$T/sites/$s/app.db" "SELECT enhancement FROM nightshift_changes")" \
		"ENH-2" "site $s has the nightshift_changes row"
done
ns log ENH-2
like "$(printf '%s\n' "$out" | grep ' migrated ')" \
	"migrated +site demo/model/a: files: 1 replaced, 0 added, 0 deleted; the SQL committed; site demo/model/b: files: 1 replaced, 0 added, 0 deleted; the SQL committed\$" \
	"the record says what was done on each site"
NIGHTSHIFT_STEPS_TRACE=$T/trace ns rollback ENH-2 --env model --reason "defect"
is "$rc" 0 "rollback of both sites: exit 0"
is "$(state a)" "$A0" "site a is back to before"
is "$(state b)" "$B0" "site b is back to before"
is "$(ls "$T/home/journal/demo/model" | wc -l)" 0 "no journal is left active after the backout"

# A backout that fails on its second site after the first was backed
# out: here the second site's backout journal cannot be written (a full
# disk at that step), though every site passed the check a moment
# before. The sites now disagree, so the environment is blocked until a
# person has looked, and nothing claims the enhancement was backed out.
# The step: the second journal begun in the traced backout above (a
# begin is the journal-write three steps before an fsync-dir).
step=$(awk '{ s[NR] = $2; n[NR] = $1 }
	END { for (i = 1; i <= NR; i++)
		if (s[i] == "journal-write" && s[i + 3] == "fsync-dir" && ++k == 2) {
			print n[i]; exit } }' "$T/trace")
like "$step" '^[0-9]+$' "the traced backout shows where the second site's journal begins"
run_pkg "$T/good3" ENH-3
is "$rc" 0 "ENH-3 migrates into both sites"
A3=$(state a)
B3=$(state b)
NIGHTSHIFT_FAIL_AT=$step:ENOSPC ns rollback ENH-3 --env model --reason "defect"
diag "$err"
is "$rc" 4 "a backout refused on its second site after the first: exit 4"
like "$err" "could not be backed out .* after the sites before it were: the environment's sites disagree" \
	"the message says the sites disagree"
is "$(state b)" "$B0" "the first site (b) was backed out"
is "$(state a)" "$A3" "the second site (a) is as the migration left it"
like "$err" "once the cause is mended and the environment unblocked, .nightshift rollback ENH-3 --env demo/model --reason \.\.\.. backs out the sites left" \
	"the message says how to finish the backout"
ns status ENH-3 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["enhancement"]["state"])')" \
	migrated "the registry still says migrated: the backout did not finish"
n=$(ls "$T/home/outbox/"*-rollback-failed.msg 2>/dev/null | wc -l)
is "$n" 1 "one ROLLBACK FAILED notice"
like "$(cat "$T/home/outbox/"*-rollback-failed.msg)" "Outcome: +blocked" "the notice says the environment is blocked"
ns window run --now
is "$rc" 4 "a window run into the blocked environment: exit 4"
like "$err" "environment demo/model is blocked" "it says the environment is blocked"
ns rollback ENH-3 --env model --reason "defect"
is "$rc" 4 "the backout asked again while blocked: exit 4"
is "$(state a)" "$A3" "and site a is still as the migration left it"

# the person mends the cause and unblocks; the backout asked again
# backs out the site left, not the one backed out already
ns unblock --env model --reason "the journal's disk has room again"
is "$rc" 0 "unblock: exit 0"
ns rollback ENH-3 --env model --reason "defect"
is "$rc" 0 "the backout asked again: exit 0"
like "$out" "site demo/model/a: defect; rolled back: site demo/model/a is as it was before" "it backs out site a"
unlike "$out" "site demo/model/b" "it leaves site b, backed out already, alone"
is "$(state a)" "$A0" "site a is back to before"
is "$(state b)" "$B0" "site b is still as before"
ns status ENH-3 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["enhancement"]["state"])')" \
	rolled-back "the registry now says rolled-back"
is "$(ls "$T/home/journal/demo/model" | wc -l)" 0 "no journal is left active"

# ---- a crash in the middle of a run, and recover ----------------------------
# Recovery keeps the run's promise too: both sites or neither. The step
# of each crash is found in a traced run of the same kind: the run goes
# site a, then site b; a failing one backs site a out again at its end.
# DIR ID WITH-FAILURE AWK-PROGRAM VAR FORMAT: a traced run picks the step
# ($traced); then the same scene runs again with VAR set to FORMAT of it
at_step() {
	pkg "$1" "$3"
	ns submit "$1"
	"$NS" --as quinn qa approve "$2" >/dev/null 2>&1
	cp -a "$T/home" "$T/home.before" && cp -a "$T/sites" "$T/sites.before"
	ns schedule "$2" --env model
	rm -f "$T/trace"
	NIGHTSHIFT_STEPS_TRACE=$T/trace ns window run --now
	traced=$(awk "$4" "$T/trace")
	rm -rf "$T/home" "$T/sites"
	mv "$T/home.before" "$T/home" && mv "$T/sites.before" "$T/sites"
	cd "$T/home" || exit 1
	ns schedule "$2" --env model
	export "$5=$(printf "$6" "$traced")"
	ns window run --now
	unset "$5"
}
crash_run() { # DIR ID [with-failure] AWK-PROGRAM: killed at the step, and recover
	at_step "$1" "$2" "${3:-}" "$4" NIGHTSHIFT_CRASH_AT %s
	is "$rc" 137 "$2: killed at step $traced"
	ns recover --env model
	is "$rc" 0 "$2: recover: exit 0"
}
# killed before site b's deploy (its BEGIN, the second one), site a done
crash_run "$T/crash1" ENH-4 "" '$2 == "BEGIN" && ++k == 2 { print $1; exit }'
is "$(state a):$(state b)" "$A0:$B0" "ENH-4: both sites as before (site a, migrated before the crash, backed out again)"
like "$out" "site demo/model/b of the same run was not migrated: .*; rolled back: site demo/model/a is as it was before" \
	"ENH-4: recover says why site a went back"
is "$(state_of ENH-4)" rolled-back "ENH-4: the registry says rolled-back"
is "$(ls "$T/home/journal/demo/model" | wc -l)" 0 "ENH-4: no journal is left active"
is "$(find "$T/sites" -name '.nightshift.*' | wc -l)" 0 "ENH-4: no staging file on either site"
"$NS" withdraw ENH-4 --reason "done with it" >/dev/null 2>&1
# killed after site b's COMMIT: both go forward
crash_run "$T/crash2" ENH-5 "" '$2 == "COMMIT" && ++k == 2 { print $1 + 1; exit }'
for s in a b; do
	is "$(cat "$T/sites/$s/root/lib/x.txt"):$(sqlite3 "$T/sites/$s/app.db" "SELECT enhancement FROM nightshift_changes")" \
		"v2:ENH-5" "ENH-5: site $s is migrated"
done
is "$(state_of ENH-5)" migrated "ENH-5: the registry says migrated"
# a rollback killed just after it began its first site's journal: it had
# changed nothing, so recovery leaves the sites, their archives and the
# registry as the migration left them, and the rollback can be asked again
A5=$(state a) B5=$(state b)
archives() { find "$T/home/archive" -path "*ENH-5-*/files/*" -type f | sort | xargs sha256sum; }
ARCH5=$(archives)
NIGHTSHIFT_CRASH_AT=3 ns rollback ENH-5 --env model --reason "killed"
is "$rc" 137 "ENH-5: a rollback killed at its third step"
like "$(ls "$T/home/journal/demo/model")" "backout\.jnl" "… leaving its backout journal"
ns recover --env model
is "$rc" 0 "ENH-5: recover: exit 0"
like "$out" "the backout was interrupted before it changed anything" "… saying the backout changed nothing"
is "$(state a):$(state b)" "$A5:$B5" "ENH-5: both sites still as the migration left them"
is "$(archives)" "$ARCH5" "ENH-5: the archives are intact"
is "$(state_of ENH-5)" migrated "ENH-5: the registry still says migrated"
ns rollback ENH-5 --env model --reason "clean up"
is "$rc:$(state a):$(state b)" "0:$A0:$B0" "ENH-5: the rollback asked again backs both out"
# site b fails its verify, and the run is killed while it backs site a out
# again (at the last COMMIT: site a's revert): site a's backout is
# finished, not taken for a migration
crash_run "$T/crash3" ENH-6 fail '$2 == "COMMIT" { c = $1 } END { print c }'
is "$(state a):$(state b)" "$A0:$B0" "ENH-6: both sites as before"
is "$(state_of ENH-6)" rolled-back "ENH-6: the registry says rolled-back"
is "$(ls "$T/home/journal/demo/model" | wc -l)" 0 "ENH-6: no journal is left active"

# a reject killed between its sites, just after the second site's backout
# journal was begun (found in the traced rollback of ENH-2): site b is
# backed out, site a not yet changed. Recovery finishes it as asked: site
# a backed out too, the enhancement rejected (not merely rolled back), on
# the reject's own run, with the notice the reject would have sent
run_pkg "$T/good7" ENH-7
is "$rc" 0 "ENH-7 migrates into both sites"
rm -f "$T/home/outbox/"*
NIGHTSHIFT_CRASH_AT=$((step + 1)) ns --as carol reject ENH-7 --env model --reason "the rate is wrong"
is "$rc:$(state b)" "137:$B0" "ENH-7: a reject killed after site b was backed out"
is "$(cat "$T/sites/a/root/lib/x.txt")" v2 "… before it began site a"
ns recover --env model
is "$rc" 0 "ENH-7: recover: exit 0"
like "$out" "site demo/model/a: the rate is wrong; rolled back" "… backs out site a, not reached"
unlike "$out" "changed anything" "… and does not call site a's journal, begun, a refused backout"
is "$(state a):$(state b)" "$A0:$B0" "ENH-7: both sites as before"
is "$(state_of ENH-7)" rejected "ENH-7: the registry says rejected, as asked"
q() { sqlite3 "$T/home/nightshift.db" "$1"; }
is "$(q "SELECT kind || ':' || outcome FROM runs WHERE enhancement = 7 ORDER BY id")" \
	"$(printf 'migrate:migrated\nbackout:rolled-back')" \
	"ENH-7: the migration's run stays migrated, the reject's own run is rolled back"
is "$(q "SELECT group_concat(site || ':' || outcome, ' ') FROM run_sites WHERE run = (SELECT max(id) FROM runs)")" \
	"demo/model/a:rolled-back demo/model/b:rolled-back" "ENH-7: the reject's run has both sites"
is "$(q "SELECT duration_ms BETWEEN 0 AND 60000 FROM runs WHERE id = (SELECT max(id) FROM runs)")" 1 \
	"ENH-7: … and the time recovery took (not the machine's uptime)"
msg=$(cat "$T/home/outbox/"*backed-out.msg 2>/dev/null)
like "$msg" "Subject: .*ENH-7 r1 backed out of demo/model" "ENH-7: the notice of the backout is sent"
like "$msg" "The acceptance test rejected it" "… as the reject's"
is "$(ls "$T/home/journal/demo/model" | wc -l)" 0 "ENH-7: no journal is left active"
ns recover --env model
is "$(state a):$(state b):$(state_of ENH-7)" "$A0:$B0:rejected" "ENH-7: a second recover changes nothing"

# the same, a rollback killed before site a's journal, but site a (not
# reached) has been changed by hand
# before the recovery: backing it out would lose that change, and site b
# is backed out already, so the sites disagree — blocked, for a person
"$NS" withdraw ENH-7 --reason "done with it" >/dev/null 2>&1
run_pkg "$T/good8" ENH-8
is "$rc" 0 "ENH-8 migrates into both sites"
rm -f "$T/home/outbox/"*
NIGHTSHIFT_CRASH_AT=$step ns rollback ENH-8 --env model --reason "defect"
is "$rc:$(state b)" "137:$B0" "ENH-8: a rollback killed after site b was backed out"
echo "v2, mended by hand" >"$T/sites/a/root/lib/x.txt"
A8=$(state a)
ns recover --env model
is "$rc" 4 "ENH-8: recover: exit 4, the environment blocked"
like "$err" "site demo/model/a could not be backed out (.*changed since.*) after the sites before it were: the environment's sites disagree" \
	"… saying the sites disagree, and why"
is "$(state a):$(state b)" "$A8:$B0" "ENH-8: site a keeps the change made by hand"
is "$(state_of ENH-8)" migrated "ENH-8: the registry still says migrated"
is "$(ls "$T/home/outbox/"*-rollback-failed.msg 2>/dev/null | wc -l)" 1 "ENH-8: a ROLLBACK FAILED notice"
# the person puts site a as the migration left it and unblocks; the
# rollback asked again backs out site a alone
echo "v2" >"$T/sites/a/root/lib/x.txt"
ns unblock --env model --reason "site a as the migration left it"
ns rollback ENH-8 --env model --reason "defect"
is "$rc" 0 "ENH-8: the rollback asked again: exit 0"
unlike "$out" "site demo/model/b" "… leaves site b, backed out already, alone"
is "$(state a):$(state b):$(state_of ENH-8)" "$A0:$B0:rolled-back" "ENH-8: both sites as before, rolled back"

# a rollback killed at its first step, before any journal: its run is
# closed as refused, and the trail says so (not only the runs table)
"$NS" withdraw ENH-8 --reason "done with it" >/dev/null 2>&1
run_pkg "$T/good9" ENH-9
A9=$(state a) B9=$(state b)
NIGHTSHIFT_CRASH_AT=1 ns rollback ENH-9 --env model --reason "defect"
is "$rc:$(ls "$T/home/journal/demo/model" | wc -l)" "137:0" "ENH-9: a rollback killed before its first journal"
ns recover --env model
is "$rc" 0 "ENH-9: recover: exit 0"
like "$out" "recovered ENH-9-r1-[0-9]+: the backout was interrupted before it changed anything" "… says the backout changed nothing"
is "$(state a):$(state b):$(state_of ENH-9)" "$A9:$B9:migrated" "ENH-9: both sites and the registry as the migration left them"
is "$(q "SELECT outcome FROM runs WHERE enhancement = 9 AND kind = 'backout'")" refused "ENH-9: the rollback's run is refused"
like "$("$NS" log ENH-9)" "back-out-refused +the backout was interrupted before it changed anything" \
	"ENH-9: the trail has the refused backout"

# a run whose site b fails its verify, and whose rollback of site b cannot
# write (a full disk at its revert's COMMIT, the third of the run): site a
# is backed out again, site b is blocked as the migration left it. Once
# the disk has room, unblock finishes site b's rollback itself
ns rollback ENH-9 --env model --reason "done with it"
at_step "$T/fail10" ENH-10 fail '$2 == "COMMIT" && ++k == 3 { print $1; exit }' \
	NIGHTSHIFT_FAIL_AT %s:ENOSPC
is "$rc" 4 "ENH-10: site b's rollback cannot write: exit 4, blocked"
is "$(state a):$(cat "$T/sites/b/root/lib/x.txt")" "$A0:v2" \
	"ENH-10: site a backed out again, site b as the migration left it"
is "$(state_of ENH-10)" rollback-failed "ENH-10: rollback-failed"
ns unblock --env model --reason "the disk has room again"
is "$rc" 0 "ENH-10: unblock: exit 0"
like "$out" "recovered ENH-10-r1-[0-9]+ \(rolled-back\): .*rolled back: site demo/model/b is as it was before" \
	"… it finishes site b's rollback"
is "$(state a):$(state b)" "$A0:$B0" "ENH-10: both sites as before"
is "$(state_of ENH-10):$(q "SELECT outcome FROM runs WHERE enhancement = 10 AND kind = 'migrate'")" \
	returned:rolled-back "ENH-10: returned, its run rolled back"
is "$(ls "$T/home/journal/demo/model" | wc -l)" 0 "ENH-10: no journal is left active"

# the same, but what cannot write is site a's backing out again (the
# run's fourth COMMIT): site b is rolled back, site a blocked as the
# migration left it. unblock finishes site a's backout; an unblock killed
# at any of its steps is finished by the next
at_step "$T/fail11" ENH-11 fail '$2 == "COMMIT" && ++k == 4 { print $1; exit }' \
	NIGHTSHIFT_FAIL_AT %s:ENOSPC
is "$rc" 4 "ENH-11: site a's backout cannot write: exit 4, blocked"
is "$(cat "$T/sites/a/root/lib/x.txt"):$(state b)" "v2:$B0" \
	"ENH-11: site a as the migration left it, site b rolled back"
mkdir -p "$T/scene11"
cp -a "$T/home" "$T/sites" "$T/scene11/"
scene11() {
	cd "$T" || exit 1
	rm -rf "$T/home" "$T/sites"
	cp -a "$T/scene11/home" "$T/scene11/sites" "$T/"
	cd "$T/home" || exit 1
}
unblocked11() { # a word for each thing not as an unblock must leave it
	[ "$(state a):$(state b)" = "$A0:$B0" ] || echo "sites-not-before"
	[ "$(q "SELECT state FROM enhancements WHERE id = 11")" = returned ] || echo "not-returned"
	[ "$(q "SELECT outcome FROM runs WHERE enhancement = 11")" = rolled-back ] || echo "run-not-rolled-back"
	[ "$(q "SELECT count(*) FROM environments WHERE blocked = 1")" = 0 ] || echo "still-blocked"
	[ -z "$(ls -A "$T/home/journal/demo/model")" ] || echo "active-journal"
	[ -z "$(find "$T/home" "$T/sites" \( -name '.nightshift*' -o -name '*.tmp-*' \) -print)" ] ||
		echo "leftovers"
}
rm -f "$T/steps"
NIGHTSHIFT_STEPS_FILE=$T/steps ns unblock --env model --reason "counting"
steps=$(cat "$T/steps" 2>/dev/null)
like "$out" "recovered ENH-11-r1-[0-9]+ \(rolled-back\): .*rolled back: site demo/model/a is as it was before" \
	"ENH-11: unblock finishes site a's backout ($steps steps)"
is "$(unblocked11)" "" "ENH-11: both sites as before, ENH-11 returned, its run rolled back"
unblock_matrix scene11 unblocked11 "${steps:-0}" ENH-11
done_testing
