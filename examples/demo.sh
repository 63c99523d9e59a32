#!/usr/bin/env bash
# demo.sh — nightshift migrating the sample system "billing", step by step.
#
#   examples/demo.sh NIGHTSHIFT-BINARY        (`make demo` runs it)
#
# Builds a scratch scene in ./demo/ under the repository (wiped first; set
# NIGHTSHIFT_DEMO_DIR to put it elsewhere), then plays a week of the whole
# flow, model → production: change management registers the requests for
# service; a developer submits two enhancements; QA approves them; they are
# analysed and scheduled; the first migrates into the model system, the
# second fails its verification after its commit point and is rolled back
# by nightshift itself; the acceptance test rejects the first (backed out
# of the model byte for byte), the developer corrects it (revision r2),
# it is approved, migrates and is accepted, promoted with the very same
# payload, migrates into production, and ends its warranty. Every claim the
# demo prints is checked: it exits non-zero as soon as a step does not do
# what it says.
set -euo pipefail

usage() {
	echo "usage: examples/demo.sh NIGHTSHIFT-BINARY (e.g. build/nightshift)" >&2
	exit 2
}
[ $# -eq 1 ] || usage
case $1 in
/*) NS=$1 ;;
*) NS=$PWD/$1 ;;
esac
if ! [ -f "$NS" ] || ! [ -x "$NS" ]; then
	echo "demo: '$1' is not an executable file: build nightshift first (make demo)" >&2
	exit 2
fi
for tool in sqlite3 sha256sum find sort cmp diff; do
	command -v "$tool" >/dev/null || {
		echo "demo: '$tool' is needed (Debian: apt-get install sqlite3 coreutils findutils diffutils)" >&2
		exit 2
	}
done

REPO=$(cd "$(dirname "$0")/.." && pwd)
EXAMPLES=$REPO/examples
DEMO=${NIGHTSHIFT_DEMO_DIR:-$REPO/demo}
case $DEMO in /*) ;; *) DEMO=$PWD/$DEMO ;; esac
cd "$REPO"
# what the reader sees: demo/home rather than a long absolute path
if [ "$DEMO" = "$REPO/demo" ]; then D=demo; else D=$DEMO; fi

# NIGHTSHIFT_USER in the caller's environment must not decide who acts:
# every command below says --as, or acts as the login name
unset NIGHTSHIFT_USER

# ---- presentation and checks -------------------------------------------

if [ -t 1 ]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'; else B='' G='' R='' N=''; fi
step=0
heading() {
	step=$((step + 1))
	printf '\n%s== %d. %s%s\n' "$B" "$step" "$1" "$N"
}
say() { printf '   %s\n' "$@"; }
good() { printf '%s   ✔ %s%s\n' "$G" "$1" "$N"; }
fail() {
	printf '\n%sdemo FAILED: %s%s\n' "$R" "$1" "$N" >&2
	printf 'The scene is left in %s for a look.\n' "$D" >&2
	exit 1
}

# a word shown in single quotes when the shell would need them
quote() {
	case $1 in
	'' | *[!A-Za-z0-9_./:=@%+-]*) printf "'%s'" "${1//\'/\'\\\'\'}" ;;
	*) printf '%s' "$1" ;;
	esac
}
show_cmd() { # WORDS…: print "$ WORDS" as a person would type them
	local line='$' w
	for w in "$@"; do line+=" $(quote "$w")"; done
	printf '%s\n' "$line"
}

# ns EXPECTED-EXIT ARGS…: show and run `nightshift ARGS`, keep its output
# in $out, fail unless it exits EXPECTED-EXIT
out=
ns() {
	local want=$1 rc=0
	shift
	show_cmd nightshift "$@"
	# stdout first, then the messages: the order a terminal shows them
	out=$("$NS" "$@" 2>"$DEMO/.stderr") || rc=$?
	[ -z "$out" ] || printf '%s\n' "$out"
	cat "$DEMO/.stderr"
	out+=$(printf '\n'; cat "$DEMO/.stderr")
	[ "$rc" -eq "$want" ] ||
		fail "nightshift $*: exit status $rc, expected $want"
}
# sh_show COMMAND: show and run a shell command (for looking around)
sh_show() {
	printf '$ %s\n' "$1"
	bash -c "$1" || fail "'$1' failed"
}

# the state line of ENH-n in `nightshift status`
state_of() {
	"$NS" -C "$DEMO/home" status | awk -v id="$1" '$1 == id { print $3 }'
}
expect_state() { # ENH-n STATE
	local s
	s=$(state_of "$1")
	[ "$s" = "$2" ] || fail "$1 is '$s' in nightshift status, expected '$2'"
	good "$1 is $2"
}

# a site's state: every file and directory below the root (type, mode,
# sha256, path) and the whole database as sqlite3 .dump prints it
snapshot() { # SITE NAME
	local root=$DEMO/$1/root db=$DEMO/$1/billing.db f=$DEMO/snapshots/$2
	mkdir -p "$DEMO/snapshots"
	{
		echo "# files below $1/root"
		(cd "$root" && find . -mindepth 1 -print | LC_ALL=C sort |
			while IFS= read -r p; do
				if [ -L "$p" ]; then
					echo "link $(readlink "$p") $p"
				elif [ -d "$p" ]; then
					echo "dir  $(stat -c "%a %U:%G" "$p") $p"
				else
					echo "file $(stat -c "%a %U:%G" "$p") $(sha256sum <"$p" | cut -c1-64) $p"
				fi
			done)
		echo "# database $1/billing.db"
		sqlite3 "$db" .dump
	} >"$f"
}
# compare two snapshots; "identical" or fail with the difference
identical() { # NAME-A NAME-B WHAT
	local a=$DEMO/snapshots/$1 b=$DEMO/snapshots/$2
	local files lines
	files=$(grep -c '^file ' "$a" || true)
	lines=$(sed -n '/^# database/,$p' "$a" | wc -l)
	printf '$ diff %s/snapshots/%s %s/snapshots/%s\n' "$D" "$1" "$D" "$2"
	if cmp -s "$a" "$b"; then
		printf '%s   identical%s — %s\n' "$G" "$N" "$3"
		printf '   (%d files, each by mode and sha256, and the database, all %d lines\n' \
			"$files" "$((lines - 1))"
		printf '   of its sqlite3 .dump: byte for byte the same)\n'
	else
		diff "$a" "$b" | head -40 || true
		fail "$3: the site differs from its snapshot (above)"
	fi
}
# what changed between two snapshots, as + added, - removed, ~ changed
changes() { # NAME-A NAME-B
	local a=$DEMO/snapshots/$1 b=$DEMO/snapshots/$2
	awk '
		FNR == 1 { n++ }
		/^# database/ { skip = 1 } /^# files/ { skip = 0; next }
		skip || !/^(file|dir) / { next }
		{ path = $NF; kind = $1; sig = $0
		  if (n == 1) { a[path] = sig; ak[path] = kind } else { b[path] = sig; bk[path] = kind } }
		END {
			for (p in a) if (!(p in b)) printf "   - %s%s   (removed)\n", substr(p, 3), ak[p] == "dir" ? "/" : ""
			for (p in b) if (!(p in a)) printf "   + %s%s   (added)\n", substr(p, 3), bk[p] == "dir" ? "/" : ""
			for (p in a) if ((p in b) && a[p] != b[p]) printf "   ~ %s   (replaced)\n", substr(p, 3)
		}' "$a" "$b" | LC_ALL=C sort -k2
}

# ---- 1. the scene --------------------------------------------------------

heading "The scene: the billing system, a model copy and a production copy"
if [ -e "$DEMO" ]; then
	[ -f "$DEMO/.nightshift-demo" ] ||
		{ echo "demo: $DEMO exists and was not made by this demo: not wiping it" >&2; exit 2; }
	chmod -R u+w "$DEMO" 2>/dev/null || true
	rm -rf "$DEMO"
fi
mkdir -p "$DEMO/packages"
: >"$DEMO/.nightshift-demo"
for site in model production; do
	mkdir -p "$DEMO/$site"
	cp -R "$EXAMPLES/billing" "$DEMO/$site/root"
	rm "$DEMO/$site/root/schema.sql"
	sqlite3 "$DEMO/$site/billing.db" <"$EXAMPLES/billing/schema.sql"
done
say "Two installed copies of examples/billing, each with its SQLite database:" \
	"  $D/model/root        + $D/model/billing.db        (staging: changes go here first)" \
	"  $D/production/root   + $D/production/billing.db"
sh_show "cd $D/model/root && find . -type f | sort"
say "bin/invoice prints a customer's invoices, VAT included:"
sh_show "cd $D/model/root && BILLING_DB=../billing.db bin/invoice 1"
snapshot model night0
snapshot production production0

heading "A nightshift home: nightshift init, then describe the system"
ns 0 init "$D/home"
cat >>"$DEMO/home/nightshift.conf" <<'CONF'

; --- added by examples/demo.sh -------------------------------------------
[system "billing"]
    users = billing-users@example.com
; paths are relative to this file's directory
[environment "billing/model"]
    root = ../model/root
    database = sqlite:../model/billing.db
    window = Mon-Fri 23:00-05:00
    verify = bin/smoke-test
[environment "billing/production"]
    root = ../production/root
    database = sqlite:../production/billing.db
    window = Sat 01:00-04:00
    verify = bin/smoke-test
    warranty = 30d
; the people, by login name; nobody outside a role acts in it
[role "developer"]
    members = alice
[role "qa"]
    members = quinn
[role "change-management"]
    members = bob
[role "acceptance"]
    members = carol
[role "operator"]
    members = bob
[role "dba"]
    members = dana
[role "technical-support"]
    members = tom
CONF
# the demo acts as each of them
sed -i 's/^\( *impersonation = \)false/\1true/' "$DEMO/home/nightshift.conf"
grep -q '^ *impersonation = true' "$DEMO/home/nightshift.conf" ||
	fail "could not turn on [security] impersonation in $D/home/nightshift.conf"
# every trigger signed, and checked before it runs
(umask 077 && openssl genpkey -algorithm ed25519 -out "$DEMO/home/sign.pem" 2>/dev/null) ||
	fail "openssl could not make the signing key $D/home/sign.pem"
sed -i 's/^\( *impersonation = true\)$/\1\n    trigger-signing-key = sign.pem/' \
	"$DEMO/home/nightshift.conf"
say "The cast: alice develops, quinn is QA, bob is change management, carol" \
	"signs the acceptance test, and 'nightshift' is the user the daemon will run" \
	"as. nightshift.conf now says (impersonation lets the demo act as each):"
sed -n '/^\[security\]/,/^\[notify\]/p; /--- added by/,$p' "$DEMO/home/nightshift.conf" |
	grep -v '^\[notify\]\|^; *trigger-' | sed 's/^/   | /'
say "(sign.pem: an Ed25519 key made with openssl genpkey; every trigger is signed" \
	"with it, and a window runs only triggers it signed)"
[ -d "$DEMO/home/spool" ] || fail "init made no spool directory"

# A real mail server for the scene (aiosmtpd, as the tests use), on a free
# port, stopped when the demo ends: the notices go out by SMTP.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
mkdir -p "$DEMO/mail"
"$PY" "$REPO/tests/e2e/mailsink.py" "$DEMO/mail" >"$DEMO/mail/server.log" 2>&1 &
MAILPID=$!
trap 'kill "$MAILPID" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$DEMO/mail/port" ] && break; sleep 0.1; done
[ -s "$DEMO/mail/port" ] || fail "the demo's mail server did not start: $(cat "$DEMO/mail/server.log")"
printf '[notify]\n    smtp = smtp://127.0.0.1:%s\n    domain = example.com\n' \
	"$(cat "$DEMO/mail/port")" >>"$DEMO/home/nightshift.conf"
say "A mail server (aiosmtpd) listens on 127.0.0.1:$(cat "$DEMO/mail/port") for the scene; the" \
	"notices go out by SMTP, login names at example.com:"
sed -n '/^\[notify\]/,$p' "$DEMO/home/nightshift.conf" | tail -n 3 | sed 's/^/   | /'

# The story runs on a clock of its own: nightshift reads the time from
# NIGHTSHIFT_NOW, so the demo can play a Monday and two nights in seconds.
export NIGHTSHIFT_NOW

# ---- 2. submit -------------------------------------------------------------

heading "Monday 09:00 — bob registers the requests for service"
NIGHTSHIFT_NOW=2026-03-02T09:00
say "Every enhancement answers a registered request for service (RFS), whose" \
	"scope says which paths and database objects it may touch."
ns 0 -C "$D/home" --as bob rfs add RFS-2026-014 --title "Loyalty discount" \
	--scope 'bin/invoice' --scope 'lib/discounts/*' --scope 'www/*' --scope 'db:customers' --scope 'db:settings'
ns 0 -C "$D/home" --as bob rfs add RFS-2026-015 --title "Late-payment fees" \
	--scope 'bin/late-fees' --scope 'lib/reminders.conf' --scope 'db:late_fees' --scope 'db:invoices'
ns 0 -C "$D/home" rfs list

heading "Monday 10:00 — alice submits two enhancements"
NIGHTSHIFT_NOW=2026-03-02T10:00
say "The demo sets nightshift's clock with NIGHTSHIFT_NOW: one Monday and two nights."
say "ENH-discount (examples/enhancements/ENH-discount) replaces bin/invoice, adds" \
	"lib/discounts/, deletes www/promo-2025.html, and adds a column and rows" \
	"with sql/deploy.sql (sql/revert.sql undoes exactly that)."
cp -R "$EXAMPLES/enhancements/ENH-discount" "$EXAMPLES/enhancements/ENH-broken-verify" \
	"$DEMO/packages/"
# The base of a replaced file is the SHA-256 of the file as the developer
# found it on the model; taken here from the model, as alice would.
for pkg in ENH-discount:bin/invoice ENH-broken-verify:lib/reminders.conf; do
	p=${pkg%%:*} f=${pkg#*:}
	h=$(sha256sum <"$DEMO/model/root/$f" | cut -c1-64)
	sed -i "s|^base = $f .*|base = $f $h|" "$DEMO/packages/$p/enhancement.ini"
	grep -q "^base = $f $h\$" "$DEMO/packages/$p/enhancement.ini" ||
		fail "$p/enhancement.ini has no 'base = $f ...' line"
done
sh_show "sed -n '/^\[files\]/,\$p' $D/packages/ENH-discount/enhancement.ini | grep -v '^;'"
say "(-C works in DIR as git -C does: the paths after it are relative to $D/home)"
ns 0 -C "$D/home" --as alice submit ../packages/ENH-discount
[ "$(printf '%s\n' "$out" | head -n 1)" = ENH-1 ] || fail "the first submission is not ENH-1"
say "ENH-broken-verify puts bin/late-fees and a new lib/reminders.conf in place and" \
	"adds a table; its verify command will fail (the fee is written '1,5')."
ns 0 -C "$D/home" --as alice submit ../packages/ENH-broken-verify
[ "$(printf '%s\n' "$out" | head -n 1)" = ENH-2 ] || fail "the second submission is not ENH-2"

heading "A package nightshift refuses: a symbolic link in files/"
cp -R "$DEMO/packages/ENH-discount" "$DEMO/packages/ENH-hostile"
ln -s /etc/passwd "$DEMO/packages/ENH-hostile/files/lib/passwd"
say "Refused before anything is stored, with the member named (exit 3):"
ns 3 -C "$D/home" --as alice submit ../packages/ENH-hostile
printf '%s\n' "$out" | grep -q 'files/lib/passwd' || fail "the refusal does not name files/lib/passwd"
ns 0 -C "$D/home" status
[ "$(printf '%s\n' "$out" | grep -c '^ENH-')" -eq 2 ] ||
	fail "the refused package was registered"
expect_state ENH-1 submitted
expect_state ENH-2 submitted

# ---- 3. QA, analysis, schedule ------------------------------------------------

heading "Monday 10:30 — QA signs off (alice, not in QA, cannot)"
NIGHTSHIFT_NOW=2026-03-02T10:30
ns 1 -C "$D/home" --as alice qa approve ENH-1
ns 0 -C "$D/home" --as quinn qa approve ENH-1
ns 0 -C "$D/home" --as quinn qa approve ENH-2
expect_state ENH-1 qa-approved

heading "Monday 11:00 — bob analyses and schedules both for the model system"
NIGHTSHIFT_NOW=2026-03-02T11:00
say "The analysis checks each against the RFS scope, the model's files (drift)," \
	"the other pending enhancements (same file, same table), the window and the" \
	"blackouts; schedule runs it too and returns what does not conform."
ns 0 -C "$D/home" analyze ENH-1 --env billing/model --at 2026-03-02T23:00
say "A trigger file is written per enhancement and environment: instructions," \
	"schedule, target and the enhancement itself, every member hashed."
ns 0 -C "$D/home" --as bob schedule ENH-1 --env billing/model --at 2026-03-02T23:00
[ -f "$DEMO/home/$out" ] || [ -f "$out" ] || fail "schedule did not print the path of an existing trigger file"
ns 0 -C "$D/home" --as bob schedule ENH-2 --env billing/model --at 2026-03-03T23:00
[ -f "$DEMO/home/$out" ] || [ -f "$out" ] || fail "schedule did not print the path of an existing trigger file"
ns 0 -C "$D/home" trigger verify spool/billing/model/ENH-1-r1.trigger
case $out in
*"signed by key SHA256:"*) good "the trigger is signed with sign.pem, and its signature checks" ;;
*) fail "trigger verify did not find the trigger signed" ;;
esac
expect_state ENH-1 scheduled
expect_state ENH-2 scheduled

# ---- 4. night one ----------------------------------------------------------

heading "Monday 23:00 — the window opens: ENH-1 migrates, nobody at the keyboard"
NIGHTSHIFT_NOW=2026-03-02T23:00
say "The daemon acts when a window opens; \`daemon --once\` is one such wake-up" \
	"(what a systemd timer runs). ENH-2 is due tomorrow and waits; production's" \
	"window (Saturdays) is closed."
ns 0 -C "$D/home" --as nightshift daemon --once
expect_state ENH-1 migrated
expect_state ENH-2 scheduled
snapshot model night1
say "What ENH-1 changed in the model's files:"
changes night0 night1 | tee "$DEMO/snapshots/night1.changes"
for want in "+ lib/discounts/" "+ lib/discounts/loyalty.conf" "- www/promo-2025.html" "~ bin/invoice"; do
	grep -qF -- "$want " "$DEMO/snapshots/night1.changes" || fail "ENH-1 did not do '$want'"
done
sh_show "sqlite3 -header $D/model/billing.db 'SELECT id, name, loyalty_pct FROM customers'"
sh_show "sqlite3 -header $D/model/billing.db 'SELECT enhancement, revision, deployed_at, deployed_by FROM nightshift_changes'"
sh_show "cd $D/model/root && BILLING_DB=../billing.db bin/invoice 1"
[ "$(sqlite3 "$DEMO/model/billing.db" 'SELECT count(*) FROM customers WHERE loyalty_pct = 5')" = 2 ] ||
	fail "the model database has not the loyalty_pct column ENH-1 adds"
snapshot production production1
cmp -s "$DEMO/snapshots/production0" "$DEMO/snapshots/production1" ||
	fail "production changed, but nothing was scheduled for it"

# ---- 5. night two ----------------------------------------------------------

heading "Tuesday 23:00 — ENH-2 fails its verify after the commit point: rolled back"
NIGHTSHIFT_NOW=2026-03-03T23:00
say "Its SQL commits and its files go into place; then its verify command fails," \
	"and nightshift reverts the SQL and restores its archive, by itself. The run" \
	"exits 1: it ran, and the outcome was negative."
ns 1 -C "$D/home" --as nightshift daemon --once
printf '%s\n' "$out" | grep -q 'ENH-2 r1 on site billing/model: rolled-back' ||
	fail "the daemon did not report ENH-2 rolled back"
expect_state ENH-2 rolled-back
log=$(find "$DEMO/home/archive/billing/model" -path '*/ENH-2-r1-*/main/verify.log' | head -n 1)
[ -n "$log" ] || fail "no verify.log in the archive of ENH-2's run"
say "What the verify command said (bin/late-fees was in place and ran):"
rundir=${log%/verify.log}
sh_show "cat ${log#"$REPO"/}"
say "Its journal: past the commit point (COMMITTED, APPLIED), then undone:"
sh_show "cut -c1-100 ${rundir#"$REPO"/}/journal"
journal=$(cat "$rundir/journal")
for st in COMMITTED APPLIED ROLLED_BACK; do
	grep -q "^$st" <<<"$journal" || fail "ENH-2's journal has no $st state"
done

heading "Proof: the model is byte-identical to before ENH-2"
snapshot model night2
identical night1 night2 "the model after ENH-2's rollback vs. before ENH-2"

# ---- 6. what nightshift tells ---------------------------------------------

heading "What is where: status, one enhancement, the audit log"
ns 0 -C "$D/home" status
ns 0 -C "$D/home" status ENH-1
ns 0 -C "$D/home" status ENH-2
ns 0 -C "$D/home" log
printf '%s\n' "$out" | grep -q 'ENH-2 r1 .*rolled-back' || fail "the log has no rolled-back event for ENH-2"

heading "Who was told: the outbox (one file per notice), and the mail"
sh_show "ls $D/home/outbox/sent"
notice=$(find "$DEMO/home/outbox" -name '*-rolled-back.msg' | LC_ALL=C sort | head -n 1)
[ -n "$notice" ] || fail "no rolled-back notice in the outbox"
ls "$DEMO"/home/outbox/sent/*-migrated.msg >/dev/null 2>&1 || fail "no migrated notice in the outbox"
sh_show "cat ${notice#"$REPO"/}"
! ls "$DEMO"/home/outbox/*.msg >/dev/null 2>&1 || fail "notices wait undelivered in the outbox"
good "the mail server accepted every notice: they moved to outbox/sent/"
ns 0 -C "$D/home" notify list
mail=$(grep -l '^Subject: .*ENH-1 r1 migrated' "$DEMO"/mail/*.eml | head -n 1)
[ -n "$mail" ] || fail "the mail server received no 'ENH-1 r1 migrated' mail"
grep -q '^To: alice@example.com' "$mail" || fail "the migrated mail is not addressed to alice@example.com"
say "What the mail server received for ENH-1's migration:"
sh_show "tr -d '\\r' <${mail#"$REPO"/}"

heading "The archive: exactly what each run touched, saved before it touched it"
sh_show "cd $D/home/archive && find . | sort"
say "files/N     the content of the Nth touched path before the run" \
	"plan.json   every path touched, before and after; the revert SQL" \
	"database.sqlite  the database as it was;  journal  the run's states"

# ---- 7. acceptance: rejected, corrected, accepted ---------------------------

heading "Wednesday 09:00 — carol's acceptance test rejects ENH-1: backed out"
NIGHTSHIFT_NOW=2026-03-04T09:00
say "The invoices show the discount without its percentage. carol rejects ENH-1:" \
	"nightshift backs it out of the model from its archive and returns it to alice."
ns 0 -C "$D/home" --as carol reject ENH-1 --env billing/model --reason "the invoice does not show the percentage"
expect_state ENH-1 rejected
snapshot model backout
identical night0 backout "the model after backing ENH-1 out vs. Monday morning"
sh_show "cd $D/model/root && BILLING_DB=../billing.db bin/invoice 1"

heading "Wednesday 10:00 — alice corrects ENH-1: revision r2"
NIGHTSHIFT_NOW=2026-03-04T10:00
sed -i 's/^label = loyalty discount$/label = loyalty discount (percent)/' \
	"$DEMO/packages/ENH-discount/files/lib/discounts/loyalty.conf"
grep -q 'percent' "$DEMO/packages/ENH-discount/files/lib/discounts/loyalty.conf" ||
	fail "could not correct the package"
ns 0 -C "$D/home" --as alice resubmit ENH-1 ../packages/ENH-discount
say "A new revision starts over: QA's approval of r1 is revoked, so r2 cannot be" \
	"scheduled until QA has signed it:"
ns 1 -C "$D/home" --as bob schedule ENH-1 --env billing/model --at 2026-03-04T23:00
ns 0 -C "$D/home" --as quinn qa approve ENH-1
ns 0 -C "$D/home" --as bob schedule ENH-1 --env billing/model --at 2026-03-04T23:00

heading "Wednesday 23:00 — r2 migrates into the model"
NIGHTSHIFT_NOW=2026-03-04T23:00
ns 0 -C "$D/home" --as nightshift daemon --once
expect_state ENH-1 migrated

heading "Thursday 09:00 — carol accepts r2; alice cannot sign her own"
NIGHTSHIFT_NOW=2026-03-05T09:00
ns 1 -C "$D/home" --as alice accept ENH-1 --env billing/model
ns 0 -C "$D/home" --as carol accept ENH-1 --env billing/model
expect_state ENH-1 accepted

# ---- 8. production ---------------------------------------------------------

heading "Thursday 10:00 — bob promotes ENH-1 to production"
NIGHTSHIFT_NOW=2026-03-05T10:00
say "promote writes the production trigger with the very payload the model ran" \
	"(the same SHA-256), for production's window (Sat 01:00-04:00)."
ns 0 -C "$D/home" --as bob promote ENH-1 --at 2026-03-07T01:00
ptrig=$out
mtrig=$(ls "$DEMO"/home/spool/billing/model/ENH-1-r2.trigger)
p1=$("$NS" -C "$DEMO/home" trigger show "$ptrig" | sed -n 's/.*"payload_sha256": "\(.*\)".*/\1/p' | head -n 1)
p2=$("$NS" -C "$DEMO/home" trigger show "$mtrig" | sed -n 's/.*"payload_sha256": "\(.*\)".*/\1/p' | head -n 1)
[ -n "$p1" ] && [ "$p1" = "$p2" ] || fail "the production payload is not the model's"
good "the production trigger carries the model run's payload ($p1)"
expect_state ENH-1 promoted

heading "Saturday 01:00 — production's window: ENH-1 goes live, under warranty"
NIGHTSHIFT_NOW=2026-03-07T01:00
ns 0 -C "$D/home" --as nightshift daemon --once
expect_state ENH-1 WP
snapshot production production1
changes production0 production1
sh_show "cd $D/production/root && BILLING_DB=../billing.db bin/invoice 1"
notice=$(grep -l '^X-Nightshift-Environment: billing/production$' "$DEMO"/home/outbox/sent/*-migrated.msg | head -n 1)
[ -n "$notice" ] || fail "no migrated notice for production"
sh_show "sed -n '/^To:/p; /^Subject:/p' ${notice#"$REPO"/}"

heading "Thirty days later — the warranty ends: complete (CP)"
NIGHTSHIFT_NOW=2026-04-07T01:00
ns 0 -C "$D/home" --as nightshift warranty
expect_state ENH-1 CP
snapshot production production-end
identical production1 production-end "production at the end vs. after ENH-1 went live"

# ---- 9. from git ----------------------------------------------------------

heading "Tuesday 09:00 — alice hands in a change from git"
NIGHTSHIFT_NOW=2026-04-07T09:00
say "The billing code also lives in git. A commit range becomes an enhancement:" \
	"the files it changes, their base hashes from the first commit (the drift" \
	"check then proves the model still runs that), enhancement.ini from .nightshift/."
GITREPO=$DEMO/git
rm -rf "$GITREPO" && mkdir -p "$GITREPO" && cp -R "$DEMO/model/root/." "$GITREPO/" || fail "cannot copy the model into $GITREPO"
gitc() { git -C "$GITREPO" -c user.name=alice -c user.email=alice@example.com "$@"; }
{ gitc init -q && gitc add -A && gitc commit -qm "billing as it runs in the model"; } ||
	fail "cannot make the demo's git repository"
from=$(gitc rev-parse HEAD)
mkdir -p "$GITREPO/.nightshift"
cat >"$GITREPO/.nightshift/enhancement.ini" <<'INI'
[enhancement]
title = The front page names the loyalty discount
rfs = RFS-2026-014
system = billing
INI
echo '<p>Loyal customers get a discount on every invoice.</p>' >>"$GITREPO/www/index.html"
{ gitc add -A && gitc commit -qm "front page: the loyalty discount"; } || fail "cannot commit in the demo's repository"
ns 0 -C "$D/home" --as alice submit --git ../git --from "$from" --to HEAD
[ "$(printf '%s\n' "$out" | head -n 1)" = ENH-3 ] || fail "the git submission is not ENH-3"
ns 0 -C "$D/home" --as quinn qa approve ENH-3
ns 0 -C "$D/home" --as bob schedule ENH-3 --env billing/model --at 2026-04-07T23:00

heading "Tuesday 23:00 — ENH-3 migrates; the repository gets its tag"
NIGHTSHIFT_NOW=2026-04-07T23:00
ns 0 -C "$D/home" --as nightshift daemon --once
expect_state ENH-3 migrated
cmp -s "$GITREPO/www/index.html" "$DEMO/model/root/www/index.html" ||
	fail "the model's www/index.html is not the one of alice's commit"
good "the model's www/index.html is the one of alice's commit"
[ -n "$(git -C "$GITREPO" tag -l 'nightshift/ENH-3-r1/billing/model')" ] ||
	fail "the repository has no tag nightshift/ENH-3-r1/billing/model"
good "the repository has the annotated tag nightshift/ENH-3-r1/billing/model"
sh_show "git -C ${GITREPO#"$REPO"/} cat-file -p nightshift/ENH-3-r1/billing/model"

heading "July — bob prunes the archives no rollback needs any more"
# [policy] archive-keep is 90 days: ENH-2's rolled-back run and the model
# runs of the promoted ENH-1 go; what a rollback may still restore stays
NIGHTSHIFT_NOW=2026-07-15T09:00
ns 0 -C "$D/home" --as bob archive prune --dry-run
ns 0 -C "$D/home" --as bob archive prune
case $out in *"removed "*"/archive/billing/model/ENH-2-"*) ;; *) fail "archive prune did not remove ENH-2's archive" ;; esac
[ -z "$(ls "$DEMO/home/archive/billing/model" | grep '^ENH-2-')" ] ||
	fail "ENH-2's archive is still there"
[ -n "$(ls "$DEMO/home/archive/billing/model" | grep '^ENH-3-')" ] ||
	fail "ENH-3's archive, which its rollback would restore, is gone"
good "ENH-2's archive is gone; ENH-3's, which a rollback may restore, is kept"

heading "The change record and the figures"
ns 0 -C "$D/home" status ENH-1
ns 0 -C "$D/home" log ENH-1
ns 0 -C "$D/home" stats
ns 0 -C "$D/home" audit verify

# ---- done ------------------------------------------------------------------

printf '\n%sThe demo did what it said.%s Look around:\n' "$B" "$N"
say "$D/home/outbox      the notices, one file each (sent/: delivered)" \
	"$D/mail             what the demo's mail server received" \
	"$D/git              the repository ENH-3 came from, with its tag" \
	"$D/home/archive     the archives and journals of the runs (July's prune removed the old ones)" \
	"$D/home/spool       the trigger files" \
	"$D/snapshots        the file and database states the demo compared" \
	"build/nightshift -C $D/home status      (and: log, status ENH-2, --json)"
