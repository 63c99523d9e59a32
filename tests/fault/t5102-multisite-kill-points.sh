#!/bin/bash
# Kill points of a run into an environment of two sites, a and b: the
# process is killed before each of its mutating steps, of a run that
# migrates both and of one whose verify fails on site b (so that site a
# is backed out again), of a `rollback` of a run that migrated both, and
# inside recovery itself; then of a run into three sites that fails on
# the third (b and a backed out again). After `recover` the sites must
# be, together, exactly as before or exactly as after — never one of each
# — with the registry agreeing, nothing left behind, and a second recover
# changing nothing.
# `make check` takes every 4th kill point of the two-site runs, and of
# recovery killed in turn every 5th step after every 30th kill point
# (about 120 points, 50 s), and of the three-site run every 8th, 10th and
# 60th (about 50 points, 20 s); NS_FULL=1 (make check-full) takes every
# one of them (about 7,000 points, more than an hour), and of the
# three-site run every kill point, and recovery killed at every step
# after every 8th (about 1,500 points).
# (functions only; lib.sh leaves the directory $0 is relative to)
. "$(dirname "$0")/kill-lib.sh"
. "$(dirname "$0")/../e2e/lib.sh"

TPL=$T/tpl
export NIGHTSHIFT_NOW=2026-12-01T23:00:00!
SITES="a b"
LAST=b

scene() { # ok | fail | rollback
	rm -rf "$T/sites" "$T/home"
	RUN=(window run --now)
	REG_AFTER=migrated REG_BEFORE=
	if [ "$1" = fail ]; then # the verify fails on the last site
		sites_home "$SITES" "test \"\$NIGHTSHIFT_SITE\" != demo/model/$LAST"
	else
		sites_home "$SITES"
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
	for s in $SITES; do
		echo "$s $(db_dump "$T/sites/$s/app.db" | tree_hash_with "$T/sites/$s/root")"
	done
}

leftovers() { stray_files "$T/sites" "$T/home"; }

registry_state() { enh1_runs_state; }

xs() { local s; for s in $SITES; do printf '%s' "$(cat "$T/sites/$s/root/lib/x.txt")"; done; }
xs_all() { local s; for s in $SITES; do printf '%s' "$1"; done; }

matrix() { # kind [EVERY AFTER RSTEP]
	local kind=$1 name=$1 every=${2:-4} after=${3:-30} rstep=${4:-5}
	[ -z "${NS_FULL:-}" ] || [ $# -gt 1 ] || every=1 after=1 rstep=1
	[ "$SITES" = "a b" ] || name="$kind (sites ${SITES// /, })"
	scene "$kind"
	measure
	if [ "$kind" = ok ]; then
		is "$(xs)" "$(xs_all v2)" "$name: the run migrates every site"
	elif [ "$kind" = rollback ]; then
		is "$(xs)$(enh1_state)" "$(xs_all v1)rolled-back" \
			"$name: the rollback backs every site out"
	else
		is "$AFTER" "$BEFORE" "$name: the run fails on site $LAST and puts every site back"
	fi
	like "$STEPS" '^[1-9][0-9]*$' "$name: the run counted its steps ($STEPS)"
	kill_matrix "$kind" "$every" "$after" "$rstep" \
		"every site to before, or every site to after" "$name"
}

matrix ok
matrix fail
matrix rollback
# three sites: the run fails on c, then backs b and a out again, newest
# first
SITES="a b c"
LAST=c
if [ -n "${NS_FULL:-}" ]; then matrix fail 1 8 1; else matrix fail 8 60 10; fi
done_testing
