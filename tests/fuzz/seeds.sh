#!/bin/bash
# tests/fuzz/seeds.sh NIGHTSHIFT DIR — a first corpus for each fuzz target
# in DIR/<target>/: the example packages (as enhancement.ini and as tars),
# a trigger scheduled from a small package (also unpacked, for
# fuzz-sealed), a nightshift.conf, a Sqitch plan, SQL, an outbox message
# and its delivery state. The fuzzers grow their corpora from these.
set -eu
NS=$1
OUT=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
S=$(mktemp -d "${TMPDIR:-/tmp}/ns-seeds.XXXXXX")
trap 'rm -rf "$S"' EXIT
mkdir -p "$OUT"/{manifest,package,trigger,sealed,text,config,state}

n=0
for e in "$SRC"/examples/enhancements/*/; do
	n=$((n + 1))
	cp "$e/enhancement.ini" "$OUT/manifest/example-$n"
	tar -C "$e" -cf "$OUT/package/example-$n.tar" .
done

# a package with files, a delete and SQL, handed in, approved, scheduled
P=$S/pkg
mkdir -p "$P/files/lib" "$P/sql" "$S/root"
printf '[enhancement]\ntitle = seed\nsystem = billing\n[files]\ndelete = old.txt\n' \
	>"$P/enhancement.ini"
echo v2 >"$P/files/lib/x.txt"
echo "INSERT INTO t VALUES (2);" >"$P/sql/deploy.sql"
echo "DELETE FROM t WHERE a = 2;" >"$P/sql/revert.sql"
echo old >"$S/root/old.txt"
sqlite3 "$S/app.db" "CREATE TABLE t(a); INSERT INTO t VALUES (1);"
cp "$P/enhancement.ini" "$OUT/manifest/seed"
tar -C "$P" -cf "$OUT/package/seed.tar" .
"$NS" init "$S/home" >/dev/null
cat >>"$S/home/nightshift.conf" <<CONF
[system "billing"]
[environment "billing/model"]
    root = $S/root
    database = sqlite:$S/app.db
[policy]
    require-rfs = false
[role "developer"]
    members = alice
[role "qa"]
    members = quinn
[role "change-management"]
    members = alice
CONF
sed -i 's/impersonation = false/impersonation = true/' "$S/home/nightshift.conf"
export NIGHTSHIFT_USER=alice
"$NS" -C "$S/home" submit "$P" >/dev/null
"$NS" -C "$S/home" --as quinn qa approve ENH-1 >/dev/null
"$NS" -C "$S/home" schedule ENH-1 --env billing/model >/dev/null
cp "$S"/home/spool/billing/model/*.trigger "$OUT/trigger/seed"
# fuzz-sealed: the same trigger unpacked, TRIGGER.json then NAME CONTENT,
# each part ended by a NUL byte (see fuzz-sealed.c)
trig=$OUT/trigger/seed
{
	tar --warning=no-unknown-keyword -xOf "$trig" TRIGGER.json
	printf '\0'
	tar --warning=no-unknown-keyword -tf "$trig" | sed -n 's,^payload/,,p' | while IFS= read -r m; do
		printf '%s\0' "$m"
		tar --warning=no-unknown-keyword -xOf "$trig" "payload/$m"
		printf '\0'
	done
} >"$OUT/sealed/seed"
cp "$S/home/nightshift.conf" "$OUT/config/seed"
msg=$(ls "$S"/home/outbox/*.msg | head -n 1)
# the run's plan.json and journal (fuzz-state: an odd first byte is a
# plan, an even one a journal)
"$NS" -C "$S/home" window run --now >/dev/null
run=$(ls -d "$S"/home/archive/billing/model/ENH-1-*/main)
{ printf '\1'; cat "$run/plan.json"; } >"$OUT/state/plan"
{ printf '\0'; cat "$run/journal"; } >"$OUT/state/journal"

# fuzz-text: the first byte picks the parser (see fuzz-text.c)
{
	printf '\0%%syntax-version=1.0.0\n%%project=flipr\n\n'
	printf 'appusers 2013-12-30T23:19:08Z Marge <marge@example.com> # App users.\n'
	printf 'users [appusers] 2013-12-31T00:00:00Z Marge <marge@example.com> # Users.\n'
	printf '@v1.0 2014-01-01T00:00:00Z Marge <marge@example.com> # Tag.\n'
	printf 'flips [users appusers@v1.0 !old] 2014-01-02T00:00:00Z Marge <marge@example.com> # Flips.\n'
} >"$OUT/text/plan"
sql='CREATE TABLE a (x int); ALTER TABLE IF EXISTS ONLY "B"."c" RENAME TO d;
DROP INDEX i ON t; /* c /* n */ */ SELECT $$x$$, $q$y$q$, E'"'"'\'"'"''"'"';
WITH x AS (SELECT 1) UPDATE u SET a = 1; TRUNCATE v;
CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE w SET a = 1; END; -- end'
printf '\1%s' "$sql" >"$OUT/text/sql-objects"
printf '\2%s VACUUM; BEGIN; CREATE DATABASE x; ALTER SYSTEM SET a = 1;' "$sql" \
	>"$OUT/text/sql-no-transaction"
{ printf '\3'; cat "$msg"; } >"$OUT/text/message"
printf '\4smtp pending 2 2026-12-01T23:02:00Z Could not connect\nwebhook accepted 1 -\n' \
	>"$OUT/text/state"
