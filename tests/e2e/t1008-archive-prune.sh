#!/bin/bash
# Archive retention: `archive prune` removes the archives that no rollback
# or recovery needs any more, and the trigger files that ran, once [policy]
# archive-keep (default 90 days) has passed since their last run — and
# nothing else; a trigger waiting to run keeps its file. The archive of a
# migration that may still be backed out stays whatever its age, and the
# rollback still restores the site exactly afterwards; an archive a
# backout used stays until that backout is old too. A locked environment,
# an unfinished run, a registry naming a directory outside the archive,
# bad settings and bad arguments each end in a clear message, nothing
# removed. Each removal is in the audit log. A run killed before the
# registry had its site is known with its archive once recovered. The
# daemon prunes too, in an environment's window, once a day.
. "$(dirname "$0")/lib.sh"

export NIGHTSHIFT_NOW=2026-01-10T01:00:00Z
ns_home
R=$T/site/root
A=$T/home/archive/demo/model
SP=$T/home/spool/demo/model
echo "a1" >"$R/a.txt"
echo "b1" >"$R/b.txt"
echo "c1" >"$R/c.txt"
S0=$(site_state)

enh() { # N FILE CONTENT [verify command] — submit and schedule ENH-N
	local P=$T/p$1
	make_pkg "$P" "change $1"
	echo "$3" >"$P/files/$2"
	[ -f "$R/$2" ] && printf '[files]\nbase = %s %s\n' "$2" "$(sha "$R/$2")" >>"$P/enhancement.ini"
	[ $# -gt 3 ] && printf '[verify]\ncommand = %s\n' "$4" >>"$P/enhancement.ini"
	"$NS" submit "$P" >/dev/null || exit 1
	ns_ready "ENH-$1" >/dev/null || exit 1
}
archive_of() { ls -d "$A"/ENH-"$1"-* 2>/dev/null; }
pruned_events() { # [EVENT]
	sqlite3 "$T/home/nightshift.db" \
	"SELECT count(*) FROM events WHERE event = '${1:-archive-pruned}'"; }

# ENH-1 migrated (it may still be backed out), ENH-2 migrated and backed
# out, ENH-3 rolled back by its failing verify command
enh 1 a.txt a2
ns window run --now
is "$rc" 0 "ENH-1 migrated"
enh 2 b.txt b2
ns window run --now
ns rollback ENH-2 --env model --reason "not wanted"
is "$rc" 0 "ENH-2 migrated, then backed out"
enh 3 c.txt c2 false
ns window run --now
is "$rc" 1 "ENH-3 rolled back by its verify command"
S1=$(site_state)
for i in 1 2 3; do
	[ -d "$(archive_of $i)/main" ] || exit 1
done
H1=$(tree_hash "$(archive_of 1)")
HA=$(tree_hash "$A")

# ---- bad settings and arguments: nothing removed ---------------------------
ns archive
is "$rc" 2 "archive without prune: exit 2"
like "$err" "usage: .*archive prune \[--env ENV\] \[--dry-run\]" "… with the usage"
ns archive prune --older 3
is "$rc" 2 "an unknown option: exit 2"
ns archive prune --env nowhere
is "$rc" 2 "an unknown environment: exit 2"
like "$err" "nowhere" "… naming it"
ns --as dev archive prune
is "$rc" 1 "a developer may not prune: exit 1"
like "$err" "archive prune needs the role operator or technical-support.*'dev' does not hold it" \
	"… naming the roles and the person"
cp nightshift.conf conf.good
sed -i 's/^\[policy\]$/&\n    archive-keep = soon/' nightshift.conf
line=$(grep -n "archive-keep = soon" nightshift.conf | cut -d: -f1)
NIGHTSHIFT_NOW=2027-01-01T00:00:00Z ns archive prune
is "$rc" 3 "archive-keep = soon: exit 3"
like "$err" "nightshift.conf:$line: .*\[policy\] archive-keep: expected a period such as 90d.*not 'soon'" \
	"… naming the file, the line and the key"
sed -i 's/archive-keep = soon/archive-keep = forever/' nightshift.conf
NIGHTSHIFT_NOW=2027-01-01T00:00:00Z ns archive prune
is "$rc$out" "0demo/model: [policy] archive-keep = forever: nothing pruned" \
	"archive-keep = forever: nothing pruned, and it says so"
cp conf.good nightshift.conf
is "$(tree_hash "$A")" "$HA" "none of these removed anything from the archive"

# ---- the same day: everything is younger than 90 days ----------------------
ns archive prune
is "$rc" 0 "the same day: exit 0"
like "$out" "demo/model: 0 archives removed \(0 bytes freed\); 1 kept for a rollback; 2 with a run since 2025-10-12T01:00:00Z" \
	"… nothing removed: one archive a rollback needs, two recent ones"
like "$out" "demo/model: 0 trigger files removed \(0 bytes freed\); 0 waiting to run; 3 with a run since 2025-10-12T01:00:00Z" \
	"… nor a trigger file: three that ran recently"

# ---- 100 days later ---------------------------------------------------------
export NIGHTSHIFT_NOW=2026-04-20T01:00:00Z
# the environment locked by a run: passed over
# (the process that holds it is the one killed after: no child keeps it)
bash -c 'exec 9>>"$1" && flock 9 && exec sleep 30' _ "$T/home/locks/demo.model.lock" &
HOLDER=$!
for _ in $(seq 100); do
	flock -n "$T/home/locks/demo.model.lock" true 2>/dev/null || break
	sleep 0.05
done
ns archive prune
is "$rc" 4 "a locked environment: exit 4"
like "$err" "demo/model.*is locked" "… saying so"
kill "$HOLDER" && wait "$HOLDER" 2>/dev/null

# an unfinished run (killed in the middle): recover first
enh 4 d.txt d1
# (step 19: the flush of the staging, before the commit point)
NIGHTSHIFT_CRASH_AT=19 ns window run --now
is "$rc" 137 "a run killed (SIGKILL) at the flush of its staging"
is "$(ls "$T/home/journal/demo/model/" | grep -c '\.jnl$')" 1 "a run killed before its commit point left its journal"
ns archive prune
is "$rc" 4 "a journal of an unfinished run: exit 4"
like "$err" "demo/model: an unfinished run .*nothing pruned — .nightshift recover --env demo/model. first" \
	"… naming it and what to do"
is "$(tree_hash "$A/$(basename "$(archive_of 1)")")" "$H1" "… ENH-1's archive untouched"
is "$(pruned_events)" 0 "… nothing pruned"
ns recover
is "$rc" 0 "recover undoes the killed run"
like "$out" "recovered ENH-4-r1-[0-9]+ \(rolled-back\): interrupted before the commit point" "… and says so"
is "$(site_state)" "$S1" "… the site as it was"
H4=$(tree_hash "$(archive_of 4)")

# a dry run says what would go, and removes nothing
ns archive prune --dry-run
is "$rc" 0 "--dry-run: exit 0"
like "$out" "would remove $(archive_of 2)/main \(ENH-2 r1, last run finished 2026-01-10T01:00:00Z; [0-9.]+ (bytes|KiB)\)" \
	"… the archive of the backed-out ENH-2"
like "$out" "would remove $(archive_of 3)/main \(ENH-3 r1" "… the archive of the rolled-back ENH-3"
unlike "$out" "would remove $A/ENH-[14]" "… not ENH-1's (a rollback needs it) nor ENH-4's (recent)"
like "$out" "2 archives to remove .*; 1 kept for a rollback; 1 with a run since 2026-01-20T01:00:00Z" \
	"… and counts them"
like "$out" "would remove $SP/ENH-1-r1.trigger \(ENH-1 r1, last run finished 2026-01-10T01:00:00Z; [0-9.]+ KiB\)" \
	"… the trigger files that ran: ENH-1's (no rollback reads a trigger)"
like "$out" "3 trigger files to remove .*; 0 waiting to run; 1 with a run since 2026-01-20T01:00:00Z" \
	"… ENH-1's, ENH-2's and ENH-3's, not ENH-4's (recent)"
[ -d "$(archive_of 2)/main" ] && [ -d "$(archive_of 3)/main" ] && [ -f "$SP/ENH-1-r1.trigger" ]
is "$?" 0 "… all still there"
is "$(pruned_events)$(pruned_events trigger-pruned)" 00 "… and nothing in the audit log"

# a registry naming a directory outside the archive: refused, the rest pruned
D2=$(archive_of 2)/main
S2=$(printf '%s\n' "$out" | sed -n 's|.*would remove '"$D2"' (.*; \(.*\))$|\1|p')
mkdir -p "$T/outside/main"
echo "precious" >"$T/outside/main/canary"
D3=$(archive_of 3)/main
sqlite3 "$T/home/nightshift.db" "UPDATE run_sites SET rundir = '$T/outside/main' WHERE rundir = '$D3'"
ns archive prune
is "$rc" 1 "a rundir outside the archive: exit 1"
like "$err" "not pruned: $T/outside/main \(ENH-3 r1\) is not below the environment's \[paths\] archive $A" \
	"… naming the directory and the archive"
is "$(cat "$T/outside/main/canary")" precious "… the directory outside untouched"
like "$out" "removed $D2 " "… the other due archive removed"
is "$(cd "$SP" && ls)" "ENH-4-r1.trigger" "… and the trigger files that ran, but ENH-4's"
is "$(pruned_events trigger-pruned)" 3 "… each in the audit log"
sqlite3 "$T/home/nightshift.db" "UPDATE run_sites SET rundir = '../main' WHERE rundir = '$T/outside/main'"
ns archive prune
is "$rc" 1 "a rundir that steps up: exit 1"
is "$(cat "$T/outside/main/canary")" precious "… nothing outside touched"
sqlite3 "$T/home/nightshift.db" "UPDATE run_sites SET rundir = '$D3' WHERE rundir = '../main'"

ns archive prune
is "$rc" 0 "prune: exit 0"
like "$out" "removed $D3 \(ENH-3 r1, last run finished 2026-01-10T01:00:00Z; [0-9.]+ (bytes|KiB) freed\)" \
	"… ENH-3's archive removed"
is "$(archive_of 2)$(archive_of 3)" "" "ENH-2's and ENH-3's archives are gone, their directories too"
is "$(tree_hash "$(archive_of 1)")" "$H1" "ENH-1's archive is untouched (a rollback needs it)"
is "$(tree_hash "$(archive_of 4)")" "$H4" "ENH-4's archive is untouched (its run is recent)"
ns status ENH-2
like "$out" "site demo/model: migrated \(archive $D2, pruned\)" "status ENH-2: its archive is marked pruned"
like "$out" "trigger r1 demo/model due .*: done \($SP/ENH-2-r1.trigger, pruned\)" "… and its trigger file"
ns status ENH-4
like "$out" "\(archive $(archive_of 4)/main\)" "status ENH-4: its archive, not pruned, is not marked"
ns log ENH-2
like "$out" "archive-pruned" "the audit log of ENH-2 has the removal"
is "$(sqlite3 "$T/home/nightshift.db" "SELECT detail FROM events WHERE event = 'archive-pruned' AND enhancement = 2")" \
	"$D2, last run finished 2026-01-10T01:00:00Z ($S2 freed)" "… naming the directory, its last run and what it freed"
is "$(sqlite3 "$T/home/nightshift.db" "SELECT actor FROM events WHERE event = 'archive-pruned' AND enhancement = 3")" \
	alice "… and who did it"

# the rollback of ENH-1 still restores the site exactly
ns rollback ENH-1 --env model --reason "late defect"
is "$rc" 0 "ENH-1 backed out 100 days later"
is "$(site_state)" "$S0" "… the site exactly as before ENH-1"
ns archive prune
like "$out" "0 archives removed .*; 0 kept for a rollback; 2 with a run since" \
	"its archive stays while the backout that used it is recent"

# a trigger waiting to run keeps its file whatever its age
export NIGHTSHIFT_NOW=2026-08-01T01:00:00Z
enh 5 e.txt e1
ns archive prune --dry-run
like "$out" "1 trigger file to remove .*; 1 waiting to run; 0 with a run since" \
	"a trigger waiting to run: its file is held (ENH-4's, old now, would go)"
unlike "$out" "ENH-5" "… ENH-5's is not named"

# ---- 200 days later -----------------------------------------------------------
# the daemon prunes too: in an environment's window, after its runs, once
# a day
D1=$(archive_of 1)/main
ns daemon --once
is "$rc" 0 "200 days later, the daemon: exit 0"
like "$out$err" "ENH-5.*migrated" "… runs ENH-5"
like "$out$err" "removed $D1 \(ENH-1 r1, last run finished 2026-04-20T01:00:00Z" \
	"… removes ENH-1's archive, now that its backout is old"
like "$out$err" "2 archives removed .*; 1 kept for a rollback" "… and ENH-4's, keeping ENH-5's"
like "$out$err" "1 trigger file removed .*; 0 waiting to run; 1 with a run since" \
	"… and ENH-4's trigger file, keeping the one that just ran"
is "$(ls "$A")" "$(basename "$(archive_of 5)")" "the environment's archive holds ENH-5's alone"
is "$(ls "$SP")" "ENH-5-r1.trigger" "the spool holds ENH-5's trigger alone"
is "$(pruned_events)$(pruned_events trigger-pruned)" 44 "four removals of each kind in the audit log"
S5=$(site_state)
ns archive prune
is "$rc$(printf '%s\n' "$out" | grep -c ': removed ')" 00 "a second prune: nothing more to do"
like "$out" "0 archives removed" "… and says so"
is "$(site_state)" "$S5" "the site never changed by pruning"
ns audit verify
is "$rc" 0 "the audit log's chain holds"

# ---- a trigger file no trigger names ------------------------------------------
# (a schedule stopped between writing it and recording it): never run,
# never pruned, and prune says it is there
cp "$SP/ENH-5-r1.trigger" "$SP/ENH-99-r1.trigger"
ns archive prune
is "$rc" 0 "a stray trigger file: prune exit 0"
like "$out" "demo/model: $SP/ENH-99-r1.trigger: no trigger in the registry names it, so it never runs: left alone" \
	"… it names the file"
is "$(printf '%s\n' "$out" | grep -c 'no trigger in the registry names it')" 1 "… and no other"
is "$(sha "$SP/ENH-99-r1.trigger")" "$(sha "$SP/ENH-5-r1.trigger")" "… and leaves it as it was"
cp nightshift.conf conf.good
sed -i 's/^\[policy\]$/&\n    archive-keep = forever/' nightshift.conf
ns archive prune
is "$rc$(printf '%s\n' "$out" | head -n 1)" "0demo/model: [policy] archive-keep = forever: nothing pruned" \
	"archive-keep = forever: nothing pruned"
like "$out" "demo/model: $SP/ENH-99-r1.trigger: no trigger in the registry names it" \
	"… the stray file named all the same"
cp conf.good nightshift.conf
rm "$SP/ENH-99-r1.trigger"

# ---- an environment taken out of the configuration ---------------------------
# its archives and trigger files stay, and prune says they are there
sed -i 's|^\[environment "demo/model"\]|[environment "demo/production"]|' nightshift.conf
ns archive prune
is "$rc" 0 "demo/model no longer configured: prune exit 0"
like "$out" "demo/model: not in the configuration: its 1 archive and 1 trigger file are left alone \(put the environment back to prune them by \[policy\] archive-keep, or remove them by hand\)" \
	"… it names the environment and counts what is left on disk"
is "$(ls "$A"; ls "$SP")" "$(basename "$(archive_of 5)")
ENH-5-r1.trigger" "… and removes nothing of it"

done_testing
