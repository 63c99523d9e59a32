#!/bin/bash
# Who is told what. A window with no trigger due tells the DBA and change
# management. A migration whose verify fails and whose revert SQL fails
# too blocks the environment: exit 4, status rollback-failed, a
# rollback-failed notice to technical support (and the users); nothing
# migrates there any more (exit 4, "blocked") until a person has repaired
# the site and run `nightshift unblock`, after which the next window runs.
. "$(dirname "$0")/lib.sh"

ns_home
R=$T/site/root
DBF=$T/site/app.db
mkdir -p "$R/lib"
echo "v1" >"$R/lib/a.txt"

notices() { # EVENT → the notice files of that event
	grep -l "^X-Nightshift-Event: $1\$" "$T"/home/outbox/*.msg 2>/dev/null
}
header() { # FILE NAME
	sed -n "s/^$2: //p" "$1" 2>/dev/null | head -n 1
}
docs_enh() { # ID TITLE FILE TEXT: docs/FILE holding TEXT, handed in by
	# dev2, approved and scheduled
	make_pkg "$T/$1" "$2"
	mkdir -p "$T/$1/files/docs"
	echo "$4" >"$T/$1/files/docs/$3"
	ns --as dev2 submit "$T/$1"
	"$NS" --as quinn qa approve "$1" >/dev/null 2>&1
	ns schedule "$1" --env model
}

# ---- no trigger due ---------------------------------------------------
ns window run --now
is "$rc" 0 "window run with nothing scheduled: exit 0"
like "$out" "no trigger due" "it says no trigger was due"
M=$(notices no-trigger)
is "$(printf '%s\n' "$M" | grep -c .)" 1 "one no-trigger notice in the outbox"
TO=$(header "$M" To)
like "$TO" "(^|[ ,])dan([ ,]|$)" "the no-trigger notice is addressed to the DBA"
like "$TO" "(^|[ ,])cm([ ,]|$)" "the no-trigger notice is addressed to change management"
unlike "$TO" "tess|users@example\.com" "and not to technical support or the users"
is "$(header "$M" X-Nightshift-Environment)" demo/model "the notice names the environment"
ns log
like "$out" "demo/model +no-trigger" "the log records the empty window"

# ---- a rollback that fails blocks the environment ---------------------
B=$(site_state)
P=$T/bad
make_pkg "$P" "Broken revert"
mkdir -p "$P/files/lib" "$P/sql"
echo "v2" >"$P/files/lib/a.txt"
printf '[verify]\ncommand = test -f lib/never-there\n' >>"$P/enhancement.ini"
echo "INSERT INTO customers VALUES (3, 'cy');" >"$P/sql/deploy.sql"
echo "DELETE FROM no_such_table WHERE id = 3;" >"$P/sql/revert.sql"
ns --as dev1 submit "$P"
M=$(notices submitted)
TO=$(header "$M" To)
like "$TO" "quinn" "the submitted notice is addressed to QA"
like "$TO" "(^|[ ,])cm([ ,]|$)" "the submitted notice is addressed to change management"
"$NS" --as quinn qa approve ENH-1 >/dev/null 2>&1
ns schedule ENH-1 --env model
ns window run --now
is "$rc" 4 "verify fails and the revert fails: exit 4"
like "$err" "blocked" "stderr says the environment is blocked"
like "$err" "sql/revert\.sql:1" "stderr names the failing revert script and line"
is "$(state_of ENH-1)" rollback-failed "status ENH-1: rollback-failed"
ns status --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(" ".join(b["name"] for b in json.load(sys.stdin)["blocked"]))' 2>&1)" \
	demo/model "status --json lists demo/model as blocked"
M=$(notices rollback-failed)
is "$(printf '%s\n' "$M" | grep -c .)" 1 "one rollback-failed notice in the outbox"
TO=$(header "$M" To)
like "$TO" "tess" "the rollback-failed notice is addressed to technical support"
like "$TO" "users@example\.com" "and to the users of the system"
like "$TO" "dev1" "and to the developer"
is "$(header "$M" X-Nightshift-Enhancement)" ENH-1 "the notice names ENH-1"
like "$(cat "$M" 2>/dev/null)" "unblock" "the notice tells how to unblock after the repair"

# nothing more migrates there
docs_enh ENH-2 "Good one" new.txt hello
SITE_BLOCKED=$(site_state)
ns window run --now
is "$rc" 4 "a window run on the blocked environment: exit 4"
like "$err" "blocked" "it says 'blocked'"
is "$(site_state)" "$SITE_BLOCKED" "it changes nothing on the site"
is "$(state_of ENH-2)" scheduled "ENH-2 is still scheduled"

# a person repairs the site (puts back what the failed rollback left)
echo "v1" >"$R/lib/a.txt"
sqlite3 "$DBF" "DELETE FROM customers WHERE id = 3; DROP TABLE nightshift_changes;"
is "$(site_state)" "$B" "the repaired site is as before ENH-1"

ns --as quinn unblock --env model --reason repaired
is "$rc" 1 "unblock by someone neither in technical support nor an operator: exit 1"
like "$err" "unblock needs the role technical-support or operator" "the refusal names the roles"
ns --as support unblock --env model --reason repaired
is "$rc" 0 "unblock: exit 0"
ns status --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["blocked"]))' 2>&1)" \
	0 "status --json lists no blocked environment"
ns log
like "$out" "support +- +demo/model +unblocked +repaired" "the log records who unblocked and why"

ns window run --now
is "$rc" 0 "the next window run: exit 0"
like "$out" "ENH-2 r1 .*migrated" "ENH-2 migrates"
is "$(cat "$R/docs/new.txt" 2>/dev/null)" "hello" "ENH-2's file is in place"
is "$(state_of ENH-2)" migrated "status ENH-2: migrated"
M=$(notices migrated | xargs -r grep -l "^X-Nightshift-Enhancement: ENH-2\$")
is "$(printf '%s\n' "$M" | grep -c .)" 1 "a migrated notice for ENH-2"
TO=$(header "$M" To)
like "$TO" "dev2" "the migrated notice is addressed to the developer"
like "$TO" "quinn" "and to QA"
like "$TO" "users@example\.com" "and to the users"

# ---- a notice that cannot be written ----------------------------------
# the migration stands; the command says once what could not be written,
# and ends with what kind of outcome it was
docs_enh ENH-3 "Noted" noted.txt noted
mv "$T/home/outbox" "$T/home/outbox.kept"
echo "not a directory" >"$T/home/outbox"
ns window run --now
is "$rc" 5 "a notice that cannot be written: exit 5"
is "$(state_of ENH-3)" migrated "… ENH-3 is migrated all the same"
like "$err" "notice not written: cannot write '$T/home/outbox/[^']*-migrated\.msg': Not a directory" \
	"… stderr names the notice file and why"
is "$(printf '%s\n' "$err" | grep -c "Not a directory")" 1 "… and says it once"
is "$(printf '%s\n' "$err" | tail -n 1)" \
	"nightshift: not everything went through: an error stopped part of it (see above)" \
	"… its last line says what kind of outcome it was"
rm "$T/home/outbox"
mv "$T/home/outbox.kept" "$T/home/outbox"

done_testing
