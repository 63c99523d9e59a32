#!/bin/bash
# A successful migration, proved by its outcome: the exact tree (files
# added in new directories, replaced, deleted, the rest untouched), the
# database rows the deploy SQL made, the nightshift_changes row carrying
# the trigger's payload hash, the archive, the notice, the status, and no
# staging file left behind. Then `rollback` puts the site back exactly
# (files and database), and a files-only enhancement does the same round.
# A third deletes a directory with what is in it, once the analysis no
# longer finds a file there that it does not delete, and is backed out. A
# fourth replaces files of another owner, who keeps them and their ACLs,
# in a directory with a default ACL, which the new files get.
. "$(dirname "$0")/lib.sh"

ns_home
R=$T/site/root
DBF=$T/site/app.db
mkdir -p "$R/lib" "$R/www" "$R/bin"
echo "tax = 19" >"$R/lib/tax.conf"
echo "<p>old</p>" >"$R/www/old.html"
echo "<p>home</p>" >"$R/www/index.html"
echo "keep me" >"$R/keep.txt"
printf '#!/bin/sh\necho run\n' >"$R/bin/run"
chmod 0755 "$R/bin/run"
chmod 0600 "$R/keep.txt"

TREE0=$(tree_state "$R")
DUMP0=$(db_dump "$DBF")
S0=$(site_state)

# ---- ENH-1: files added, replaced, deleted; SQL ------------------------
P=$T/enh1
make_pkg "$P" "Gold customers"
mkdir -p "$P/files/lib/discounts/gold" "$P/files/reports" "$P/sql"
echo "tax = 20" >"$P/files/lib/tax.conf"
echo "gold = 10%" >"$P/files/lib/discounts/gold/rule.txt"
echo "monthly" >"$P/files/reports/monthly.txt"
cat >>"$P/enhancement.ini" <<INI
[files]
delete = www/old.html
base = lib/tax.conf $(sha "$R/lib/tax.conf")
INI
cat >"$P/sql/deploy.sql" <<'SQL'
ALTER TABLE customers ADD COLUMN tier TEXT NOT NULL DEFAULT 'basic';
INSERT INTO customers(id, name, tier) VALUES (3, 'cy', 'gold');
INSERT INTO customers(id, name, tier) VALUES (4, 'dee', 'silver');
SQL
cat >"$P/sql/revert.sql" <<'SQL'
DELETE FROM customers WHERE id IN (3, 4);
ALTER TABLE customers DROP COLUMN tier;
SQL
echo "SELECT count(*) = 2 FROM customers WHERE tier IN ('gold', 'silver');" >"$P/sql/verify.sql"

# the tree expected after the migration, built by hand
E=$T/expected1
cp -a "$R" "$E"
mkdir -p "$E/lib/discounts/gold" "$E/reports"
cp "$P/files/lib/tax.conf" "$E/lib/tax.conf"
cp "$P/files/lib/discounts/gold/rule.txt" "$E/lib/discounts/gold/rule.txt"
cp "$P/files/reports/monthly.txt" "$E/reports/monthly.txt"
rm "$E/www/old.html"
TREE1=$(tree_state "$E")

ns --as alice submit "$P"
is "$(printf '%s\n' "$out" | head -n 1)" "ENH-1" "submit: ENH-1"
"$NS" --as quinn qa approve ENH-1 >/dev/null 2>&1
ns --as bob schedule ENH-1 --env model
is "$rc" 0 "schedule: exit 0"
TRIGGER=$out
ns trigger show "$TRIGGER"
is "$rc" 0 "trigger show: exit 0"
PAYLOAD=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["payload_sha256"])' 2>&1)
like "$PAYLOAD" '^[0-9a-f]{64}$' "trigger show gives the payload's SHA-256"
is "$(tree_state "$R")" "$TREE0" "scheduling does not touch the site"

ns --as night window run --now
is "$rc" 0 "window run: exit 0 (migrated)"
is "$out" "demo/model: ENH-1 r1 on site demo/model: migrated (files: 1 replaced, 2 added, 1 deleted; the SQL committed)" \
	"window run says ENH-1 r1 migrated, and what it did"
is "$err" "" "nothing on stderr"

is "$(tree_state "$R")" "$TREE1" "the tree is exactly the expected one: added (in new directories), replaced, deleted, the rest untouched"
is "$(sqlite3 "$DBF" 'SELECT id, name, tier FROM customers ORDER BY id')" \
	"1|ann|basic
2|bob|basic
3|cy|gold
4|dee|silver" "the deploy SQL added the column and the rows"
is "$(sqlite3 "$DBF" 'SELECT enhancement, revision, payload_sha256, deployed_by FROM nightshift_changes')" \
	"ENH-1|1|$PAYLOAD|night" "nightshift_changes: ENH-1 r1, the trigger's payload hash, deployed by the operator"
like "$(sqlite3 "$DBF" 'SELECT deployed_at FROM nightshift_changes')" \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}' "nightshift_changes: deployed_at is a timestamp"
is "$(find "$T/site" -name '.nightshift*' | wc -l)" 0 "no hidden .nightshift.* staging file anywhere in the site"
is "$(ls -A "$T/home/journal/demo/model" 2>/dev/null | wc -l)" 0 "no journal is left active"

# the archive: the touched portion as it was
ARCH=$(ls -d "$T"/home/archive/demo/model/ENH-1-r1-*/main 2>/dev/null)
is "$(printf '%s\n' "$ARCH" | grep -c .)" 1 "one archive directory home/archive/demo/model/ENH-1-r1-*/main"
is "$(python3 -c 'import json,sys
p = json.load(open(sys.argv[1]))
print(p["enhancement"], p["revision"], " ".join(sorted(f["path"] for f in p["files"])))' "$ARCH/plan.json" 2>&1)" \
	"ENH-1 1 lib/discounts/gold/rule.txt lib/tax.conf reports/monthly.txt www/old.html" \
	"the archive's plan.json names the enhancement and every path it touches"
ok_d=$([ -d "$ARCH/files" ] && echo yes)
is "$ok_d" yes "the archive has a files/ directory"
is "$(find "$ARCH/files" -type f -exec sha256sum {} + 2>/dev/null | cut -c1-64 | sort)" \
	"$(printf '%s\n' "$(echo "tax = 19" | sha256sum | cut -c1-64)" "$(echo "<p>old</p>" | sha256sum | cut -c1-64)" | sort)" \
	"the archive's files/ holds exactly the old lib/tax.conf and the deleted www/old.html"

# the notice and the status
MSG=$(grep -l '^X-Nightshift-Event: migrated' "$T"/home/outbox/*.msg 2>/dev/null)
is "$(printf '%s\n' "$MSG" | grep -c .)" 1 "one 'migrated' notice in the outbox"
like "$(cat "$MSG" 2>/dev/null)" "X-Nightshift-Enhancement: ENH-1" "the notice names ENH-1"
like "$(grep '^Subject:' "$MSG" 2>/dev/null)" "ENH-1.*demo/model" "its subject names ENH-1 and demo/model"
like "$(grep '^To:' "$MSG" 2>/dev/null)" "alice" "it is addressed to the developer"
is "$(grep '^Detail:' "$MSG" 2>/dev/null)" "Detail:      files: 1 replaced, 2 added, 1 deleted; the SQL committed" \
	"… and says what the migration did"
ns status ENH-1 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["enhancement"]["state"])' 2>&1)" \
	migrated "status: migrated"
ns log ENH-1
like "$out" "night +ENH-1 r1 +demo/model +migrated" "log: the operator migrated ENH-1"

# ---- rollback -----------------------------------------------------------
ns --as bob rollback ENH-1 --env model --reason "x"
is "$rc" 0 "rollback: exit 0"
like "$out" "ENH-1 backed out" "rollback says ENH-1 was backed out"
is "$(tree_state "$R")" "$TREE0" "after rollback the tree is exactly as before (modes and contents)"
is "$(db_dump "$DBF")" "$DUMP0" "after rollback the database dump is exactly as before"
is "$(site_state)" "$S0" "after rollback site_state is byte-identical to before"
is "$(find "$T/site" -name '.nightshift*' | wc -l)" 0 "no staging file after the rollback"
ns status ENH-1 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["enhancement"]["state"])' 2>&1)" \
	rolled-back "status: rolled-back"
ns log ENH-1
like "$out" "bob +ENH-1 r1 +demo/model .*x" "log: bob backed ENH-1 out, with the reason"
MSG=$(grep -l '^X-Nightshift-Event: backed-out' "$T"/home/outbox/*.msg 2>/dev/null)
like "$(printf '%s\n' "$MSG" | xargs -r cat 2>/dev/null)" "X-Nightshift-Enhancement: ENH-1" "a backed-out notice names ENH-1"

# ---- ENH-2: files only --------------------------------------------------
Q=$T/enh2
make_pkg "$Q" "New home page"
mkdir -p "$Q/files/www/new/css"
echo "<p>new</p>" >"$Q/files/www/new/index.html"
echo "p { }" >"$Q/files/www/new/css/site.css"
echo "<p>home 2</p>" >"$Q/files/www/index.html"
cat >>"$Q/enhancement.ini" <<INI
[files]
delete = keep.txt
base = www/index.html $(sha "$R/www/index.html")
INI
# its verify command reads nothing: nobody is there to type
printf '[verify]\ncommand = test "$(readlink /proc/self/fd/0)" = /dev/null\n' >>"$Q/enhancement.ini"
E2=$T/expected2
cp -a "$R" "$E2"
mkdir -p "$E2/www/new/css"
cp "$Q/files/www/new/index.html" "$E2/www/new/index.html"
cp "$Q/files/www/new/css/site.css" "$E2/www/new/css/site.css"
cp "$Q/files/www/index.html" "$E2/www/index.html"
rm "$E2/keep.txt"
TREE2=$(tree_state "$E2")
CUST0=$(sqlite3 "$DBF" 'SELECT * FROM customers ORDER BY id')

ns submit "$Q"
is "$(printf '%s\n' "$out" | head -n 1)" "ENH-2" "submit: ENH-2"
"$NS" --as quinn qa approve ENH-2 >/dev/null 2>&1
ns schedule ENH-2 --env model
ns trigger show "$out"
PAYLOAD2=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["payload_sha256"])' 2>&1)
ns window run --now <"$Q/enhancement.ini"
is "$rc" 0 "files-only: window run exit 0 (its verify command's standard input is /dev/null, not nightshift's)"
is "$(tree_state "$R")" "$TREE2" "files-only: the tree is exactly the expected one"
is "$(sqlite3 "$DBF" 'SELECT * FROM customers ORDER BY id')" "$CUST0" "files-only: the customers table is untouched"
is "$(sqlite3 "$DBF" 'SELECT enhancement, revision, payload_sha256 FROM nightshift_changes' 2>&1)" \
	"ENH-2|1|$PAYLOAD2" "files-only: nightshift_changes records ENH-2 r1 with its payload hash"
is "$(find "$T/site" -name '.nightshift*' | wc -l)" 0 "files-only: no staging file"
ns status ENH-2 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["enhancement"]["state"])' 2>&1)" \
	migrated "files-only: status migrated"

ns rollback ENH-2 --env model --reason "y"
is "$rc" 0 "files-only: rollback exit 0"
is "$(tree_state "$R")" "$TREE0" "files-only: after rollback the tree is exactly as before"
is "$(site_state)" "$S0" "files-only: after rollback site_state is byte-identical to before"
ns status ENH-2 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["enhancement"]["state"])' 2>&1)" \
	rolled-back "files-only: status rolled-back"

# ---- ENH-3: a directory deleted with the files in it ----------------------
# [files] delete names the files and then their directory; one that holds
# anything else is drift, for the analysis as for the run
mkdir -p "$R/legacy/v1"
echo "old api" >"$R/legacy/v1/api.txt"
echo "old readme" >"$R/legacy/README"
chmod 0750 "$R/legacy"
echo "someone's notes" >"$R/legacy/notes.txt"
S3=$(site_state)
D=$T/enh3
make_pkg "$D" "Drop the legacy API"
cat >>"$D/enhancement.ini" <<INI
[files]
delete = legacy/v1/api.txt
delete = legacy/v1
delete = legacy/README
delete = legacy
INI
ns submit "$D"
is "$rc" 0 "a directory deleted: submit accepts it"
"$NS" --as quinn qa approve ENH-3 >/dev/null 2>&1
ns analyze ENH-3 --env model
like "$out$err" "DRIFT.*legacy/notes\.txt" "the analysis names what the directory holds that stays"
ns schedule ENH-3 --env model
is "$rc" 1 "… and schedule refuses it (exit 1)"
is "$(site_state)" "$S3" "… nothing changed"

rm "$R/legacy/notes.txt"
S3=$(site_state)
ns resubmit ENH-3 "$D"
"$NS" --as quinn qa approve ENH-3 >/dev/null 2>&1
ns schedule ENH-3 --env model
is "$rc" 0 "once the notes are gone it is scheduled"
ns window run --now
is "$rc" 0 "a directory deleted: window run exit 0"
is "$(ls "$R" | tr '\n' ' ')" "bin keep.txt lib www " \
	"legacy/ is gone, with everything in it"
ns rollback ENH-3 --env model --reason "still used"
is "$rc" 0 "a directory deleted: rollback exit 0"
is "$(site_state)" "$S3" "… the site byte-identical to before, legacy/ back"
is "$(stat -c %a "$R/legacy")" 750 "… with its mode"

# a rollback that would lose a change made since is refused, and is no
# rollback: nothing changes, the enhancement stays migrated, nobody is
# told it was backed out, the trail says it was refused
ns schedule ENH-3 --env model
ns window run --now
is "$rc:$(ls "$R" | tr '\n' ' ')" "0:bin keep.txt lib www " "ENH-3 migrated again"
mkdir "$R/legacy"
echo "new readme" >"$R/legacy/README"
S4=$(site_state)
notices_before=$(grep -l '^X-Nightshift-Event: backed-out' "$T"/home/outbox/*.msg "$T"/home/outbox/sent/*.msg 2>/dev/null | grep -c .)
ns rollback ENH-3 --env model --reason "still used"
is "$rc" 1 "someone made legacy/ again since: rollback refused (exit 1)"
like "$err" "not backed out, nothing changed: site demo/model: .*/legacy/README: changed since ENH-3 was migrated; backing out would lose that change" \
	"… naming the path and what it would lose"
is "$(site_state)" "$S4" "… nothing changed"
is "$("$NS" status ENH-3 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["enhancement"]["state"])')" migrated \
	"… ENH-3 is still migrated"
is "$(grep -l '^X-Nightshift-Event: backed-out' "$T"/home/outbox/*.msg "$T"/home/outbox/sent/*.msg 2>/dev/null | grep -c .)" "$notices_before" \
	"… no 'backed out' notice"
like "$("$NS" log ENH-3 | tail -n 1)" "back-out-refused" "… the trail says it was refused"
rm -r "$R/legacy"
ns rollback ENH-3 --env model --reason "still used"
is "$rc:$(site_state)" "0:$S3" "once that is undone, the rollback runs: the site as before ENH-3"

# ---- ENH-4: whose the files are -----------------------------------------
# A file put in place of another gets the old one's owner and group; a
# rollback puts back owners as they were: the replaced files (the same
# inodes, or, for a file with a second name, the archive's copy) and a
# deleted directory made again. As root the files belong to nobody; run
# otherwise, they can only be the user's own.
if [ "$(id -u)" = 0 ]; then OWN=nobody:nogroup; else OWN=$(id -un):$(id -gn); fi
mkdir -p "$R/data/old"
echo "cache v1" >"$R/data/cache.txt"
echo "shared v1" >"$R/data/shared.txt"
ln "$R/data/shared.txt" "$R/data/shared-alias.txt"
echo "retired" >"$R/data/old/x.txt"
chmod 0640 "$R/data/cache.txt"
chmod 0710 "$R/data/old"
chown -R "$OWN" "$R/data"
# a default ACL on the directory: a new file nightshift puts there gets
# what the application's own new files would get, since it is made beside
# its target (not made elsewhere and moved in); a file put in place of
# another has the old one's ACL, or none, as it has its owner
setfacl -d -m u:4242:r "$R/data"
setfacl -m u:4343:r "$R/data/cache.txt"
S5=$(site_state)
D=$T/enh4
make_pkg "$D" "New cache format"
mkdir -p "$D/files/data"
echo "cache v2" >"$D/files/data/cache.txt"
echo "shared v2" >"$D/files/data/shared.txt"
echo "added" >"$D/files/data/added.txt"
mkdir -p "$D/files/data/fresh"
echo "fresh" >"$D/files/data/fresh/new.txt"
cat >>"$D/enhancement.ini" <<INI
[files]
delete = data/old/x.txt
delete = data/old
INI
ns submit "$D"
ns_ready ENH-4 >/dev/null 2>&1
ns window run --now
is "$rc" 0 "files of another owner: window run exit 0"
uid=$(id -u "${OWN%%:*}")
gid=$(getent group "${OWN##*:}" | cut -d: -f3)
is "$(stat -c %u:%g "$R/data/cache.txt" "$R/data/shared.txt" | tr '\n' ' ')" "$uid:$gid $uid:$gid " \
	"the files put in place of others have their owner and group"
is "$(cat "$R/data/cache.txt" "$R/data/shared-alias.txt" | tr '\n' ' ')" "cache v2 shared v1 " \
	"… with the new content (the second name keeps the old)"
# (a nightshift that is not root cannot give them away: they are its own)
is "$(stat -c %u:%g "$R/data/added.txt" "$R/data/fresh" "$R/data/fresh/new.txt" | tr '\n' ' ')" \
	"$uid:$gid $uid:$gid $uid:$gid " \
	"a new file or directory has the owner and group of the directory it is made in"
is "$(getfacl -cnp "$R/data/added.txt" "$R/data/fresh/new.txt" | grep -c '^user:4242:r--$')" 2 \
	"a new file, and one in a new directory, have the directory's default ACL"
is "$(getfacl -cnp "$R/data/cache.txt" | grep '^user:[0-9]' | tr '\n' ' ')" "user:4343:r-- " \
	"the file that replaced one with an ACL of its own has that ACL, not the default"
is "$(getfacl -cnp "$R/data/shared.txt" "$R/data/shared-alias.txt" | grep -c '^user:[0-9]')" 0 \
	"the one that replaced a file without an ACL has none either (the old inode, by its second name, neither)"
ns rollback ENH-4 --env model --reason "cache misread"
is "$rc" 0 "files of another owner: rollback exit 0"
is "$(site_state)" "$S5" "… the site as before, owners, modes and the deleted directory included"

# ---- ENH-5: a backout a person began by hand --------------------------
# The person put one file back as it was and removed the added one, and
# left the database: the rollback finishes the job (each path as the run
# left it or as it was before is no change of anyone's to lose)
echo "hand v1" >"$R/lib/hand.conf"
S7=$(site_state)
D=$T/enh5
make_pkg "$D" "Hand-made backout"
mkdir -p "$D/files/lib" "$D/sql"
echo "hand v2" >"$D/files/lib/hand.conf"
echo "added" >"$D/files/lib/added.conf"
echo "CREATE TABLE hand(x int);" >"$D/sql/deploy.sql"
echo "DROP TABLE hand;" >"$D/sql/revert.sql"
ns submit "$D"
ns_ready ENH-5 >/dev/null 2>&1
ns window run --now
is "$rc:$(cat "$R/lib/hand.conf")" "0:hand v2" "ENH-5 migrated"
echo "hand v1" >"$R/lib/hand.conf"
rm "$R/lib/added.conf"
ns rollback ENH-5 --env model --reason "begun by hand"
is "$rc" 0 "a site a person began to put back by hand: rollback exit 0"
like "$out" "rolled back: site demo/model is as it was before \(2 paths of it a person had put back already\)" \
	"… it says how many paths it found put back"
like "$("$NS" status ENH-5)" "backout r1 demo/model .* — backed out: begun by hand \(2 paths a person had put back already\)" \
	"… and so does the run's record"
like "$(grep -l '^X-Nightshift-Event: backed-out' "$T"/home/outbox/*.msg "$T"/home/outbox/sent/*.msg 2>/dev/null |
	xargs -r grep -l '^X-Nightshift-Enhancement: ENH-5$' | xargs -r grep '^Detail:')" \
	"backed out: begun by hand \(2 paths a person had put back already\)" "… and the backed-out notice"
is "$(site_state)" "$S7" "… the site byte-identical to before ENH-5, its table gone too"

if [ "$(id -u)" = 0 ]; then
	# nightshift as a user that may not give a file its owner (root's
	# file, writable by all so that the archive may link it): the staging
	# stops before anything is in place, and says why
	chmod 0755 "$T"
	chown -R nobody:nogroup "$T/home" "$T/site"
	chown root:root "$R/data/cache.txt"
	chmod 0666 "$R/data/cache.txt"
	S6=$(site_state)
	printf '#!/bin/sh\nexec setpriv --reuid=nobody --regid=nogroup --clear-groups -- "%s" "$@"\n' \
		"$NS" >"$T/ns-as-nobody"
	chmod 0755 "$T/ns-as-nobody"
	NS_SAVED=$NS
	NS=$T/ns-as-nobody
	ns schedule ENH-4 --env model
	is "$rc" 0 "ENH-4 scheduled again, by nightshift as nobody"
	ns window run --now
	is "$rc" 1 "nightshift as nobody, a replaced file root's: exit 1"
	like "$err" "cannot give '.*/data/cache\.txt' its owner \(uid 0, gid 0, as the file it replaces or puts back had; nightshift runs as uid $uid\)" \
		"… the message names the file, its owner and nightshift's"
	is "$(site_state)" "$S6" "… the site is as it was"
	is "$(find "$R" -name '.nightshift.*' | wc -l)" 0 "… no staging file is left"
	is "$("$NS_SAVED" status ENH-4 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["enhancement"]["state"])')" \
		scheduled "… and ENH-4 stays scheduled: the environment is at fault"
	NS=$NS_SAVED
	chown -R root:root "$T/home" "$T/site"
else
	diag "not root: nightshift as another user is tried only as root"
fi

done_testing
