#!/bin/bash
# submit --git: an enhancement built from a commit range of a real
# repository. Its files, deletes and bases are exactly the range's under
# --path; after the window run the site's tree is the --to tree and the
# repository has the annotated tag nightshift/ENH-n-rK/ENV on the --to
# commit. A symbolic link in the range is refused (exit 3), and a target
# that changed since --from is refused for drift.
. "$(dirname "$0")/lib.sh"

umask 022
ns_home
G=$T/repo
files_state() { tree_state "$1" | grep '^f'; }
git() { command git -C "$G" -c tar.umask=022 -c user.name=dev -c user.email=dev@example.com "$@"; }
mkdir -p "$G/app/lib" "$G/app/www" "$G/app/bin"
git init -q -b main
echo "tax = 19" >"$G/app/lib/tax.conf"
echo "<p>old</p>" >"$G/app/www/old.html"
echo "keep" >"$G/app/keep.txt"
printf '#!/bin/sh\necho run\n' >"$G/app/bin/run"
chmod 0755 "$G/app/bin/run"
echo "readme" >"$G/README"
git add -A && git commit -qm v1 && git tag v1

# the site is the v1 tree of app/
rm -rf "$T/site/root"
git archive --prefix=root/ v1:app | tar -x -C "$T/site"
S0=$(site_state)

# v2: modify, delete, add (one executable, one in a new directory), a
# change outside app/, and the enhancement's own description
echo "tax = 20" >"$G/app/lib/tax.conf"
git rm -q app/www/old.html
printf '#!/bin/sh\necho new\n' >"$G/app/bin/new"
chmod 0755 "$G/app/bin/new"
mkdir -p "$G/app/lib/gold" "$G/.nightshift/sql"
echo "gold = 10%" >"$G/app/lib/gold/rule.txt"
echo "readme 2" >"$G/README"
printf '[enhancement]\ntitle = Gold tax\nsystem = demo\n' >"$G/.nightshift/enhancement.ini"
echo "CREATE TABLE gold(id INTEGER);" >"$G/.nightshift/sql/deploy.sql"
echo "DROP TABLE gold;" >"$G/.nightshift/sql/revert.sql"
git add -A && git commit -qm v2 && git tag v2
V2=$(git rev-parse v2)

ns submit --git "$G" --from v1 --to v2 --path app
is "$rc" 0 "submit --git exits 0"
is "$(echo "$out" | head -1)" "ENH-1" "its id first"

ns status ENH-1 --json
STORE=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["revisions"][-1]["store_path"])')
is "$(tar -tvf "$STORE" 2>/dev/null | awk '{print $6, $1}' | sort | tr '\n' ' ')" \
	"enhancement.ini -rw-r--r-- files/bin/new -rwxr-xr-x files/lib/gold/rule.txt -rw-r--r-- files/lib/tax.conf -rw-r--r-- sql/deploy.sql -rw-r--r-- sql/revert.sql -rw-r--r-- " \
	"the payload: the range's added and modified files under app/ (executable bit kept), the SQL, no README, no .nightshift"
INI=$(tar -xOf "$STORE" enhancement.ini 2>/dev/null)
is "$(echo "$INI" | grep -E '^(delete|base) =' | sort | tr '\n' '|')" \
	"base = lib/tax.conf $(printf 'tax = 19\n' | sha256sum | cut -c1-64)|base = www/old.html $(printf '<p>old</p>\n' | sha256sum | cut -c1-64)|delete = www/old.html|" \
	"deletes and bases are exactly the range's, hashed in the --from tree"
ns log ENH-1 --json
like "$out" "$V2" "the registry records where it came from (the --to commit)"

ns_ready ENH-1 >/dev/null
# a moment of nightshift's own clock, years ahead: the tag must carry it
NIGHTSHIFT_NOW=2031-03-04T05:06:07Z ns window run
is "$rc" 0 "window run migrates it"
like "$out" "tagged nightshift/ENH-1-r1/demo/model" "and says it tagged the commit"
X=$T/v2tree && mkdir -p "$X"
git archive --prefix=root/ v2:app | tar -x -C "$X"
# (git keeps no empty directory: www/, emptied by the delete, stays)
is "$(files_state "$T/site/root")" "$(files_state "$X/root")" "the site's files are the --to tree of app/ (content and mode)"
is "$(sqlite3 "$T/site/app.db" "SELECT count(*) FROM sqlite_master WHERE name = 'gold'")" 1 "and its SQL ran"
is "$(git tag -l 'nightshift/*')" "nightshift/ENH-1-r1/demo/model" "git tag -l shows the tag"
TAG=$(git cat-file -p nightshift/ENH-1-r1/demo/model)
like "$TAG" "^object $V2" "an annotated tag on the --to commit"
like "$TAG" "type commit" "of a commit"
like "$TAG" "Environment: demo/model" "its message names the environment"
like "$TAG" "Run: [0-9]+" "and the run"
like "$TAG" "Time: 20[0-9-]+T" "and the time"
TAGGED=$(echo "$TAG" | sed -n 's/^tagger .* \([0-9][0-9]*\) +0000$/\1/p')
is "$(date -u -d "@$TAGGED" +%Y-%m-%dT%H:%M)" "2031-03-04T05:06" \
	"the tagger's date is nightshift's clock (NIGHTSHIFT_NOW), not the machine's"
ns status ENH-1
like "$out" "r1 from git $G/.git/ $(git rev-parse v1 | cut -c1-12)" "status shows where r1 came from"
like "$out" "r1 from git .*\.\.${V2:0:12} under app" "the range and the path"
like "$out" "r1 git tag nightshift/ENH-1-r1/demo/model" "and its tag"

# a symbolic link in the range: refused, naming it, nothing registered
git checkout -q -b sym
ln -s lib/tax.conf "$G/app/link"
git add -A && git commit -qm sym
ns submit --git "$G" --from v2 --to sym --path app
is "$rc" 3 "a symlink in the range is refused (exit 3)"
like "$err" "app/link: a symbolic link" "naming the path"
ns status --json
is "$(echo "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["enhancements"]))')" 1 "nothing was registered"
git checkout -q main

# a crafted tree (git mktree takes any name) naming app/../../../../escape
B=$(echo evil | git hash-object -w --stdin)
X=$(printf '100644 blob %s\tescape\n' "$B" | git mktree)
for i in 1 2 3 4; do X=$(printf '040000 tree %s\t..\n' "$X" | git mktree); done
X=$(printf '040000 tree %s\tapp\n040000 tree %s\t.nightshift\n' "$X" "$(git rev-parse v2:.nightshift)" | git mktree)
C=$(git commit-tree -p v2 -m crafted "$X")
ns submit --git "$G" --from v2 --to "$C" --path app
is "$rc" 3 "a crafted tree with '..' in a path is refused"
like "$err" "repo: app/\.\./\.\./\.\./\.\./escape: '\.\.' component" "naming the path and why"
is "$(find "$T" -name escape | wc -l)" 0 "and nothing was written outside the scratch directory"

# a tree without .nightshift/enhancement.ini is refused, and an empty range
git checkout -q -b noini v1
echo "keep 2" >"$G/app/keep.txt"
git commit -qam noini
ns submit --git "$G" --from v1 --to noini --path app
is "$rc" 3 "a --to tree without .nightshift/enhancement.ini is refused"
like "$err" "\.nightshift/enhancement.ini: missing" "saying what is missing"
git checkout -q main

# drift: the site changed since the --from tree
echo "tax = 21" >"$G/app/lib/tax.conf"
printf '[enhancement]\ntitle = Tax 21\nsystem = demo\n' >"$G/.nightshift/enhancement.ini"
git rm -q .nightshift/sql/deploy.sql .nightshift/sql/revert.sql
git add -A && git commit -qm v3 && git tag v3
(cd "$T" && "$NS" -C home submit --git ../repo --from v2 --to v3 --path nowhere >/dev/null 2>"$T/.err")
is "$?" 3 "a range with nothing to do (no file under --path, no SQL) is refused"
like "$(cat "$T/.err")" "^nightshift: ../repo: nothing to do: no file changed between v2 and v3 under nowhere" "naming the repository as given (relative to -C)"
ns submit --git "$G" --from v2 --to v3 --path app
is "$rc" 0 "ENH-2 from v2..v3"
ns_ready ENH-2 >/dev/null
echo "tax = hand-edited" >"$T/site/root/lib/tax.conf"
S1=$(site_state)
ns window run
is "$rc" 1 "a site changed since --from: not migrated (exit 1)"
like "$err" "lib/tax.conf: drift" "refused for drift at run time"
ns analyze ENH-2 --env model
like "$out$err" "DRIFT.*lib/tax.conf" "and the analysis names the drift too"
is "$(site_state)" "$S1" "the site is untouched"
is "$(git tag -l 'nightshift/ENH-2*')" "" "and nothing is tagged"

# the developer rebases onto what the site has: resubmit --git
echo "tax = hand-edited" >"$G/app/lib/tax.conf"
git add -A && git commit -qm site && git tag site
echo "tax = 21" >"$G/app/lib/tax.conf"
git add -A && git commit -qm v4 && git tag v4
ns resubmit ENH-2 --git "$G" --from site --to v4 --path app
is "$rc" 0 "resubmit --git"
is "$out" "ENH-2 r2" "as revision r2"
ns_ready ENH-2 >/dev/null
# the tag cannot be made (someone took its name): the migration stands
git tag nightshift/ENH-2-r2/demo/model v1
ns window run
is "$rc" 0 "r2 migrates, though its tag cannot be made"
is "$(cat "$T/site/root/lib/tax.conf")" "tax = 21" "the file is the --to one"
like "$err" "ENH-2 r2: the git tag was not made, the migration stands" "a warning says so"
is "$(git rev-parse nightshift/ENH-2-r2/demo/model)" "$(git rev-parse v1)" "the existing tag is not moved"
ns log ENH-2 --json
like "$out" "tag-failed" "the audit log records it"
ns status ENH-2
like "$out" "r2 git tag in demo/model NOT made" "and status shows it"
like "$out" "ENH-2 r2  migrated" "the enhancement is migrated"

# a migration killed after its commit point and carried through by
# recover gets its tag too (the verify command kills nightshift once:
# the parent of its parent, the reaper nightshift runs it under)
echo "tax = 22" >"$G/app/lib/tax.conf"
printf '[enhancement]\ntitle = Tax 22\nsystem = demo\n[verify]\ncommand = [ -e %s/killed ] || { touch %s/killed; kill -KILL $(cut -d" " -f4 /proc/$PPID/stat); }\n' \
	"$T" "$T" >"$G/.nightshift/enhancement.ini"
git add -A && git commit -qm v5 && git tag v5
ns submit --git "$G" --from v4 --to v5 --path app
is "$rc" 0 "ENH-3 from v4..v5"
ns_ready ENH-3 >/dev/null
ns window run
is "$rc" 137 "the window run is killed during its verify, after the commit point"
is "$(git tag -l 'nightshift/ENH-3*')" "" "no tag yet"
ns recover
is "$rc" 0 "recover carries the migration through"
like "$out" "tagged nightshift/ENH-3-r1/demo/model" "and says it tagged the commit"
is "$(git tag -l 'nightshift/ENH-3*')" "nightshift/ENH-3-r1/demo/model" "the tag is there"
is "$(cat "$T/site/root/lib/tax.conf")" "tax = 22" "the site has the --to file"
done_testing
