#!/bin/bash
# The daemon, unattended, on a clock the test moves (NIGHTSHIFT_NOW, a fast
# NIGHTSHIFT_CLOCK_RATE, a frozen "…!"): the order of a night's migrations
# (ENH-2 requires ENH-1), the re-queue of one that does not fit before the
# window closes (with its notice), an overrun that is not cut, the "no
# trigger" notice once on an empty night, WP → CP when the warranty ends,
# one daemon per registry, SIGHUP with a broken configuration, a trigger
# dropped into the spool waking a sleeping daemon, and SIGTERM during a
# migration.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/prod/root"
ns_home
cat >>nightshift.conf <<CONF
[environment "demo/model"]
    window = daily 11:00-11:30, daily 23:00-23:30
    timezone = UTC
[environment "demo/production"]
    root = $T/prod/root
    database = sqlite:$T/prod/app.db
    warranty = 6h
CONF
# the window lines belong to demo/model: move them up into its section
/usr/bin/python3 - nightshift.conf <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
extra = '[environment "demo/model"]\n    window = daily 11:00-11:30, daily 23:00-23:30\n    timezone = UTC\n'
s = s.replace(extra, '')
s = s.replace('[environment "demo/model"]\n', extra, 1)
open(p, 'w').write(s)
PY
sqlite3 "$T/prod/app.db" "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);"

at() { export NIGHTSHIFT_NOW=$1; }
events() { sqlite3 "$T/home/nightshift.db" "SELECT $1 FROM events WHERE $2 ORDER BY id"; }
notices() { grep -l "^X-Nightshift-Event: $1\$" "$T"/home/outbox/*.msg 2>/dev/null; }
# wait until the daemon's log ($1) matches $2 (at most 20 s)
await() {
	local i=0
	while ! grep -Eq -- "$2" "$1" && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	grep -Eq -- "$2" "$1"
}

# ---- three triggers for one night --------------------------------------------
at 2026-12-01T12:00:00
make_pkg "$T/p1" "tax table"
echo "a" >"$T/p1/files/a.txt"
make_pkg "$T/p2" "uses the tax table"
echo "b" >"$T/p2/files/b.txt"
echo "requires = ENH-1" >>"$T/p2/enhancement.ini"
make_pkg "$T/p3" "eight hundred files"
printf '[verify]\ncommand = sleep 1\n' >>"$T/p3/enhancement.ini"
mkdir -p "$T/p3/files/many"
(cd "$T/p3/files/many" && for i in $(seq 800); do echo "$i" >"f$i"; done)
for i in 1 2 3; do
	ns submit "$T/p$i"
	is "$rc" 0 "submit ENH-$i"; [ "$rc" = 0 ] || diag "$err"
done
for i in 1 2 3; do
	ns --as quinn qa approve ENH-$i
	ns schedule ENH-$i --env model
	is "$rc" 0 "schedule ENH-$i"; [ "$rc" = 0 ] || diag "$err"
done
is "$(sqlite3 nightshift.db "SELECT DISTINCT due_at FROM triggers")" \
	"2026-12-01T23:00:00Z" "all three placed in tonight's opening"

# ---- the night: the daemon starts 10 s before the window closes -------------
at 2026-12-01T23:29:50
"$NS" daemon 2>"$T/d1.log" &
D=$!
await "$T/d1.log" "sleeping until"
kill -TERM $D
wait $D
is "$?" 0 "SIGTERM while it sleeps: exit 0"
L=$(cat "$T/d1.log")
like "$L" "demo/model: window open until" "the log says the window opened"
is "$(sqlite3 nightshift.db "SELECT group_concat(enhancement, ' ') FROM (SELECT enhancement FROM runs WHERE environment = 'demo/model' AND outcome = 'migrated' ORDER BY id)")" \
	"1 2" "ENH-1, then ENH-2 that requires it, migrated"
is "$(cat "$T/site/root/a.txt" "$T/site/root/b.txt")" "a
b" "their files are on the site"
is "$(sqlite3 nightshift.db "SELECT state || ' ' || due_at FROM triggers WHERE enhancement = 3")" \
	"pending 2026-12-02T11:00:00Z" "ENH-3 does not fit the 10 s left: re-queued to the next opening"
[ -e "$T/site/root/many/f1" ] && not_ok "ENH-3 did not start" || ok "ENH-3 did not start"
like "$(events detail "event = 'requeued-window' AND enhancement = 3")" \
	"needs about [0-9]+ s to apply and [0-9]+ s to roll back, and the window closes at Tue 2026-12-01 23:30 UTC.*re-queued to the next opening, Wed 2026-12-02 11:00" \
	"the audit trail says why it was re-queued"
N=$(notices requeued-window)
is "$(printf '%s\n' "$N" | grep -c .)" 1 "one re-queue notice"
like "$(cat $N)" "To: .*(cm|bob)" "to change management"
like "$(cat $N)" "ENH-3 r1 re-queued in demo/model" "naming the enhancement"
like "$L" "ENH-3 r1 not started" "the daemon's log says so"
like "$L" "sleeping until 2026-12-02T11:00:00Z" \
	"then it sleeps until the next event"
is "$(events count\(\*\) "event = 'no-trigger' AND environment = 'demo/model'")" "0" \
	"no 'no trigger' notice for demo/model on a night with triggers"

# ---- accepted, promoted: production runs it when the daemon next wakes ------
at 2026-12-02T09:00:00
ns --as carol accept ENH-1 --env model
is "$rc" 0 "carol accepts ENH-1"
ns --as bob promote ENH-1
is "$rc" 0 "bob promotes ENH-1 into production (no window: always open)"

# ---- a day in seconds: 2 virtual hours per real second ----------------------
at 2026-12-02T11:00:00
export NIGHTSHIFT_CLOCK_RATE=7200
"$NS" daemon 2>"$T/d2.log" &
D=$!
await "$T/d2.log" "ENH-1 r1 on site .*production.*migrated"
ok "production migrated ENH-1 at once"
ns daemon --once
is "$rc" 4 "a second daemon for the same registry: exit 4"
like "$err" "another nightshift daemon runs for this registry" "the refusal says why"
await "$T/d2.log" "ENH-3 r1 on site .*migrated"
is "$(sqlite3 nightshift.db "SELECT state FROM triggers WHERE enhancement = 3")" "done" \
	"ENH-3 ran in the next opening"
await "$T/d2.log" "ENH-3 r1 overran its window"
ok "its verify took 2 virtual hours: the overrun was logged, the migration not cut"
is "$(ls "$T/site/root/many" | wc -l)" 800 "all its 800 files are there"
like "$(events detail "event = 'window-overrun' AND enhancement = 3")" "not cut" "the overrun is audited"
# the next night is empty: one notice, not one per wake-up
await "$T/d2.log" "demo/model: no trigger due"
ok "the empty night is noticed"
await "$T/d2.log" "ENH-1 r1 complete \(CP\)"
ok "6 hours later the warranty of ENH-1 ended"
is "$(sqlite3 nightshift.db "SELECT state FROM enhancements WHERE id = 1")" "CP" "ENH-1 is CP"

# SIGHUP with a broken configuration: refused, the old one kept
cp nightshift.conf "$T/good.conf"
echo "[nonsense" >>nightshift.conf
kill -HUP $D
await "$T/d2.log" "SIGHUP: configuration refused, the old one stays: .*nightshift.conf:[0-9]+"
ok "a broken configuration is refused, with the file and line"
kill -0 $D 2>/dev/null && ok "the daemon still runs" || not_ok "the daemon still runs"
cp "$T/good.conf" nightshift.conf
kill -HUP $D
await "$T/d2.log" "SIGHUP: configuration reloaded"
ok "a good one is taken"
kill -TERM $D
wait $D
is "$?" 0 "SIGTERM: exit 0"
unset NIGHTSHIFT_CLOCK_RATE
is "$(events count\(\*\) "event = 'no-trigger' AND environment = 'demo/model'")" \
	"$(grep -c 'demo/model: no trigger due' "$T/d2.log")" \
	"one no-trigger event per empty opening"
is "$(grep -c 'demo/model: no trigger due' "$T/d2.log")" \
	"$(notices no-trigger | xargs grep -l 'demo/model' | wc -l)" "and one notice each"

# ---- inside a window, on a frozen clock: the spool wakes it; SIGTERM --------
at 2026-12-04T23:00:10!
"$NS" daemon 2>"$T/d3.log" &
D=$!
await "$T/d3.log" "sleeping until|waiting"
make_pkg "$T/p4" "slow verify"
echo "d" >"$T/p4/files/d.txt"
printf '[verify]\ncommand = touch %s/in-verify; i=0; while [ ! -e %s/release ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done\n' "$T" "$T" >>"$T/p4/enhancement.ini"
make_pkg "$T/p5" "after it"
echo "e" >"$T/p5/files/e.txt"
# the site as it must be after ENH-4 alone: files and database
cp -a "$T/site/root" "$T/expect"
echo "d" >"$T/expect/d.txt"
DB_BEFORE=$(sqlite3 "$T/site/app.db" .schema "SELECT * FROM customers")
ns submit "$T/p4"
ns submit "$T/p5"
ns --as quinn qa approve ENH-4
ns --as quinn qa approve ENH-5
ns schedule ENH-4 --env model
is "$rc" 0 "ENH-4 scheduled into the open window"
ns schedule ENH-5 --env model
i=0
while [ ! -e "$T/in-verify" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
[ -e "$T/in-verify" ] && ok "the trigger in the spool woke the daemon: ENH-4 verifies" ||
	not_ok "the trigger in the spool woke the daemon: ENH-4 verifies" "$(cat "$T/d3.log")"
like "$(cat "$T/d3.log")" "spool changed" "the log says why it woke"
# the signal waits while the migration runs; the daemon reads it before it
# would start the next trigger
kill -TERM $D
sleep 0.3
kill -0 $D 2>/dev/null && ok "SIGTERM during the migration: the daemon waits for it" ||
	not_ok "SIGTERM during the migration: the daemon waits for it"
touch "$T/release"
wait $D
is "$?" 0 "the migration finished, then exit 0"
like "$(cat "$T/d3.log")" "starting nothing new.*
.*stopping: ENH-5 r1 not started, it stays due" "the log says it stopped before ENH-5"
is "$(sqlite3 nightshift.db "SELECT state FROM triggers WHERE enhancement = 4") $(sqlite3 nightshift.db "SELECT state FROM triggers WHERE enhancement = 5")" \
	"done pending" "ENH-4 done, ENH-5 not started: it stays due"
is "$(tree_hash "$T/site/root")" "$(tree_hash "$T/expect")" \
	"the site's files: exactly ENH-4 applied, ENH-5 not"
is "$(sqlite3 "$T/site/app.db" .schema "SELECT * FROM customers")" "$DB_BEFORE" \
	"its database unchanged (ENH-4 has no SQL)"
is "$(sqlite3 "$T/site/app.db" "SELECT group_concat(enhancement, ' ') FROM nightshift_changes")" \
	"ENH-1 ENH-2 ENH-3 ENH-4" "the change record has ENH-4, not ENH-5"
ns recover
is "$rc" 0 "nothing to recover: the site is consistent"
ls "$T/home/journal/demo/model"/*.jnl >/dev/null 2>&1 && not_ok "no journal left" || ok "no journal left"

# ---- daemon --once outside the window, and usage ---------------------------
at 2026-12-05T12:00:00!
ns daemon --once
is "$rc" 0 "daemon --once outside the window: exit 0"
like "$err" "demo/model: closed, opens" "it says when the window opens"
[ -e "$T/site/root/e.txt" ] && not_ok "nothing ran" || ok "nothing ran"
ns daemon --bogus
is "$rc" 2 "an unknown option: exit 2"

done_testing
