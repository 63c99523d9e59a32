# shared by the kill-point tests (t5101, t5102, t5120, t5121, t5122), sourced
# before tests/e2e/lib.sh. The test defines reset (the scene as before the
# run), site_state, registry_state and leftovers (stray_files helps), and
# sets BEFORE and AFTER (and STEPS for kill_matrix).
# RUN is the command killed (a window run unless the test says another);
# REG_AFTER the registry's word for the site after it, REG_BEFORE (if set)
# for the site before it.
RUN=(window run --now)
REG_AFTER=migrated
REG_BEFORE=

# one kill point: the run killed at step N (and the recover after it at
# M), then a recover; echoes a word saying what went wrong, nothing when
# the site is exactly before or after, the registry agrees, nothing is
# left behind and a second recover changes nothing
check_point() { # kind N [M]
	local kind=$1 n=$2 m=${3:-} state rs rrc
	reset
	{ (NIGHTSHIFT_CRASH_AT=$n exec "$NS" "${RUN[@]}") >/dev/null 2>"$T/run.err"; } 2>/dev/null
	rrc=$?
	# 137: killed by SIGKILL, the kill point was reached
	[ $rrc -eq 137 ] || { echo "run-not-killed-at-$n (exit $rrc: $(tail -n 2 "$T/run.err" | tr '\n' ' '))"; return; }
	if [ -n "$m" ]; then
		{ (NIGHTSHIFT_CRASH_AT=$m exec "$NS" recover) >/dev/null 2>&1; } 2>/dev/null
		[ $? -eq 137 ] || { echo "recover-not-killed-at-$m"; return; }
	fi
	"$NS" recover >/dev/null 2>"$T/rec.err"
	rrc=$?
	state=$(site_state)
	rs=$(registry_state)
	if [ "$state" != "$BEFORE" ] && [ "$state" != "$AFTER" ]; then echo "inconsistent-site"; return; fi
	if [ "$kind" = fail ] && [ "$state" != "$BEFORE" ]; then echo "failed-run-not-rolled-back"; return; fi
	[ -z "$(leftovers)" ] || { echo "leftovers:$(leftovers | tr '\n' ' ')"; return; }
	[ "$rrc" -le 1 ] || { echo "recover-exit-$rrc:$(cat "$T/rec.err")"; return; }
	# the registry agrees with the site
	[ "$state" = "$AFTER" ] && [ "$BEFORE" != "$AFTER" ] && [ "$rs" != "$REG_AFTER" ] && { echo "registry-says-$rs-site-after"; return; }
	[ "$state" = "$BEFORE" ] && [ "$rs" = "$REG_AFTER" ] && { echo "registry-says-$rs-site-before"; return; }
	[ "$state" = "$BEFORE" ] && [ -n "$REG_BEFORE" ] && [ "$rs" != "$REG_BEFORE" ] && { echo "registry-says-$rs-site-before"; return; }
	[ "$rs" = migrating ] && { echo "registry-still-migrating"; return; }
	"$NS" recover >/dev/null 2>&1
	[ "$(site_state)" = "$state" ] || { echo "second-recover-changed-site"; return; }
	[ "$(registry_state)" = "$rs" ] || { echo "second-recover-changed-registry"; return; }
}

# what a run or a recovery must not leave behind in the directories given,
# the home $T/home among them (SQLite's own app.db-journal is not counted:
# a kill before SQLite's first sync leaves one with a zeroed header, which
# SQLite itself treats as not hot; the database dump in site_state is what
# proves the data), and the home's active journals; one find
stray_files() { # DIR...
	find "$@" \( -name '.nightshift.*' -o -name '*.tmp-*' \
		-o -name '.incoming-*' \
		-o \( -path "$T/home/journal/*" -name '*.jnl' \) \) -print
}

# a query of the registry of $T/home
registry_q() { sqlite3 "$T/home/nightshift.db" "$1"; }

# the state of ENH-1 in the registry of $T/home
enh1_state() { registry_q "SELECT state FROM enhancements WHERE id = 1"; }

# ENH-1's state, when the runs agree with it: none is left open, and a
# backout (RUN a rollback) is recorded on its own run, the migration's
# staying migrated; else a word saying how they disagree (one sqlite3)
enh1_runs_state() {
	local st open mig bo
	IFS='|' read -r st open mig bo < <(registry_q "SELECT
		(SELECT state FROM enhancements WHERE id = 1),
		(SELECT count(*) FROM runs WHERE outcome IS NULL),
		(SELECT group_concat(outcome) FROM runs WHERE kind = 'migrate'),
		(SELECT outcome FROM runs WHERE kind = 'backout' ORDER BY id DESC LIMIT 1)")
	[ "$open" = 0 ] || { echo "$st-with-$open-open-runs"; return; }
	if [ "${RUN[0]}" = rollback ]; then
		[ "$mig" = migrated ] || { echo "$st-migration-run-$mig"; return; }
		[ "$st" = rolled-back ] && [ "$bo" != rolled-back ] && { echo "$st-backout-run-${bo:-none}"; return; }
		[ "$st" = migrated ] && [ "$bo" = rolled-back ] && { echo "$st-backout-run-$bo"; return; }
	fi
	echo "$st"
}

# the scene's package $T/pkg handed in as ENH-1, approved and scheduled;
# then the scene, $T/SITES and $T/home, kept in $TPL for reset_scene
keep_scene() { # SITES
	"$NS" --as alice submit "$T/pkg" >/dev/null || exit 1
	"$NS" --as quinn qa approve ENH-1 >/dev/null 2>&1
	"$NS" schedule ENH-1 --env model >/dev/null || exit 1
	save_scene "$1"
}

# the scene as it is now, $T/SITES and $T/home, kept in $TPL
save_scene() { # SITES
	rm -rf "$TPL"
	mkdir -p "$TPL"
	cp -a "$T/$1" "$T/home" "$TPL/"
}

# the scene as keep_scene kept it; the directory is $T/home
reset_scene() { # SITES
	cd "$T" || exit 1
	# (chmod only when a run left a directory rm cannot empty)
	rm -rf "$T/$1" "$T/home" 2>/dev/null || {
		chmod -R u+w "$T/$1" "$T/home" 2>/dev/null
		rm -rf "$T/$1" "$T/home"
	}
	cp -a "$TPL/$1" "$TPL/home" "$T/"
	cd "$T/home" || exit 1
}

# an uninterrupted run from the scene: its steps counted (STEPS), the site
# before and after it remembered (BEFORE, AFTER)
measure() {
	reset
	BEFORE=$(site_state)
	rm -f "$T/steps"
	NIGHTSHIFT_STEPS_FILE=$T/steps "$NS" "${RUN[@]}" >/dev/null 2>&1
	STEPS=$(cat "$T/steps")
	AFTER=$(site_state)
}

# The kill points of a run (RUN) of $STEPS steps, of kind KIND: every
# EVERY-th step killed in turn and then recovered, and after every
# AFTER-th, recovery itself killed at every RSTEP-th of its own steps.
# Each must end as check_point requires; WHAT says so in the TAP lines,
# which LABEL (the kind if not given) begins.
kill_matrix() { # kind every after rstep what [label]
	local kind=$1 every=$2 after=$3 rstep=$4 what=$5 label=${6:-$1}
	local bad=0 total=0 n m r why
	for n in $(seq 1 "$every" "$STEPS"); do
		total=$((total + 1))
		why=$(check_point "$kind" "$n")
		[ -z "$why" ] || { bad=$((bad + 1)); diag "$label: kill at step $n: $why"; }
	done
	diag "$label: matrix of $total kill points, $bad inconsistent states"
	is "$bad" 0 "$label: each of $total kill points recovers $what"
	bad=0 total=0
	for n in $(seq 1 "$after" "$STEPS"); do
		reset
		{ (NIGHTSHIFT_CRASH_AT=$n exec "$NS" "${RUN[@]}") >/dev/null 2>&1; } 2>/dev/null
		rm -f "$T/rsteps"
		NIGHTSHIFT_STEPS_FILE=$T/rsteps "$NS" recover >/dev/null 2>&1
		r=$(cat "$T/rsteps" 2>/dev/null || echo 0)
		for m in $(seq 1 "$rstep" "$r"); do
			total=$((total + 1))
			why=$(check_point "$kind" "$n" "$m")
			[ -z "$why" ] || { bad=$((bad + 1)); diag "$label: kill at step $n, recovery killed at $m: $why"; }
		done
	done
	diag "$label: matrix of $total interrupted recoveries, $bad inconsistent states"
	is "$bad" 0 "$label: recovery killed at $total points still ends $what"
}
