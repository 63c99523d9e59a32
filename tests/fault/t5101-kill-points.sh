#!/bin/bash
# Kill points: the process is killed with SIGKILL just before its Nth
# mutating step (NIGHTSHIFT_CRASH_AT=N), for every N of a successful run
# and of a run that rolls back, and inside recovery itself. After
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
# scheduled; $1 = "ok" (migrates) or "fail" (verify fails → rolls back)
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
	"$NS" --as alice submit "$T/pkg" >/dev/null || exit 1
	"$NS" --as quinn qa approve ENH-1 >/dev/null 2>&1
	"$NS" schedule ENH-1 --env model >/dev/null || exit 1
	rm -rf "$TPL"
	mkdir -p "$TPL"
	cp -a "$T/site" "$T/home" "$TPL/"
}

reset() {
	cd "$T" || exit 1
	chmod -R u+w "$T/site" "$T/home" 2>/dev/null
	rm -rf "$T/site" "$T/home"
	cp -a "$TPL/site" "$TPL/home" "$T/"
	cd "$T/home" || exit 1
}

# SQLite's own app.db-journal is not counted: a kill before SQLite's first
# sync leaves one with a zeroed header, which SQLite itself treats as not
# hot; the database dump in site_state is what proves the data.
leftovers() {
	find "$T/site" "$T/home" \( -name '.nightshift.*' -o -name '*.tmp-*' \
		-o -name '.incoming-*' \) -print
	find "$T/home/journal" -name '*.jnl' -print
}

registry_state() {
	sqlite3 "$T/home/nightshift.db" "SELECT state FROM enhancements WHERE id = 1"
}

# count the steps of an uninterrupted run; remember before and after
measure() { # kind
	reset
	BEFORE=$(site_state)
	rm -f "$T/steps"
	NIGHTSHIFT_STEPS_FILE=$T/steps "$NS" window run --now >/dev/null 2>&1
	STEPS=$(cat "$T/steps")
	AFTER=$(site_state)
}

matrix() { # kind
	local kind=$1 bad=0 total=0 n why
	scene "$kind"
	measure "$kind"
	if [ "$kind" = ok ]; then
		[ "$BEFORE" != "$AFTER" ] && ok "$kind: the run changes the site" ||
			not_ok "$kind: the run changes the site"
		# (the directory old/ is deleted with the file in it)
		is "$(ls -A "$T/site/root" | tr '\n' ' ')" "keep.txt lib new www " \
			"$kind: old/ is gone, new/ is there"
	else
		is "$AFTER" "$BEFORE" "$kind: the uninterrupted rollback restores the site"
		is "$(ls -A "$T/site/root" | tr '\n' ' ')" "keep.txt lib old www " \
			"$kind: old/ is back"
		is "$(stat -c %a "$T/site/root/old")$(ls "$T/site/root/old")" \
			"750legacy.txt" "$kind: … with its mode and its file"
	fi
	like "$STEPS" '^[0-9]+$' "$kind: the run counted its steps ($STEPS)"
	for n in $(seq 1 "$STEPS"); do
		total=$((total + 1))
		why=$(check_point "$kind" "$n")
		if [ -n "$why" ]; then
			bad=$((bad + 1))
			diag "$kind: kill at step $n: $why"
		fi
	done
	diag "$kind: matrix of $total kill points, $bad inconsistent states"
	is "$bad" 0 "$kind: every one of $total kill points recovers to before or after"
	# recovery interrupted too: kill the run at n, then recovery at m
	local stride=${NS_FULL:+1}
	stride=${stride:-9}
	bad=0 total=0
	for n in $(seq 1 "$stride" "$STEPS"); do
		reset
		{ (NIGHTSHIFT_CRASH_AT=$n exec "$NS" window run --now) >/dev/null 2>&1; } 2>/dev/null
		rm -f "$T/rsteps"
		NIGHTSHIFT_STEPS_FILE=$T/rsteps "$NS" recover >/dev/null 2>&1
		local r=$(cat "$T/rsteps" 2>/dev/null || echo 0)
		for m in $(seq 1 "$r"); do
			total=$((total + 1))
			why=$(check_point "$kind" "$n" "$m")
			if [ -n "$why" ]; then
				bad=$((bad + 1))
				diag "$kind: kill at step $n, recovery killed at $m: $why"
			fi
		done
	done
	diag "$kind: matrix of $total interrupted recoveries, $bad inconsistent states"
	is "$bad" 0 "$kind: recovery killed at each of its $total steps still ends consistent"
}

matrix ok
matrix fail
done_testing
