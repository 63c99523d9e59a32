#!/bin/bash
# Kill points: the process is killed with SIGKILL just before its Nth
# mutating step (NIGHTSHIFT_CRASH_AT=N), for every N of a successful run,
# of a run that rolls back and of a `rollback` of a migrated run, and
# inside recovery itself. After
# `recover` every site must be byte-identical — files and database — to
# exactly its state before or after the enhancement, with no staging or
# temporary file left, the registry agreeing, and a second recover
# changing nothing. The enhancement replaces and adds files (in new
# directories), deletes a file and then the directory it leaves empty,
# and changes the database.
# (functions only; lib.sh leaves the directory $0 is relative to)
. "$(dirname "$0")/kill-lib.sh"
. "$(dirname "$0")/../e2e/lib.sh"

TPL=$T/tpl
# one frozen moment (the "!") for every run, so that the nightshift_changes
# row of a run and of its reference run are the same bytes
export NIGHTSHIFT_NOW=2026-12-01T23:00:00!

# the scene: a site with files and a database, ENH-1 submitted and
# scheduled; $1 = "ok" (migrates) or "fail" (verify fails → rolls back),
# or "rollback" (ENH-1 migrated, the command killed is its rollback)
scene() {
	rm -rf "$T/site" "$T/home"
	mkdir -p "$T/site/root/lib" "$T/site/root/www" "$T/site/root/old"
	chmod 0750 "$T/site/root/old"
	echo "tax = 19" >"$T/site/root/lib/tax.conf"
	echo "<h1>billing</h1>" >"$T/site/root/www/index.html"
	echo "legacy" >"$T/site/root/old/legacy.txt"
	echo "keep" >"$T/site/root/keep.txt"
	ns_home
	if [ "$1" = fail ]; then
		sed -i "s|^\[environment \"demo/model\"\]|&\n    verify = test -f no-such-file|" nightshift.conf
	fi
	make_pkg "$T/pkg" "kill points"
	mkdir -p "$T/pkg/files/lib" "$T/pkg/files/new/deep" "$T/pkg/sql"
	echo "tax = 21" >"$T/pkg/files/lib/tax.conf"
	echo "fresh" >"$T/pkg/files/new/deep/a.txt"
	echo "fresh too" >"$T/pkg/files/new/b.txt"
	printf '[files]\ndelete = old/legacy.txt\ndelete = old\nbase = lib/tax.conf %s\n' \
		"$(sha "$T/site/root/lib/tax.conf")" >>"$T/pkg/enhancement.ini"
	cat >"$T/pkg/sql/deploy.sql" <<SQL
ALTER TABLE customers ADD COLUMN discount INTEGER NOT NULL DEFAULT 0;
UPDATE customers SET discount = 5 WHERE id = 1;
CREATE TABLE coupons(code TEXT PRIMARY KEY, pct INTEGER);
INSERT INTO coupons VALUES ('XMAS', 10);
SQL
	cat >"$T/pkg/sql/revert.sql" <<SQL
DROP TABLE coupons;
ALTER TABLE customers DROP COLUMN discount;
SQL
	echo "SELECT count(*) FROM coupons;" >"$T/pkg/sql/verify.sql"
	keep_scene site
	if [ "$1" = rollback ]; then # ENH-1 migrated, to be backed out
		"$NS" window run --now >/dev/null || exit 1
		save_scene site
		RUN=(rollback ENH-1 --env model --reason "a defect")
		REG_AFTER=rolled-back REG_BEFORE=migrated
	fi
}

reset() { reset_scene site; }

leftovers() { stray_files "$T/site" "$T/home"; }
registry_state() { enh1_runs_state; }

matrix() { # kind
	local kind=$1 after=${NS_FULL:+1}
	# (a rollback's recovery is the failing run's again: every 18th)
	[ "$kind" = rollback ] && after=${after:-18}
	scene "$kind"
	measure
	if [ "$kind" = ok ]; then
		[ "$BEFORE" != "$AFTER" ] && ok "$kind: the run changes the site" ||
			not_ok "$kind: the run changes the site"
		# (the directory old/ is deleted with the file in it)
		is "$(ls -A "$T/site/root" | tr '\n' ' ')" "keep.txt lib new www " \
			"$kind: old/ is gone, new/ is there"
	else
		if [ "$kind" = fail ]; then
			is "$AFTER" "$BEFORE" "$kind: the uninterrupted rollback restores the site"
		else
			[ "$BEFORE" != "$AFTER" ] && ok "$kind: the rollback changes the site" ||
				not_ok "$kind: the rollback changes the site"
		fi
		is "$(ls -A "$T/site/root" | tr '\n' ' ')" "keep.txt lib old www " \
			"$kind: old/ is back"
		is "$(stat -c %a "$T/site/root/old")$(ls "$T/site/root/old")" \
			"750legacy.txt" "$kind: … with its mode and its file"
	fi
	like "$STEPS" '^[1-9][0-9]*$' "$kind: the run counted its steps ($STEPS)"
	# recovery killed too: after every 9th kill point (every one with
	# NS_FULL=1), at each of its steps
	kill_matrix "$kind" 1 "${after:-9}" 1 "to before or after"
}

matrix ok
matrix fail
matrix rollback
done_testing
