# shared by the kill-point tests (t5101, t5120, t5121), sourced before
# tests/e2e/lib.sh. The test defines reset (the scene as before the run),
# site_state, registry_state and leftovers, and sets BEFORE and AFTER.

# one kill point: the run killed at step N (and the recover after it at
# M), then a recover; echoes a word saying what went wrong, nothing when
# the site is exactly before or after, the registry agrees, nothing is
# left behind and a second recover changes nothing
check_point() { # kind N [M]
	local kind=$1 n=$2 m=${3:-} state rs rrc
	reset
	{ (NIGHTSHIFT_CRASH_AT=$n exec "$NS" window run --now) >/dev/null 2>"$T/run.err"; } 2>/dev/null
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
	[ "$state" = "$AFTER" ] && [ "$BEFORE" != "$AFTER" ] && [ "$rs" != migrated ] && { echo "registry-says-$rs-site-after"; return; }
	[ "$state" = "$BEFORE" ] && [ "$rs" = migrated ] && { echo "registry-says-migrated-site-before"; return; }
	[ "$rs" = migrating ] && { echo "registry-still-migrating"; return; }
	"$NS" recover >/dev/null 2>&1
	[ "$(site_state)" = "$state" ] || { echo "second-recover-changed-site"; return; }
	[ "$(registry_state)" = "$rs" ] || { echo "second-recover-changed-registry"; return; }
}
