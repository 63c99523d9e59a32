#!/bin/bash
# The change-management lifecycle, model → production, with different
# people in their roles: the RFS register and its scope, QA, every
# separation-of-duties refusal, the analysis (conflicts on one file and on
# one table, RFS scope), acceptance, rejection backing the model out
# byte for byte, resubmission revoking approvals and withdrawing triggers,
# promotion of the byte-identical payload only, the production run,
# warranty WP → CP, and the change record of `status`.
. "$(dirname "$0")/lib.sh"

ns_home
mkdir -p "$T/prod/root/lib"
mkdir -p "$T/site/root/lib"
echo "rate = 10" >"$T/site/root/lib/tax.conf"
echo "rate = 10" >"$T/prod/root/lib/tax.conf"
sqlite3 "$T/prod/app.db" "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);
	INSERT INTO customers VALUES (1, 'ann'), (2, 'bob');"
cat >>nightshift.conf <<CONF
[environment "demo/production"]
    root = $T/prod/root
    database = sqlite:$T/prod/app.db
    warranty = 7d
CONF
# this test wants the RFS discipline the default configuration has
sed -i 's/require-rfs = false/require-rfs = true/' nightshift.conf
DBF=$T/site/app.db
export NIGHTSHIFT_NOW=2026-05-01T01:00:00
prod_state() { db_dump "$T/prod/app.db" | tree_hash_with "$T/prod/root"; }
notices() { grep -l "^X-Nightshift-Event: $1\$" "$T"/home/outbox/*.msg 2>/dev/null; }

pkg() { # DIR TITLE RFS [ROW] — changes lib/tax.conf and adds row ROW (3)
	make_pkg "$1" "$2"
	[ -n "$3" ] && echo "rfs = $3" >>"$1/enhancement.ini"
	printf '[instructions]\noperator = nothing to do by hand\n' >>"$1/enhancement.ini"
	mkdir -p "$1/files/lib" "$1/sql"
	echo "rate = 12" >"$1/files/lib/tax.conf"
	echo "INSERT INTO customers VALUES (${4:-3}, 'cy');" >"$1/sql/deploy.sql"
	echo "DELETE FROM customers WHERE id = ${4:-3};" >"$1/sql/revert.sql"
}

# ---- the RFS register ----------------------------------------------------------
ns --as alice rfs add RFS-7 --title "VAT change" --scope 'lib/*' --scope 'db:customers'
is "$rc" 0 "rfs add by alice (change management): exit 0"
ns --as dev rfs add RFS-8 --title "x"
is "$rc" 1 "rfs add by a developer: exit 1"
like "$err" "needs the role change-management.*'dev' does not hold it" "the refusal names the role and the person"
ns --as bob rfs add RFS-7 --title "again"
is "$rc" 1 "the same RFS twice: exit 1"
ns --as bob rfs add "bad id" --title "x"
is "$rc" 2 "an RFS id with a space: exit 2"
ns --as bob rfs add RFS-9 --title "Reports only" --scope 'reports/**'
ns rfs list
like "$out" "RFS-7 +VAT change +\[lib/\*, db:customers\]" "rfs list shows RFS-7 and its scope"
like "$out" "RFS-9 +Reports only" "and RFS-9"
ns rfs show RFS-7 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; d = json.load(sys.stdin); print(d["title"], d["scope"], d["created_by"])' 2>&1)" \
	"VAT change ['lib/*', 'db:customers'] alice" "rfs show --json: title, scope, who registered it"

# ---- submit needs a registered RFS -----------------------------------------
pkg "$T/none" "no rfs" ""
ns --as dev submit "$T/none"
is "$rc" 3 "submit without an RFS: exit 3"
like "$err" "none/enhancement.ini: \[enhancement\] rfs: missing" "the refusal names the file and the field"
pkg "$T/unknown" "unknown rfs" "RFS-99"
ns --as dev submit "$T/unknown"
is "$rc" 3 "submit naming an unregistered RFS: exit 3"
like "$err" "rfs: 'RFS-99' is not registered" "the refusal names the RFS"
ns --as quinn submit "$T/unknown"
is "$rc" 1 "submit by someone without the developer role: exit 1"
ns status
is "$(printf '%s\n' "$out" | grep -c '^ENH-')" 0 "nothing was registered"

# ---- the whole flow: dev submits, quinn approves, bob schedules ------------------
M0=$(site_state)
P0=$(prod_state)
pkg "$T/vat" "VAT to 12%" RFS-7
ns --as dev submit "$T/vat"
is "$rc:$(printf '%s\n' "$out" | head -n 1)" "0:ENH-1" "dev submits ENH-1"
sed -i 's/members = quinn$/members = quinn, dev/' nightshift.conf
ns --as dev qa approve ENH-1
is "$rc" 1 "the author cannot QA-approve, even with the qa role: exit 1"
like "$err" "dev may not QA-approve it: an author never signs off their own" "the refusal says why"
sed -i 's/members = quinn, dev$/members = quinn/' nightshift.conf
ns --as bob qa approve ENH-1
is "$rc" 1 "a person without the qa role cannot QA-approve: exit 1"
like "$err" "needs the role qa" "the refusal names the role"
ns --as quinn qa approve ENH-1
is "$rc" 0 "quinn (qa) approves ENH-1"
is "$(state_of ENH-1)" qa-approved "ENH-1 is qa-approved"
ns --as quinn schedule ENH-1 --env model
is "$rc" 1 "qa cannot schedule: exit 1"
like "$err" "needs the role change-management" "the refusal names change management"
ns --as bob schedule ENH-1 --env production
is "$rc" 1 "schedule into production directly: exit 1"
like "$err" "promotion" "the refusal points to promotion"
ns analyze ENH-1 --env model
is "$rc" 0 "analyze ENH-1 for the model: exit 0, nothing blocking"
like "$out" "ENH-1 r1 for demo/model: 0 blocking" "the report's first line"
ns --as bob schedule ENH-1 --env model
is "$rc" 0 "bob schedules ENH-1"
ns --as olga window run --now
is "$rc" 0 "the model window migrates ENH-1"
is "$(cat "$T/site/root/lib/tax.conf")" "rate = 12" "the model has the new file"

# ---- acceptance ------------------------------------------------------------------------
ns --as dev accept ENH-1 --env model
is "$rc" 1 "the author cannot accept: exit 1"
ns --as quinn accept ENH-1 --env model
is "$rc" 1 "quinn has no acceptance role: exit 1"
sed -i 's/members = carol, carl/members = carol, carl, quinn/' nightshift.conf
ns --as quinn accept ENH-1 --env model
is "$rc" 1 "QA's approver cannot also accept, even with the role: exit 1"
like "$err" "QA approval and acceptance need different people" "the refusal says why"
sed -i 's/members = carol, carl, quinn/members = carol, carl/' nightshift.conf
ns --as bob promote ENH-1
is "$rc" 1 "promote before acceptance: exit 1"
like "$err" "ENH-1 is migrated: 'promote' is not allowed" "the refusal names the state"
ns --as carol accept ENH-1 --env model
is "$rc" 0 "carol accepts ENH-1"
like "$out" "accepted in demo/model \(1 of 1" "one sign-off is enough by default"
like "$(cat $(notices accepted) 2>/dev/null)" "promote ENH-1" "the accepted notice tells change management how to promote"
ns --as dev promote ENH-1
is "$rc" 1 "the author cannot promote: exit 1"

# production takes only the payload that passed the model
STORE=$T/home/store/ENH-1-r1.tar
cp "$STORE" "$T/store.bak"
python3 - "$STORE" <<'PY'
import sys, tarfile, io
src = sys.argv[1]
with tarfile.open(src) as t:
    members = [(m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()]
with tarfile.open(src, "w", format=tarfile.USTAR_FORMAT) as t:
    for m, data in members:
        if m.name == "files/lib/tax.conf":
            data = b"rate = 99\n"
            m.size = len(data)
        t.addfile(m, io.BytesIO(data) if data is not None else None)
PY
ns --as bob promote ENH-1
is "$rc" 3 "promote with a stored payload that is not the accepted one: exit 3"
like "$err" "no longer has the hash recorded" "the refusal says the payload changed"
cp "$T/store.bak" "$STORE"
is "$(prod_state)" "$P0" "production untouched"

ns --as bob promote ENH-1
is "$rc" 0 "bob promotes ENH-1"
PT=$out
is "$PT" "$T/home/spool/demo/production/ENH-1-r1.trigger" "the production trigger's path"
ns trigger show "$PT"
is "$(printf '%s' "$out" | python3 -c 'import json,sys; d = json.load(sys.stdin); print(d["target"], " ".join(a["kind"] + ":" + a["actor"] for a in d["approvals"]))' 2>&1)" \
	"production qa:quinn acceptance:carol" "the trigger names its target and carries the approvals"
MT=$("$NS" status ENH-1 --json | python3 -c 'import json,sys; print([t["path"] for t in json.load(sys.stdin)["triggers"] if t["environment"] == "demo/model"][0])')
is "$("$NS" trigger show "$PT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["payload_sha256"])')" \
	"$("$NS" trigger show "$MT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["payload_sha256"])')" \
	"the production payload hash is the model run's"
is "$(state_of ENH-1)" promoted "ENH-1 is promoted"
# promoted again, to another time: the production trigger replaced
ns --as bob promote ENH-1
is "$rc" 1 "promote again without --at: exit 1"
like "$err" "ENH-1 is promoted for demo/production already \(due [0-9T:-]+Z\): to promote it again at another time, say when with --at TIME" \
	"… saying how to move it"
ns --as bob promote ENH-1 --at 2026-05-01T01:00
is "$rc:$out" "0:$T/home/spool/demo/production/ENH-1-r1-2.trigger" "promote again with --at: a new trigger"
is "$(test -e "$PT" && echo there || echo gone):$(state_of ENH-1)" "gone:promoted" \
	"… the old one is gone, ENH-1 still promoted"
PT=$out
is "$("$NS" trigger show "$PT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["payload_sha256"])')" \
	"$("$NS" trigger show "$MT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["payload_sha256"])')" \
	"… with the very payload of the model run"
export NIGHTSHIFT_NOW=2026-05-01T02:00:00
ns --as olga window run --env production --now
is "$rc" 0 "the production window migrates ENH-1"
is "$(cat "$T/prod/root/lib/tax.conf")" "rate = 12" "production has the new file"
is "$(sqlite3 "$T/prod/app.db" 'SELECT name FROM customers WHERE id = 3')" cy "production has the new row"
is "$(state_of ENH-1)" WP "ENH-1 is under warranty (WP)"
M=$(notices migrated | xargs -r grep -l '^X-Nightshift-Environment: demo/production$')
like "$(cat $M 2>/dev/null)" "available for production use" "the users are told production may use it"
like "$(grep '^To:' $M 2>/dev/null)" "users@example\.com" "the notice reaches the users"

# ---- warranty --------------------------------------------------------------------------
export NIGHTSHIFT_NOW=2026-05-07T02:00:00
ns warranty
is "$rc" 0 "warranty before the 7 days: exit 0"
like "$out" "ENH-1 r1 under warranty \(WP\) in demo/production until 2026-05-08T02:00:00Z" "WP until 7 days after"
export NIGHTSHIFT_NOW=2026-05-08T02:00:01
ns warranty
like "$out" "ENH-1 r1 complete \(CP\) in demo/production" "after 7 days: CP"
is "$(state_of ENH-1)" CP "ENH-1 is CP"
ns --as bob rollback ENH-1 --env production --reason late
is "$rc" 1 "no rollback after the warranty: exit 1"
export NIGHTSHIFT_NOW=2026-05-09T01:00:00

# ---- conflicts, RFS scope ----------------------------------------------------------------
pkg "$T/a2" "rate 13" RFS-7 4
echo "rate = 13" >"$T/a2/files/lib/tax.conf"
ns --as dev submit "$T/a2"           # ENH-2
pkg "$T/a3" "rate 14" RFS-7 5
echo "rate = 14" >"$T/a3/files/lib/tax.conf"
ns --as dev submit "$T/a3"           # ENH-3: same file, same table
make_pkg "$T/a4" "table only"
printf 'rfs = RFS-7\n[instructions]\noperator = none\n' >>"$T/a4/enhancement.ini"
mkdir -p "$T/a4/sql" "$T/a4/files/lib"
echo "x" >"$T/a4/files/lib/other.txt"
echo "UPDATE Customers SET name = 'Ann' WHERE id = 1;" >"$T/a4/sql/deploy.sql"
echo "UPDATE customers SET name = 'ann' WHERE id = 1;" >"$T/a4/sql/revert.sql"
ns --as dev submit "$T/a4"           # ENH-4: the same table only
ns analyze ENH-2 --env model
is "$rc" 0 "ENH-2, the first of them, only warns: exit 0"
like "$out" "warning +CONFLICT-FILE +ENH-3 \(submitted\) also changes lib/tax.conf, and this one goes first" \
	"a warning names the later ENH-3 on the same file"
like "$out" "warning +CONFLICT-DB +ENH-4 \(submitted\) also changes database object customers" \
	"and the later ENH-4 on the same table"
ns analyze ENH-3 --env model --json
is "$rc" 1 "ENH-3 conflicts with the earlier ENH-2: exit 1"
is "$(printf '%s' "$out" | python3 -c 'import json,sys
d = json.load(sys.stdin)
print(" ".join(sorted("%s:%s:%s" % (f["code"], f["severity"], ",".join(f["items"])) for f in d["findings"])), d["returned"])' 2>&1)" \
	"CONFLICT-DB:blocking:customers CONFLICT-DB:warning:customers CONFLICT-FILE:blocking:lib/tax.conf True" \
	"ENH-3: the file and the table ENH-2 also changes (blocking), the table ENH-4 changes later (warning); returned"
is "$(state_of ENH-3)" returned "ENH-3 was returned to its developer"
like "$(cat $(notices returned) 2>/dev/null)" "CONFLICT-FILE.*lib/tax.conf" "the developer is told the findings"
ns analyze ENH-4 --env model
is "$rc" 1 "ENH-4 (the same table as the earlier ENH-2): exit 1"
like "$out" "BLOCKING CONFLICT-DB +ENH-2 \(submitted\) also changes database object customers" "the table conflict, named"

make_pkg "$T/out" "outside its scope"
printf 'rfs = RFS-9\n' >>"$T/out/enhancement.ini"
mkdir -p "$T/out/files/reports" "$T/out/files/www"
echo r >"$T/out/files/reports/r.txt"
echo w >"$T/out/files/www/w.html"
ns --as dev submit "$T/out"          # ENH-5
ns --as quinn qa approve ENH-5
ns --as bob schedule ENH-5 --env model
is "$rc" 1 "schedule of an enhancement outside its RFS: exit 1"
like "$err" "RFS-SCOPE .*www/w\.html" "the finding names the path outside RFS-9's scope"
unlike "$err" "RFS-SCOPE .*reports/r\.txt" "and not the path inside it"
is "$(state_of ENH-5)" returned "ENH-5 was returned"
is "$(ls "$T/home/spool/demo/model" | grep -c ENH-5)" 0 "no trigger was written for it"

# ---- rejection, resubmission ------------------------------------------------------------
ns --as quinn qa approve ENH-2
ns --as bob schedule ENH-2 --env model
M1=$(site_state)
ns --as olga window run --now
is "$rc" 0 "ENH-2 migrated into the model"
ns --as carol reject ENH-2 --env model
is "$rc" 2 "reject without a reason: exit 2"
ns --as carol reject ENH-2 --env model --reason "the rate is wrong"
is "$rc" 0 "carol rejects ENH-2"
is "$(site_state)" "$M1" "the model is byte-identical to before ENH-2 (files and database)"
is "$(state_of ENH-2)" rejected "ENH-2 is rejected"
like "$(cat $(notices backed-out) 2>/dev/null)" "rejected it" "the developer is told"

ns --as quinn qa approve ENH-3 2>/dev/null
ns --as dev resubmit ENH-3 "$T/a3"
is "$rc:$out" "0:ENH-3 r2" "ENH-3 resubmitted as r2"
ns --as quinn qa approve ENH-3
ns --as dev resubmit ENH-3 "$T/a3"
is "$rc:$out" "0:ENH-3 r3" "resubmitted again as r3"
ns status ENH-3 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys
d = json.load(sys.stdin)
print(d["enhancement"]["state"], d["enhancement"]["revision"], " ".join("r%d:%s:%s" % (a["revision"], a["kind"], "revoked" if a["revoked_at"] else "valid") for a in d["approvals"]))' 2>&1)" \
	"submitted 3 r2:qa:revoked" "r3 is submitted; r2's QA approval is revoked"
ns --as bob schedule ENH-3 --env model
is "$rc" 1 "r3 cannot be scheduled without its own QA approval"
ns log ENH-3
like "$out" "dev +ENH-3 r2 +- +approvals-revoked +revision r3 supersedes r2" "the log records the revocation"

# a resubmission withdraws a pending trigger
ns --as quinn qa approve ENH-3
ns --as dev1 withdraw ENH-2 --reason "not mine"
is "$rc" 1 "another developer, not in change management, cannot withdraw it: exit 1"
like "$err" "withdraw: dev1 is not its author and not in change management" "the refusal says why"
ns --as dev withdraw ENH-2 --reason "superseded by ENH-3"
is "$rc" 0 "dev withdraws ENH-2"
ns --as bob schedule ENH-3 --env model
is "$rc" 0 "ENH-3 r3 scheduled"
T3=$out
ns --as dev resubmit ENH-3 "$T/a3"
is "$rc:$out" "0:ENH-3 r4" "resubmitted while scheduled: r4"
is "$([ -e "$T3" ] && echo present || echo gone)" gone "r3's trigger file is withdrawn"
ns --as olga window run --now
like "$out" "no trigger due" "and nothing runs"

# ---- a later enhancement on its way into the model does not hold back
# an earlier one's promotion: a warning, not a block
fx() { # DIR TITLE CONTENT
	make_pkg "$1" "$2"
	printf 'rfs = RFS-7\n' >>"$1/enhancement.ini"
	mkdir -p "$1/files/lib"
	echo "$3" >"$1/files/lib/fx.conf"
}
fx "$T/fx1" "fx one" 1
ns --as dev submit "$T/fx1"          # ENH-6
ns_ready ENH-6 >/dev/null
ns --as olga window run --now
sed -i 's/^    require-rfs = true$/&\n    acceptances = 2/' nightshift.conf
ns --as carol accept ENH-6 --env model
is "$rc" 0 "carol signs ENH-6's acceptance"
like "$out" "1 of 2 sign-offs, waiting for 1 more" "with acceptances = 2, one sign-off is not enough"
is "$(state_of ENH-6)" migrated "ENH-6 is still migrated"
ns --as carol accept ENH-6 --env model
is "$rc" 1 "carol cannot sign twice: exit 1"
like "$err" "carol has already signed its acceptance" "the refusal says why"
ns --as carl accept ENH-6 --env model
is "$rc" 0 "carl signs the second"
is "$(state_of ENH-6)" accepted "ENH-6 accepted in the model"
fx "$T/fx2" "fx two" 2
ns --as dev submit "$T/fx2"          # ENH-7, the same file
ns_ready ENH-7 >/dev/null
is "$(state_of ENH-7)" scheduled "ENH-7 scheduled for the model (ENH-6 is no longer pending there)"
ns --as bob promote ENH-6
is "$rc" 0 "ENH-6 is promoted although the later ENH-7 is scheduled for the model"
# window run checks the payload again: in a copy of the home whose registry
# says the model ran another payload, the production run is refused
cp -a "$T/home" "$T/h2"
PB2=$(prod_state)
sqlite3 "$T/h2/nightshift.db" "UPDATE triggers SET payload_sha256 = '$(printf 'f%.0s' $(seq 64))'
	WHERE enhancement = 6 AND environment = 'demo/model'"
ns -C "$T/h2" --as olga window run --env production --now
is "$rc" 3 "a production trigger whose payload is not the model run's: exit 3"
like "$err" "is not the one that passed demo/model" "the refusal says so"
is "$(prod_state)" "$PB2" "production is untouched"
rm -rf "$T/h2"
ns analyze ENH-6 --env production
like "$out" "warning +CONFLICT-FILE +ENH-7 \(scheduled\) also changes lib/fx.conf, and this one goes first" \
	"the production analysis warns of ENH-7"

# a defect within the warranty: backed out of production from its archive
PB=$(prod_state)
ns --as olga window run --env production --now
is "$(state_of ENH-6)" WP "ENH-6 in production, under warranty"
is "$(cat "$T/prod/root/lib/fx.conf")" 1 "production has ENH-6's file"
ns --as dev rollback ENH-6 --env production --reason "defect"
is "$rc" 1 "a developer cannot back out of production: exit 1"
ns --as olga rollback ENH-6 --env production --reason "defect in week one"
is "$rc" 0 "olga (operator) backs ENH-6 out during its warranty"
is "$(prod_state)" "$PB" "production is byte-identical to before ENH-6"
is "$(state_of ENH-6)" rolled-back "ENH-6 is rolled back"
ns status ENH-6 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys
print(" ".join("%s:%s" % (a["kind"], a["revoked_why"]) for a in json.load(sys.stdin)["approvals"]))' 2>&1)" \
	"qa:None acceptance:the run was backed out acceptance:the run was backed out" \
	"the back-out revokes the acceptance sign-offs of the run; QA's approval of the revision stays"

# ---- the other findings -------------------------------------------------------------
sed -i "s|^    database = sqlite:$T/site/app.db\$|&\n    window = Mon-Fri 23:00-05:00\n    blackout = 2026-12-24..2026-12-26|" nightshift.conf
make_pkg "$T/many" "many findings"
cat >>"$T/many/enhancement.ini" <<'INI'
rfs = RFS-7
requires = ENH-99
conflicts = ENH-7
[schedule]
not-before = 2026-06-01T00:00
[distribution]
sites = nowhere
INI
mkdir -p "$T/many/files/lib" "$T/many/sql"
echo m >"$T/many/files/lib/m.txt"
echo "CREATE TABLE extra(a);" >"$T/many/sql/deploy.sql"
echo "DROP TABLE extra;" >"$T/many/sql/revert.sql"
ns --as dev submit "$T/many"         # ENH-8
codes() { printf '%s' "$out" | python3 -c 'import json,sys
print(" ".join(sorted("%s:%s" % (f["code"], f["severity"][0]) for f in json.load(sys.stdin)["findings"])))' 2>&1; }
ns analyze ENH-8 --env model --at 2026-05-12T12:00 --json
is "$rc" 1 "many findings: exit 1"
is "$(codes)" "DECLARED-CONFLICT:b DISTRIBUTION:b INSTRUCTIONS:w NOT-BEFORE:b REQUIRES:b RFS-SCOPE:b WINDOW:b" \
	"each finding by code and severity (the table extra is outside RFS-7; noon is outside the window)"
ns analyze ENH-8 --env model --at 2026-12-24T23:30 --json
like "$(codes)" "BLACKOUT:b" "Christmas Eve is in a blackout"
unlike "$(codes)" "WINDOW" "though inside a window"
ns analyze ENH-8 --env model --at 2026-06-05T04:59:59 --json
like "$(codes)" "DURATION:b" "a second before the window closes: it does not fit"

# a time outside the window is placed in the next opening (t3001 has the rest)
fx "$T/late" "only the time is wrong" 3
mv "$T/late/files/lib/fx.conf" "$T/late/files/lib/late.conf"
ns --as dev submit "$T/late"         # ENH-9
ns --as quinn qa approve ENH-9
ns --as bob schedule ENH-9 --env model --at 2026-05-12T12:00
is "$rc" 0 "schedule at noon, outside the window: placed, exit 0"
like "$err" "outside the windows of demo/model: placed at 2026-05-12T23:00:00Z" \
	"the placement is said"
is "$(state_of ENH-9)" scheduled "ENH-9 is scheduled"

# ---- the change record -------------------------------------------------------------------
ns status ENH-1
like "$out" "ENH-1 r1  CP" "status: the state"
like "$out" "rfs: +RFS-7 +VAT change" "status: the RFS"
like "$out" "touches: +file lib/tax.conf" "status: the files touched"
like "$out" "db customers" "status: the database objects touched"
like "$out" "qa +by quinn at" "status: the QA approval, who and when"
like "$out" "acceptance +by carol at .* demo/model" "status: the acceptance"
like "$out" "run #[0-9]+ migrate r1 demo/production .*: migrated" "status: the production run"
like "$out" "warranty: +until 2026-05-08T02:00:00Z" "status: the warranty"
like "$out" "instructions: +operator: nothing to do by hand" "status: the instructions"

ns audit verify
is "$rc" 0 "the audit log of the whole flow verifies"

done_testing
