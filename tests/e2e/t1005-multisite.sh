#!/bin/bash
# An environment with two sites: an enhancement goes into both or into
# neither. A failure on the second site backs the first out again.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/home"
"$NS" init "$T/home" >/dev/null
for s in a b; do
	mkdir -p "$T/sites/$s/root/lib"
	echo "v1" >"$T/sites/$s/root/lib/x.txt"
	sqlite3 "$T/sites/$s/app.db" "CREATE TABLE t(a); INSERT INTO t VALUES (1);"
done
cat >>"$T/home/nightshift.conf" <<CONF
[system "demo"]
    users = users@example.com
[environment "demo/model"]
    verify = test "\$NIGHTSHIFT_SITE" != demo/model/b || test ! -e lib/fail-on-b
[site "demo/model/a"]
    root = $T/sites/a/root
    database = sqlite:$T/sites/a/app.db
[site "demo/model/b"]
    root = $T/sites/b/root
    database = sqlite:$T/sites/b/app.db
CONF
ns_people "$T/home/nightshift.conf"
cd "$T/home" || exit 1

state() { # SITE
	echo "$(tree_hash "$T/sites/$1/root") $(db_dump "$T/sites/$1/app.db" | sha256sum)"
}
pkg() { # DIR with-failure?
	make_pkg "$1" "two sites"
	mkdir -p "$1/files/lib" "$1/sql"
	echo "v2" >"$1/files/lib/x.txt"
	[ -n "${2:-}" ] && echo "boom" >"$1/files/lib/fail-on-b"
	echo "INSERT INTO t VALUES (2);" >"$1/sql/deploy.sql"
	echo "DELETE FROM t WHERE a = 2;" >"$1/sql/revert.sql"
}

A0=$(state a)
B0=$(state b)

# a failure on site b, after its commit point
pkg "$T/bad" fail
ns submit "$T/bad"
"$NS" --as quinn qa approve ENH-1 >/dev/null 2>&1
ns schedule ENH-1 --env model
ns window run --now
is "$rc" 1 "a failure on the second site: exit 1"
like "$err" "site demo/model/b: rolled-back" "site b reports its rollback on stderr"
like "$err" "site demo/model/a backed out again" "site a is backed out again"
is "$(state a)" "$A0" "site a is byte-identical to before (files and database)"
is "$(state b)" "$B0" "site b is byte-identical to before (files and database)"
is "$(ls "$T/home/journal/demo/model" | wc -l)" 0 "no journal is left active"
ns status ENH-1 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["enhancement"]["state"])')" \
	rolled-back "the registry says rolled-back"
is "$(find "$T/sites" -name '.nightshift.*' | wc -l)" 0 "no staging file on either site"

# success on both sites, then a manual backout of both
pkg "$T/good"
ns submit "$T/good"
"$NS" --as quinn qa approve ENH-2 >/dev/null 2>&1
ns schedule ENH-2 --env model
ns window run --now
is "$rc" 0 "both sites migrate: exit 0"
for s in a b; do
	is "$(cat "$T/sites/$s/root/lib/x.txt")" "v2" "site $s has the new file"
	is "$(sqlite3 "$T/sites/$s/app.db" "SELECT enhancement FROM nightshift_changes")" \
		"ENH-2" "site $s has the nightshift_changes row"
done
ns rollback ENH-2 --env model --reason "defect"
is "$rc" 0 "rollback of both sites: exit 0"
is "$(state a)" "$A0" "site a is back to before"
is "$(state b)" "$B0" "site b is back to before"
is "$(ls "$T/home/journal/demo/model" | wc -l)" 0 "no journal is left active after the backout"
done_testing
