#!/bin/bash
# Hostile packages given to `nightshift submit`, as a directory and as a
# .tar: every one is refused with exit 3 and a message naming the fault,
# before anything is stored (no enhancement in the registry, no file in
# store/), and nothing outside the package is touched — neither a canary
# file the package aims at nor the target root. A good package at the end
# is accepted, so the refusals are not a broken submit.
. "$(dirname "$0")/lib.sh"

ns_home
cat >>nightshift.conf <<'CONF'
[limits]
    max-file-size = 1K
    max-files = 3
    max-total-size = 2K
    max-path = 64
CONF

mkdir -p "$T/site/root/lib"
echo "tax = 19" >"$T/site/root/lib/tax.conf"
echo "keep" >"$T/site/root/keep.txt"
echo "do not touch" >"$T/canary"
chmod 0644 "$T/canary"

canary_state() {
	stat -c '%F %a %s %i %u:%g' "$T/canary" 2>&1
	sha256sum <"$T/canary" 2>&1
}
CANARY=$(canary_state)
ROOT=$(tree_hash "$T/site/root")

# a tar from a spec on stdin, one member a line, fields split by '|':
#   f|NAME|DATA[|MODE]   regular file (DATA: python escapes; @PATH reads PATH)
#   d|NAME               directory
#   l|NAME|TARGET        symbolic link        h|NAME|TARGET   hard link
#   p|NAME               FIFO                 c|NAME  b|NAME  devices
#   x|NAME|PAXPATH|DATA  a file whose pax 'path' header says PAXPATH
cat >"$T/mktar.py" <<'PY'
import codecs, io, sys, tarfile
out = sys.argv[1]
fmt = tarfile.GNU_FORMAT if len(sys.argv) > 2 and sys.argv[2] == "gnu" \
    else tarfile.PAX_FORMAT
with tarfile.open(out, "w", format=fmt) as t:
    for line in sys.stdin.read().splitlines():
        if not line:
            continue
        f = line.split("|")
        kind, name = f[0], f[1]
        ti = tarfile.TarInfo(name)
        ti.mtime = 0
        data = None
        if kind in ("f", "x"):
            raw = f[3] if kind == "x" else f[2]
            if raw.startswith("@"):
                data = open(raw[1:], "rb").read()
            else:
                data = codecs.decode(raw, "unicode_escape").encode("latin-1")
            ti.size = len(data)
            ti.mode = int(f[3], 8) if kind == "f" and len(f) > 3 else 0o644
            if kind == "x":
                ti.pax_headers = {"path": f[2]}
        elif kind == "d":
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        elif kind == "l":
            ti.type, ti.linkname = tarfile.SYMTYPE, f[2]
        elif kind == "h":
            ti.type, ti.linkname = tarfile.LNKTYPE, f[2]
        elif kind == "p":
            ti.type = tarfile.FIFOTYPE
        elif kind in ("c", "b"):
            ti.type = tarfile.CHRTYPE if kind == "c" else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = 1, 3
        else:
            sys.exit("bad spec line: " + line)
        t.addfile(ti, io.BytesIO(data) if data is not None else None)
PY
mktar() { python3 "$T/mktar.py" "$@" || exit 1; } # OUT [gnu] <spec

INI='[enhancement]\ntitle = hostile\nsystem = demo\n'

# a directory package that would be fine: the cases spoil one thing each
goodpkg() { # DIR
	rm -rf "$1"
	make_pkg "$1" "hostile"
	mkdir -p "$1/files/lib"
	echo "tax = 21" >"$1/files/lib/tax.conf"
}

stored() { find "$T/home/store" -mindepth 1 2>&1; }
enhancements() {
	"$NS" status --json 2>&1 |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin)["enhancements"]))' 2>&1
}

# submit PATH must be refused; PATTERN (grep -E) must be in stderr
refused() { # LABEL PATH PATTERN
	ns submit "$2"
	is "$rc" 3 "$1: exit 3"
	like "$err" "$3" "$1: stderr names the fault ($3)"
	is "$(enhancements)" 0 "$1: no enhancement registered"
	is "$(stored)" "" "$1: nothing in store/"
	is "$(canary_state)" "$CANARY" "$1: canary untouched"
	is "$(tree_hash "$T/site/root")" "$ROOT" "$1: target root unchanged"
}

P=$T/pkgs
mkdir -p "$P"

# ---- kinds of file, as a directory --------------------------------------

goodpkg "$P/dsym"
ln -s "$T/canary" "$P/dsym/files/lib/tax.conf.link"
refused "dir: symlink to a file outside" "$P/dsym" "symbolic link"

goodpkg "$P/dsymdir"
ln -s "$T" "$P/dsymdir/files/www"
refused "dir: symlink to a directory outside" "$P/dsymdir" "symbolic link"

goodpkg "$P/dhard"
ln "$T/canary" "$P/dhard/files/lib/canary"
refused "dir: hard link to the canary" "$P/dhard" "hard link"

goodpkg "$P/dfifo"
mkfifo "$P/dfifo/files/lib/pipe"
refused "dir: FIFO" "$P/dfifo" "special file"

goodpkg "$P/dchr"
mknod "$P/dchr/files/lib/null" c 1 3
refused "dir: character device" "$P/dchr" "special file"

goodpkg "$P/dblk"
mknod "$P/dblk/files/lib/disk" b 7 0
refused "dir: block device" "$P/dblk" "special file"

goodpkg "$P/dsock"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' \
	"$P/dsock/files/lib/sock"
refused "dir: unix socket" "$P/dsock" "special file"

goodpkg "$P/dsuid"
chmod 4755 "$P/dsuid/files/lib/tax.conf"
refused "dir: setuid file" "$P/dsuid" "setuid"

goodpkg "$P/dsgid"
chmod 2755 "$P/dsgid/files/lib/tax.conf"
refused "dir: setgid file" "$P/dsgid" "setuid or setgid"

# ---- kinds of file and of name, as a tar --------------------------------

mktar "$P/tsym.tar" <<EOF
f|enhancement.ini|$INI
l|files/lib|$T
f|files/lib/canary|overwritten
EOF
refused "tar: symlink, then a file through it" "$P/tsym.tar" "symbolic link"

mktar "$P/thard.tar" <<EOF
f|enhancement.ini|$INI
h|files/lib/canary|$T/canary
EOF
refused "tar: hard link to an absolute path" "$P/thard.tar" "hard link"

mktar "$P/thard2.tar" <<EOF
f|enhancement.ini|$INI
f|files/a.txt|a
h|files/b.txt|files/a.txt
EOF
refused "tar: hard link inside the package" "$P/thard2.tar" "hard link"

mktar "$P/tfifo.tar" <<EOF
f|enhancement.ini|$INI
p|files/pipe
EOF
refused "tar: FIFO" "$P/tfifo.tar" "special file"

mktar "$P/tchr.tar" <<EOF
f|enhancement.ini|$INI
c|files/null
EOF
refused "tar: character device" "$P/tchr.tar" "special file"

mktar "$P/tblk.tar" <<EOF
f|enhancement.ini|$INI
b|files/disk
EOF
refused "tar: block device" "$P/tblk.tar" "special file"

mktar "$P/tsuid.tar" <<EOF
f|enhancement.ini|$INI
f|files/bin/tool|#!/bin/sh\n|4755
EOF
refused "tar: setuid file" "$P/tsuid.tar" "setuid"

mktar "$P/tsgid.tar" <<EOF
f|enhancement.ini|$INI
f|files/bin/tool|#!/bin/sh\n|2755
EOF
refused "tar: setgid file" "$P/tsgid.tar" "setuid or setgid"

mktar "$P/tabs.tar" <<EOF
f|enhancement.ini|$INI
f|$T/canary|overwritten
EOF
refused "tar: absolute path" "$P/tabs.tar" "absolute path"

mktar "$P/tdotdot.tar" <<EOF
f|enhancement.ini|$INI
f|files/../../canary|overwritten
EOF
refused "tar: '..' component" "$P/tdotdot.tar" "'\.\.' component"

mktar "$P/tdotdot2.tar" <<EOF
f|enhancement.ini|$INI
f|./files/lib/../../../../canary|overwritten
EOF
refused "tar: './' prefix and '..' further on" "$P/tdotdot2.tar" "'\.\.' component"

mktar "$P/tpax.tar" <<EOF
f|enhancement.ini|$INI
x|files/innocent.txt|files/../../canary|overwritten
EOF
refused "tar: pax path header with '..'" "$P/tpax.tar" "'\.\.' component"

mktar "$P/tpaxabs.tar" <<EOF
f|enhancement.ini|$INI
x|files/innocent.txt|$T/canary|overwritten
EOF
refused "tar: pax path header absolute" "$P/tpaxabs.tar" "absolute path"

mktar "$P/tgnu.tar" gnu <<EOF
f|enhancement.ini|$INI
f|files/$(printf 'a%.0s' $(seq 1 120))/../../../canary|overwritten
EOF
refused "tar: GNU long name with '..'" "$P/tgnu.tar" "'\.\.' component"

mktar "$P/tname.tar" <<EOF
f|enhancement.ini|$INI
f|files/$(printf 'n%.0s' $(seq 1 300))|x
EOF
refused "tar: a name over 255 bytes" "$P/tname.tar" "name too long"

# names are UTF-8 text without control characters: they go into
# TRIGGER.json, the journal, logs and mail (and a terminal escape in a
# message must not reach the operator's terminal)
goodpkg "$P/dlatin1"
echo "x" >"$P/dlatin1/files/caf$(printf '\351').txt"
refused "dir: a file name not in UTF-8" "$P/dlatin1" 'caf\\xe9\.txt: not valid UTF-8'

mktar "$P/tesc.tar" <<EOF
f|enhancement.ini|$INI
f|files/a$(printf '\033')[2Jb.txt|x
EOF
refused "tar: a terminal escape in a name" "$P/tesc.tar" 'a\\x1b\[2Jb\.txt: control character'

# U+009B, valid UTF-8, is an escape to some terminals too (C1 control)
goodpkg "$P/dc1"
echo "x" >"$P/dc1/files/a$(printf '\302\233')2Jb.txt"
refused "dir: a C1 control character in a name" "$P/dc1" 'a\\xc2\\x9b2Jb\.txt: control character'

mktar "$P/tdup.tar" <<EOF
f|enhancement.ini|$INI
f|files/lib/tax.conf|tax = 21\n
f|files/lib/tax.conf|tax = 99\n
EOF
refused "tar: duplicate path" "$P/tdup.tar" "duplicate path"

mktar "$P/tdupini.tar" <<EOF
f|enhancement.ini|$INI
f|enhancement.ini|[enhancement]\ntitle = other\n
EOF
refused "tar: enhancement.ini twice" "$P/tdupini.tar" "duplicate path"

mktar "$P/tclash.tar" <<EOF
f|enhancement.ini|$INI
f|files/lib|a file
f|files/lib/tax.conf|tax = 21\n
EOF
refused "tar: a path both file and directory" "$P/tclash.tar" "both a file and a directory"

mktar "$P/tclash2.tar" <<EOF
f|enhancement.ini|$INI
d|files/lib
f|files/lib|a file
EOF
refused "tar: a directory member and a file member" "$P/tclash2.tar" "both a file and a directory"

printf 'this is not a tar archive, just some text that goes on\n%.0s' \
	$(seq 1 40) >"$P/garbage.tar"
refused "tar: garbage" "$P/garbage.tar" "not a readable tar"

mktar "$P/whole.tar" <<EOF
f|enhancement.ini|$INI
f|files/big.txt|@$T/site/root/lib/tax.conf
f|files/more.txt|$(printf 'z%.0s' $(seq 1 900))
EOF
head -c 3000 "$P/whole.tar" >"$P/truncated.tar"
refused "tar: truncated inside a member" "$P/truncated.tar" "not a readable tar"

# ---- caps ([limits] in nightshift.conf) ---------------------------------

goodpkg "$P/dbig"
head -c 1025 /dev/zero | tr '\0' x >"$P/dbig/files/lib/big"
refused "dir: a file over max-file-size" "$P/dbig" "exceeds max-file-size"

mktar "$P/tbig.tar" <<EOF
f|enhancement.ini|$INI
f|files/big|$(printf 'x%.0s' $(seq 1 1025))
EOF
refused "tar: a file over max-file-size" "$P/tbig.tar" "exceeds max-file-size"

goodpkg "$P/dmany"
echo b >"$P/dmany/files/lib/b"
echo c >"$P/dmany/files/lib/c"
refused "dir: more files than max-files" "$P/dmany" "exceeds max-files"

goodpkg "$P/ddeep"
rm -f "$P/ddeep/files/lib/tax.conf"
mkdir -p "$P/ddeep/files/a/b/c"
echo x >"$P/ddeep/files/a/b/c/x"
refused "dir: more directories than max-files" "$P/ddeep" "exceeds max-files"

mktar "$P/tmany.tar" <<EOF
f|enhancement.ini|$INI
f|files/a|a
f|files/b|b
f|files/c|c
EOF
refused "tar: more files than max-files" "$P/tmany.tar" "exceeds max-files"

goodpkg "$P/dtotal"
rm -f "$P/dtotal/files/lib/tax.conf"
head -c 1024 /dev/zero | tr '\0' y >"$P/dtotal/files/lib/one"
head -c 1024 /dev/zero | tr '\0' z >"$P/dtotal/files/lib/two"
refused "dir: more bytes than max-total-size" "$P/dtotal" "exceeds max-total-size"

mktar "$P/ttotal.tar" <<EOF
f|enhancement.ini|$INI
f|files/one|$(printf 'y%.0s' $(seq 1 1024))
f|files/two|$(printf 'z%.0s' $(seq 1 1024))
EOF
refused "tar: more bytes than max-total-size" "$P/ttotal.tar" "exceeds max-total-size"

LONG=lib/$(printf 'p%.0s' $(seq 1 58)).txt # 66 bytes
goodpkg "$P/dpath"
echo x >"$P/dpath/files/$LONG"
rm -f "$P/dpath/files/lib/tax.conf"
refused "dir: a target path over max-path" "$P/dpath" "path too long"

mktar "$P/tpath.tar" <<EOF
f|enhancement.ini|$INI
f|files/$LONG|x
EOF
refused "tar: a target path over max-path" "$P/tpath.tar" "path too long"

goodpkg "$P/mpath"
printf '[files]\ndelete = %s\n' "$LONG" >>"$P/mpath/enhancement.ini"
refused "ini: a delete path over max-path" "$P/mpath" "path too long"

goodpkg "$P/mname"
printf '[files]\ndelete = lib/%s\n' "$(printf 'n%.0s' $(seq 1 300))" \
	>>"$P/mname/enhancement.ini"
refused "ini: a delete name over 255 bytes" "$P/mname" "name too long"

# ---- the package's layout -----------------------------------------------

goodpkg "$P/noini"
rm "$P/noini/enhancement.ini"
refused "dir: no enhancement.ini" "$P/noini" "missing enhancement\.ini"

mktar "$P/tnoini.tar" <<EOF
d|pkg
d|pkg/files
f|pkg/files/a.txt|a
EOF
refused "tar: no enhancement.ini" "$P/tnoini.tar" "missing enhancement\.ini"

goodpkg "$P/dextra"
echo "read me" >"$P/dextra/README"
refused "dir: an unexpected top-level file" "$P/dextra" "unexpected entry"

goodpkg "$P/dsqlx"
mkdir -p "$P/dsqlx/sql"
echo "DROP TABLE customers;" >"$P/dsqlx/sql/cleanup.sql"
refused "dir: an unknown sql/ script" "$P/dsqlx" "unexpected entry"

mktar "$P/textra.tar" <<EOF
f|enhancement.ini|$INI
f|.hidden|x
EOF
refused "tar: an unexpected top-level file" "$P/textra.tar" "unexpected entry"

goodpkg "$P/dinidir"
rm "$P/dinidir/enhancement.ini"
mkdir "$P/dinidir/enhancement.ini"
refused "dir: enhancement.ini is a directory" "$P/dinidir" "dinidir/enhancement\.ini: unexpected entry"

goodpkg "$P/ddeploy"
mkdir -p "$P/ddeploy/sql"
echo "DELETE FROM customers;" >"$P/ddeploy/sql/deploy.sql"
refused "dir: deploy without revert" "$P/ddeploy" "sql/deploy\.sql without sql/revert\.sql"

# the SQL is text too: the revert script goes into the archive's plan.json
# for a later rollback, which holds UTF-8 only
make_pkg "$P/dsql8" "hostile"
mkdir -p "$P/dsql8/sql"
echo "CREATE TABLE t(x);" >"$P/dsql8/sql/deploy.sql"
printf -- '-- caf\351\nDROP TABLE t;\n' >"$P/dsql8/sql/revert.sql"
refused "dir: revert.sql not in UTF-8" "$P/dsql8" "dsql8/sql/revert\.sql:1: not valid UTF-8"

mktar "$P/tsql8.tar" <<EOF
f|enhancement.ini|$INI
f|sql/deploy.sql|CREATE TABLE t(x);\n\nSELECT 1;\x00\n
f|sql/revert.sql|DROP TABLE t;\n
EOF
refused "tar: a NUL byte in deploy.sql" "$P/tsql8.tar" "tsql8\.tar:sql/deploy\.sql:3: NUL byte"

# ---- enhancement.ini ----------------------------------------------------

manifest() { # NAME, the ini on stdin
	goodpkg "$P/$1"
	cat >"$P/$1/enhancement.ini"
}

printf '[enhancement]\ntitle = x\nsystem = demo\n[files]\ndelete = lib/a\0b.txt\n' |
	manifest nul
refused "ini: NUL byte in a delete path" "$P/nul" "NUL byte"

printf '[enhancement]\ntitle = x\0\nsystem = demo\n' | manifest nul2
refused "ini: NUL byte in the title" "$P/nul2" "NUL byte"

printf '[enhancement]\ntitle = caf\351\nsystem = demo\n' | manifest latin1
refused "ini: a title not in UTF-8" "$P/latin1" "enhancement\.ini:2: not valid UTF-8"

printf '[enhancement]\nsystem = demo\nauthor = eve\n' | manifest notitle
refused "ini: no title" "$P/notitle" "missing 'title'"

printf '[enhancement]\ntitle = x\nsystem = demo\nthis line has no equals sign\n' |
	manifest syntax
refused "ini: a line that is not key = value" "$P/syntax" "syntax error"

printf '[enhancement\ntitle = x\nsystem = demo\n' | manifest syntax2
refused "ini: an unclosed section header" "$P/syntax2" "syntax error"

printf '[enhancement]\ntitle = x\nsystem = demo\n[hooks]\npre = rm -rf /\n' |
	manifest section
refused "ini: unknown section" "$P/section" "unknown section"

printf '[enhancement]\ntitle = x\nsystem = demo\n[evil]\n' | manifest section2
refused "ini: unknown section without keys" "$P/section2" "unknown section"

printf '[enhancement]\ntitle = x\nsystem = demo\ncolour = red\n' | manifest key
refused "ini: unknown key" "$P/key" "unknown key"

printf 'title = x\n[enhancement]\nsystem = demo\n' | manifest key2
refused "ini: a key outside any section" "$P/key2" "unknown key"

printf '[enhancement]\ntitle = x\nsystem = demo\ntitle = y\n' | manifest dupkey
refused "ini: duplicate key" "$P/dupkey" "duplicate key"

printf '[enhancement]\ntitle = x\nsystem = demo\n[verify]\ncommand = true\n[verify]\ncommand = rm -rf /\n' |
	manifest dupkey2
refused "ini: duplicate key in a repeated section" "$P/dupkey2" "duplicate key"

printf '[enhancement]\ntitle = x\nsystem = demo\n[files]\nbase = lib/tax.conf nothex\n' |
	manifest base
refused "ini: a base without a hash" "$P/base" "\[files\] base: expected PATH SHA256"

printf '[enhancement]\ntitle = x\nsystem = demo\n[files]\nbase = %s\n' \
	"$(sha "$T/site/root/lib/tax.conf")" | manifest base2
refused "ini: a base without a path" "$P/base2" "\[files\] base: expected PATH SHA256"

printf '[enhancement]\ntitle = x\nsystem = demo\n[files]\ndelete = lib/tax.conf\n' |
	manifest both
refused "ini: a path both replaced and deleted" "$P/both" "both replaced and deleted"

printf '[enhancement]\ntitle = x\nsystem = demo\n[files]\ndelete = lib\n' |
	manifest below
refused "ini: a directory deleted with a file put below it" "$P/below" \
	"\[files\] delete 'lib': the package puts 'files/lib/tax\.conf' below it"

printf '[enhancement]\ntitle = x\nsystem = demo\n[files]\nbase = keep.txt %s\n' \
	"$(sha "$T/site/root/keep.txt")" | manifest untouched
refused "ini: a base for an untouched path" "$P/untouched" "base for a path the enhancement does not touch"

printf '[enhancement]\ntitle = x\nsystem = nosuch\n' | manifest system
refused "ini: unknown system" "$P/system" "unknown system"

# a tar's members are named SRC:MEMBER (package.h): SRC/MEMBER is no file
mktar "$P/tsystem.tar" <<EOF
f|enhancement.ini|[enhancement]\ntitle = x\nsystem = nosuch\n
EOF
refused "tar: unknown system, named as a tar member" "$P/tsystem.tar" \
	"tsystem\.tar:enhancement\.ini: .*unknown system 'nosuch'"

printf '[enhancement]\ntitle = x\nsystem = demo\n[files]\ndelete = /etc/passwd\n' |
	manifest mabs
refused "ini: an absolute delete path" "$P/mabs" "absolute path"

printf '[enhancement]\ntitle = x\nsystem = demo\n[files]\ndelete = lib/../../canary\n' |
	manifest mdotdot
refused "ini: a delete path with '..'" "$P/mdotdot" "'\.\.' component"

printf '[enhancement]\ntitle = x\nsystem = demo\n[files]\nbase = ../canary %s\n' \
	"$(sha "$T/canary")" | manifest mbasedot
refused "ini: a base path with '..'" "$P/mbasedot" "'\.\.' component"

printf '[enhancement]\ntitle = x\nsystem = demo\n[files]\ndelete = lib/a\ndelete = lib/a\n' |
	manifest mdupdel
refused "ini: the same delete twice" "$P/mdupdel" "duplicate path"

# ---- not a package at all ----------------------------------------------

# the FIFO must be refused, not read (a read would hang: hence timeout)
mkfifo "$P/fifo.tar"
printf '#!/bin/sh\nexec timeout 10 "%s" "$@"\n' "$NS" >"$T/ns-timeout"
chmod +x "$T/ns-timeout"
REAL_NS=$NS
NS=$T/ns-timeout
refused "a FIFO named .tar" "$P/fifo.tar" "fifo\.tar: not a directory or a \.tar"
NS=$REAL_NS

# ---- and a good one is accepted -----------------------------------------

goodpkg "$P/good"
printf '[files]\nbase = lib/tax.conf %s\n' "$(sha "$T/site/root/lib/tax.conf")" \
	>>"$P/good/enhancement.ini"
ns submit "$P/good"
is "$rc" 0 "good package: exit 0"
is "$(printf '%s\n' "$out" | head -n 1)" "ENH-1" "good package: ENH-1 on the first line"
is "$(enhancements)" 1 "good package: registered"
is "$(find "$T/home/store" -type f | wc -l)" 1 "good package: one payload in store/"
is "$(canary_state)" "$CANARY" "good package: canary untouched"
is "$(tree_hash "$T/site/root")" "$ROOT" "good package: target root unchanged by submit"

done_testing
