#!/bin/bash
# submit --sqitch: every change of a Sqitch project becomes an enhancement,
# in plan order. The plan is made by the real `sqitch` (init, add with a
# dependency, tag, rework, add with a conflict), so the grammar is the
# tool's. Asserted: the enhancements, their SQL (Sqitch's BEGIN/COMMIT
# wrapper blanked), titles, requires and conflicts as ENH ids; a second
# call submits only what is new; --change; another project's change; the
# migration of the changes into the model in dependency order; malformed
# plan lines refused with their line number.
. "$(dirname "$0")/lib.sh"

ns_home
P=$T/flipr
mkdir -p "$P"
export SQITCH_FULLNAME="Dev Eloper" SQITCH_EMAIL=dev@example.com HOME=$T
sq() { (cd "$P" && sqitch "$@" >/dev/null) || { echo "Bail out! sqitch $*"; exit 1; }; }
put() { printf -- "-- $1\nBEGIN;\n$2\nCOMMIT;\n" >"$P/$1"; }

sq init flipr --engine sqlite
sq add users -n 'Creates table to track our users.'
put deploy/users.sql "CREATE TABLE users(nickname TEXT PRIMARY KEY);"
put revert/users.sql "DROP TABLE users;"
printf -- '-- Verify\nBEGIN;\nSELECT nickname FROM users WHERE 0;\nROLLBACK;\n' >"$P/verify/users.sql"
sq add flips --requires users -n 'Adds flips.'
put deploy/flips.sql "CREATE TABLE flips(id INTEGER PRIMARY KEY, nickname TEXT);"
put revert/flips.sql "DROP TABLE flips;"
rm "$P/verify/flips.sql"
sq tag v1.0 -n 'Tag v1.0.'
sq rework users -n 'Users get an email.'
put deploy/users.sql "ALTER TABLE users ADD COLUMN email TEXT;"
put revert/users.sql "ALTER TABLE users DROP COLUMN email;"
printf 'SELECT email FROM users WHERE 0;\n' >"$P/verify/users.sql"
sq add nopes --conflicts flips -n 'No flips.'
put deploy/nopes.sql "CREATE TABLE nopes(x);"
put revert/nopes.sql "DROP TABLE nopes;"
like "$(cat "$P/sqitch.plan")" "users \[users@v1.0\] .* # Users get an email." "sqitch wrote a reworked change"

ns submit --sqitch "$P" --system demo
is "$rc" 0 "submit --sqitch exits 0"
is "$out" "$(printf 'ENH-1\tusers@v1.0\nENH-2\tflips\nENH-3\tusers\nENH-4\tnopes')" \
	"one enhancement per change, in plan order"

payload() { # ID MEMBER
	ns status "$1" --json
	tar -xOf "$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["revisions"][-1]["store_path"])')" "$2" 2>/dev/null
}
ini() { payload "$1" enhancement.ini | grep -E "^$2 =" | sed "s/^$2 = *//"; }
is "$(ini ENH-1 title)" "Creates table to track our users." "the title is the change's note"
is "$(payload ENH-1 sql/deploy.sql | grep -v '^ *$')" "-- deploy/users.sql
CREATE TABLE users(nickname TEXT PRIMARY KEY);" \
	"ENH-1 deploys the older users script, its BEGIN/COMMIT blanked"
is "$(payload ENH-1 sql/verify.sql | grep -v '^ *$')" "-- Verify
SELECT nickname FROM users WHERE 0;" "and verifies with its verify script"
is "$(payload ENH-3 sql/deploy.sql | grep -v '^ *$')" "-- deploy/users.sql
ALTER TABLE users ADD COLUMN email TEXT;" "ENH-3 is the reworked users"
is "$(payload ENH-2 sql/verify.sql)" "" "a change without a verify script has none"
is "$(ini ENH-1 requires)" "" "users requires nothing"
is "$(ini ENH-2 requires)" "ENH-1" "flips requires users (ENH-1)"
is "$(ini ENH-3 requires)" "ENH-1" "the rework requires users@v1.0 (ENH-1)"
is "$(ini ENH-4 conflicts)" "ENH-2" "nopes conflicts with flips (ENH-2)"

ns submit --sqitch "$P" --system demo
is "$rc" 0 "submitting again is not an error"
like "$out" "nothing to submit" "and submits nothing"

# a corrected revision of one change
put deploy/nopes.sql "CREATE TABLE nopes(x, y);"
ns resubmit ENH-4 --sqitch "$P" --change nopes --system demo
is "$out" "ENH-4 r2" "resubmit --sqitch: a new revision of the change's enhancement"
like "$(payload ENH-4 sql/deploy.sql)" "CREATE TABLE nopes\(x, y\);" "carrying the corrected script"
ns resubmit ENH-4 --sqitch "$P" --change flips --system demo
is "$rc" 3 "resubmitting another change as ENH-4 is refused"
like "$err" "change 'flips' was submitted as another enhancement than ENH-4" "saying so"

# changes added later; --change; another project's change
cat >>"$P/sqitch.plan" <<'PLAN'
widgets [users] 2026-01-02T10:00:00Z Dev Eloper <dev@example.com> # Widgets.
gadgets [widgets other:auth] 2026-01-02T11:00:00Z Dev Eloper <dev@example.com> # Gadgets.
PLAN
for c in widgets gadgets; do
	put deploy/$c.sql "CREATE TABLE $c(x);"
	put revert/$c.sql "DROP TABLE $c;"
done
ns submit --sqitch "$P" --system demo --change gadgets
is "$rc" 3 "--change of a change whose dependency is not submitted: refused"
like "$err" "sqitch.plan:$(grep -n '^gadgets' "$P/sqitch.plan" | cut -d: -f1): change 'gadgets' requires widgets, which is not submitted" "naming the plan line and the dependency"
ns submit --sqitch "$P" --system demo --change widgets
is "$out" "$(printf 'ENH-5\twidgets')" "--change submits that change alone"
is "$(ini ENH-5 requires)" "ENH-3" "requiring the latest users (ENH-3)"
ns submit --sqitch "$P" --system demo --change users
is "$rc" 3 "--change of a change submitted already is refused"
like "$err" "submitted already, as ENH-3" "naming its enhancement"
ns submit --sqitch "$P" --system demo
is "$rc" 3 "a dependency on another project's change not submitted: refused"
like "$err" "requires other:auth, which is not submitted" "naming it"
O=$T/other && mkdir -p "$O/deploy" "$O/revert"
printf '%%syntax-version=1.0.0\n%%project=other\n\nauth 2026-01-01T00:00:00Z Ann <ann@example.com> # Auth.\n' >"$O/sqitch.plan"
echo "CREATE TABLE auth(x);" >"$O/deploy/auth.sql"
echo "DROP TABLE auth;" >"$O/revert/auth.sql"
ns submit --sqitch "$O" --system demo
is "$out" "$(printf 'ENH-6\tauth')" "the other project's change"
ns submit --sqitch "$P" --system demo
is "$out" "$(printf 'ENH-7\tgadgets')" "then the rest of the plan"
is "$(ini ENH-7 requires)" "ENH-5 ENH-6" "requiring widgets and other:auth"

# the changes migrate into the model in dependency order
for e in ENH-1 ENH-2; do ns_ready $e >/dev/null; done
ns window run
is "$rc" 0 "window run migrates users and flips"
ns_ready ENH-3 >/dev/null
ns window run
is "$rc" 0 "then the reworked users"
is "$(sqlite3 "$T/site/app.db" "SELECT group_concat(name, ' ') FROM pragma_table_info('users')")" \
	"nickname email" "the users table has the reworked column"
is "$(sqlite3 "$T/site/app.db" "SELECT count(*) FROM sqlite_master WHERE name = 'flips'")" 1 "flips exists"

# malformed plans: the line and what was expected; nothing registered
B=$T/bad && cp -R "$P" "$B"
sed -i 's/^flips \[users\] [^ ]*/flips [users] yesterday/' "$B/sqitch.plan"
ns submit --sqitch "$B" --system demo
is "$rc" 3 "a malformed change line is refused (exit 3)"
L=$(grep -n '^flips' "$B/sqitch.plan" | cut -d: -f1)
is "$err" "nightshift: $B/sqitch.plan:$L: expected the planned time YYYY-MM-DDTHH:MM:SSZ" "with its line number"
cp "$P/sqitch.plan" "$B/sqitch.plan"
echo "zap [flips 2026-01-03T00:00:00Z Dev <dev@example.com>" >>"$B/sqitch.plan"
ns submit --sqitch "$B" --system demo
like "$err" "sqitch.plan:$(wc -l <"$B/sqitch.plan"): expected a blank or ']' after a dependency" "an unclosed dependency list"
ns status --json
is "$(echo "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["enhancements"]))')" 7 "nothing more was registered"
done_testing
