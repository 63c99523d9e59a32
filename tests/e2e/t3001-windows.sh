#!/bin/sh
# Windows, time zones and blackouts as a user sees them: a bad window,
# timezone or blackout line refused naming its line and what was expected
# (exit 3); `windows` under NIGHTSHIFT_NOW, in the environment's zone and in
# UTC, text and --json; and where schedule places a trigger: after the
# not-before, --at outside a window, in requires order, past a blackout, past
# an opening it does not fit in, nowhere within a year; the blackout
# override refused without the role or the reason, audited when given, and
# the overridden trigger alone run inside the blackout.
. "$(dirname "$0")/lib.sh"

ns_home
# Berlin: 23:00 CET is 22:00 UTC in December
sed -i "s|^    database = sqlite:$T/site/app.db\$|&\\
    window = Mon-Fri 23:00-05:00\\
    timezone = Europe/Berlin\\
    blackout = 2026-12-24..2026-12-26\\
    blackout = 2026-12-31 18:00..2027-01-01 06:00|" nightshift.conf
line_of() { grep -n "$1" nightshift.conf | head -1 | cut -d: -f1; }
export NIGHTSHIFT_NOW=2026-12-01T12:00:00   # a Tuesday

# ---- bad lines ------------------------------------------------------------------
cp nightshift.conf good.conf
bad() { # SED-EXPRESSION PATTERN NAME
	cp good.conf nightshift.conf
	sed -i "$1" nightshift.conf
	ns windows
	is "$rc" 3 "$3: exit 3"
	like "$err" "$2" "$3: the message names the line and what was expected"
}
W=$(line_of 'window = ')
Z=$(line_of 'timezone = ')
B=$(line_of 'blackout = 2026-12-24')
bad 's|Mon-Fri 23:00-05:00|Mon-Fri 23:00-5|' \
	"^nightshift: nightshift.conf:$W: \[environment \"demo/model\"\] window: 'Mon-Fri 23:00-5': bad time range '23:00-5' \(want HH:MM-HH:MM\)" \
	"a window without minutes"
bad 's|Mon-Fri 23:00-05:00|Mon-Fry 23:00-05:00|' \
	"nightshift.conf:$W: .*window: 'Mon-Fry 23:00-05:00': unknown day 'Fry'" "an unknown day"
bad 's|Europe/Berlin|Europe/Berln|' \
	"nightshift.conf:$Z: .*timezone: unknown time zone 'Europe/Berln' \(expected a name from the tz database" \
	"an unknown time zone"
bad 's|2026-12-24..2026-12-26|2026-12-24..2026-12-32|' \
	"nightshift.conf:$B: .*blackout: '2026-12-24..2026-12-32': expected a date YYYY-MM-DD, a range of dates YYYY-MM-DD..YYYY-MM-DD or a timed range YYYY-MM-DD HH:MM..YYYY-MM-DD HH:MM" \
	"a date that does not exist"
bad 's|2026-12-31 18:00..2027-01-01 06:00|2027-01-01 06:00..2026-12-31 18:00|' \
	"nightshift.conf:$((B + 1)): .*blackout: .*the range ends before it starts" \
	"a timed range backwards"
bad "s|timezone = Europe/Berlin|&\\n    timezone = UTC|" \
	"nightshift.conf:$((Z + 1)): duplicate key 'timezone'" "two time zones"
cp good.conf nightshift.conf

# ---- windows --------------------------------------------------------------------
ns windows --count 3
is "$rc" 0 "windows: exit 0"
like "$out" "^demo/model \(Europe/Berlin\); window Mon-Fri 23:00-05:00; blackout 2026-12-24..2026-12-26, 2026-12-31 18:00..2027-01-01 06:00" \
	"windows: the environment, its zone, windows and blackouts"
like "$out" "opens +Tue 2026-12-01 23:00 CET .. Wed 2026-12-02 05:00 CET +\(2026-12-01T22:00:00Z .. 2026-12-02T04:00:00Z\)" \
	"windows: the next opening, local and UTC"
is "$(printf '%s\n' "$out" | grep -c '^  opens')" 3 "windows --count 3: three openings"
NIGHTSHIFT_NOW=2026-12-23T12:00:00 ns windows --json --count 3
is "$rc" 0 "windows --json: exit 0"
is "$(printf '%s' "$out" | python3 -c 'import json,sys
e = json.load(sys.stdin)[0]
print(e["environment"], e["timezone"], e["open"], e["blackout"])
for o in e["openings"]:
    print(o["opens"]["utc"], o["opens"]["local"], o["closes"]["utc"], o["closes"]["local"])')" \
"demo/model Europe/Berlin False False
2026-12-23T22:00:00Z 2026-12-23T23:00:00+01:00 2026-12-23T23:00:00Z 2026-12-24T00:00:00+01:00
2026-12-28T22:00:00Z 2026-12-28T23:00:00+01:00 2026-12-29T04:00:00Z 2026-12-29T05:00:00+01:00
2026-12-29T22:00:00Z 2026-12-29T23:00:00+01:00 2026-12-30T04:00:00Z 2026-12-30T05:00:00+01:00" \
	"windows --json: the Wednesday opening is cut at the blackout's midnight, the next ones follow it"
NIGHTSHIFT_NOW=2026-12-01T23:30:00 ns windows --env model --json --count 1
# (the clock may run on from NIGHTSHIFT_NOW: a second or so is allowed)
like "$(printf '%s' "$out" | python3 -c 'import json,sys
e = json.load(sys.stdin)[0]; print(e["open"], e["openings"][0]["opens"]["utc"])')" \
	"^True 2026-12-01T23:30:0[0-9]Z$" "windows inside an opening: open now, from now"
ns windows --count 0
is "$rc:$err" "2:nightshift: --count '0': expected a number from 1 to 1000" "windows --count 0: exit 2"
ns windows --env nowhere/model
is "$rc" 2 "windows --env for an environment that does not exist: exit 2"

# ---- schedule places the trigger ------------------------------------------------
n=0
pkg() { # [INI-LINES] — a package changing a file of its own; prints its id
	n=$((n + 1))
	make_pkg "$T/p$n" "change $n"
	mkdir -p "$T/p$n/files/lib"
	echo "$n" >"$T/p$n/files/lib/f$n.conf"
	[ $# -gt 0 ] && printf '%s\n' "$@" >>"$T/p$n/enhancement.ini"
	"$NS" --as dev submit "$T/p$n" | head -1
	"$NS" --as quinn qa approve "ENH-$n" >/dev/null
}
due() { sqlite3 nightshift.db "SELECT due_at FROM triggers WHERE enhancement = $1"; }

pkg "[schedule]" "not-before = 2026-12-02T10:00" >/dev/null    # ENH-1
ns --as bob schedule ENH-1 --env model
is "$rc" 0 "ENH-1 with a not-before: scheduled"
is "$(due 1)" 2026-12-02T22:00:00Z "ENH-1: placed at the first opening after its not-before (23:00 Berlin)"
like "$err" "ENH-1: 2026-12-01T12:00:0[0-9]Z is before its not-before 2026-12-02T10:00:00Z: placed at 2026-12-02T22:00:00Z" \
	"schedule says where it went and why"
ns trigger show "$out"
is "$(printf '%s' "$out" | python3 -c 'import json,sys
j = json.load(sys.stdin); print(j["window"], j["earliest"])')" \
	"2026-12-02T22:00:00Z/2026-12-03T04:00:00Z 2026-12-02T22:00:00Z" \
	"TRIGGER.json: the opening as window, its start as earliest"
like "$(printf '%s' "$out" | python3 -c 'import json,sys
print(json.load(sys.stdin)["latest"])')" '^2026-12-03T03:59:[0-5][0-9]Z$' \
	"TRIGGER.json: the latest safe start, seconds before the close (apply and rollback)"

pkg >/dev/null                                                      # ENH-2
ns --as bob schedule ENH-2 --env model --at 2026-12-01T12:00
is "$rc" 0 "--at noon, outside the window: scheduled anyway"
is "$(due 2)" 2026-12-01T22:00:00Z "ENH-2: placed at that evening's opening"
like "$err" "2026-12-01T12:00:00Z is outside the windows of demo/model: placed at 2026-12-01T22:00:00Z" \
	"the output says it was moved into the window"
pkg >/dev/null                                                      # ENH-3
ns --as bob schedule ENH-3 --env model --at 2026-12-01T23:30
is "$rc:$err:$(due 3)" "0::2026-12-01T23:30:00Z" "--at inside a window: kept as it is, nothing said"

pkg "requires = ENH-1" >/dev/null                                   # ENH-4
ns --as bob schedule ENH-4 --env model --at 2026-12-01T22:30
is "$rc" 0 "ENH-4 requires ENH-1: scheduled"
is "$(due 4)" 2026-12-02T22:00:00Z "ENH-4: not before ENH-1's opening, though asked for the day before"
like "$err" "before the trigger of an enhancement it requires" "the output says why"

pkg >/dev/null                                                      # ENH-5
ns --as bob schedule ENH-5 --env model --at 2026-12-24T12:00
is "$(due 5)" 2026-12-28T22:00:00Z "ENH-5 asked for Christmas Eve: the first opening after the blackout (Monday 23:00)"
like "$err" "falls in a blackout of demo/model" "the output names the blackout"

pkg >/dev/null                                                      # ENH-6
ns --as bob schedule ENH-6 --env model --at 2026-12-08T03:59:58
is "$(due 6)" 2026-12-08T22:00:00Z "ENH-6 two seconds before a close: it does not fit, the next opening"
like "$err" "leaves too little of the opening" "the output says it does not fit"

# ---- the blackout override ------------------------------------------------------
pkg >/dev/null                                                      # ENH-7
ns --as bob schedule ENH-7 --env model --at 2026-12-24T23:30 --override-blackout
is "$rc" 2 "--override-blackout without --reason: exit 2"
like "$err" "needs --reason" "the refusal asks for the reason"
ns --as bob schedule ENH-7 --env model --at 2026-12-24T23:30 --reason "why not"
is "$rc" 2 "--reason without --override-blackout: exit 2"
ns --as olga schedule ENH-7 --env model --at 2026-12-24T23:30 --override-blackout --reason "hotfix"
is "$rc" 1 "the override by an operator: exit 1"
like "$err" "--override-blackout needs the role change-management, and 'olga' does not hold it" \
	"the refusal names the role"
is "$(state_of 7)" qa-approved "ENH-7 stays qa-approved"
is "$(sqlite3 nightshift.db "SELECT count(*) FROM triggers WHERE enhancement = 7")" 0 "no trigger was written"
ns --as bob schedule ENH-7 --env model --at 2026-12-24T23:30 --override-blackout --reason "CHG-42 legal deadline"
is "$rc" 0 "the override by change management: scheduled"
is "$(due 7)" 2026-12-24T23:30:00Z "ENH-7: placed inside the blackout, at the time asked for"
trigger=$out
like "$err" "blackout overridden \(it runs inside a blackout\), audited: CHG-42 legal deadline" "the output says so"
ns trigger show "$trigger"
is "$(printf '%s' "$out" | python3 -c 'import json,sys
j = json.load(sys.stdin); print(j["blackout_override"], j["window"])')" \
	"CHG-42 legal deadline 2026-12-24T23:30:00Z/2026-12-25T04:00:00Z" \
	"TRIGGER.json carries the override's reason, for the run; the window holds the opening"
is "$(sqlite3 nightshift.db "SELECT actor || '|' || environment || '|' || detail FROM events
	WHERE enhancement = 7 AND event = 'blackout-overridden'")" \
	"bob|demo/model|CHG-42 legal deadline; due 2026-12-24T23:30:00Z, inside a blackout" \
	"the override is audited: who, where, the reason"
ns audit verify
is "$rc" 0 "the audit log verifies"

# the run inside the blackout: the overridden trigger only
is "$(state_of 6)" scheduled "ENH-6 is scheduled, due before Christmas"
NIGHTSHIFT_NOW=2026-12-24T23:45:00 ns window run
is "$rc" 0 "window run inside the blackout: exit 0"
like "$out" "demo/model: in a blackout; running only the triggers whose blackout was overridden" \
	"it says it runs only the overridden triggers"
is "$(state_of 7) $(cat "$T/site/root/lib/f7.conf")" "migrated 7" "ENH-7 migrated inside the blackout"
is "$(state_of 6) $(test -e "$T/site/root/lib/f6.conf" && echo there || echo absent)" "scheduled absent" \
	"ENH-6, due but not overridden, waits for the blackout to end"
NIGHTSHIFT_NOW=2026-12-25T23:30:00 ns window run
like "$out" "demo/model: closed, opens" "with nothing overridden due, the blackout keeps the environment closed"
is "$(state_of 6)" scheduled "ENH-6 still waits"

# ---- scheduled again: ENH-6 moved to January -------------------------------
# the same command repeated moves nothing; with --at the new trigger
# replaces the old one: one registry transaction, the old file removed
# after it, the old opening runs nothing, the new one runs it
OLD6=$(sqlite3 nightshift.db "SELECT path || ' ' || due_at FROM triggers WHERE enhancement = 6")
ns --as bob schedule ENH-6 --env model
is "$rc" 1 "ENH-6 scheduled again without --at: exit 1"
like "$err" "ENH-6 is scheduled for demo/model already \(due ${OLD6#* }\): to schedule it again at another time, say when with --at TIME" \
	"… saying since when, and how to move it"
ns --as olga schedule ENH-6 --env model --at 2027-01-05T23:30
like "$rc:$err" "^[1-9]:.*change-management" "… and only change management may move it"
ns --as bob schedule ENH-6 --env model --at 2027-01-05T23:30
is "$rc:$out" "0:$T/home/spool/demo/model/ENH-6-r1-2.trigger" \
	"with --at: scheduled again, under a name of its own"
is "$(sqlite3 nightshift.db "SELECT state || ' ' || due_at FROM triggers WHERE enhancement = 6 ORDER BY id" | tr '\n' ,)" \
	"withdrawn ${OLD6#* },pending 2027-01-05T23:30:00Z," "the old trigger withdrawn, the new one pending"
is "$(test -e "${OLD6% *}" && echo there || echo gone)" gone "the old trigger file is gone"
like "$("$NS" log ENH-6)" "trigger-withdrawn .*scheduled again: due 2027-01-05T23:30:00Z instead of ${OLD6#* }" \
	"the trail says it was moved, from when to when"
is "$(state_of 6)" scheduled "ENH-6 is still scheduled"
NIGHTSHIFT_NOW=2026-12-28T23:30:00 ns window run
is "$(state_of 6) $(test -e "$T/site/root/lib/f6.conf" && echo there || echo absent)" "scheduled absent" \
	"the first opening after the blackout, which the old trigger waited for, runs nothing of ENH-6"
NIGHTSHIFT_NOW=2027-01-05T23:45:00 ns window run
is "$rc:$(state_of 6):$(cat "$T/site/root/lib/f6.conf")" "0:migrated:6" "the opening it was moved to runs it"
ns audit verify
is "$rc" 0 "the audit log verifies"

# nothing within a year: refused, the enhancement stays where it was
pkg >/dev/null                                                      # ENH-8
sed -i "s|^    blackout = 2026-12-24..2026-12-26\$|&\\
    blackout = 2027-01-01..2028-03-01|" nightshift.conf
ns --as bob schedule ENH-8 --env model --at 2027-01-04T12:00
is "$rc" 1 "no opening within 366 days: exit 1"
like "$err" "ENH-8: no opening of demo/model in the 366 days from 2027-01-04T12:00:00Z holds its estimated" \
	"the refusal says so"
is "$(state_of 8)" qa-approved "ENH-8 stays qa-approved"

# (after the long blackout below)
# a window that picked up a trigger which is scheduled again while the
# window runs does not run it: ENH-a's verify command (VERIFY, in which
# @B@ is ENH-b's number and @LATER@ the day it is moved to) moves ENH-b
# from the window of DAY
moved_in_window() { # VERIFY DAY LATER
	A=$((n + 1)) B=$((n + 2))
	pkg "[verify]" "command = $(printf '%s' "$1" | sed "s/@B@/$B/g; s/@LATER@/$3T23:30/g")" >/dev/null
	pkg >/dev/null
	ns --as bob schedule "ENH-$A" --env model --at "$2T23:30"
	ns --as bob schedule "ENH-$B" --env model --at "$2T23:30"
	NIGHTSHIFT_NOW=$2T23:45:00 ns window run
	is "$(state_of "$A"):$(state_of "$B")" "migrated:scheduled" \
		"ENH-$A migrated; ENH-$B, moved by ENH-$A's verify command, did not run"
	like "$out" "demo/model: ENH-$B r1 not run: it was scheduled again or withdrawn while this window ran" \
		"… and the window says why"
	is "$(test -e "$T/site/root/lib/f$B.conf" && echo there || echo absent)" absent \
		"… nothing of ENH-$B is in the site"
}
runs_later() { # LATER
	NIGHTSHIFT_NOW=$1T23:45:00 ns window run
	is "$(state_of "$B"):$(cat "$T/site/root/lib/f$B.conf")" "migrated:$B" \
		"ENH-$B runs at the time it was moved to"
}
MOVE="\"$NS\" -C \"$T/home\" --as bob schedule ENH-@B@ --env model --at @LATER@"
moved_in_window "$MOVE" 2028-03-07 2028-03-14
runs_later 2028-03-14

# the same, with the moved trigger's file put back in its place (the
# file is there and as made, the registry no longer has it pending): the
# check at the start of the run finds it withdrawn and runs nothing
OLD=$T/home/spool/demo/model/ENH-$((n + 2))-r1.trigger
moved_in_window "cp \"$OLD\" \"$T/saved.trigger\" && $MOVE && cp \"$T/saved.trigger\" \"$OLD\"" \
	2028-03-21 2028-03-28
is "$(test -e "$OLD" && echo there || echo gone)" there "… though its old file was there"
is "$(sqlite3 nightshift.db "SELECT state FROM triggers WHERE enhancement = $B ORDER BY id")" \
	"$(printf 'withdrawn\npending')" "… the old trigger stays withdrawn, the new one pending"
runs_later 2028-03-28

done_testing
