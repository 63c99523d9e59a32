#!/bin/bash
# Failures during a migration. Each must leave the site byte-identical to
# before (files and database), exit 1, say what failed, tell the people
# concerned (a rolled-back notice) and record rolled-back: failing deploy
# SQL, failing verify SQL, a failing enhancement verify command, a failing
# environment verify command, a read-only directory where a file must be
# replaced. Then a full disk (NIGHTSHIFT_FAIL_AT=N:ENOSPC) at every step
# of a migration, and EIO/EROFS at a few: the site is always exactly
# before or exactly after, never in between, and never keeps a staging
# file.
. "$(dirname "$0")/lib.sh"

R=$T/site/root
DBF=$T/site/app.db

site_setup() {
	mkdir -p "$R/lib" "$R/www"
	echo "tax = 19" >"$R/lib/tax.conf"
	echo "<p>old</p>" >"$R/www/old.html"
	echo "keep" >"$R/keep.txt"
}

# a package that replaces lib/tax.conf, adds lib/discounts/gold/rule.txt,
# deletes www/old.html and adds a column and a row (with revert and
# verify SQL); each case then breaks one thing in it
good_pkg() { # DIR TITLE
	make_pkg "$1" "$2"
	mkdir -p "$1/files/lib/discounts/gold" "$1/sql"
	echo "tax = 20" >"$1/files/lib/tax.conf"
	echo "gold = 10%" >"$1/files/lib/discounts/gold/rule.txt"
	cat >>"$1/enhancement.ini" <<INI
[files]
delete = www/old.html
base = lib/tax.conf $(sha "$R/lib/tax.conf")
INI
	cat >"$1/sql/deploy.sql" <<'SQL'
ALTER TABLE customers ADD COLUMN tier TEXT;
INSERT INTO customers(id, name, tier) VALUES (3, 'cy', 'gold');
SQL
	cat >"$1/sql/revert.sql" <<'SQL'
DELETE FROM customers WHERE id = 3;
ALTER TABLE customers DROP COLUMN tier;
SQL
	echo "SELECT count(*) FROM customers WHERE tier = 'gold';" >"$1/sql/verify.sql"
}

staging() { find "$T/site" -name '.nightshift*' | wc -l; }
# site_state, but with nightshift_changes.deployed_at (the clock) blanked:
# two runs of the same migration are then equal
site_state_noclock() {
	db_dump "$DBF" |
		sed -E "/nightshift_changes/s/'[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z'/'-'/" |
		tree_hash_with "$R"
}

n=0
# run one failing enhancement: PKGDIR NAME MESSAGE-REGEX [requeued]
# The enhancement's own faults return it to the developer (rolled-back);
# a fault of the environment — a read-only directory, a full disk, an I/O
# error — keeps it scheduled for the next window (requeued), and tells
# technical support instead. Either way the site is as before and exit 1.
expect_rollback() {
	local pkg=$1 name=$2 re=$3 kind=${4:-rolled-back} before id state
	before=$(site_state)
	n=$((n + 1))
	id=ENH-$n
	ns submit "$pkg"
	is "$(printf '%s\n' "$out" | head -n 1)" "$id" "$name: submitted as $id"
	"$NS" --as quinn qa approve "$id" >/dev/null 2>&1
	ns schedule "$id" --env model
	ns window run --now
	is "$rc" 1 "$name: exit 1"
	like "$out
$err" "$re" "$name: the message names the cause"
	is "$(site_state)" "$before" "$name: the site is byte-identical to before (files and database)"
	is "$(staging)" 0 "$name: no .nightshift.* staging file left"
	state=rolled-back
	[ "$kind" = requeued ] && state=scheduled
	is "$(state_of "$id")" "$state" "$name: status $state"
	is "$(notice_of "$id" "$kind" | grep -c .)" 1 "$name: a $kind notice for $id in the outbox"
}

ns_home
site_setup

# ---- SQL ----------------------------------------------------------------
good_pkg "$T/p-syntax" "deploy syntax error"
cat >"$T/p-syntax/sql/deploy.sql" <<'SQL'
ALTER TABLE customers ADD COLUMN tier TEXT;
INSERT INTO customers(id, name, tier) VALUES (3, 'cy', 'gold');
UPDATE customers SET tier = WHERE id = 1;
SQL
expect_rollback "$T/p-syntax" "deploy SQL with a syntax error" \
	'sql/deploy\.sql:3: .*syntax error'

# the same error behind a comment: the line is still the statement's
good_pkg "$T/p-syntax2" "deploy syntax error after a comment"
cat >"$T/p-syntax2/sql/deploy.sql" <<'SQL'
-- ENH: gold customers
ALTER TABLE customers ADD COLUMN tier TEXT;
-- tier the first customer
UPDATE customers SET tier = WHERE id = 1;
SQL
expect_rollback "$T/p-syntax2" "deploy SQL error after a comment line" \
	'sql/deploy\.sql:4: .*syntax error'

good_pkg "$T/p-verifysql" "verify SQL false"
echo "SELECT count(*) FROM customers WHERE tier = 'platinum';" >"$T/p-verifysql/sql/verify.sql"
expect_rollback "$T/p-verifysql" "verify SQL returning 0" \
	'sql/verify\.sql:1: verification returned false'

# ---- verify commands (after the files are in place) ---------------------
good_pkg "$T/p-verifycmd" "verify command fails"
printf '[verify]\ncommand = grep -q "tax = 21" lib/tax.conf\n' >>"$T/p-verifycmd/enhancement.ini"
expect_rollback "$T/p-verifycmd" "failing enhancement verify command" \
	"verify command 'grep -q \"tax = 21\" lib/tax.conf' failed"

cp nightshift.conf "$T/conf.orig"
sed -i '/^\[environment "demo\/model"\]/a\    verify = test ! -d lib/discounts' nightshift.conf
good_pkg "$T/p-envverify" "environment verify fails"
expect_rollback "$T/p-envverify" "failing environment verify command" \
	"verify command 'test ! -d lib/discounts' failed"
cp "$T/conf.orig" nightshift.conf

# ---- a verify command that does not finish --------------------------------
# The environment's verify-timeout stops it, and what it started (its
# process group): asked to end, then killed 5 seconds later. The run is
# rolled back like any failed verify.
sed -i '/^\[environment "demo\/model"\]/a\    verify-timeout = 1s' nightshift.conf
# (periods of this shell's own, to find its sleeps among other tests')
S1=301.$$ S2=302.$$ S3=303.$$
good_pkg "$T/p-hang" "verify command hangs"
printf '[verify]\ncommand = sleep %s & sleep %s\n' "$S1" "$S2" >>"$T/p-hang/enhancement.ini"
expect_rollback "$T/p-hang" "a verify command that does not finish" \
	"verify command 'sleep $S1 & sleep $S2' did not finish within verify-timeout = 1s of environment demo/model and was stopped"
is "$(pgrep -f "sleep ($S1|$S2)" | wc -l)" 0 "… it was stopped, and the command it started in the background too"
good_pkg "$T/p-deaf" "verify command ignores SIGTERM"
printf "[verify]\ncommand = trap '' TERM; sleep %s\n" "$S3" >>"$T/p-deaf/enhancement.ini"
expect_rollback "$T/p-deaf" "a verify command that ignores SIGTERM" \
	"verify command 'trap '' TERM; sleep $S3' did not finish within verify-timeout = 1s"
is "$(pgrep -f "sleep $S3" | wc -l)" 0 "… it was killed"
# What a command detached from its group (setsid) is stopped with it: the
# process between nightshift and the command is a child subreaper, whose
# child every such process becomes; one that ignores SIGTERM is killed.
S4=304.$$ S5=305.$$ S6=306.$$
good_pkg "$T/p-detach" "verify command detaches processes"
printf "[verify]\ncommand = setsid -f sleep %s; setsid -f sh -c \"trap '' TERM; exec sleep %s\"; sleep %s\n" \
	"$S4" "$S5" "$S6" >>"$T/p-detach/enhancement.ini"
expect_rollback "$T/p-detach" "a verify command that detaches processes" \
	"verify command 'setsid -f sleep $S4; .*' did not finish within verify-timeout = 1s"
is "$(pgrep -f "sleep ($S4|$S5|$S6)" | wc -l)" 0 "… the processes it detached from its group were stopped too, the deaf one killed"
cp "$T/conf.orig" nightshift.conf

# A verify command that finishes in time leaves what it detached running
# (a service it started, say), and its own status is what counts: killed
# by a signal, the run is rolled back and the message names the signal.
S7=307.$$
good_pkg "$T/p-signal" "verify command killed by a signal"
printf '[verify]\ncommand = setsid -f sleep %s; kill -KILL $$\n' "$S7" >>"$T/p-signal/enhancement.ini"
expect_rollback "$T/p-signal" "a verify command killed by a signal" \
	"verify command 'setsid -f sleep $S7; kill -KILL [\$][\$]' failed \\(signal 9\\)"
is "$(pgrep -f "sleep $S7" | wc -l)" 1 "… what it detached before it ended is still running"
pkill -f "sleep $S7"

# ---- a read-only directory where a file must be replaced -----------------
# As root a mode of 0555 stops nothing: the directory is made immutable
# with chattr +i instead; where chattr cannot, nightshift runs as nobody
# (setpriv) against a 0555 directory. NS_TEST_RO=chmod|chattr|setpriv
# forces one way.
RO_HOW=${NS_TEST_RO:-}
if [ -z "$RO_HOW" ] && [ "$(id -u)" != 0 ]; then
	RO_HOW="chmod"
elif [ -z "$RO_HOW" ] && mkdir "$T/probe" && chattr +i "$T/probe" 2>/dev/null; then
	touch "$T/probe/x" 2>/dev/null || RO_HOW=chattr
	chattr -i "$T/probe"
fi
if [ -z "$RO_HOW" ] && command -v setpriv >/dev/null; then
	RO_HOW=setpriv
fi
trap 'chattr -i "$R/lib" 2>/dev/null; cd /; chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
diag "read-only directory made with: ${RO_HOW:-nothing}"
good_pkg "$T/p-ro" "read-only directory"
rm -r "$T/p-ro/files/lib/discounts" # only lib/tax.conf is written into lib/
NS_REAL=$NS
case $RO_HOW in
chmod) chmod 0555 "$R/lib" ;;
chattr) chattr +i "$R/lib" ;;
setpriv)
	chmod 0755 "$T"
	chown -R nobody: "$T/home" "$T/site" "$T/p-ro"
	chown root: "$R/lib"
	chmod 0555 "$R/lib"
	NS=$T/ns-as-nobody
	printf '#!/bin/sh\nexec setpriv --reuid=nobody --regid=nogroup --clear-groups -- "%s" "$@"\n' \
		"$NS_REAL" >"$NS"
	chmod 0755 "$NS"
	;;
esac
if [ "$RO_HOW" = setpriv ]; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- touch "$R/lib/probe" 2>/dev/null
else
	touch "$R/lib/probe" 2>/dev/null
fi
is "$([ -e "$R/lib/probe" ] && echo writable || echo read-only)" read-only \
	"lib/ really is read-only for nightshift (${RO_HOW:-no way found})"
rm -f "$R/lib/probe"
expect_rollback "$T/p-ro" "read-only directory" "lib/tax\.conf.*(Permission denied|Operation not permitted|Read-only)" requeued
RO_ID=ENH-$n
NS=$NS_REAL
case $RO_HOW in
chmod | setpriv) chmod 0755 "$R/lib" ;;
chattr) chattr -i "$R/lib" ;;
esac

# after all this the site is still the very first one, and once the
# directory is writable again the requeued enhancement migrates at the
# next window by itself (the failures above were not a broken migration)
ns window run --now
is "$rc:$(cat "$R/lib/tax.conf"):$(state_of "$RO_ID")" "0:tax = 20:migrated" \
	"once repaired, the requeued $RO_ID migrates at the next window"

# ---- the site's root or database not there (a file system not mounted) ----
# the environment's fault, not the enhancement's: it stays scheduled,
# technical support is told, nothing is made in its place, and once it
# is back the enhancement migrates at the next window
unmounted() { # PKGDIR WHAT PATH MESSAGE-REGEX
	local before
	before=$(site_state)
	n=$((n + 1))
	ns submit "$1"
	"$NS" --as quinn qa approve "ENH-$n" >/dev/null 2>&1
	ns schedule "ENH-$n" --env model
	mv "$3" "$3.unmounted"
	ns window run --now
	is "$rc" 1 "the site's $2 missing: exit 1"
	like "$err" "$4" "… the message names the $2"
	is "$(state_of "ENH-$n"):$(test -e "$3" && echo made || echo none)" scheduled:none \
		"… the enhancement stays scheduled, and no $2 was made in its place"
	is "$(notice_of "ENH-$n" requeued | grep -c .)" 1 "… a requeued notice for ENH-$n"
	mv "$3.unmounted" "$3"
	is "$(site_state)" "$before" "… and the site is as it was"
	ns window run --now
	is "$rc:$(state_of "ENH-$n")" "0:migrated" "once it is back, ENH-$n migrates at the next window"
}
make_pkg "$T/p-noroot" "a readme"
echo "read me" >"$T/p-noroot/files/README.txt"
unmounted "$T/p-noroot" root "$R" "cannot open target root '$R': No such file or directory"
make_pkg "$T/p-nodb" "a note column"
mkdir -p "$T/p-nodb/sql"
echo "ALTER TABLE customers ADD COLUMN remark TEXT;" >"$T/p-nodb/sql/deploy.sql"
echo "ALTER TABLE customers DROP COLUMN remark;" >"$T/p-nodb/sql/revert.sql"
unmounted "$T/p-nodb" database "$DBF" "target database '$DBF' does not exist"

# ---- the database held by another writer ------------------------------------
# The environment's lock-timeout bounds how long the deploy waits for the
# site's database while another process writes it: after that the run
# gives up before its commit point (the site as before, the enhancement
# still scheduled, the message says which setting it waited for). A
# rollback waits for as long as it takes: putting back does not give up.
hold_db() { # SECONDS: another process holds the write lock of app.db
	local py
	py=$(command -v /usr/bin/python3 python3 | head -n 1) # not the function
	rm -f "$T/held"
	"$py" -c 'import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
c.execute("ROLLBACK")' "$DBF" "$1" >"$T/held" &
	HOLDER=$!
	for _ in $(seq 200); do
		grep -q held "$T/held" 2>/dev/null && break
		sleep 0.05
	done
}
held_now() { # is app.db's write lock taken? (a write that does not wait)
	sqlite3 -cmd ".timeout 0" "$DBF" "BEGIN IMMEDIATE; ROLLBACK;" >/dev/null 2>&1 &&
		echo free || echo held
}
make_pkg "$T/p-held" "a note per customer"
mkdir -p "$T/p-held/sql"
echo "note" >"$T/p-held/files/NOTE.txt"
echo "ALTER TABLE customers ADD COLUMN note TEXT;" >"$T/p-held/sql/deploy.sql"
echo "ALTER TABLE customers DROP COLUMN note;" >"$T/p-held/sql/revert.sql"
sed -i '/^\[environment "demo\/model"\]/a\    lock-timeout = 1s' nightshift.conf
hold_db 60
is "$(held_now)" held "another process holds the write lock of the site's database"
expect_rollback "$T/p-held" "the database held by another writer, lock-timeout = 1s" \
	"BEGIN: database is locked; it waited for the lock as long as lock-timeout = 1s of environment demo/model allows" \
	requeued
HELD_ID=ENH-$n
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
before=$(site_state)
ns window run --now
is "$rc:$(state_of "$HELD_ID"):$(cat "$R/NOTE.txt")" "0:migrated:note" \
	"once the database is free, $HELD_ID migrates at the next window"
hold_db 3
is "$(held_now)" held "another process holds the write lock for 3 s as a rollback starts"
ns rollback "$HELD_ID" --env model --reason "held"
is "$rc" 0 "… the rollback waits for it beyond lock-timeout = 1s: exit 0"
is "$(site_state)" "$before" "… and the site is as before $HELD_ID"
wait "$HOLDER" 2>/dev/null
# … and so does the rollback that follows a failed run at once, in the
# process whose deploy waited at most 1 s: the environment's verify
# command lets another process take the database for 3 s and fails
cat >"$T/take-db.sh" <<SH
#!/bin/bash
$(declare -f hold_db)
T=$T DBF=$DBF
hold_db 3 >/dev/null 2>&1
echo "the database is held"
exit 1
SH
chmod +x "$T/take-db.sh"
sed -i "/^\[environment \"demo\/model\"\]/a\    verify = $T/take-db.sh" nightshift.conf
expect_rollback "$T/p-held" "the verify command fails while another process takes the database for 3 s" \
	"verify command '.*take-db\.sh' failed"
is "$(grep -c 'the database is held' "$(find "$T/home/archive" -path "*ENH-$n-*" -name verify.log)")" 1 \
	"… which had let the other process take the database (the revert waited for it)"
sed -i '/lock-timeout = 1s/d; /take-db/d' nightshift.conf

# ---- a full disk at every step --------------------------------------------
# A fresh home with one scheduled enhancement, kept as a snapshot; each
# run starts from an exact copy of it.
cd "$T" || exit 1
rm -rf "${T:?}/home" "${T:?}/site"
ns_home
site_setup
good_pkg "$T/p-disk" "full disk"
"$NS" submit "$T/p-disk" >/dev/null
"$NS" --as quinn qa approve ENH-1 >/dev/null 2>&1
"$NS" schedule ENH-1 --env model >/dev/null
B=$(site_state)
cd "$T" || exit 1
tar -cf "$T/snap.tar" home site
restore() {
	cd "$T" && rm -rf home site && tar -xf "$T/snap.tar" && cd "$T/home" || exit 1
}

restore
NIGHTSHIFT_STEPS_FILE=$T/steps ns window run --now
STEPS=$(cat "$T/steps" 2>/dev/null)
is "$rc" 0 "the success run that counts the steps: exit 0"
like "$STEPS" '^[1-9][0-9]*$' "a migration takes a count of steps ($STEPS)"
A=$(site_state_noclock)
is "$(cat "$R/lib/tax.conf")" "tax = 20" "the success run migrated"
STEPS=${STEPS:-0}

# fail at N with ERRNO; sets F_rc F_err F_state (before|after|between)
fail_at() { # N ERRNO
	restore
	NIGHTSHIFT_FAIL_AT=$1:$2 ns window run --now
	F_rc=$rc F_err=$err F_out=$out
	if [ "$(site_state)" = "$B" ]; then
		F_state=before
	elif [ "$(site_state_noclock)" = "$A" ]; then
		F_state=after
	else
		F_state=between
	fi
	F_staging=$(staging)
	F_status=$(state_of ENH-1)
}
# what must hold whatever N was; prints the problems, nothing when fine
check_fault() { # ERRNO-TEXT
	local p=
	[ "$F_state" = between ] && p="$p; the site is neither before nor after"
	[ "$F_staging" = 0 ] || p="$p; $F_staging staging file(s) left"
	if [ "$F_state" = before ]; then
		case $F_rc in 1 | 5) ;; *) p="$p; exit $F_rc for a run that changed nothing" ;; esac
		printf '%s' "$F_err" | grep -q "$1" || p="$p; stderr does not say '$1'"
		[ "$F_status" = migrated ] && p="$p; the registry says migrated"
	fi
	if [ "$F_state" = after ]; then
		[ "$F_status" = migrated ] || p="$p; the site is migrated, the registry says $F_status"
		case $F_rc in 0 | 5) ;; *) p="$p; exit $F_rc for a run that migrated" ;; esac
	fi
	# what is left must not be undone or redone by the next recovery
	local s0
	s0=$(site_state)
	"$NS" recover >/dev/null 2>&1
	[ "$(site_state)" = "$s0" ] || p="$p; a later recover changed the site"
	[ "$(ls -A "$T/home/journal/demo/model" 2>/dev/null | wc -l)" = 0 ] ||
		p="$p; an active journal is left after recover"
	printf '%s' "$p"
}

COMMIT=0
declare -A ST RC
for N in $(seq 1 "$STEPS"); do
	fail_at "$N" ENOSPC
	ST[$N]=$F_state RC[$N]=$F_rc
	printf '%s' "$F_err" | grep -q 'COMMIT: No space left' && COMMIT=$N
	is "$(check_fault 'No space left on device')" "" \
		"ENOSPC at step $N/$STEPS: the site is $F_state (exit $F_rc, $F_status), nothing in between"
done

# the points that matter, by name
like "$COMMIT" '^[1-9][0-9]*$' "the commit step was found (step $COMMIT: the failure names COMMIT)"
[ "$COMMIT" -gt 2 ] || COMMIT=3
MID=$((COMMIT / 2))
is "${ST[1]:-}" before "ENOSPC at the first step: the site is as before"
is "${ST[$MID]:-}:${RC[$MID]:-}" before:1 "ENOSPC in the middle before the commit (step $MID): before, exit 1"
is "${ST[$((COMMIT - 1))]:-}:${RC[$((COMMIT - 1))]:-}" before:1 \
	"ENOSPC at the last step before the commit (step $((COMMIT - 1))): before, exit 1"
is "${ST[$COMMIT]:-}:${RC[$COMMIT]:-}" before:1 "ENOSPC at the COMMIT itself (step $COMMIT): before, exit 1"
like "${ST[$((COMMIT + 1))]:-}" '^(before|after)$' \
	"ENOSPC right after the commit (step $((COMMIT + 1))): before or after (${ST[$((COMMIT + 1))]:-})"
is "${ST[$STEPS]:-}" after "ENOSPC at the very last step ($STEPS, after DONE): the site is as after"
rb=0
for N in $(seq $((COMMIT + 1)) "$STEPS"); do
	[ "${ST[$N]:-}" = before ] && { rb=$N; break; }
done
like "$rb" '^[1-9]' "a failure after the commit is rolled back (first at step $rb)"
fail_at 1 ENOSPC
like "$(notice_of ENH-1 requeued)" '\.msg' \
	"ENOSPC at the first step: a notice tells of the failed run"
unlike "$F_err" "cannot retire the journal" \
	"ENOSPC at the first step: no complaint about a journal that was never written"

# ---- EIO and EROFS at a few points --------------------------------------
for spec in "$MID:EIO:Input/output error" "$rb:EIO:Input/output error" \
	"$((COMMIT - 1)):EROFS:Read-only file system"; do
	N=${spec%%:*} e=${spec#*:}
	txt=${e#*:} e=${e%%:*}
	fail_at "$N" "$e"
	is "$F_state:$F_rc" before:1 "$e at step $N: the site is as before, exit 1"
	like "$F_err" "$txt" "$e at step $N: the message says '$txt'"
	is "$F_staging" 0 "$e at step $N: no staging file"
	is "$F_status" scheduled "$e at step $N: status scheduled (requeued for the next window)"
	is "$(notice_of ENH-1 requeued | grep -c .)" 1 "$e at step $N: a requeued notice"
done

done_testing
