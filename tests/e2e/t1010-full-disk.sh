#!/bin/bash
# A real full disk: the site, or nightshift's home, on a small tmpfs that
# fills up, instead of an injected ENOSPC (t1002 does that at every step).
# The kernel fails whichever write does not fit, part-way through a file or
# inside SQLite. Each time the site must end exactly before (or, when the
# rollback itself cannot write, exactly after and blocked), the message
# must say where the space ran out, and once there is room the
# enhancement migrates at the next window (or, for the failed rollback,
# `unblock` finishes it).
#
# Mounting needs a mount namespace of its own (so that no mount outlives
# the test): as root `unshare -m`, else `unshare -rm` (a user namespace).
if [ -z "${NS_UNSHARED:-}" ]; then
	export NS_UNSHARED=1
	unshare -m --propagation private true 2>/dev/null &&
		exec unshare -m --propagation private /bin/bash "$0" "$@"
	unshare -rm --propagation private true 2>/dev/null &&
		exec unshare -rm --propagation private /bin/bash "$0" "$@"
	echo "Bail out! cannot mount a filesystem here: needs root or user namespaces (unshare -m, unshare -rm)"
	exit 1
fi
. "$(dirname "$0")/lib.sh"
trap 'cd /; umount "$T/home" "$T/fs" 2>/dev/null; chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
export NIGHTSHIFT_NOW=2026-12-01T23:00:00!

FS=$T/fs
R=$FS/root
DBF=$FS/app.db
mkdir -p "$FS"
mount -t tmpfs -o size=3m,mode=0755 tmpfs "$FS" || {
	echo "Bail out! mount -t tmpfs failed"
	exit 1
}
site_state() { db_dump "$DBF" | tree_hash_with "$R"; }
staging() { find "$FS" -name '.nightshift*' | wc -l; }
# fill DIR's filesystem up to FREE bytes left (the filler is outside any
# site root)
fill() { # DIR FREE
	local avail
	rm -f "$1/filler"
	avail=$(df -B1 --output=avail "$1" | tail -n 1)
	head -c $((avail - $2)) /dev/zero >"$1/filler"
}

mkdir -p "$R/lib" "$T/home"
echo "tax = 19" >"$R/lib/tax.conf"
sqlite3 "$DBF" "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);
	INSERT INTO customers VALUES (1, 'ann'), (2, 'bob');"
"$NS" init "$T/home" >/dev/null || exit 1
cat >>"$T/home/nightshift.conf" <<CONF
[system "demo"]
[environment "demo/model"]
    root = $R
    database = sqlite:$DBF
CONF
ns_people "$T/home/nightshift.conf"
cd "$T/home" || exit 1

n=0
hand_in() { # PKGDIR → ENH-n approved and scheduled
	n=$((n + 1))
	"$NS" submit "$1" >/dev/null || exit 1
	"$NS" --as quinn qa approve "ENH-$n" >/dev/null 2>&1
	"$NS" schedule "ENH-$n" --env model >/dev/null || exit 1
}

# ---- the site's disk: a new file that does not fit ------------------------
make_pkg "$T/p-big" "a big table of rates"
mkdir -p "$T/p-big/files/lib" "$T/p-big/sql"
head -c 700000 /dev/urandom >"$T/p-big/files/lib/rates.bin"
echo "tax = 20" >"$T/p-big/files/lib/tax.conf"
echo "ALTER TABLE customers ADD COLUMN tier TEXT;" >"$T/p-big/sql/deploy.sql"
echo "ALTER TABLE customers DROP COLUMN tier;" >"$T/p-big/sql/revert.sql"
hand_in "$T/p-big"
fill "$FS" 300000
before=$(site_state)
ns window run --now
is "$rc" 1 "site disk full while staging: exit 1"
like "$err" "cannot write '$R/lib/rates\.bin': No space left on device" \
	"… the message names the file that did not fit and the cause"
is "$(site_state)" "$before" "… the site is byte-identical to before (files and database)"
is "$(staging)" 0 "… no staging file is left on the full disk"
is "$(state_of ENH-1)" scheduled "… the enhancement stays scheduled (the environment's fault)"
is "$(notice_of ENH-1 requeued | grep -c .)" 1 "… a requeued notice tells of it"
rm "$FS/filler"
ns window run --now
is "$rc:$(state_of ENH-1)" 0:migrated "once there is room, ENH-1 migrates at the next window"
is "$(sha "$R/lib/rates.bin")" "$(sha "$T/p-big/files/lib/rates.bin")" \
	"… with its file whole"

# ---- the site's disk: the deploy SQL does not fit -------------------------
make_pkg "$T/p-sql" "a table of scans"
mkdir -p "$T/p-sql/sql"
echo "CREATE TABLE scans(b BLOB); INSERT INTO scans VALUES (randomblob(900000));" \
	>"$T/p-sql/sql/deploy.sql"
echo "DROP TABLE scans;" >"$T/p-sql/sql/revert.sql"
hand_in "$T/p-sql"
fill "$FS" 400000
before=$(site_state)
ns window run --now
is "$rc" 1 "site disk full in the deploy SQL: exit 1"
like "$err" "database or disk is full" "… the message says the database's disk is full"
is "$(site_state)" "$before" "… the database and the files are as before"
is "$(state_of ENH-2)" scheduled "… the enhancement stays scheduled"
rm "$FS/filler"
ns window run --now
is "$rc:$(state_of ENH-2):$(sqlite3 "$DBF" "SELECT count(*) FROM scans")" 0:migrated:1 \
	"once there is room, ENH-2 migrates"
like "$out" "ENH-2 r1 on site demo/model: migrated \\(no files; the SQL committed\\)\$" \
	"… and says it changed no file, only the database"

# ---- nightshift's home: the archive's copy does not fit --------------------
# (the site is on another filesystem, so the archive copies what it keeps)
make_pkg "$T/p-arch" "new rates"
mkdir -p "$T/p-arch/files/lib"
head -c 1000 /dev/urandom >"$T/p-arch/files/lib/rates.bin"
hand_in "$T/p-arch"
cd "$T" || exit 1
mv home home.disk
mkdir -p home
mount -t tmpfs -o size=4m,mode=0755 tmpfs "$T/home" || exit 1
cp -a home.disk/. home/
cd "$T/home" || exit 1
fill "$T/home" 200000
before=$(site_state)
ns window run --now
is "$rc" 1 "home disk full while archiving: exit 1"
like "$err" "cannot keep '$R/lib/rates\.bin': cannot write '$T/home/archive/[^']*': No space left on device" \
	"… the message names the file kept and the archive's copy that did not fit"
is "$(site_state)" "$before" "… the site is as before"
is "$(state_of ENH-3)" scheduled "… the enhancement stays scheduled"
# the registry itself cannot grow
fill "$T/home" 0
ns window run --now
is "$rc" 5 "home disk full to the last byte: exit 5"
like "$err" "registry '$T/home/nightshift\.db': .*(No space left on device|disk is full)" \
	"… the message names the registry and the full disk"
is "$(site_state)" "$before" "… the site is as before"
rm "$T/home/filler"
ns window run --now
is "$rc:$(state_of ENH-3):$(sha "$R/lib/rates.bin")" "0:migrated:$(sha "$T/p-arch/files/lib/rates.bin")" \
	"once there is room, ENH-3 migrates"
# the home back on the big disk
cd "$T" || exit 1
rm -rf home.disk
cp -a home home.disk
umount "$T/home" || exit 1
rmdir home && mv home.disk home
cd "$T/home" || exit 1

# ---- the rollback itself does not fit ------------------------------------
# the verify command fills the site's disk (a log that grows) and fails:
# the revert SQL cannot write either. The site stays wholly migrated — not
# half put back — and the environment is blocked until a person has
# repaired the cause; `unblock` then finishes the rollback.
sed -i "s|^\[environment \"demo/model\"\]|&\n    verify = sh -c 'head -c \$((\$(df -B1 --output=avail .. \| tail -n 1) - 4096)) /dev/zero >../filler; exit 1'|" \
	"$T/home/nightshift.conf"
make_pkg "$T/p-rb" "a column of notes"
mkdir -p "$T/p-rb/files/lib" "$T/p-rb/sql"
echo "notes = on" >"$T/p-rb/files/lib/notes.conf"
echo "ALTER TABLE customers ADD COLUMN note TEXT;" >"$T/p-rb/sql/deploy.sql"
echo "ALTER TABLE customers DROP COLUMN note;" >"$T/p-rb/sql/revert.sql"
hand_in "$T/p-rb"
before=$(site_state)
ns window run --now
is "$rc" 4 "site disk full during the rollback: exit 4 (blocked)"
like "$err" "ROLLBACK FAILED: sql/revert\.sql:1: database or disk is full" \
	"… the message says the rollback failed and why"
after_state() {
	echo "$(cat "$R/lib/notes.conf" 2>&1):$(sqlite3 "$DBF" "SELECT count(*) FROM pragma_table_info('customers') WHERE name = 'note'"):$(sqlite3 "$DBF" "SELECT count(*) FROM nightshift_changes WHERE enhancement = 'ENH-4'")"
}
is "$(after_state)" "notes = on:1:1" \
	"… the site is wholly as after the migration (file, column, row), not half put back"
is "$(staging)" 0 "… no staging file is left"
is "$(state_of ENH-4)" rollback-failed "… ENH-4 is rollback-failed"
is "$(notice_of ENH-4 rollback-failed | grep -c .)" 1 "… a rollback-failed notice tells technical support"
ns recover
is "$rc" 4 "recover leaves a blocked environment to a person (exit 4)"
like "$err" "blocked since .*nightshift unblock --env demo/model" "… and says how to lift it"
# unblock before the cause is repaired: the rollback fails again, the
# environment stays blocked
ns unblock --env model --reason "tried too early"
is "$rc" 4 "unblock with the disk still full: exit 4"
like "$err" "environment demo/model stays blocked: the rollback of ENH-4-r1-[0-9]+ could not be finished: .*database or disk is full" \
	"… it says the rollback could not be finished, and why"
is "$(after_state)" "notes = on:1:1" "… the site is still wholly as after"
ns window run --now
is "$rc" 4 "… and the environment is still blocked"
# the cause repaired: unblock puts the site back itself
rm "$FS/filler"

# … and an unblock killed at any of its steps (the test build's
# NIGHTSHIFT_CRASH_AT) is finished by the next unblock: the site exactly
# as before, the registry agreeing, nothing left behind
mkdir -p "$T/scene"
cp -a "$T/home" "$R" "$DBF" "$T/scene/"
scene() {
	cd "$T" || exit 1
	rm -rf "$T/home" "$R" "$DBF"
	cp -a "$T/scene/home" "$T/"
	cp -a "$T/scene/root" "$T/scene/app.db" "$FS/"
	cd "$T/home" || exit 1
}
# what an unblock must leave: a word for each thing that is not so
unblocked_state() {
	[ "$(site_state)" = "$before" ] || echo "site-not-before"
	[ "$(sqlite3 "$T/home/nightshift.db" "SELECT state FROM enhancements WHERE id = 4")" = returned ] ||
		echo "ENH-4-not-returned"
	[ "$(sqlite3 "$T/home/nightshift.db" "SELECT outcome FROM runs WHERE token LIKE 'ENH-4-%'")" = rolled-back ] ||
		echo "run-not-rolled-back"
	[ "$(sqlite3 "$T/home/nightshift.db" "SELECT count(*) FROM environments WHERE blocked = 1")" = 0 ] ||
		echo "still-blocked"
	[ -z "$(ls -A "$T/home/journal/demo/model")" ] || echo "active-journal"
	[ -z "$(find "$T/home" "$FS" \( -name '.nightshift*' -o -name '*.tmp-*' \) -print)" ] ||
		echo "leftovers"
}
rm -f "$T/steps"
NIGHTSHIFT_STEPS_FILE=$T/steps "$NS" unblock --env model --reason "counting" >/dev/null 2>&1
steps=$(cat "$T/steps" 2>/dev/null)
like "$steps" '^[1-9][0-9]*$' "an unblock that finishes a rollback counts its steps ($steps)"
is "$(unblocked_state)" "" "… and leaves the site as before and the registry agreeing"
unblock_matrix scene unblocked_state "${steps:-0}" ENH-4
scene
ns unblock --env model --reason "the log that filled the disk is gone"
is "$rc" 0 "once there is room, unblock: exit 0"
like "$out" "recovered ENH-4-r1-[0-9]+ \(rolled-back\): .*rolled back: site demo/model is as it was before" \
	"… it says it finished the rollback"
is "$(site_state)" "$before" "… the site is byte-identical to before ENH-4 (files and database)"
like "$(cat "$T/home/outbox/"*-unblocked.msg 2>&1)" \
	"nightshift finished the rollback of ENH-4-r1-[0-9]+ on site demo/model first: the site is as it was before" \
	"… and the unblocked notice says what it finished"
is "$(state_of ENH-4)" returned "… ENH-4 is returned to its developer"
like "$("$NS" status ENH-4)" "rolled-back .*the rollback was finished by unblock" \
	"… its run is recorded rolled back, finished by unblock"
is "$(ls -A "$T/home/journal/demo/model" | grep -c .)" 0 "… no active journal is left"
ns window run --now
is "$rc" 0 "… and the environment runs again"

# ---- a rollback across filesystems: what comes back is the file ------------
# The site and the home are on two filesystems: the archive keeps a copy,
# and a rollback after the commit point copies it back. It comes back with
# its ACL and its modification time, as a file kept by a link would.
echo "rates v1" >"$R/lib/acl.conf"
setfacl -m u:4343:rw "$R/lib/acl.conf"
touch -m -d 2020-02-02T02:02:02Z "$R/lib/acl.conf"
make_pkg "$T/p-acl" "rates that fail their check"
mkdir -p "$T/p-acl/files/lib"
echo "rates v2" >"$T/p-acl/files/lib/acl.conf"
printf '[verify]\ncommand = false\n' >>"$T/p-acl/enhancement.ini"
hand_in "$T/p-acl"
before=$(site_state)
ns window run --now
is "$rc" 1 "a verify that fails after the commit point, the archive on another filesystem: exit 1"
is "$(site_state)" "$before" "… the site is as before"
is "$(stat -c %Y "$R/lib/acl.conf")" "$(date -d 2020-02-02T02:02:02Z +%s)" \
	"… the file copied back has its modification time"
is "$(getfacl -cnp "$R/lib/acl.conf" | grep -c '^user:4343:rw-$')" 1 "… and its ACL"

done_testing
