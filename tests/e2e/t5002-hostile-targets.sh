#!/bin/bash
# Hostile targets and tampered triggers at `window run` time. A good
# enhancement (replace lib/old.txt against its base, add lib/new.txt,
# delete lib/gone.txt, SQL deploy/revert) is submitted and scheduled; then,
# before the window runs, the target or the trigger is made hostile. Every
# case must be refused before anything is written: the exit code and the
# message say why, and the site (tree and database), the files outside the
# root and a canary are exactly as they were before the run.
. "$(dirname "$0")/lib.sh"

# a fresh site, home and ENH-1 scheduled for demo/model; $TRIG is its
# trigger. "spool-link": the configured spool is reached through a link.
scene() {
	cd "$T" || exit 1
	rm -rf "${T:?}/site" "${T:?}/home" "${T:?}/outside" "${T:?}/pkg" "${T:?}/spool-link"
	mkdir -p "$T/site/root/lib" "$T/outside"
	echo "v1" >"$T/site/root/lib/old.txt"
	echo "bye" >"$T/site/root/lib/gone.txt"
	echo "keep" >"$T/site/root/keep.txt"
	# what a followed link would find: the same files, outside the root
	cp "$T/site/root/lib/old.txt" "$T/site/root/lib/gone.txt" "$T/outside/"
	echo "outside" >"$T/outside/secret.txt"
	echo "do not touch" >"$T/canary"
	ns_home
	if [ "${1-}" = spool-link ]; then
		mkdir -p "$T/home/spool"
		ln -s "$T/home/spool" "$T/spool-link"
		sed -i "s|^\( *spool = \)spool\$|\1$T/spool-link|" nightshift.conf
		grep -q "spool = $T/spool-link" nightshift.conf || exit 1
	fi
	make_pkg "$T/pkg" "hostile targets"
	mkdir -p "$T/pkg/files/lib" "$T/pkg/sql"
	echo "v2" >"$T/pkg/files/lib/old.txt"
	echo "new" >"$T/pkg/files/lib/new.txt"
	printf '[files]\ndelete = lib/gone.txt\nbase = lib/old.txt %s\n' \
		"$(sha "$T/site/root/lib/old.txt")" >>"$T/pkg/enhancement.ini"
	echo "INSERT INTO customers VALUES (3, 'cy');" >"$T/pkg/sql/deploy.sql"
	echo "DELETE FROM customers WHERE id = 3;" >"$T/pkg/sql/revert.sql"
	"$NS" submit "$T/pkg" >/dev/null || exit 1
	"$NS" --as quinn qa approve ENH-1 >/dev/null 2>&1
	TRIG=$("$NS" schedule ENH-1 --env model) || exit 1
	[ -f "$TRIG" ] || exit 1
}

canary_state() {
	stat -c '%F %a %s %i' "$T/canary" 2>&1
	sha256sum <"$T/canary" 2>&1
}

# lib.sh's site_state, but one that lists a FIFO instead of reading it
target_state() {
	(cd "$T/site/root" && find . -mindepth 1 | LC_ALL=C sort |
		while IFS= read -r p; do
			if [ -L "$p" ]; then echo "l $(readlink "$p") $p"
			elif [ -d "$p" ]; then echo "d $(stat -c %a "$p") $p"
			elif [ -f "$p" ]; then echo "f $(stat -c %a "$p") $(sha "$p") $p"
			else echo "o $(stat -c '%F %a' "$p") $p"
			fi
		done) | sha256sum | cut -c1-64
	db_dump "$T/site/app.db" | sha256sum | cut -c1-64
}

# what the run must leave alone, taken after the hostile change
snapshot() {
	SITE=$(target_state)
	OUTSIDE=$(tree_hash "$T/outside")
	CANARY=$(canary_state)
}

# window run --now (never longer than 20 s: a FIFO must not hang it)
run_window() {
	timeout 20 "$NS" window run --now >"$T/.out" 2>"$T/.err"
	rc=$?
	out=$(cat "$T/.out")
	err=$(cat "$T/.err")
}

# the run was refused with CODE and PATTERN, and changed nothing
refused() { # LABEL CODE PATTERN
	is "$rc" "$2" "$1: exit $2"
	like "$out
$err" "$3" "$1: the message says $3"
	is "$(target_state)" "$SITE" "$1: site (tree and database) unchanged"
	is "$(tree_hash "$T/outside")" "$OUTSIDE" "$1: outside the root unchanged"
	is "$(canary_state)" "$CANARY" "$1: canary untouched"
	is "$(find "$T/site" -name '.nightshift*' -o -name '*.tmp-*' | wc -l)" 0 \
		"$1: no staging left behind"
}

# (1) a directory the enhancement writes into is a link out of the root
scene
rm -rf "$T/site/root/lib"
ln -s "$T/outside" "$T/site/root/lib"
snapshot
run_window
refused "symlinked directory out of the root" 3 "symbolic link"
is "$(state_of 1)" returned "symlinked directory: ENH-1 returned"

# (1b) the same with the link pointing inside the root
scene
mv "$T/site/root/lib" "$T/site/root/lib2"
ln -s lib2 "$T/site/root/lib"
snapshot
run_window
refused "symlinked directory within the root" 3 "symbolic link"
is "$(state_of 1)" returned "symlink within: ENH-1 returned"

# (2) the very file the package replaces is a link out of the root (to a
# copy that has the base hash, so a followed link would pass the drift check)
scene
rm "$T/site/root/lib/old.txt"
ln -s "$T/outside/old.txt" "$T/site/root/lib/old.txt"
snapshot
run_window
refused "symlink at the replaced file" 3 "symbolic link"
is "$(state_of 1)" returned "symlink at the replaced file: ENH-1 returned"

# (2b) the file the package adds is already a link out of the root
scene
ln -s "$T/canary" "$T/site/root/lib/new.txt"
snapshot
run_window
refused "symlink at the added file" 3 "symbolic link"
is "$(state_of 1)" returned "symlink at the added file: ENH-1 returned"

# (2c) the file the package deletes is a link out of the root
scene
rm "$T/site/root/lib/gone.txt"
ln -s "$T/outside/gone.txt" "$T/site/root/lib/gone.txt"
snapshot
run_window
refused "symlink at the deleted file" 3 "symbolic link"
is "$(state_of 1)" returned "symlink at the deleted file: ENH-1 returned"

# (2d) a dangling link at the added file: following it would create a
# file outside the root
scene
ln -s "$T/outside/created.txt" "$T/site/root/lib/new.txt"
snapshot
run_window
refused "dangling symlink at the added file" 3 "symbolic link"
is "$([ -e "$T/outside/created.txt" ] && echo created || echo absent)" absent \
	"dangling symlink: nothing created outside the root"

# (3) drift: the replaced file changed after the developer took its base
scene
echo "v1 patched by hand" >"$T/site/root/lib/old.txt"
snapshot
run_window
refused "drift of a replaced file" 1 "drift"
like "$out
$err" "lib/old\.txt" "drift of a replaced file: the message names lib/old.txt"
is "$(state_of 1)" returned "drift: ENH-1 returned to the developer"

# (3b) drift: the file with a base is gone
scene
rm "$T/site/root/lib/old.txt"
snapshot
run_window
refused "drift: the base file is absent" 1 "drift"

# (4) drift: the path the package deletes is absent
scene
rm "$T/site/root/lib/gone.txt"
snapshot
run_window
refused "drift: the deleted file is absent" 1 "drift"
like "$out
$err" "lib/gone\.txt" "absent delete: the message names lib/gone.txt"

# (5) the trigger rewritten with one payload file changed, TRIGGER.json kept
retar() { retar_file "$TRIG" "$1"; } # lib.sh

scene
retar 'set_data("payload/files/lib/new.txt", b"evil\n")'
snapshot
ns trigger verify "$TRIG"
is "$rc" 3 "tampered payload: trigger verify exits 3"
like "$err" "hash mismatch" "tampered payload: trigger verify says hash mismatch"
like "$err" "payload/files/lib/new\.txt" "tampered payload: trigger verify names the member"
run_window
refused "tampered payload" 3 "hash mismatch"
is "$(state_of 1)" returned "tampered payload: ENH-1 returned"

# (5b) same size, one byte flipped: the size gives nothing away
scene
retar 'set_data("payload/files/lib/new.txt", b"nEw\n")'
snapshot
ns trigger verify "$TRIG"
is "$rc" 3 "flipped byte: trigger verify exits 3"
like "$err" "hash mismatch" "flipped byte: trigger verify says hash mismatch"
run_window
refused "flipped byte in the payload" 3 "hash mismatch"

# (5c) an extra payload member appended after the listed ones
scene
retar '
ti = tarfile.TarInfo("payload/files/lib/evil.txt")
members.append([ti, b""])
set_data("payload/files/lib/evil.txt", b"evil\n")'
snapshot
ns trigger verify "$TRIG"
is "$rc" 3 "extra member: trigger verify exits 3"
like "$err" "payload/files/lib/evil\.txt" "extra member: trigger verify names it"
run_window
refused "extra payload member" 3 "evil\.txt"

# (6) TRIGGER.json edited: the environment changed
scene
retar '
j = json.loads(member("TRIGGER.json")[1])
j["environment"] = "demo/production"
set_data("TRIGGER.json", json.dumps(j, indent=2, sort_keys=True).encode())'
snapshot
ns trigger verify "$TRIG"
is "$rc" 3 "edited environment: trigger verify exits 3"
like "$err" "TRIGGER\.json" "edited environment: trigger verify names TRIGGER.json"
run_window
refused "TRIGGER.json with another environment" 3 "TRIGGER\.json"
is "$(state_of 1)" returned "edited environment: ENH-1 returned"

# (6b) a payload file altered and TRIGGER.json made consistent with it:
# the member hash, size and the payload digest recomputed. Only the
# registry's record of the JSON's hash can tell.
scene
retar '
evil = b"evil but consistent\n"
set_data("payload/files/lib/new.txt", evil)
j = json.loads(member("TRIGGER.json")[1])
mlist = j["members"] if isinstance(j.get("members"), list) else None
assert mlist is not None, "TRIGGER.json has no members list: " + repr(sorted(j))
for m in mlist:
    if m["path"] == "files/lib/new.txt":
        m["sha256"] = hashlib.sha256(evil).hexdigest()
        m["size"] = len(evil)
lines = "".join("%s %04o %d %s\n" % (m["sha256"], m["mode"], m["size"], m["path"])
                for m in mlist)
j["payload_sha256"] = hashlib.sha256(lines.encode()).hexdigest()
set_data("TRIGGER.json", json.dumps(j, indent=2, sort_keys=True).encode())'
snapshot
( cd "$T" && "$NS" trigger verify "$TRIG" >/dev/null 2>&1 )
is "$?" 0 "consistent edit: without a registry the file alone verifies (the test edited it right)"
ns trigger verify "$TRIG"
is "$rc" 3 "consistent edit: trigger verify with the registry exits 3"
like "$err" "TRIGGER\.json was altered" "consistent edit: trigger verify says TRIGGER.json was altered"
run_window
refused "TRIGGER.json recomputed for an altered file" 3 "TRIGGER\.json was altered"
is "$(state_of 1)" returned "consistent edit: ENH-1 returned"

# (6d) as (6), with the spool configured through a symbolic link: the
# registry's record must still be found for the file `trigger verify` is
# given, whichever way its path is spelled
scene spool-link
case $TRIG in "$T/spool-link/"*) ;; *) exit 1 ;; esac
retar '
j = json.loads(member("TRIGGER.json")[1])
j["environment"] = "demo/production"
set_data("TRIGGER.json", json.dumps(j, indent=2, sort_keys=True).encode())'
snapshot
ns trigger verify "$TRIG"
is "$rc" 3 "spool via a link: trigger verify exits 3 for an edited TRIGGER.json"
like "$err" "TRIGGER\.json was altered" "spool via a link: trigger verify says TRIGGER.json was altered"
ns trigger verify "$T/home/spool/demo/model/ENH-1-r1.trigger"
is "$rc" 3 "spool via a link: trigger verify of the real path exits 3"
run_window
refused "spool via a link, TRIGGER.json edited" 3 "TRIGGER\.json was altered"

# (6c) the trigger replaced by a FIFO: refused, not waited on
scene
rm "$TRIG"
mkfifo "$TRIG"
snapshot
run_window
refused "trigger replaced by a FIFO" 3 "not a regular file"

# (7) a directory where the package puts a file
scene
mkdir "$T/site/root/lib/new.txt"
echo "inside" >"$T/site/root/lib/new.txt/inside.txt"
snapshot
run_window
refused "directory at an added file" 3 "not a regular file"
is "$(state_of 1)" returned "directory at an added file: ENH-1 returned"

# (7b) a directory where the package replaces a file
scene
rm "$T/site/root/lib/old.txt"
mkdir "$T/site/root/lib/old.txt"
snapshot
run_window
refused "directory at the replaced file" 3 "not a regular file"

# (7c) a FIFO at the replaced file: refused without opening it
scene
rm "$T/site/root/lib/old.txt"
mkfifo "$T/site/root/lib/old.txt"
snapshot
run_window
refused "FIFO at the replaced file" 3 "not a regular file"

# (7d) a regular file where the package needs a directory
scene
rm -rf "$T/site/root/lib"
echo "a file, not a directory" >"$T/site/root/lib"
snapshot
run_window
refused "file where a directory is needed" 3 "not a directory"

# (8) a hard link from outside to the replaced file: the migration may go
# on, but it must replace the name in the root, never write through the
# link into the file outside
scene
rm "$T/outside/old.txt"
ln "$T/site/root/lib/old.txt" "$T/outside/old.txt"
OUT_BEFORE=$(sha "$T/outside/old.txt")
run_window
is "$rc" 0 "hard link from outside: migrated"
is "$(cat "$T/site/root/lib/old.txt")" "v2" "hard link from outside: the root has the new file"
is "$(sha "$T/outside/old.txt")" "$OUT_BEFORE" "hard link from outside: the outside file keeps its bytes"
is "$(state_of 1)" migrated "hard link from outside: ENH-1 migrated"

done_testing
