#!/bin/bash
# Signed triggers ([security] trigger-signing-key, trigger-verify-key).
# With a signing key every trigger nightshift writes carries TRIGGER.sig,
# the signature of its TRIGGER.json (which holds every payload hash);
# with a key to check them, a window runs only triggers signed by it. An
# edit made consistent everywhere — the payload, TRIGGER.json and the
# registry's record of its hash — is refused without the private key; so
# is an unsigned trigger and one signed by another key; a key that cannot
# be used stops schedule or the window before anything is written. Keys
# are made with the openssl command, and their ids checked against it.
. "$(dirname "$0")/lib.sh"

R=$T/site/root
ns_home
mkdir -p "$R/lib" "$T/keys"
echo "v1" >"$R/lib/app.conf"
keypair() { # NAME [ALGORITHM-OPTIONS…]: keys/NAME.pem (0600) and keys/NAME.pub
	local name=$1
	shift
	[ $# -gt 0 ] || set -- -algorithm ed25519
	(umask 077 && openssl genpkey "$@" -out "$T/keys/$name.pem" 2>/dev/null) &&
		openssl pkey -in "$T/keys/$name.pem" -pubout -out "$T/keys/$name.pub" 2>/dev/null ||
		{ echo "Bail out! openssl cannot make a key"; exit 1; }
}
key_id() { # PUB → SHA256:<sha256 of the public key's DER>, as openssl sees it
	echo "SHA256:$(openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -c1-64)"
}
n=0
pkg() { # → ENH-n submitted and approved, replacing lib/app.conf with $1
	n=$((n + 1))
	rm -rf "$T/p$n"
	make_pkg "$T/p$n" "change $n"
	mkdir -p "$T/p$n/files/lib"
	echo "$1" >"$T/p$n/files/lib/app.conf"
	"$NS" submit "$T/p$n" >/dev/null 2>&1 || echo "submit failed"
	"$NS" --as quinn qa approve "ENH-$n" >/dev/null 2>&1
}
security() { # KEY = VALUE lines for [security], replacing earlier ones
	sed -i '/^ *trigger-\(signing\|verify\)-key/d' nightshift.conf
	for line in "$@"; do
		sed -i "/^\[security\]/a\    $line" nightshift.conf
	done
}
members() { tar -tf "$1" 2>/dev/null | head -n 3 | tr '\n' ' '; }

keypair ops
keypair other
keypair rsa -algorithm rsa -pkeyopt rsa_keygen_bits:2048
OPS=$(key_id "$T/keys/ops.pub")

# ---- signed at schedule, checked at the window -----------------------------
security "trigger-signing-key = $T/keys/ops.pem"
pkg "v2"
ns schedule ENH-1 --env model
is "$rc" 0 "with trigger-signing-key, schedule: exit 0"
TRIG=$out
is "$(members "$TRIG")" "TRIGGER.json TRIGGER.sig payload/enhancement.ini " \
	"the trigger holds TRIGGER.sig right after TRIGGER.json"
ns trigger verify "$TRIG"
is "$rc" 0 "trigger verify: exit 0"
like "$out" "^signed by key $OPS \(\[security\] trigger-signing-key\)\$" \
	"… signed by the key openssl names $OPS"
( cd "$T" && "$NS" trigger verify "$TRIG" --key "$T/keys/ops.pub" >"$T/o" 2>&1 )
is "$?:$(tail -n 1 "$T/o")" "0:signed by key $OPS (--key)" \
	"trigger verify --key PUB, where there is no configuration: checked"
( cd "$T" && "$NS" trigger verify "$TRIG" --key "$T/keys/other.pub" >"$T/o" 2>&1 )
is "$?" 3 "trigger verify --key with another key: exit 3"
like "$(cat "$T/o")" "signed by key $OPS, not by $(key_id "$T/keys/other.pub") \(--key\)" \
	"… naming both keys"
ns window run --now
is "$rc:$(cat "$R/lib/app.conf"):$(state_of ENH-1)" "0:v2:migrated" \
	"the signed trigger migrates (checked against the public half of the signing key)"

# ---- a consistent edit, the registry's record included ----------------------
# Someone who can write the spool and the registry, but has not the
# private key: the payload file, its member hash, the payload digest and
# the registry's hash of TRIGGER.json are all made to agree
pkg "v3"
TRIG=$("$NS" schedule ENH-2 --env model)
retar_file "$TRIG" '
evil = b"evil\n"
set_data("payload/files/lib/app.conf", evil)
j = json.loads(member("TRIGGER.json")[1])
for m in j["members"]:
    if m["path"] == "files/lib/app.conf":
        m["sha256"] = hashlib.sha256(evil).hexdigest()
        m["size"] = len(evil)
lines = "".join("%s %04o %d %s\n" % (m["sha256"], m["mode"], m["size"], m["path"])
                for m in j["members"])
j["payload_sha256"] = hashlib.sha256(lines.encode()).hexdigest()
set_data("TRIGGER.json", json.dumps(j, indent=2, sort_keys=True).encode())'
JSHA=$(tar -xOf "$TRIG" TRIGGER.json 2>/dev/null | sha256sum | cut -c1-64)
PSHA=$(tar -xOf "$TRIG" TRIGGER.json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["payload_sha256"])')
sqlite3 nightshift.db "UPDATE triggers SET json_sha256 = '$JSHA', payload_sha256 = '$PSHA' WHERE enhancement = 2"
( cd "$T" && "$NS" trigger verify "$TRIG" >/dev/null 2>&1 )
is "$?" 0 "the edit is consistent: without a key the file alone verifies"
security
ns trigger verify "$TRIG"
is "$rc" 0 "… and without signing configured, the registry agrees with it too (the edit is complete)"
security "trigger-signing-key = $T/keys/ops.pem"
ns trigger verify "$TRIG"
is "$rc" 3 "with the key: trigger verify exits 3"
like "$err" "TRIGGER\.sig: the signature does not match TRIGGER\.json: the trigger was altered after it was signed" \
	"… the signature does not match"
ns window run --now
is "$rc" 3 "the window refuses it: exit 3"
like "$err" "ENH-2 r1 refused: .*the signature does not match TRIGGER\.json" "… saying why"
is "$(cat "$R/lib/app.conf"):$(state_of ENH-2)" "v2:returned" "… the site is unchanged, ENH-2 returned"

# ---- a key that only checks; an unsigned trigger; another key ---------------
# the window machine has the public key alone: what it did not sign
# itself must be signed by that key
security
pkg "v4"
TRIG=$("$NS" schedule ENH-3 --env model)
is "$(members "$TRIG" | cut -d' ' -f2)" "payload/enhancement.ini" "without a signing key the trigger is not signed"
ns trigger verify "$TRIG"
is "$out" "$TRIG: OK — ENH-3 r1 for demo/model, 2 payload members, payload sha256 $(tar -xOf "$TRIG" TRIGGER.json 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["payload_sha256"])')
not signed" "trigger verify says it is not signed"
security "trigger-verify-key = $T/keys/ops.pub"
ns window run --now
is "$rc" 3 "with trigger-verify-key, an unsigned trigger: exit 3"
like "$err" "the trigger is not signed, and \[security\] trigger-verify-key asks for a signature by key $OPS" \
	"… the message names the setting and the key"
is "$(cat "$R/lib/app.conf"):$(state_of ENH-3)" "v2:returned" \
	"… the site is unchanged, and ENH-3 returns to its developer as a tampered trigger's does"

security "trigger-signing-key = $T/keys/other.pem"
pkg "v5"
TRIG=$("$NS" schedule ENH-4 --env model)
security "trigger-verify-key = $T/keys/ops.pub"
ns window run --now
is "$rc" 3 "a trigger signed by another key: exit 3"
like "$err" "signed by key $(key_id "$T/keys/other.pub"), not by $OPS \(\[security\] trigger-verify-key\)" \
	"… naming both keys"
is "$(cat "$R/lib/app.conf")" "v2" "… and the site is unchanged"

# RSA signs too (over SHA-256); signing and checking keys in one file
security "trigger-signing-key = $T/keys/rsa.pem" "trigger-verify-key = $T/keys/rsa.pub"
pkg "v6"
"$NS" schedule ENH-5 --env model >/dev/null
ns window run --now
is "$rc:$(cat "$R/lib/app.conf"):$(state_of ENH-5)" "0:v6:migrated" "an RSA key signs and checks"

# ---- keys that cannot be used ------------------------------------------------
pkg "v7"
chmod 0644 "$T/keys/ops.pem"
security "trigger-signing-key = $T/keys/ops.pem"
ns schedule ENH-6 --env model
is "$rc" 3 "a private key others may read: schedule exits 3"
like "$err" "\[security\] trigger-signing-key: the private key '.*ops\.pem' may be read by others \(mode 0644\): \`chmod 600\` it" \
	"… naming the file and its mode"
is "$(state_of ENH-6):$(ls "$T/home/spool/demo/model" | grep -c 'ENH-6')" "qa-approved:0" \
	"… nothing written: still approved, no trigger"
chmod 0600 "$T/keys/ops.pem"
echo "not a key" >"$T/keys/junk.pem"
chmod 0600 "$T/keys/junk.pem"
security "trigger-signing-key = $T/keys/junk.pem"
ns schedule ENH-6 --env model
is "$rc" 3 "a signing key file that holds no key: exit 3"
like "$err" "trigger-signing-key: '.*junk\.pem' holds no PEM private key" "… saying so"
# an encrypted key is not read: nobody is at the keyboard to type its
# passphrase (and nightshift must not ask for one on a terminal)
(umask 077 && openssl genpkey -algorithm ed25519 -aes-256-cbc -pass pass:secret \
	-out "$T/keys/locked.pem" 2>/dev/null)
security "trigger-signing-key = $T/keys/locked.pem"
ns schedule ENH-6 --env model </dev/null
like "$rc:$err" "^3:.*'.*locked\.pem' holds no PEM private key, or one encrypted with a passphrase" \
	"a key encrypted with a passphrase: exit 3, without asking for it"
# … also when it runs on a terminal (script(1) gives it one): it must not
# stop to ask (a prompt would wait here until the timeout kills it)
out=$(timeout 20 script -qec "'$NS' schedule ENH-6 --env model" /dev/null </dev/null 2>&1)
rc=$?
like "$rc:$out" "^3:.*locked\.pem' holds no PEM private key, or one encrypted with a passphrase" \
	"… on a terminal too: exit 3 at once, no passphrase asked"
unlike "$out" "[Pp]ass ?phrase:" "… and no prompt written to the terminal"
(umask 077 && openssl genpkey -algorithm x25519 -out "$T/keys/x.pem" 2>/dev/null)
security "trigger-signing-key = $T/keys/x.pem"
ns schedule ENH-6 --env model
like "$rc:$err" "^3:.*'.*x\.pem' holds a key of type X25519, which does not sign" "an X25519 key: exit 3, it does not sign"
security "trigger-signing-key = $T/keys/ops.pem"
ns schedule ENH-6 --env model
is "$rc" 0 "with the key usable again, schedule signs"
security "trigger-verify-key = $T/keys/missing.pub"
ns window run --now
is "$rc" 3 "a verify key that is not there: the window exits 3"
like "$err" "\[security\] trigger-verify-key: cannot read '.*missing\.pub': No such file or directory" \
	"… naming the setting and the file"
is "$(state_of ENH-6):$(cat "$R/lib/app.conf")" "scheduled:v6" \
	"… and no trigger was touched: ENH-6 still scheduled, the site unchanged"
security "trigger-verify-key = $T/keys/ops.pub"
ns window run --now
is "$rc:$(cat "$R/lib/app.conf"):$(state_of ENH-6)" "0:v7:migrated" "once the key is there, ENH-6 migrates"

done_testing
