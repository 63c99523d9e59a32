#!/bin/bash
# The audit log is a hash chain. Events made by submit, schedule and a
# window run carry prev_sha256 and sha256, exactly as nightshift(1) spells
# the record (recomputed here by an implementation of its own); `audit
# verify` says the chain is intact and prints its head. Then someone with
# the sqlite3 shell drops the append-only triggers and edits an event,
# deletes one, or inserts a forged one with a well-made hash — each on a
# fresh copy of the registry — and `audit verify` exits 1 naming the first
# bad event and what is wrong with it. A schema-1 registry is chained by
# the upgrade and verifies intact.
. "$(dirname "$0")/lib.sh"

GENESIS=0000000000000000000000000000000000000000000000000000000000000000

# the record of nightshift(1), AUDIT LOG, in Python:
#   chain.py DB check              recompute every link and hash: "N HEAD"
#   chain.py DB sha PREV ID AT ACTOR ENH REV ENV EVENT DETAIL
#                                  the sha256 of such an event ('' is NULL
#                                  for ENH REV ENV DETAIL, numbers are
#                                  integers)
cat >"$T/chain.py" <<'PY'
import hashlib, sqlite3, struct, sys

def val(v):
    if v is None:
        return b'N'
    if isinstance(v, int):
        return b'I' + struct.pack('>q', v)
    if isinstance(v, float):
        return b'R' + struct.pack('>d', v)
    if isinstance(v, str):
        v = v.encode()
        return b'T' + struct.pack('>Q', len(v)) + v
    return b'B' + struct.pack('>Q', len(v)) + v

def sha(prev, fields):
    return hashlib.sha256(b'nightshift-audit-v1\0' + val(prev) +
                          b''.join(val(f) for f in fields)).hexdigest()

if sys.argv[2] == 'check':
    db = sqlite3.connect(sys.argv[1])
    prev, n = '0' * 64, 0
    for r in db.execute('SELECT id, at, actor, enhancement, revision, '
                        'environment, event, detail, prev_sha256, sha256 '
                        'FROM events ORDER BY id'):
        if r[0] != n + 1 or r[8] != prev or sha(prev, r[:8]) != r[9]:
            print('bad event', r[0])
            sys.exit(1)
        prev, n = r[9], n + 1
    print(n, prev)
else:
    a = sys.argv[3:]
    opt = lambda s, f: f(s) if s != '' else None
    print(sha(a[0], [int(a[1]), a[2], a[3], opt(a[4], int), opt(a[5], int),
                     opt(a[6], str), a[7], opt(a[8], str)]))
PY
chain() { python3 "$T/chain.py" "$@"; }

DROP_GUARDS="DROP TRIGGER events_append_only_u;
DROP TRIGGER events_append_only_d;
DROP TRIGGER events_append_only_i;
DROP TRIGGER events_chained_i;"

ns_home
DB=$T/home/nightshift.db

# ---- events made the ordinary way --------------------------------------
for p in p1 p2; do
	make_pkg "$T/$p" "title of $p"
	echo "content of $p" >"$T/$p/files/$p.txt"
done
ns --as alice submit "$T/p1"
is "$rc" 0 "submit ENH-1"
ns --as alice submit "$T/p2"
is "$rc" 0 "submit ENH-2"
"$NS" --as quinn qa approve ENH-1 >/dev/null 2>&1
ns --as bob schedule ENH-1 --env model
is "$rc" 0 "schedule ENH-1"
ns --as night window run --now
is "$rc" 0 "window run migrates ENH-1"
N=$(sqlite3 "$DB" 'SELECT count(*) FROM events')
like "$N" '^([5-9]|[1-9][0-9]+)$' "the flow left at least five events ($N)"
LAST=$(sqlite3 "$DB" 'SELECT sha256 FROM events ORDER BY id DESC LIMIT 1')

ns audit verify
is "$rc" 0 "audit verify on an untouched log: exit 0"
is "$out" "audit log: $N events, chain intact, head $LAST" \
	"audit verify: the count, 'chain intact' and the head (the last event's sha256)"
is "$err" "" "audit verify: nothing on stderr"
is "$(chain "$DB" check)" "$N $LAST" \
	"every stored hash is the record of nightshift(1), recomputed independently, chained from 64 zeros"

ns audit verify --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys
d = json.load(sys.stdin)
print(d["intact"], d["events"], d["head"])' 2>&1)" "True $N $LAST" \
	"audit verify --json: intact, the count and the head"

ns log --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys
ev = json.load(sys.stdin)
prev = "0" * 64
for e in ev:
    assert e["prev_sha256"] == prev, e
    prev = e["sha256"]
print(len(ev), prev)' 2>&1)" "$N $LAST" \
	"log --json: each event carries prev_sha256 (its predecessor's sha256) and sha256"
ns log
is "$rc" 0 "log still prints the trail"
is "$(printf '%s\n' "$out" | grep -c .)" "$N" "log: one line per event, as before"
unlike "$out" "$LAST" "the text log leaves the hashes to --json"

ns audit
is "$rc" 2 "audit without verify: exit 2"
like "$err" "usage: nightshift audit verify" "audit without verify: the usage"
ns audit verify extra
is "$rc" 2 "audit verify with an extra argument: exit 2"

# ---- the registry itself refuses, as before ---------------------------
sqlite3 "$DB" "UPDATE events SET detail = 'x' WHERE id = 2" 2>"$T/sq.err"
like "$?:$(cat "$T/sq.err")" "^[1-9].*append-only" "sqlite3 UPDATE of an event: refused"
sqlite3 "$DB" "DELETE FROM events WHERE id = 2" 2>"$T/sq.err"
like "$?:$(cat "$T/sq.err")" "^[1-9].*append-only" "sqlite3 DELETE of an event: refused"
sqlite3 "$DB" "INSERT INTO events(at, actor, event) VALUES ('t', 'm', 'x')" 2>"$T/sq.err"
like "$?:$(cat "$T/sq.err")" "^[1-9].*hash-chained" "sqlite3 INSERT of an unchained event: refused"
is "$(sqlite3 "$DB" 'SELECT count(*) FROM events')" "$N" "the log is as it was"

# ---- tampering, each on a fresh copy -----------------------------------
# tamper NAME SQL: $T/NAME is a copy of the home whose registry had its
# guards dropped and SQL run on it
tamper() {
	rm -rf "${T:?}/$1"
	cp -a "$T/home" "$T/$1"
	sqlite3 "$T/$1/nightshift.db" "$DROP_GUARDS $2" || not_ok "tampering: $2"
}

# (a) an event's detail changed
tamper edited "UPDATE events SET detail = 'approved by the board' WHERE id = 2;"
ns -C "$T/edited" audit verify
is "$rc" 1 "(a) an edited event: exit 1"
like "$err" "event 2 was edited" "(a) the message names event 2 and says it was edited"
is "$out" "" "(a) nothing on stdout"
ns -C "$T/edited" audit verify --json
is "$rc:$(printf '%s' "$out" | python3 -c 'import json,sys
d = json.load(sys.stdin)
print(d["intact"], d["bad_event"], d["fault"], d["events"])' 2>&1)" "1:False 2 edited 1" \
	"(a) --json: not intact, bad_event 2, fault edited, one event verified before it"

# (a') the same edit with the event's own hash recomputed
tamper rehashed "UPDATE events SET actor = 'mallory' WHERE id = 2;"
ROW=$(sqlite3 -separator ' ' "$T/rehashed/nightshift.db" \
	"SELECT prev_sha256, id, at, actor, enhancement, revision, quote(environment), event, quote(detail) FROM events WHERE id = 2")
read -r P2 I2 A2 AC2 E2 R2 ENV2 EV2 D2 <<<"$ROW"
unq() { [ "$1" = NULL ] && echo "" || { local s=${1#\'}; echo "${s%\'}"; }; }
SHA2=$(chain x sha "$P2" "$I2" "$A2" "$AC2" "$E2" "$R2" "$(unq "$ENV2")" "$EV2" "$(unq "$D2")")
sqlite3 "$T/rehashed/nightshift.db" "UPDATE events SET sha256 = '$SHA2' WHERE id = 2;"
ns -C "$T/rehashed" audit verify
is "$rc" 1 "(a') an edit whose hash was recomputed: exit 1"
like "$err" "event 3 breaks the chain.*not the sha256 of event 2" \
	"(a') the next event's link names it: event 3 breaks the chain at event 2"

# (b) a middle event deleted
tamper deleted "DELETE FROM events WHERE id = 3;"
ns -C "$T/deleted" audit verify
is "$rc" 1 "(b) a deleted event: exit 1"
like "$err" "event 4 follows event 2: event 3 was deleted" \
	"(b) the message names the gap: event 3 was deleted"
# (b') and the gap closed by renumbering the rest
sqlite3 "$T/deleted/nightshift.db" "UPDATE events SET id = id - 1 WHERE id > 3;"
ns -C "$T/deleted" audit verify
is "$rc" 1 "(b') a deletion hidden by renumbering: exit 1"
like "$err" "event 3 breaks the chain" "(b') the message names event 3 and the broken chain"

# (c) a forged event inserted between events 2 and 3, with a valid hash
P=$(sqlite3 "$DB" 'SELECT sha256 FROM events WHERE id = 2')
AT=$(sqlite3 "$DB" 'SELECT at FROM events WHERE id = 2')
FORGED=$(chain x sha "$P" 3 "$AT" carol 2 1 "" qa-approved "no findings")
like "$FORGED" '^[0-9a-f]{64}$' "(c) the forger computes a well-made hash"
tamper inserted "UPDATE events SET id = -id WHERE id >= 3;
UPDATE events SET id = 1 - id WHERE id < 0;
INSERT INTO events VALUES (3, '$AT', 'carol', 2, 1, NULL, 'qa-approved', 'no findings', '$P', '$FORGED');"
is "$(sqlite3 "$T/inserted/nightshift.db" 'SELECT count(*) FROM events')" "$((N + 1))" \
	"(c) the copy has one event more"
ns -C "$T/inserted" audit verify
is "$rc" 1 "(c) an inserted event: exit 1"
like "$err" "event 4 breaks the chain" "(c) the message names event 4, after the forged one, and the broken chain"
ns -C "$T/inserted" audit verify --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys
d = json.load(sys.stdin)
print(d["bad_event"], d["fault"])' 2>&1)" "4 chain-broken" "(c) --json: bad_event 4, fault chain-broken"

# (c') one appended with a made-up hash
tamper appended "INSERT INTO events VALUES ($((N + 1)), '$AT', 'mallory', NULL, NULL, NULL, 'x', NULL, '$LAST', '$GENESIS');"
ns -C "$T/appended" audit verify
is "$rc" 1 "(c') an appended event with a made-up hash: exit 1"
like "$err" "event $((N + 1)) was edited" "(c') the message names it"

ns audit verify
is "$rc:$out" "0:audit log: $N events, chain intact, head $LAST" \
	"the original registry, never tampered with, still verifies intact"

# ---- a schema-1 registry -----------------------------------------------
# the registry as nightshift 0.1 left it: the same events, unchained
cp -a "$T/home" "$T/v1"
sqlite3 "$T/v1/nightshift.db" "DROP TABLE rfs; DROP TABLE approvals; DROP TABLE touches;
DROP INDEX enhancements_state;
ALTER TABLE enhancements DROP COLUMN environment;
ALTER TABLE enhancements DROP COLUMN warranty_until;
DROP TRIGGER events_chained_i;
ALTER TABLE events DROP COLUMN prev_sha256;
ALTER TABLE events DROP COLUMN sha256;
PRAGMA user_version = 1;" || not_ok "making a schema-1 registry"
is "$(sqlite3 "$T/v1/nightshift.db" 'PRAGMA user_version')" 1 "the copy is at schema 1"
ns -C "$T/v1" audit verify
is "$rc" 0 "a schema-1 registry, upgraded by the program: exit 0"
is "$out" "audit log: $N events, chain intact, head $LAST" \
	"its events chained in id order, to the very hashes they had (same head)"
is "$(sqlite3 "$T/v1/nightshift.db" 'PRAGMA user_version')" 3 "the registry is upgraded to schema 3"
is "$(chain "$T/v1/nightshift.db" check)" "$N $LAST" "the upgrade's hashes are the record's"
sqlite3 "$T/v1/nightshift.db" "UPDATE events SET actor = 'x' WHERE id = 1" 2>"$T/sq.err"
like "$?:$(cat "$T/sq.err")" "^[1-9].*append-only" "after the upgrade UPDATE is refused again"
ns -C "$T/v1" --as alice submit "$T/p1"
is "$rc" 0 "the upgraded registry takes new events"
ns -C "$T/v1" audit verify
like "$out" "audit log: $((N + 1)) events, chain intact" "and chains them on"

done_testing
