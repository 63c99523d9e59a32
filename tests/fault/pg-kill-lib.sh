# shared by the PostgreSQL kill-point tests (t5120, t5121, t5122), sourced with
# tests/e2e/lib.sh: the scene kept in $TPL is put back for each kill
# point, the database made again as pg_scene made it (one psql is much
# quicker than a new database from a template)

# the scratch server started (or the test bails out), psql quiet, the
# scene kept in $TPL, the clock fixed
pg_kill_start() {
	pg_start || pg_bail
	# psql's notices (DROP TABLE IF EXISTS … skipping) are not the
	# test's output
	export PGOPTIONS="-c client_min_messages=warning"
	TPL=$T/tpl
	export NIGHTSHIFT_NOW=2026-12-01T23:00:00
}

# the scene's site: lib/tax.conf and old/legacy.txt below the root, a home
# (ns_home) whose site database is PGURL, customers (ann, bob) in it
pg_kill_site() {
	rm -rf "$T/site" "$T/home"
	mkdir -p "$T/site/root/lib" "$T/site/root/old"
	echo "tax = 19" >"$T/site/root/lib/tax.conf"
	echo "legacy" >"$T/site/root/old/legacy.txt"
	ns_home
	sed -i "s|database = sqlite:.*|database = $PGURL|" nightshift.conf
	pg_customers
}

reset() {
	cd "$T" || exit 1
	rm -rf "$T/site" "$T/home"
	cp -a "$TPL/site" "$TPL/home" "$T/"
	if [ -s "$TPL/db.sql" ]; then # pg_kill_save's database
		psql -X -q -v ON_ERROR_STOP=1 -f "$TPL/db.sql" >/dev/null
	else
		pg_customers
	fi
	cd "$T/home" || exit 1
}

site_state() { pg_dump_canon | tree_hash_with "$T/site/root"; }
registry_state() { enh1_runs_state; }
leftovers() { stray_files "$T/site" "$T/home"; }

# the scene's package files: lib/tax.conf replaced, new/a.txt added,
# old/legacy.txt deleted (the SQL is each test's own)
pg_kill_files() {
	mkdir -p "$T/pkg/files/lib" "$T/pkg/files/new" "$T/pkg/sql"
	echo "tax = 21" >"$T/pkg/files/lib/tax.conf"
	echo "fresh" >"$T/pkg/files/new/a.txt"
	printf '[files]\ndelete = old/legacy.txt\n' >>"$T/pkg/enhancement.ini"
}

# the package's SQL in one transaction: a column and a row changed, a
# table made and filled; the revert drops both, the verify reads the table
pg_kill_coupons_sql() {
	cat >"$T/pkg/sql/deploy.sql" <<'SQL'
ALTER TABLE customers ADD COLUMN discount int NOT NULL DEFAULT 0;
UPDATE customers SET discount = 5 WHERE id = 1;
CREATE TABLE coupons(code text PRIMARY KEY, pct int);
INSERT INTO coupons VALUES ('XMAS', 10);
SQL
	cat >"$T/pkg/sql/revert.sql" <<'SQL'
DROP TABLE coupons;
ALTER TABLE customers DROP COLUMN discount;
SQL
	echo "SELECT count(*) FROM coupons;" >"$T/pkg/sql/verify.sql"
}

# $T/pkg submitted, approved and scheduled as ENH-1; the scene kept in $TPL
pg_kill_ready() {
	"$NS" submit "$T/pkg" >/dev/null || exit 1
	"$NS" --as quinn qa approve ENH-1 >/dev/null 2>&1
	"$NS" schedule ENH-1 --env model >/dev/null || exit 1
	rm -rf "$TPL"
	mkdir -p "$TPL"
	cp -a "$T/site" "$T/home" "$TPL/"
}

# the scene as it is now kept in $TPL instead, its database too (dumped,
# to be loaded again by reset)
pg_kill_save() {
	rm -rf "$TPL"
	mkdir -p "$TPL"
	cp -a "$T/site" "$T/home" "$TPL/"
	pg_dump --clean --if-exists --no-owner "$PGURL" >"$TPL/db.sql"
}

# the uninterrupted run (RUN) of the scene, traced into $T/trace; BEFORE
# and AFTER are the site's states: a failing run puts it back, the others
# change it
pg_kill_first_run() { # ok|fail|rollback
	reset
	BEFORE=$(site_state)
	rm -f "$T/trace"
	NIGHTSHIFT_STEPS_TRACE=$T/trace "$NS" "${RUN[@]}" >/dev/null 2>&1
	AFTER=$(site_state)
	if [ "$1" != fail ]; then
		[ "$BEFORE" != "$AFTER" ] && ok "$1: the run changes the site" ||
			not_ok "$1: the run changes the site"
	else
		is "$AFTER" "$BEFORE" "$1: the uninterrupted rollback restores the site"
	fi
}

# the run killed at step N, then `recover` traced into $T/rtrace
pg_kill_crashed_recover() { # N
	reset
	{ (NIGHTSHIFT_CRASH_AT=$1 exec "$NS" "${RUN[@]}") >/dev/null 2>&1; } 2>/dev/null
	rm -f "$T/rtrace"
	NIGHTSHIFT_STEPS_TRACE=$T/rtrace "$NS" recover >/dev/null 2>&1
}

# check_point KIND [CRASHED] at each of the points ($(points TRACE FROM)),
# a diag naming the step for each inconsistent one; sets total and bad
pg_kill_each() { # KIND TRACE FROM LABEL [CRASHED]
	local kind=$1 trace=$2 from=$3 label=$4 crashed=${5:-} n why
	bad=0 total=0
	for n in $(points "$trace" "$from"); do
		total=$((total + 1))
		why=$(check_point "$kind" $crashed "$n")
		[ -z "$why" ] || {
			bad=$((bad + 1))
			diag "$kind: $label $n ($(sed -n "${n}p" "$trace")): $why"
		}
	done
}
