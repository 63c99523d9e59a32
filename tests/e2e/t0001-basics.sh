#!/bin/bash
# What a user meets first: init (and its refusal to overwrite), --help,
# usage errors, an empty registry, submit → status → log with the acting
# user, impersonation refused unless the configuration allows it, a broken
# nightshift.conf named by file:line, and the state rules of schedule.
. "$(dirname "$0")/lib.sh"

# ---- init -------------------------------------------------------------
ns init "$T/h"
is "$rc" 0 "init DIR: exit 0"
like "$out" "initialised" "init says what it did"
missing=
for f in nightshift.conf nightshift.db; do
	[ -f "$T/h/$f" ] || missing="$missing $f"
done
for d in spool archive store journal outbox; do
	[ -d "$T/h/$d" ] || missing="$missing $d/"
done
is "$missing" "" "init creates nightshift.conf, the registry and the spool, archive, store, journal and outbox directories"
is "$(sqlite3 "$T/h/nightshift.db" 'PRAGMA integrity_check' 2>&1)" ok \
	"the registry is a sound SQLite database"
like "$(sqlite3 "$T/h/nightshift.db" .tables 2>&1)" '[a-z]' \
	"the registry has its tables"
like "$(cat "$T/h/nightshift.conf")" '\[registry\]' \
	"nightshift.conf has a [registry] section"

echo "; a line the operator wrote" >>"$T/h/nightshift.conf"
CONF=$(sha "$T/h/nightshift.conf")
DB=$(sha "$T/h/nightshift.db")
ns init "$T/h"
is "$rc" 1 "init over an existing home: exit 1"
like "$err" "nightshift.conf.*exists" "the refusal names the existing nightshift.conf"
is "$(sha "$T/h/nightshift.conf")" "$CONF" "the existing nightshift.conf is untouched"
is "$(sha "$T/h/nightshift.db")" "$DB" "the existing registry is untouched"

mkdir "$T/here"
(cd "$T/here" && "$NS" init >/dev/null 2>&1)
ok_rc=$?
is "$ok_rc:$([ -f "$T/here/nightshift.conf" ] && echo conf)" "0:conf" \
	"init without DIR initialises the current directory"

(cd / && "$NS" -C "$T/h" status >"$T/c.out" 2>&1)
is "$?:$(head -n 1 "$T/c.out")" "0:ID       REV  STATE            SYSTEM     AUTHOR     TITLE" \
	"-C DIR works in DIR, as git and make do"
ns -C "$T/no-such-dir" status
is "$rc" 2 "-C a missing directory: exit 2"
like "$err" "no-such-dir" "the message names the missing directory"

# ---- help and usage ---------------------------------------------------
ns --help
is "$rc" 0 "--help: exit 0"
is "$err" "" "--help writes nothing to stderr"
for c in init submit status log schedule trigger window windows recover rollback unblock; do
	like "$out" "^  $c " "--help lists '$c'"
done
like "$out" "Exit: 0 success" "--help explains the exit codes"

ns frobnicate
is "$rc" 2 "an unknown command: exit 2"
like "$err" "'frobnicate' is not a command" "the message names the unknown command"
ns --frobnicate status
is "$rc" 2 "an unknown global option: exit 2"
like "$err" "unknown option '--frobnicate'" "the message names the unknown option"
ns
is "$rc" 2 "no command at all: exit 2"
like "$err" "usage: nightshift" "no command: the usage on stderr"

ns_home # cd's into $T/home

# missing or unexpected arguments: exit 2 and the command's usage
check_usage() { # WORD ARGS…
	local word=$1
	shift
	ns "$@"
	is "$rc" 2 "'$*': exit 2"
	like "$err" "usage: nightshift $word" "'$*': the usage of '$word' on stderr"
}
check_usage submit submit
check_usage schedule schedule ENH-1
check_usage schedule schedule --env model
check_usage schedule schedule ENH-1 --env
check_usage rollback rollback ENH-1 --env model
check_usage rollback rollback ENH-1 --reason x
check_usage unblock unblock --env model
check_usage window window
check_usage windows windows extra
check_usage trigger trigger show
check_usage status status ENH-1 extra
# a path that names nothing is a usage error (exit 2) naming it, not an
# I/O error (exit 5): the person mistyped it
for a in "submit $T/no/such.tar" "resubmit ENH-1 $T/no/such" \
	"trigger verify $T/no/such.trigger" "trigger show $T/no.trigger"; do
	# shellcheck disable=SC2086
	ns $a
	is "$rc:$out" "2:" "'$a' (no such file): exit 2, nothing on stdout"
	like "$err" "^nightshift: ${a%% [E/]*} '${a##* }': No such file or directory\$" \
		"… the message names the command and the path"
done

# ---- an empty registry ------------------------------------------------
ns status
is "$rc" 0 "status on an empty registry: exit 0"
unlike "$out" "ENH-" "status on an empty registry lists no enhancement"
ns status --json
is "$rc" 0 "status --json on an empty registry: exit 0"
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["enhancements"]))' 2>&1)" \
	0 "status --json on an empty registry: valid JSON, no enhancement"
ns log
is "$rc:$out" "0:" "log on an empty registry: exit 0, no event"
ns log --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin))' 2>&1)" \
	"[]" "log --json on an empty registry: an empty JSON list"

# ---- submit, status, log ----------------------------------------------
for p in p1 p2 p3; do
	make_pkg "$T/$p" "title of $p"
	echo "content of $p" >"$T/$p/files/$p.txt"
done
ns --as alice submit "$T/p1"
is "$rc" 0 "submit: exit 0"
is "$(printf '%s\n' "$out" | head -n 1)" "ENH-1" "the first submit prints ENH-1 as its first line"
ns --as alice submit "$T/p2"
is "$(printf '%s\n' "$out" | head -n 1)" "ENH-2" "the second submit prints ENH-2 as its first line"

ns status
like "$out" "ENH-1 +r1 +submitted +demo +alice +title of p1" "status lists ENH-1 as submitted by alice"
like "$out" "ENH-2 +r1 +submitted +demo +alice +title of p2" "status lists ENH-2 as submitted by alice"

ns --as bob schedule ENH-1 --env model
is "$rc" 1 "schedule before QA approval: exit 1"
like "$err" "ENH-1 is submitted: 'schedule' is not allowed from there \(allowed: qa-approve" \
	"the refusal names the state and what may come next"
ns --as quinn qa approve ENH-1
is "$rc" 0 "qa approve ENH-1 by quinn: exit 0"
ns --as bob schedule ENH-1 --env model
is "$rc" 0 "schedule ENH-1: exit 0"
TRIGGER=$out
is "$TRIGGER" "$T/home/spool/demo/model/ENH-1-r1.trigger" "schedule prints the trigger path"
ok_f=$([ -f "$TRIGGER" ] && echo yes)
is "$ok_f" yes "the trigger file exists"

ns status --json
is "$rc" 0 "status --json: exit 0"
printf '%s' "$out" >"$T/status.json"
is "$(python3 -m json.tool "$T/status.json" >/dev/null 2>&1 && echo valid)" valid \
	"status --json is valid JSON (python3 -m json.tool)"
is "$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(" ".join("ENH-%d:%s:%s" % (e["id"], e["state"], e["author"]) for e in sorted(d["enhancements"], key=lambda e: e["id"])))' "$T/status.json" 2>&1)" \
	"ENH-1:scheduled:alice ENH-2:submitted:alice" "status --json gives each enhancement its state"

ns status ENH-1 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys
d = json.load(sys.stdin)
print(d["enhancement"]["state"], len(d["triggers"]), d["triggers"][0]["path"])' 2>&1)" \
	"scheduled 1 $TRIGGER" "status ENH-1 --json: scheduled, with its one trigger"

ns log
is "$rc" 0 "log: exit 0"
like "$out" "alice +ENH-1 r1 +- +submitted" "log: alice submitted ENH-1"
like "$out" "alice +ENH-2 r1 +- +submitted" "log: alice submitted ENH-2"
like "$out" "quinn +ENH-1 r1 +- +qa-approved" "log: quinn QA-approved ENH-1"
like "$out" "bob +ENH-1 r1 +demo/model +scheduled" "log: bob scheduled ENH-1 for demo/model"
is "$(printf '%s\n' "$out" | grep -c .)" 4 "log: exactly four events so far"
ns log --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys
print(" ".join("%s:%s:%s" % (e["actor"], e["event"], e["enhancement"]) for e in json.load(sys.stdin)))' 2>&1)" \
	"alice:submitted:1 alice:submitted:2 quinn:qa-approved:1 bob:scheduled:1" "log --json: the events in order, each with its actor"
ns log ENH-2
is "$(printf '%s\n' "$out" | grep -c .):$(printf '%s\n' "$out" | grep -c 'ENH-2')" "1:1" \
	"log ENH-2: only ENH-2's event"
ns log ENH-99
is "$rc:$out" "3:" "log of an enhancement that does not exist: exit 3, nothing printed"
like "$err" "ENH-99: no such enhancement" "… and the message says so, as status does"

# ---- impersonation ----------------------------------------------------
unset NIGHTSHIFT_USER # the login name acts
sed -i 's/impersonation = true/impersonation = false/' nightshift.conf
ns --as mallory submit "$T/p3"
is "$rc" 2 "--as with impersonation = false: exit 2"
like "$err" "impersonation" "the refusal names the [security] impersonation setting"
NIGHTSHIFT_USER=mallory ns submit "$T/p3"
is "$rc" 2 "NIGHTSHIFT_USER with impersonation = false: exit 2"
ns status
unlike "$out" "ENH-3" "a refused impersonation registered nothing"
ns log
unlike "$out" "mallory" "a refused impersonation left no event in the log"
ns --as "$(id -un)" status
is "$rc" 0 "--as one's own login name is allowed without impersonation"
sed -i 's/impersonation = false/impersonation = true/' nightshift.conf
export NIGHTSHIFT_USER=alice

# ---- text that is not UTF-8 on the command line -------------------------
# a reason, a title, a user name go into the registry, JSON and mail: a
# Latin-1 one or one with a terminal escape is a usage error, shown as \xNN
ns log
LOG_BEFORE=$out
ns --as quinn qa reject ENH-2 --reason "$(printf 'caf\351')"
is "$rc" 2 "a --reason in Latin-1: exit 2"
like "$err" "--reason 'caf\\\\xe9': not valid UTF-8" "… naming the option and the byte"
ns --as "$(printf 'caf\351')" status
is "$rc" 2 "--as a user name in Latin-1: exit 2"
like "$err" "acting as 'caf\\\\xe9': not valid UTF-8" "… naming the name"
ns --as bob rfs add RFS-9 --title "$(printf 'a\033[2Jb')"
is "$rc" 2 "an rfs title with a terminal escape: exit 2"
like "$err" "--title 'a\\\\x1b\\[2Jb': control character" "… naming the option"
ns --as quinn qa reject ENH-2 --reason "$(printf 'fine\rrejected')"
is "$rc" 2 "a --reason with a carriage return (it would overwrite a line on a terminal): exit 2"
like "$err" "--reason 'fine\\\\x0drejected': control character" "… shown as \\x0d"
ns log
is "$out" "$LOG_BEFORE" "the refused commands left no event in the log"
ns status ENH-2 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["enhancement"]["state"])' 2>&1)" \
	submitted "… and ENH-2 was not rejected"

# ---- a broken nightshift.conf -----------------------------------------
cp nightshift.conf "$T/good.conf"
echo "    colour = blue" >>nightshift.conf
LINE=$(wc -l <nightshift.conf)
ns submit "$T/p3"
is "$rc" 3 "an unknown key in nightshift.conf: exit 3"
like "$err" "nightshift.conf:$LINE:" "the message names nightshift.conf:$LINE"
like "$err" "colour" "the message names the unknown key"

cp "$T/good.conf" nightshift.conf
sed -i '3i [frobnicate]' nightshift.conf # line 3, before [registry]'s key
ns status
is "$rc" 3 "an unknown section in nightshift.conf: exit 3"
like "$err" "nightshift.conf:3:" "the message names nightshift.conf:3, the line of the section"
like "$err" "frobnicate" "the message names the unknown section"

cp "$T/good.conf" nightshift.conf
sed -i '5i [environment "demo/model"' nightshift.conf
ns status
is "$rc" 3 "a section header without its closing bracket: exit 3"
like "$err" "nightshift.conf:5:" "the message names nightshift.conf:5"

cp "$T/good.conf" nightshift.conf
ns status
is "$(printf '%s\n' "$out" | grep -c '^ENH-')" 2 "the refused commands registered nothing (still two enhancements)"

# ---- schedule: unknown enhancement, twice -----------------------------
ns schedule ENH-99 --env model
is "$rc" 3 "schedule of an unknown enhancement: exit 3"
like "$err" "ENH-99" "the message names ENH-99"
ls -A "$T/home/spool/demo/model" >"$T/spool.before"
ns schedule ENH-1 --env model
is "$rc" 1 "schedule twice: exit 1"
like "$err" "ENH-1 is scheduled for demo/model already \(due [0-9T:-]+Z\)" \
	"the refusal names the state the enhancement is in, and since when"
like "$err" "to schedule it again at another time, say when with --at TIME" \
	"… and how to move it instead"
is "$(ls -A "$T/home/spool/demo/model")" "$(cat "$T/spool.before")" "schedule twice writes no second trigger"
ns status ENH-1 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["triggers"]))' 2>&1)" \
	1 "the registry still has one trigger for ENH-1"

done_testing
