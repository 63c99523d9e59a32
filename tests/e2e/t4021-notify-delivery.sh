#!/bin/bash
# Notices leave the outbox by SMTP and webhook, to real servers: an
# aiosmtpd server (AUTH required) and an HTTP receiver, both started here
# on free ports. What they received is checked: envelope and headers, the
# body, the JSON event and its HMAC-SHA256 signature (verified with
# Python's hmac). With the mail server down the message waits in the
# outbox with its next attempt and is delivered once the server is back;
# a refused message (SMTP 550, HTTP 500) is retried, never lost. Bad
# [notify] values are refused naming file:line.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# the sinks go with the test, whatever way it ends
trap 'kill $(cat "$T"/*/pid 2>/dev/null) 2>/dev/null; cd /; chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT

start() { # KIND DIR [ARGS…] — a sink in the background; its port on stdout
	local kind=$1 dir=$2 i
	shift 2
	mkdir -p "$dir"
	rm -f "$dir/port"
	/usr/bin/python3 "$HERE/$kind.py" "$dir" "$@" >>"$T/sinks.log" 2>&1 &
	echo "$!" >"$dir/pid"
	for i in $(seq 100); do
		[ -s "$dir/port" ] && { cat "$dir/port"; return 0; }
		sleep 0.1
	done
	echo "Bail out! $kind did not start: $(cat "$T/sinks.log")"
	exit 1
}
stop() { # DIR — and wait until its port is closed
	kill "$(cat "$1/pid")"
	while kill -0 "$(cat "$1/pid")" 2>/dev/null; do sleep 0.1; done
	rm -f "$1/pid"
}
at() { python3 -c 'import sys,time; print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + int(sys.argv[1]))))' "$1"; }
waiting() { find "$T/home/outbox" -maxdepth 1 -name '*.msg' | wc -l; }
mails() { find "$T/mail" -name '*.eml' | wc -l; }
hooks() { find "$T/hook" -name '*.json' | wc -l; }
# the header NAME of mail N, as Python's email parser reads it
mail_header() { python3 -c 'import email,sys; m=email.message_from_binary_file(open(sys.argv[1],"rb")); print(m[sys.argv[2]] or "")' "$T/mail/$1.eml" "$2"; }
hook_field() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps(json.loads(r["body"])[sys.argv[2]]))' "$T/hook/$1.json" "$2"; }

ns_home
SP=$(start mailsink "$T/mail" 0 nsmail:pa55word) || { echo "$SP"; exit 1; }
HP=$(start hooksink "$T/hook") || { echo "$HP"; exit 1; }
echo pa55word >"$T/smtp-password"
echo 'hook secret' >"$T/hook-secret"
cat >>nightshift.conf <<CONF
[notify]
    smtp = smtp://127.0.0.1:$SP
    webhook = http://127.0.0.1:$HP/nightshift
    domain = example.org
    from = changes@example.org
    smtp-user = nsmail
    smtp-password-file = $T/smtp-password
    webhook-secret-file = $T/hook-secret
CONF

# ---- a notice is delivered right after the command wrote it ------------
P=$T/p1
make_pkg "$P" "Tariffs"
echo v1 >"$P/files/a.txt"
ns --as dev1 submit "$P"
is "$rc" 0 "submit with both servers up: exit 0"
is "$(mails) $(hooks)" "1 1" "one mail and one webhook call arrived"
is "$(waiting)" 0 "the outbox holds nothing any more"
is "$(ls outbox/sent | grep -c 'submitted\.msg$')" 1 "the message is kept in outbox/sent/"
is "$(cat "$T/mail/001.rcpt")" "changes@example.org
quinn@example.org
alice@example.org
bob@example.org
cm@example.org" "envelope: from [notify] from, to QA and change management at [notify] domain"
is "$(mail_header 001 From)" "nightshift <changes@example.org>" "From: header"
is "$(mail_header 001 To | tr -d '\r\n\t ')" "quinn@example.org,alice@example.org,bob@example.org,cm@example.org" "To: header names the recipients"
is "$(mail_header 001 Subject)" "[nightshift] ENH-1 r1 submitted: Tariffs" "Subject: header"
like "$(mail_header 001 Date)" '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} 20[0-9]{2} [0-9:]{8} \+0000$' "Date: header in RFC 5322 form"
like "$(mail_header 001 Message-ID)" '^<[0-9T]+-[0-9]+-[0-9]+-submitted@example\.org>$' "Message-ID: header"
BODY=$(python3 -c 'import email,sys; print(email.message_from_binary_file(open(sys.argv[1],"rb")).get_payload())' "$T/mail/001.eml")
like "$BODY" "ENH-1 r1 \(Tariffs\) was submitted by dev1" "the body says what happened"
like "$BODY" "Outcome: submitted" "the body names the outcome"
like "$BODY" "nightshift log ENH-1" "the body says where to read the log"

H=$T/hook/001.json
is "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["path"], r["headers"]["content-type"], r["headers"]["x-nightshift-event"])' "$H")" \
	"/nightshift application/json submitted" "webhook: POST to the path, JSON, the event in a header"
is "$(hook_field 001 event) $(hook_field 001 enhancement) $(hook_field 001 revision) $(hook_field 001 outcome) $(hook_field 001 environment)" \
	'"submitted" "ENH-1" 1 "submitted" null' "JSON: event, enhancement, revision, outcome, environment"
like "$(hook_field 001 subject)" "ENH-1 r1 submitted: Tariffs" "JSON: subject"
like "$(hook_field 001 body)" "nightshift log ENH-1" "JSON: body"
like "$(hook_field 001 time)" '^"20[0-9-]{8}T[0-9:]{8}Z"$' "JSON: time"
is "$(python3 -c '
import hmac, hashlib, json, sys
r = json.load(open(sys.argv[1]))
want = "sha256=" + hmac.new(b"hook secret", r["body"].encode(), hashlib.sha256).hexdigest()
print("verified" if hmac.compare_digest(want, r["headers"]["x-nightshift-signature"]) else "bad: " + r["headers"]["x-nightshift-signature"])' "$H")" \
	verified "X-Nightshift-Signature verifies with the secret (python hmac)"

# a notice of an environment: a window with nothing due
ns window run --now
is "$(hooks)" 2 "the no-trigger notice reached the webhook"
is "$(hook_field 002 environment) $(hook_field 002 enhancement)" '"demo/model" null' "JSON names the environment"
is "$(cat "$T/mail/002.rcpt" | tail -n +2 | tr '\n' ' ')" "dan@example.org alice@example.org bob@example.org cm@example.org " \
	"mail to the DBA and change management"

# ---- the mail server is down ------------------------------------------
stop "$T/mail"
P=$T/p2
make_pkg "$P" "Second"
echo v2 >"$P/files/b.txt"
ns --as dev2 submit "$P"
is "$rc" 0 "submit with the mail server down: exit 0 all the same"
is "$(waiting)" 1 "the message waits in the outbox"
is "$(hooks)" 3 "the webhook got it"
ns notify list --json
is "$(printf '%s' "$out" | python3 -c '
import json, sys
m = json.load(sys.stdin)[0]
t = {x["transport"]: x for x in m["transports"]}
print(m["event"], t["smtp"]["state"], t["smtp"]["attempts"], t["smtp"]["next"] is not None, t["webhook"]["state"])')" \
	"submitted pending 1 True accepted" "notify list: SMTP pending after 1 attempt with a next time, webhook accepted"
ns notify list
like "$out" "smtp: pending, 1 attempt, next 20.*Z: SMTP smtp://127\.0\.0\.1:$SP" "notify list says why it waits"
ns notify deliver
is "$rc" 0 "notify deliver before the next attempt is due: exit 0"
like "$out" "0 sent, 1 waiting" "it says one message waits"

R=$(start mailsink "$T/mail" "$SP" nsmail:pa55word) || { echo "$R"; exit 1; }
ns notify deliver
is "$(mails)" 2 "nothing sent before the next attempt time"
NIGHTSHIFT_NOW=$(at 300) ns notify deliver --json
is "$rc" 0 "notify deliver once due and the server is back: exit 0"
is "$(printf '%s' "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["sent"], r["accepted"], r["failed"], r["waiting"])')" \
	"1 1 0 0" "--json: one sent, one acceptance, no failure, nothing waits"
is "$(mails) $(hooks) $(waiting)" "3 3 0" "the mail arrived, the webhook was not called twice, the outbox is empty"
like "$(mail_header 003 Subject)" "ENH-2 r1 submitted" "the delivered mail is ENH-2's"

# ---- refused: SMTP 550 and HTTP 500 ---------------------------------
touch "$T/mail/REJECT"
echo 500 >"$T/hook/STATUS"
P=$T/p3
make_pkg "$P" "Third"
echo v3 >"$P/files/c.txt"
ns --as dev2 submit "$P"
is "$rc" 0 "submit while both servers refuse: exit 0"
is "$(waiting)" 1 "the refused message waits"
NIGHTSHIFT_NOW=$(at 300) ns notify deliver
is "$rc" 1 "notify deliver with failures: exit 1"
like "$err" "smtp failed: .*550" "stderr names the SMTP refusal"
like "$err" "webhook failed: .*HTTP 500" "stderr names the HTTP status"
ns notify list --json
is "$(printf '%s' "$out" | python3 -c '
import json, sys, time, calendar
m = json.load(sys.stdin)[0]
t = {x["transport"]: x for x in m["transports"]}
print(t["smtp"]["attempts"], t["webhook"]["attempts"], t["smtp"]["state"])')" \
	"2 2 pending" "two attempts each, still pending"
rm "$T/mail/REJECT" "$T/hook/STATUS"
NIGHTSHIFT_NOW=$(at 3600) ns notify deliver
is "$rc" 0 "once the servers accept: exit 0"
is "$(waiting)" 0 "the outbox is empty"
like "$(mail_header 004 Subject)" "ENH-3 r1 submitted" "ENH-3's mail arrived"
is "$(hook_field 006 enhancement)" '"ENH-3"' "ENH-3's webhook call arrived (after two refused)"

# ---- a wrong password is a failure, and the message waits ------------
echo wrong >"$T/smtp-password"
P=$T/p4
make_pkg "$P" "Fourth"
echo v4 >"$P/files/d.txt"
ns --as dev2 submit "$P"
is "$(waiting)" 1 "with a wrong SMTP password the message waits"
NIGHTSHIFT_SMTP_PASSWORD=ignored-while-a-file-is-set ns notify list
like "$out" "smtp: pending, 1 attempt" "the failed attempt is recorded"
echo pa55word >"$T/smtp-password"

# ---- a damaged message stays for a person to look at ------------------
printf 'To: x\nno header here\n' >outbox/29991231T000000-1-000-broken.msg
NIGHTSHIFT_NOW=$(at 7200) ns notify deliver
is "$rc" 1 "a damaged message: notify deliver exits 1"
like "$err" "broken: unreadable: .*broken\.msg: malformed header line" "it names the file and what is wrong"
is "$(ls outbox/sent | grep -c 'submitted\.msg$') $(waiting)" "4 1" "the others were delivered all the same (ENH-4's too, its password right again)"
ns notify list
like "$out" "broken  unreadable" "notify list shows it"
rm outbox/29991231T000000-1-000-broken.msg
# a sound message whose delivery state is damaged is not guessed at
D=outbox/29991231T000000-2-000-damaged
cp "$(ls outbox/sent/*.msg | head -n 1)" "$D.msg"
printf 'smtp pending 1- 2999-12-31T00:00:00Z refused\n' >"$D.state"
NIGHTSHIFT_NOW=$(at 7200) ns notify deliver
is "$rc" 1 "a damaged delivery state: notify deliver exits 1"
like "$err" "damaged: unreadable: .*damaged\.state:1: malformed delivery state 'smtp pending 1- " \
	"it names the state file, the line and its text"
is "$(ls outbox/sent | grep -c damaged)" 0 "and sends nothing on a guess"
rm "$D.msg" "$D.state"

# ---- STARTTLS asked for and not offered: nothing goes in the clear ----
echo "    smtp-starttls = true" >>nightshift.conf
P=$T/p5
make_pkg "$P" "Fifth"
echo v5 >"$P/files/e.txt"
ns --as dev2 submit "$P"
is "$rc $(mails) $(waiting)" "0 5 1" "smtp-starttls = true with a server without STARTTLS: no mail, the message waits"
ns notify list
like "$out" "smtp: pending, 1 attempt, .*(STARTTLS|SSL|TLS)" "notify list says TLS was missing"
sed -i '/smtp-starttls/d' nightshift.conf

# ---- the daemon delivers what waits -------------------------------------
NIGHTSHIFT_NOW=$(at 10800) ns daemon --once
is "$rc" 0 "daemon --once with a notice waiting: exit 0"
like "$err" "notify: 1 delivered, 0 attempts failed, 0 waiting" "the daemon logs the delivery"
is "$(mails) $(waiting)" "6 0" "the waiting mail arrived through the daemon; the outbox is empty"
like "$(mail_header 006 Subject)" "ENH-5 r1 submitted" "it is ENH-5's"

# ---- one delivery at a time ---------------------------------------------
flock outbox/.deliver.lock "$NS" notify deliver >"$T/.out" 2>"$T/.err"
is "$?" 4 "notify deliver while another holds the outbox: exit 4"
like "$(cat "$T/.err")" "being delivered by another nightshift" "it says so"

# ---- bad configuration ------------------------------------------------
cp nightshift.conf good.conf
bad_conf() { # LINE NAME PATTERN
	cp good.conf nightshift.conf
	echo "$1" >>nightshift.conf
	ns notify deliver
	is "$rc" 3 "$2: exit 3"
	like "$err" "$3" "$2: refused naming file:line"
}
L=$(($(wc -l <good.conf) + 1))
bad_conf "    smtp-port = 25" "an unknown [notify] key" "nightshift\.conf:$L: unknown key 'smtp-port' in \[notify\]"
sed -i '/^    smtp = /d; /^    from = /d; /^    webhook = /d' good.conf
L=$(($(wc -l <good.conf) + 1))
bad_conf "    smtp = mail.example.org" "an SMTP URL without scheme" "nightshift\.conf:$L: \[notify\] smtp: expected smtp://"
bad_conf "    smtp = smtp://:25" "an SMTP URL without host" "nightshift\.conf:$L: \[notify\] smtp:"
bad_conf "    smtp = smtp://host:99999" "an SMTP URL with a bad port" "nightshift\.conf:$L: \[notify\] smtp:"
bad_conf "    smtp = smtp://user:pw@host" "credentials in the URL" "nightshift\.conf:$L: \[notify\] smtp:"
bad_conf "    from = nobody" "a From without @" "nightshift\.conf:$L: \[notify\] from: expected an address"
bad_conf "    webhook = ftp://example.org/x" "a webhook that is not HTTP" "nightshift\.conf:$L: \[notify\] webhook: expected http"
bad_conf "    smtp-starttls = maybe" "smtp-starttls not a boolean" "nightshift\.conf:$L: \[notify\] smtp-starttls: expected true or false"
is "$(ls outbox/sent | wc -l) $(mails) $(hooks)" "6 6 8" "refused configurations sent nothing more"

done_testing
