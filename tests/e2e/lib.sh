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
#   tree_state DIR     one line per file/dir/symlink: type mode sha path
#   tree_hash DIR      sha256 of tree_state
#   db_dump DB         canonical dump of a SQLite database
#   site_state         tree_hash of the root + db_dump, one string
#   make_pkg DIR TITLE a package skeleton with enhancement.ini
#   ok/not_ok/is/like/unlike/done_testing  TAP
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
	"$NS" "$@" >"$T/.out" 2>"$T/.err"
	rc=$?
	out=$(cat "$T/.out")
	err=$(cat "$T/.err")
	return 0
}

tree_state() { # DIR — one perl process, not a few forks per file
	(cd "$1" && perl -MDigest::SHA -MFile::Find -e '
		my @l;
		find({ no_chdir => 1, wanted => sub {
			my $p = $File::Find::name;
			return if $p eq ".";
			if (-l $p) { push @l, [$p, "l " . readlink($p) . " $p"]; return }
			my $m = sprintf "%o", (lstat $p)[2] & 07777;
			if (-d _) { push @l, [$p, "d $m $p"]; return }
			my $h = eval { Digest::SHA->new(256)->addfile($p)->hexdigest } // "";
			push @l, [$p, "f $m $h $p"];
		} }, ".");
		print "$_->[1]\n" for sort { $a->[0] cmp $b->[0] } @l;')
}
tree_hash() { tree_state "$1" | sha256sum | cut -c1-64; }
db_dump() { sqlite3 "$1" .dump; }
site_state() { echo "$(tree_hash "$T/site/root") $(db_dump "$T/site/app.db" | sha256sum | cut -c1-64)"; }

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
