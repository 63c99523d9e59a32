# shared by the PostgreSQL kill-point tests (t5120, t5121), sourced after
# tests/e2e/lib.sh: the scene kept in $TPL is put back for each kill
# point, the database made again as pg_scene made it (one psql is much
# quicker than a new database from a template)

reset() {
	cd "$T" || exit 1
	rm -rf "$T/site" "$T/home"
	cp -a "$TPL/site" "$TPL/home" "$T/"
	pg_customers
	cd "$T/home" || exit 1
}

site_state() { echo "$(tree_hash "$T/site/root") $(pg_dump_canon | sha256sum | cut -c1-64)"; }
registry_state() { sqlite3 "$T/home/nightshift.db" "SELECT state FROM enhancements WHERE id = 1"; }
leftovers() {
	find "$T/site" "$T/home" \( -name '.nightshift.*' -o -name '*.tmp-*' \) -print
	find "$T/home/journal" -name '*.jnl' -print
}

# one kill point: the run killed at step N (and its recover at M), then a
# recover; prints why the site is not exactly before or after, or nothing
check_point() { # kind N [M]
	local kind=$1 n=$2 m=${3:-} state rs rrc
	reset
	{ (NIGHTSHIFT_CRASH_AT=$n exec "$NS" window run --now) >/dev/null 2>"$T/run.err"; } 2>/dev/null
	rrc=$?
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
	[ "$state" = "$AFTER" ] && [ "$BEFORE" != "$AFTER" ] && [ "$rs" != migrated ] && { echo "registry-says-$rs-site-after"; return; }
	[ "$state" = "$BEFORE" ] && [ "$rs" = migrated ] && { echo "registry-says-migrated-site-before"; return; }
	[ "$rs" = migrating ] && { echo "registry-still-migrating"; return; }
	"$NS" recover >/dev/null 2>&1
	[ "$(site_state)" = "$state" ] || { echo "second-recover-changed-site"; return; }
}
