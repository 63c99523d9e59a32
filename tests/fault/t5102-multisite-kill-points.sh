#!/bin/bash
# Kill points of a run into an environment of two sites, a and b: the
# process is killed before each of its mutating steps, of a run that
# migrates both and of one whose verify fails on site b (so that site a
# is backed out again), and inside recovery itself. After `recover` the
# two sites must be, together, exactly as before or exactly as after —
# never one of each — with the registry agreeing, nothing left behind,
# and a second recover changing nothing.
# `make check` takes every 3rd kill point of the runs, and of recovery
# killed in turn every 4th step after every 25th kill point (about 130
# points, 80 s); NS_FULL=1 (make check-full) takes every one of them
# (about 5,700 points, most of an hour).
# (functions only; lib.sh leaves the directory $0 is relative to)
. "$(dirname "$0")/kill-lib.sh"
. "$(dirname "$0")/../e2e/lib.sh"

TPL=$T/tpl
export NIGHTSHIFT_NOW=2026-12-01T23:00:00!

scene() { # ok | fail
	rm -rf "$T/sites" "$T/home"
	for s in a b; do
		mkdir -p "$T/sites/$s/root/lib"
		echo "v1" >"$T/sites/$s/root/lib/x.txt"
		sqlite3 "$T/sites/$s/app.db" "CREATE TABLE t(a); INSERT INTO t VALUES (1);"
	done
	mkdir -p "$T/home"
	"$NS" init "$T/home" >/dev/null
	cat >>"$T/home/nightshift.conf" <<CONF
[system "demo"]
[environment "demo/model"]
[site "demo/model/a"]
    root = $T/sites/a/root
    database = sqlite:$T/sites/a/app.db
[site "demo/model/b"]
    root = $T/sites/b/root
    database = sqlite:$T/sites/b/app.db
CONF
	[ "$1" = ok ] ||
		sed -i "s|^\[environment \"demo/model\"\]|&\n    verify = test \"\$NIGHTSHIFT_SITE\" != demo/model/b|" \
			"$T/home/nightshift.conf"
	ns_people "$T/home/nightshift.conf"
	cd "$T/home" || exit 1
	make_pkg "$T/pkg" "two sites"
	mkdir -p "$T/pkg/files/lib/new" "$T/pkg/sql"
	echo "v2" >"$T/pkg/files/lib/x.txt"
	echo "fresh" >"$T/pkg/files/lib/new/y.txt"
	echo "INSERT INTO t VALUES (2);" >"$T/pkg/sql/deploy.sql"
	echo "DELETE FROM t WHERE a = 2;" >"$T/pkg/sql/revert.sql"
	"$NS" --as alice submit "$T/pkg" >/dev/null || exit 1
	"$NS" --as quinn qa approve ENH-1 >/dev/null 2>&1
	"$NS" schedule ENH-1 --env model >/dev/null || exit 1
	rm -rf "$TPL"
	mkdir -p "$TPL"
	cp -a "$T/sites" "$T/home" "$TPL/"
}

reset() {
	cd "$T" || exit 1
	rm -rf "$T/sites" "$T/home"
	cp -a "$TPL/sites" "$TPL/home" "$T/"
	cd "$T/home" || exit 1
}

site_state() {
	local s
	for s in a b; do
		echo "$s $(tree_hash "$T/sites/$s/root") $(db_dump "$T/sites/$s/app.db" | sha256sum | cut -c1-64)"
	done
}

leftovers() {
	find "$T/sites" "$T/home" \( -name '.nightshift.*' -o -name '*.tmp-*' \
		-o -name '.incoming-*' \) -print
	find "$T/home/journal" -name '*.jnl' -print
}

registry_state() {
	sqlite3 "$T/home/nightshift.db" "SELECT state FROM enhancements WHERE id = 1"
}

matrix() { # kind
	local kind=$1 bad=0 total=0 n m r why
	local every=${NS_FULL:+1} after=${NS_FULL:+1} rstep=${NS_FULL:+1}
	every=${every:-3} after=${after:-25} rstep=${rstep:-4}
	scene "$kind"
	reset
	BEFORE=$(site_state)
	rm -f "$T/steps"
	NIGHTSHIFT_STEPS_FILE=$T/steps "$NS" window run --now >/dev/null 2>&1
	STEPS=$(cat "$T/steps")
	AFTER=$(site_state)
	if [ "$kind" = ok ]; then
		is "$(cat "$T/sites/a/root/lib/x.txt")$(cat "$T/sites/b/root/lib/x.txt")" "v2v2" \
			"$kind: the run migrates both sites"
	else
		is "$AFTER" "$BEFORE" "$kind: the run fails on site b and puts both back"
	fi
	like "$STEPS" '^[0-9]+$' "$kind: the run counted its steps ($STEPS)"
	for n in $(seq 1 "$every" "$STEPS"); do
		total=$((total + 1))
		why=$(check_point "$kind" "$n")
		[ -z "$why" ] || { bad=$((bad + 1)); diag "$kind: kill at step $n: $why"; }
	done
	diag "$kind: matrix of $total kill points, $bad inconsistent states"
	is "$bad" 0 "$kind: each of $total kill points recovers both sites to before, or both to after"
	# recovery interrupted too
	bad=0 total=0
	for n in $(seq 1 "$after" "$STEPS"); do
		reset
		{ (NIGHTSHIFT_CRASH_AT=$n exec "$NS" window run --now) >/dev/null 2>&1; } 2>/dev/null
		rm -f "$T/rsteps"
		NIGHTSHIFT_STEPS_FILE=$T/rsteps "$NS" recover >/dev/null 2>&1
		r=$(cat "$T/rsteps" 2>/dev/null || echo 0)
		for m in $(seq 1 "$rstep" "$r"); do
			total=$((total + 1))
			why=$(check_point "$kind" "$n" "$m")
			[ -z "$why" ] || { bad=$((bad + 1)); diag "$kind: kill at step $n, recovery killed at $m: $why"; }
		done
	done
	diag "$kind: matrix of $total interrupted recoveries, $bad inconsistent states"
	is "$bad" 0 "$kind: recovery killed at $total points still ends both sites consistent"
}

matrix ok
matrix fail
done_testing
