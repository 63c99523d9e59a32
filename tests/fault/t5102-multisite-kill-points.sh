#!/bin/bash
# Kill points of a run into an environment of two sites, a and b: the
# process is killed before each of its mutating steps, of a run that
# migrates both and of one whose verify fails on site b (so that site a
# is backed out again), of a `rollback` of a run that migrated both, and
# inside recovery itself. After `recover` the two sites must be, together,
# exactly as before or exactly as after — never one of each — with the
# registry agreeing, nothing left behind, and a second recover changing
# nothing.
# `make check` takes every 4th kill point of the runs, and of recovery
# killed in turn every 5th step after every 30th kill point (about 120
# points, 70 s); NS_FULL=1 (make check-full) takes every one of them
# (about 7,000 points, more than an hour).
# (functions only; lib.sh leaves the directory $0 is relative to)
. "$(dirname "$0")/kill-lib.sh"
. "$(dirname "$0")/../e2e/lib.sh"

TPL=$T/tpl
export NIGHTSHIFT_NOW=2026-12-01T23:00:00!

scene() { # ok | fail | rollback
	rm -rf "$T/sites" "$T/home"
	if [ "$1" = fail ]; then # the verify fails on site b
		two_sites 'test "$NIGHTSHIFT_SITE" != demo/model/b'
	else
		two_sites
	fi
	make_pkg "$T/pkg" "two sites"
	mkdir -p "$T/pkg/files/lib/new" "$T/pkg/sql"
	echo "v2" >"$T/pkg/files/lib/x.txt"
	echo "fresh" >"$T/pkg/files/lib/new/y.txt"
	echo "INSERT INTO t VALUES (2);" >"$T/pkg/sql/deploy.sql"
	echo "DELETE FROM t WHERE a = 2;" >"$T/pkg/sql/revert.sql"
	keep_scene sites
	if [ "$1" = rollback ]; then # ENH-1 migrated into both, to be backed out
		"$NS" window run --now >/dev/null || exit 1
		save_scene sites
		RUN=(rollback ENH-1 --env model --reason "a defect")
		REG_AFTER=rolled-back REG_BEFORE=migrated
	fi
}

reset() { reset_scene sites; }

site_state() {
	local s
	for s in a b; do
		echo "$s $(db_dump "$T/sites/$s/app.db" | tree_hash_with "$T/sites/$s/root")"
	done
}

leftovers() { stray_files "$T/sites" "$T/home"; }

registry_state() { enh1_runs_state; }

matrix() { # kind
	local kind=$1 every=${NS_FULL:+1} after=${NS_FULL:+1} rstep=${NS_FULL:+1}
	every=${every:-4} after=${after:-30} rstep=${rstep:-5}
	scene "$kind"
	measure
	if [ "$kind" = ok ]; then
		is "$(cat "$T/sites/a/root/lib/x.txt")$(cat "$T/sites/b/root/lib/x.txt")" "v2v2" \
			"$kind: the run migrates both sites"
	elif [ "$kind" = rollback ]; then
		is "$(cat "$T/sites/a/root/lib/x.txt")$(cat "$T/sites/b/root/lib/x.txt")$(enh1_state)" \
			"v1v1rolled-back" "$kind: the rollback backs both sites out"
	else
		is "$AFTER" "$BEFORE" "$kind: the run fails on site b and puts both back"
	fi
	like "$STEPS" '^[0-9]+$' "$kind: the run counted its steps ($STEPS)"
	kill_matrix "$kind" "$every" "$after" "$rstep" \
		"both sites to before, or both to after"
}

matrix ok
matrix fail
matrix rollback
done_testing
