# tests/e2e/lib.sh — TAP helpers for nightshift's end-to-end tests.
#
# Each test sources this file, gets a fresh scratch directory ($T, removed
# at exit), and drives the real binary ($NS) the way a user would.
#
#   ns_home            a nightshift home in $T/home with system "demo",
#                      environment demo/model: root $T/site/root, database
#                      sqlite:$T/site/app.db, and ns_people; cd's there
#   ns_people CONF     the people below, [policy] require-rfs = false and
#                      impersonation into CONF; alice acts from then on
#   ns_ready ID        QA approval (by quinn) and schedule for demo/model
#                      (by the acting user), as a test's setup: exits on
#                      failure; prints the trigger's path
#   ns ARGS…           run nightshift; sets $out, $err, $rc (never exits)
#   state_of ENH-n     its state, as `status --json` tells it
#   notice_of ENH-n EVENT   the notice files of that event in the outbox
#   tree_state DIR     one line per file/dir/symlink: type mode sha path
#   tree_hash DIR      sha256 of tree_state
#   tree_hash_with DIR tree_hash of DIR and sha256 of stdin (a dump)
#   db_dump DB         canonical dump of a SQLite database
#   site_state         tree_hash of the root + db_dump, one string
#   unblock_matrix SCENE CHECK N NAME   `unblock --env model` killed at
#                      each of its N steps in the scene made again by the
#                      function SCENE, then run again, then a recover: the
#                      words of the function CHECK (what is not as it must
#                      be) and the exit codes must be right each time; one
#                      TAP line
#   make_pkg DIR TITLE a package skeleton with enhancement.ini
#   retar_file FILE PY a tar (a trigger) rewritten, its members edited by PY
#   ok/not_ok/is/isnt/like/unlike/done_testing  TAP
#
# The people of ns_people: alice (developer, change management, operator,
# technical support) acts once a home is made, unless a test says
# otherwise (--as, NIGHTSHIFT_USER); dev, dev1 and dev2 (developers),
# quinn (qa), bob and cm (change management), carol and carl (acceptance),
# olga (operator), dan (dba), tess and support (technical support).
set -u
NS=${NIGHTSHIFT:-$(cd "$(dirname "$0")/../.." && pwd)/build-test/nightshift}
T=$(mktemp -d "${TMPDIR:-/tmp}/ns-test.XXXXXX")
trap 'cd /; chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" || exit 1
# Debian's python3 (the suite installs it): a version manager's shim in
# front of it on PATH costs a third of a second a call
if [ -x /usr/bin/python3 ]; then python3() { /usr/bin/python3 "$@"; }; fi
_n=0
_failed=0

ok() { _n=$((_n + 1)); echo "ok $_n - $1"; }
not_ok() {
	_n=$((_n + 1)); _failed=$((_failed + 1))
	echo "not ok $_n - $1"
	[ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/#   /'
	return 0
}
is() { # ACTUAL EXPECTED NAME
	if [ "$1" = "$2" ]; then ok "$3"; else
		not_ok "$3" "got:      '$1'
expected: '$2'"
	fi
}
isnt() { # ACTUAL UNEXPECTED NAME
	if [ "$1" != "$2" ]; then ok "$3"; else not_ok "$3" "got '$1' all the same"; fi
}
like() { # STRING PATTERN(grep -E) NAME
	if printf '%s' "$1" | grep -Eq -- "$2"; then ok "$3"; else
		not_ok "$3" "'$1'
does not match /$2/"
	fi
}
unlike() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		not_ok "$3" "'$1'
matches /$2/"
	else ok "$3"; fi
}
done_testing() { echo "1..$_n"; [ "$_failed" -eq 0 ]; exit $?; }
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }

ns() {
	# (the braces keep bash's own "Killed" line, for a run a test kills,
	# out of the test's output; $rc says it)
	{ "$NS" "$@" >"$T/.out" 2>"$T/.err"; rc=$?; } 2>/dev/null
	out=$(cat "$T/.out")
	err=$(cat "$T/.err")
	return 0
}

state_of() { # ENH-n, or n: its state, as `status --json` says in the
	# home here (or in $T/home when here is none)
	local h=.
	[ -e nightshift.conf ] || h=$T/home
	"$NS" -C "$h" status "ENH-${1#ENH-}" --json 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["enhancement"]["state"])' 2>&1
}
notice_of() { # ENH-n EVENT
	grep -l "^X-Nightshift-Enhancement: $1\$" "$T"/home/outbox/*.msg 2>/dev/null |
		xargs -r grep -l "^X-Nightshift-Event: $2\$"
}

# one perl process walks DIR and prints, by its first argument: "state"
# one line per entry (type, mode, owner, SHA-256, path), "hash" the
# SHA-256 of those lines, "with" that and the SHA-256 of its standard
# input (a canonical database dump). (Its own walk: File::Find alone takes
# longer to load than the walk of a test's site, and each process spared
# is a few milliseconds of every kill point.)
_tree_pl='
	use Digest::SHA qw(sha256_hex);
	my ($how, $dir) = @ARGV;
	my @l;
	sub walk {
		my ($d) = @_;
		opendir(my $dh, $d) or die "$d: $!\n";
		for my $e (readdir $dh) {
			next if $e eq "." || $e eq "..";
			my $p = "$d/$e";
			if (-l $p) { push @l, [$p, "l " . readlink($p) . " $p"]; next }
			my @s = lstat _;
			my $m = sprintf "%o %d:%d", $s[2] & 07777, $s[4], $s[5];
			if (-d _) { push @l, [$p, "d $m $p"]; walk($p); next }
			my $h = eval { Digest::SHA->new(256)->addfile($p)->hexdigest } // "";
			push @l, [$p, "f $m $h $p"];
		}
		closedir $dh;
	}
	chdir $dir or die "$dir: $!\n";
	walk(".");
	my $out = join "", map { "$_->[1]\n" } sort { $a->[0] cmp $b->[0] } @l;
	if ($how eq "state") { print $out; exit }
	print sha256_hex($out);
	if ($how eq "with") {
		binmode STDIN;
		my $in = do { local $/; <STDIN> } // "";
		print " ", sha256_hex($in);
	}
	print "\n";'
tree_state() { perl -e "$_tree_pl" state "$1"; } # DIR
tree_hash() { perl -e "$_tree_pl" hash "$1"; } # DIR
# DUMP | tree_hash_with DIR: the tree_hash of DIR and the SHA-256 of DUMP
tree_hash_with() { perl -e "$_tree_pl" with "$1"; }
db_dump() { sqlite3 "$1" .dump; }
site_state() { db_dump "$T/site/app.db" | tree_hash_with "$T/site/root"; }

unblock_matrix() { # SCENE CHECK N NAME
	local k krc arc why bad=0
	case $3 in
	[1-9] | [1-9][0-9] | [1-9][0-9][0-9]) ;;
	*) not_ok "$4: unblock counted its steps" "got: '$3'"; return ;;
	esac
	for k in $(seq 1 "$3"); do
		"$1"
		{ (NIGHTSHIFT_CRASH_AT=$k exec "$NS" unblock --env model --reason "killed") >/dev/null 2>&1; } 2>/dev/null
		krc=$?
		# once the block is lifted, the next one has nothing to do
		# ("not blocked", exit 1); a recover then finds nothing either
		"$NS" unblock --env model --reason "again" >/dev/null 2>"$T/again.err"
		arc=$?
		"$NS" recover >/dev/null 2>&1
		why="$("$2" | tr '\n' ' ')"
		[ "$krc" = 137 ] || why="$why not-killed($krc)"
		[ "$arc" = 0 ] || grep -q "is not blocked" "$T/again.err" || why="$why again-exit-$arc"
		[ -z "$why" ] || { bad=$((bad + 1)); diag "$4: unblock killed at step $k: $why"; }
	done
	diag "$4: unblock killed at $3 points, $bad inconsistent"
	is "$bad" 0 "$4: an unblock killed at each of its $3 steps is finished by the next"
}

ns_home() {
	mkdir -p "$T/site/root" "$T/home"
	"$NS" init "$T/home" >/dev/null || exit 1
	cat >>"$T/home/nightshift.conf" <<CONF
[system "demo"]
    users = users@example.com
[environment "demo/model"]
    root = $T/site/root
    database = sqlite:$T/site/app.db
CONF
	ns_people "$T/home/nightshift.conf"
	[ -f "$T/site/app.db" ] || sqlite3 "$T/site/app.db" \
		"CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);
		 INSERT INTO customers VALUES (1, 'ann'), (2, 'bob');"
	cd "$T/home" || exit 1
}

ns_people() { # CONF — the people below, RFS not required, impersonation on
	cat >>"$1" <<CONF
[policy]
    require-rfs = false
[role "developer"]
    members = alice, dev, dev1, dev2
[role "qa"]
    members = quinn
[role "change-management"]
    members = alice, bob, cm
[role "acceptance"]
    members = carol, carl
[role "operator"]
    members = alice, bob, olga
[role "dba"]
    members = dan
[role "technical-support"]
    members = alice, tess, support
CONF
	sed -i 's/impersonation = false/impersonation = true/' "$1"
	export NIGHTSHIFT_USER=alice
}

ns_ready() { # ID [ENV]
	"$NS" --as quinn qa approve "$1" >/dev/null || exit 1
	"$NS" schedule "$1" --env "${2:-model}" || exit 1
}

make_pkg() { # DIR TITLE
	mkdir -p "$1/files"
	printf '[enhancement]\ntitle = %s\nsystem = demo\n' "$2" >"$1/enhancement.ini"
}

sha() { sha256sum <"$1" | cut -c1-64; }

# rewrite the tar FILE (a trigger) with its members changed by python
retar_file() { # FILE PYTHON-BODY: the body edits `members` (a list of
	# [TarInfo, bytes]; member(NAME), set_data(NAME, BYTES)) in place
	python3 - "$1" "$2" <<'PY' || exit 1
import hashlib, io, json, sys, tarfile
path, body = sys.argv[1], sys.argv[2]
members = []
with tarfile.open(path) as t:
    for ti in t.getmembers():
        members.append([ti, t.extractfile(ti).read()])
def member(name):
    return next(m for m in members if m[0].name == name)
def set_data(name, data):
    m = member(name)
    m[0].size = len(data)
    m[1] = data
exec(body)
with tarfile.open(path + ".new", "w", format=tarfile.PAX_FORMAT) as t:
    for ti, data in members:
        t.addfile(ti, io.BytesIO(data))
PY
	mv "$1.new" "$1" || exit 1
}

# two_sites [VERIFY]: a home in $T/home (the people of ns_people) whose
# environment demo/model has two sites, demo/model/a and /b, each a root
# $T/sites/S/root with lib/x.txt ("v1") and a SQLite database
# $T/sites/S/app.db holding t(1); VERIFY, if given, is the environment's
# verify command. Leaves the directory at $T/home.
# sites_home "S1 S2 …" [VERIFY]: the same with the sites named
two_sites() { sites_home "a b" "$@"; }
sites_home() {
	local s
	mkdir -p "$T/home"
	"$NS" init "$T/home" >/dev/null || exit 1
	for s in $1; do
		mkdir -p "$T/sites/$s/root/lib"
		echo "v1" >"$T/sites/$s/root/lib/x.txt"
		sqlite3 "$T/sites/$s/app.db" "CREATE TABLE t(a); INSERT INTO t VALUES (1);"
	done
	{
		printf '[system "demo"]\n    users = users@example.com\n'
		printf '[environment "demo/model"]\n'
		[ -z "${2:-}" ] || printf '    verify = %s\n' "$2"
		for s in $1; do
			printf '[site "demo/model/%s"]\n    root = %s\n    database = sqlite:%s\n' \
				"$s" "$T/sites/$s/root" "$T/sites/$s/app.db"
		done
	} >>"$T/home/nightshift.conf"
	ns_people "$T/home/nightshift.conf"
	cd "$T/home" || exit 1
}

# ---- PostgreSQL -----------------------------------------------------------
#   pg_start           a scratch PostgreSQL cluster in $T/pg, on 127.0.0.1 and
#                      a free port, stopped at exit; sets $PGURL (the
#                      database "app", superuser "nightshift") and the
#                      PGHOST/PGPORT/PGUSER/PGDATABASE for psql; returns 1
#                      when PostgreSQL is not installed or does not start
#   pg_dump_canon      canonical dump of $PGURL: schema, then each table's
#                      rows sorted
#   pg_q SQL           one psql query, unaligned, no headers
pg_bindir() {
	local d
	for d in "$(pg_config --bindir 2>/dev/null)" /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
	done
	return 1
}
# the server refuses to run as root: a cluster of root's tests belongs to
# an unprivileged user made for it
pg_as() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u nightshift-test -- "$@"; else "$@"; fi
}
pg_start() {
	local bin port try
	bin=$(pg_bindir) || return 1
	PGBIN=$bin
	if [ "$(id -u)" -eq 0 ]; then
		id nightshift-test >/dev/null 2>&1 ||
			useradd --system --no-create-home --shell /usr/sbin/nologin \
				nightshift-test 2>/dev/null ||
			id nightshift-test >/dev/null 2>&1 || return 1
		chmod 711 "$T"
		mkdir -p "$T/pg"
		chown nightshift-test "$T/pg"
	fi
	pg_as "$bin/initdb" -D "$T/pg/data" -U nightshift --auth=trust \
		-E UTF8 --locale=C --no-sync >"$T/pg/initdb.log" 2>&1 || return 1
	for try in 1 2 3 4 5; do
		port=$(python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		if pg_as "$bin/pg_ctl" -D "$T/pg/data" -l "$T/pg/server.log" -w -t 30 \
			-o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
			start >/dev/null 2>&1; then
			PGPORT=$port
			break
		fi
	done
	[ -n "${PGPORT:-}" ] || return 1
	trap 'pg_as "$PGBIN/pg_ctl" -D "$T/pg/data" -m immediate stop >/dev/null 2>&1; cd /; chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
	export PGHOST=127.0.0.1 PGPORT PGUSER=nightshift PGDATABASE=app
	PGURL=postgresql://nightshift@127.0.0.1:$PGPORT/app
	"$bin/createdb" app || return 1
}
# PostgreSQL is one of the suite's dependencies: a test that cannot start
# it fails, it does not skip
pg_bail() {
	echo "Bail out! cannot start a scratch PostgreSQL server"
	tail -n 5 "$T"/pg/*.log 2>/dev/null | sed 's/^/# /'
	exit 1
}
pg_q() { psql -X -q -v ON_ERROR_STOP=1 -A -t -c "$1"; }
# pg_restarter FILE: a verify command that restarts the test's server
# (ending every session, nightshift's too) and then fails
pg_restarter() {
	cat >"$1" <<SH
#!/bin/sh
if [ "\$(id -u)" -eq 0 ]; then as="runuser -u nightshift-test --"; else as=; fi
\$as "$PGBIN/pg_ctl" -D "$T/pg/data" -l "$T/pg/server.log" -m fast -w restart >/dev/null 2>&1 ||
	echo "the server did not restart"
exit 1
SH
	chmod +x "$1"
}
# the scene of the PostgreSQL tests: a home (ns_home) whose site has the
# root R=$T/site/root with lib/tax.conf and the database PGURL holding
# customers (ann, bob); pg_customers makes that table again
pg_customers() {
	pg_q "SET client_min_messages = warning;
	      DROP TABLE IF EXISTS coupons, nightshift_changes, customers;
	      CREATE TABLE customers(id int PRIMARY KEY, name text);
	      INSERT INTO customers VALUES (1, 'ann'), (2, 'bob');"
}
pg_scene() {
	pg_start || pg_bail
	ns_home
	sed -i "s|database = sqlite:.*|database = $PGURL|" nightshift.conf
	R=$T/site/root
	mkdir -p "$R/lib"
	echo "tax = 19" >"$R/lib/tax.conf"
	pg_customers
}
# the site as it is: tree hash and the canonical dump's hash
pg_site_state() { pg_dump_canon | tree_hash_with "$R"; }
pg_dump_canon() {
	pg_dump --schema-only --no-owner --no-privileges "$PGURL" |
		grep -Ev '^(--|\\restrict|\\unrestrict|$)'
	# every table's rows, sorted, in one psql
	psql -X -A -t -v ON_ERROR_STOP=1 <<'SQL'
SELECT format('SELECT %L UNION ALL (SELECT nsrow::text FROM %I.%I nsrow ORDER BY nsrow::text COLLATE "C")',
	'== ' || tablename, schemaname, tablename)
FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
ORDER BY schemaname, tablename \gexec
SQL
}
