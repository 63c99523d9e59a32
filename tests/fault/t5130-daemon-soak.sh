#!/bin/bash
# One daemon left running through many migrations, as an operator leaves
# it for months: each enhancement dropped into the spool wakes it, every
# fourth one's verify fails and is rolled back. It must not leak: the
# daemon's open descriptors are the same after the last run as after the
# second, and its resident memory grows by less than 1 MiB. Every run
# must end as it should, and the site as the migrated ones left it.
# 12 runs in `make check`, 200 under `make check-full` (NS_FULL=1).
. "$(dirname "$0")/../e2e/lib.sh"

N=${NS_FULL:+200}
N=${N:-12}
ns_home
"$NS" daemon 2>"$T/daemon.log" &
D=$!
i=0
while ! grep -q "sleeping until\|waiting" "$T/daemon.log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done

fds() { ls "/proc/$D/fd" | wc -l; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$D/status"; }
failed=0 late=0
for i in $(seq "$N"); do
	make_pkg "$T/p$i" "change $i"
	echo "v$i" >"$T/p$i/files/f$((i % 7)).txt"
	mkdir -p "$T/p$i/sql"
	echo "CREATE TABLE t$i(x INTEGER); INSERT INTO t$i VALUES ($i);" >"$T/p$i/sql/deploy.sql"
	echo "DROP TABLE t$i;" >"$T/p$i/sql/revert.sql"
	if [ $((i % 4)) = 0 ]; then
		printf '[verify]\ncommand = false\n' >>"$T/p$i/enhancement.ini"
		failed=$((failed + 1))
	fi
	ns submit "$T/p$i"
	[ "$rc" = 0 ] || { diag "submit $i: $err"; break; }
	ns_ready "ENH-$i" >/dev/null
	k=0
	while ! grep -q "ENH-$i r1 on site" "$T/daemon.log" && [ $k -lt 300 ]; do sleep 0.1; k=$((k + 1)); done
	grep -q "ENH-$i r1 on site" "$T/daemon.log" || late=$((late + 1))
	# after its second run the daemon has loaded all it will
	[ "$i" = 2 ] && { FDS0=$(fds); RSS0=$(rss); }
done
FDS1=$(fds)
RSS1=$(rss)
kill -TERM $D
wait $D
is "$?" 1 "SIGTERM after $N runs: exit 1, as a window run where some rolled back"
is "$late" 0 "each of the $N enhancements was taken up by the daemon"
is "$(sqlite3 nightshift.db "SELECT outcome, count(*) FROM run_sites GROUP BY outcome ORDER BY outcome" | tr '\n' ' ')" \
	"migrated|$((N - failed)) rolled-back|$failed " \
	"$((N - failed)) migrated, the $failed whose verify failed rolled back"
is "$FDS1" "$FDS0" "its open descriptors: $FDS0 after the second run, $FDS1 after the last"
[ $((RSS1 - RSS0)) -lt 1024 ] && ok "its memory: $RSS0 KiB after the second run, $RSS1 KiB after the last" ||
	not_ok "its memory: $RSS0 KiB after the second run, $RSS1 KiB after the last"
# the site: the tables of the migrated ones, the files the last of them put
want=$(for i in $(seq "$N"); do [ $((i % 4)) = 0 ] || echo "t$i"; done | sort | tr '\n' ' ')
is "$(sqlite3 "$T/site/app.db" "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 't[0-9]*' ORDER BY name" | tr '\n' ' ')" \
	"$want" "the database holds the tables of the migrated ones only"
bad=0
for f in 0 1 2 3 4 5 6; do
	last=
	for i in $(seq "$N"); do [ $((i % 7)) = "$f" ] && [ $((i % 4)) != 0 ] && last=$i; done
	[ -z "$last" ] && continue
	[ "$(cat "$T/site/root/f$f.txt")" = "v$last" ] || bad=$((bad + 1))
done
is "$bad" 0 "each file as the last migrated enhancement that put it left it"
ns recover
is "$rc" 0 "nothing to recover"
done_testing
