#!/bin/bash
# An environment with three sites. The run migrates sites a and b, and
# fails on site c; a and b are then backed out again, b first. When b
# cannot be backed out (its revert SQL is refused), the environment is
# blocked, and site a is still backed out for the same cause as the
# others: the cause the run failed for, named in every message. Once a
# person has mended site b, unblock backs it out too.
. "$(dirname "$0")/lib.sh"

# the environment's verify command: on site c, when the package says so,
# it makes site b's database refuse the revert, then fails
cat >"$T/verify.sh" <<EOF
test "\$NIGHTSHIFT_SITE" = demo/model/c && test -e lib/fail-on-c || exit 0
sqlite3 "$T/sites/b/app.db" "CREATE TRIGGER keep BEFORE DELETE ON t
	BEGIN SELECT RAISE(ABORT, 'row 2 is kept'); END"
exit 1
EOF
sites_home "a b c" "sh $T/verify.sh"

state() { # SITE
	db_dump "$T/sites/$1/app.db" | tree_hash_with "$T/sites/$1/root"
}
A0=$(state a)
B0=$(state b)
C0=$(state c)

make_pkg "$T/pkg" "three sites"
mkdir -p "$T/pkg/files/lib" "$T/pkg/sql"
echo "v2" >"$T/pkg/files/lib/x.txt"
echo "boom" >"$T/pkg/files/lib/fail-on-c"
echo "INSERT INTO t VALUES (2);" >"$T/pkg/sql/deploy.sql"
echo "DELETE FROM t WHERE a = 2;" >"$T/pkg/sql/revert.sql"
ns submit "$T/pkg"
is "$rc" 0 "the package is handed in"
ns_ready ENH-1 >/dev/null

ns window run --now
diag "$err"
is "$rc" 4 "site b cannot be backed out again: the environment is blocked, exit 4"
like "$err" "site demo/model/c: rolled-back" "site c, where the run failed, is rolled back"
like "$err" "site demo/model/b backed out again: .*row 2 is kept" \
	"site b's backout names what refused it"
like "$err" "site demo/model/a backed out again: verify command 'sh [^']*' failed \\(exit 1\\)" \
	"site a is backed out for the cause the run failed for"
is "$(state a)" "$A0" "site a is byte-identical to before (files and database)"
is "$(state c)" "$C0" "site c is byte-identical to before (files and database)"
isnt "$(state b)" "$B0" "site b is not back to before: its revert was refused"
ns window run --now
is "$rc" 4 "a window run into the blocked environment: exit 4"
like "$err" "environment demo/model is blocked" "it says the environment is blocked"

# a person mends site b's database and unblocks: b is backed out, and
# the three sites agree again
sqlite3 "$T/sites/b/app.db" "DROP TRIGGER keep"
ns unblock --env model --reason "trigger dropped on b"
diag "$out" "$err"
is "$rc" 0 "unblock: exit 0"
is "$(state b)" "$B0" "site b is back to before"
is "$(state a)" "$A0" "site a is still as before"
is "$(state c)" "$C0" "site c is still as before"
is "$(find "$T/sites" -name '.nightshift.*' | wc -l)" 0 "no staging file on any site"

done_testing
