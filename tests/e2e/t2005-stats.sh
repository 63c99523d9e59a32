#!/bin/bash
# `stats`: the figures per system and environment, made from the runs.
# A history with a known clock (NIGHTSHIFT_NOW): into demo/model three
# enhancements migrate, one rolls back (its verify command fails), one is
# refused (drift), and one of the migrated is backed out with `rollback`;
# two of them are accepted (carol), promoted (bob) and migrate into
# demo/production, where a third one's rollback fails (ENH-6, whose verify
# passes in the model and fails in production). Every figure of `stats --json` is checked exactly — the counts,
# success %, the mean and nearest-rank p95 of the durations the runs
# recorded (read back from `status --json`), the time from submit to
# production — then the text table, --since, a bad --since, and a run in
# flight counted as running, not attempted.
. "$(dirname "$0")/lib.sh"

ns_home
mkdir -p "$T/prod/root"
sqlite3 "$T/prod/app.db" "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);"
cat >>nightshift.conf <<CONF
[environment "demo/production"]
    root = $T/prod/root
    database = sqlite:$T/prod/app.db
CONF

at() { export NIGHTSHIFT_NOW=$1; }
pkg() { # N [INI-LINES] — a package adding fN.txt
	make_pkg "$T/p$1" "change $1"
	echo "$1" >"$T/p$1/files/f$1.txt"
	[ $# -gt 1 ] && printf '%s\n' "$2" >>"$T/p$1/enhancement.ini"
	ns submit "$T/p$1"
	is "$(printf '%s\n' "$out" | head -n 1)" "ENH-$1" "submit: ENH-$1"
}
# FIELD of the row of ENV ("total" for the total row) in $T/stats.json
field() {
	python3 - "$T/stats.json" "$1" "$2" <<'PY' 2>&1
import json, sys
s = json.load(open(sys.argv[1]))
env, key = sys.argv[2], sys.argv[3]
if env == "total":
    row = s["total"]
else:
    row = [r for r in s["environments"] if r["environment"] == env][0]
print(json.dumps(row[key]))
PY
}
stats_json() { # [ARGS…] → $T/stats.json
	ns stats --json "$@"
	printf '%s\n' "$out" >"$T/stats.json"
}
# the duration_ms of every migrated migrate run into ENV ("" = all), read
# from `status ENH-n --json`, one a line
durations() {
	for id in 1 2 3 4 5 6; do
		"$NS" status "ENH-$id" --json | python3 -c '
import json, sys
env = sys.argv[1]
for r in json.load(sys.stdin)["runs"]:
    if r["kind"] == "migrate" and r["outcome"] == "migrated" and env in ("", r["environment"]):
        print(r["duration_ms"])
' "$1"
	done
}
# "ok" when mean_ms and p95_ms of ENV's row are those of the durations
check_times() { # ENV DURATIONS
	python3 - "$T/stats.json" "$1" "$2" <<'PY' 2>&1
import json, sys
s = json.load(open(sys.argv[1]))
env = sys.argv[2]
d = sorted(int(x) for x in sys.argv[3].split())
row = s["total"] if env == "total" else \
    [r for r in s["environments"] if r["environment"] == env][0]
rank = (95 * len(d) + 99) // 100            # nearest rank: ceil(0.95 n)
want = {"mean_ms": sum(d) / len(d), "p95_ms": d[rank - 1], "timed": len(d)}
got = {k: row[k] for k in ("mean_ms", "p95_ms")}
got["timed"] = row["migrated"]
print("ok" if got == want and isinstance(row["mean_ms"], float)
      and isinstance(row["p95_ms"], int) else "got %r, want %r" % (got, want))
PY
}
pct() { python3 -c "import json; print(json.dumps($1 * 100 / $2))"; }

# ---- before anything ran ---------------------------------------------------
ns stats --json
is "$rc" 0 "stats on an empty registry: exit 0"
printf '%s\n' "$out" >"$T/stats.json"
is "$(python3 -c 'import json,sys; s = json.load(open(sys.argv[1])); print(len(s["environments"]), s["total"]["attempted"], s["total"]["success_pct"], s["total"]["mean_ms"], s["since"])' "$T/stats.json" 2>&1)" \
	"0 0 None None None" "no rows, a total of 0 attempted, success % and mean null"

# ---- the model: 3 migrated, 1 rolled back, 1 refused, 1 backed out -------
at 2026-03-02T09:00:00
pkg 1
at 2026-03-02T09:10:00
pkg 2
at 2026-03-02T09:20:00
pkg 3 "[verify]
command = false"
at 2026-03-02T09:30:00
pkg 4
at 2026-03-02T09:40:00
echo "five" >"$T/site/root/f5.txt"
pkg 5 "[files]
base = f5.txt $(sha "$T/site/root/f5.txt")"
at 2026-03-02T10:00:00
for id in 1 2 3 4 5; do ns_ready "ENH-$id" >/dev/null; done
echo "changed after it was scheduled" >"$T/site/root/f5.txt"
ns window run --now
is "$rc" 1 "the model window: exit 1 (one rolled back, one refused)"
like "$err" "ENH-3 r1 .*rolled-back" "ENH-3 rolled back"
like "$err" "ENH-5 r1 .*refused" "ENH-5 refused (drift)"
at 2026-03-02T11:00:00
ns rollback ENH-4 --env model --reason "defect"
is "$rc" 0 "ENH-4 backed out of the model"

# ---- production: ENH-1 and ENH-2 migrate, ENH-6's rollback fails ---------
at 2026-03-03T12:00:00
"$NS" --as carol accept ENH-1 --env model >/dev/null
ns --as bob promote ENH-1
is "$rc" 0 "ENH-1 accepted and promoted"
ns window run --now
is "$rc" 0 "ENH-1 migrated into production"
at 2026-03-04T09:10:00
"$NS" --as carol accept ENH-2 --env model >/dev/null
ns --as bob promote ENH-2
ns window run --now
is "$rc" 0 "ENH-2 migrated into production"
at 2026-03-04T09:30:00
make_pkg "$T/p6" "Broken revert"
echo 6 >"$T/p6/files/f6.txt"
mkdir -p "$T/p6/sql"
printf '[verify]\ncommand = test "$NIGHTSHIFT_ENV" != demo/production\n' >>"$T/p6/enhancement.ini"
echo "INSERT INTO customers VALUES (6, 'six');" >"$T/p6/sql/deploy.sql"
echo "DELETE FROM no_such_table;" >"$T/p6/sql/revert.sql"
ns submit "$T/p6"
is "$(printf '%s\n' "$out" | head -n 1)" "ENH-6" "submit: ENH-6"
at 2026-03-04T09:40:00
ns_ready ENH-6 >/dev/null
ns window run --now
is "$rc" 0 "ENH-6 migrated into the model (its verify passes there)"
at 2026-03-04T10:00:00
"$NS" --as carol accept ENH-6 --env model >/dev/null
ns --as bob promote ENH-6
ns window run --now
is "$rc" 4 "ENH-6's revert fails in production: exit 4, blocked"

# ---- every figure ----------------------------------------------------------
at 2026-03-05T00:00:00
stats_json
is "$rc" 0 "stats --json: exit 0"
is "$(python3 -c 'import json,sys; s = json.load(open(sys.argv[1])); print(" ".join(r["system"] + ":" + r["environment"] for r in s["environments"]), s["since"], s["total"]["system"], s["total"]["environment"])' "$T/stats.json" 2>&1)" \
	"demo:demo/model demo:demo/production None None None" \
	"one row per system and environment, ordered; since and the total's names null"

for k in attempted:6 migrated:4 rolled_back:1 rollback_failed:0 refused:1 \
	backed_out:1 running:0 reached_production:0 submit_to_production_s:null; do
	is "$(field demo/model "${k%%:*}")" "${k#*:}" "demo/model ${k%%:*}: ${k#*:}"
done
is "$(field demo/model success_pct)" "$(pct 4 6)" "demo/model success_pct: 4 of 6"
for k in attempted:3 migrated:2 rolled_back:0 rollback_failed:1 refused:0 \
	backed_out:0 running:0 reached_production:2; do
	is "$(field demo/production "${k%%:*}")" "${k#*:}" "demo/production ${k%%:*}: ${k#*:}"
done
is "$(field demo/production success_pct)" "$(pct 2 3)" "demo/production success_pct: 2 of 3"
# ENH-1: 2026-03-02T09:00 → 2026-03-03T12:00 = 27 h; ENH-2: 09:10 → 2026-03-04T09:10 = 48 h
is "$(field demo/production submit_to_production_s)" "135000.0" \
	"demo/production submit to production: the mean of 27 h and 48 h, in seconds"
for k in attempted:9 migrated:6 rolled_back:1 rollback_failed:1 refused:1 \
	backed_out:1 running:0 reached_production:2 submit_to_production_s:135000.0; do
	is "$(field total "${k%%:*}")" "${k#*:}" "total ${k%%:*}: ${k#*:}"
done
is "$(field total success_pct)" "$(pct 6 9)" "total success_pct: 6 of 9"

DM=$(durations demo/model)
DP=$(durations demo/production)
is "$(printf '%s\n' "$DM" | grep -c .) $(printf '%s\n' "$DP" | grep -c .)" "4 2" \
	"status --json shows 4 migrated runs into the model, 2 into production"
is "$(check_times demo/model "$DM")" ok "demo/model: mean_ms and p95_ms (nearest rank) of its runs' duration_ms"
is "$(check_times demo/production "$DP")" ok "demo/production: mean_ms and p95_ms of its runs' duration_ms"
is "$(check_times total "$DM $DP")" ok "total: mean_ms and p95_ms over all migrated runs"

# ---- the text table ----------------------------------------------------------
ns stats
is "$rc" 0 "stats: exit 0"
is "$(printf '%s\n' "$out" | head -n 1 | tr -s ' ')" \
	"SYSTEM ENVIRONMENT ATTEMPTED MIGRATED ROLLED-BACK ROLLBACK-FAILED REFUSED BACKED-OUT RUNNING SUCCESS MEAN-MS P95-MS SUBMIT-TO-PROD" \
	"the header names every column"
is "$(printf '%s\n' "$out" | grep -c .)" 4 "a header, two rows and the total"
is "$(printf '%s\n' "$out" | sed -n 2p | awk '{print $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $13}')" \
	"demo model 6 4 1 0 1 1 0 66.7% -" "the model row"
is "$(printf '%s\n' "$out" | sed -n 3p | awk '{print $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $13}')" \
	"demo production 3 2 0 1 0 0 0 66.7% 37h30m00s" "the production row: 37h30m00s from submit to production"
is "$(printf '%s\n' "$out" | sed -n 4p | awk '{print $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $13}')" \
	"total - 9 6 1 1 1 1 0 66.7% 37h30m00s" "the total row"
P95=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["environments"][0]["p95_ms"])' "$T/stats.json")
MEAN=$(python3 -c 'import json,sys; print("%.0f" % json.load(open(sys.argv[1]))["environments"][0]["mean_ms"])' "$T/stats.json")
is "$(printf '%s\n' "$out" | sed -n 2p | awk '{print $11, $12}')" "$MEAN $P95" "the model row's mean and p95 in ms"

# ---- --since ---------------------------------------------------------------
stats_json --since 2026-03-04
is "$rc" 0 "stats --since 2026-03-04: exit 0"
is "$(python3 -c 'import json,sys; s = json.load(open(sys.argv[1])); print(s["since"], " ".join(r["environment"] for r in s["environments"]))' "$T/stats.json" 2>&1)" \
	"2026-03-04T00:00:00Z demo/model demo/production" "--since 2026-03-04: production and ENH-6's model run"
is "$(field total success_pct)" "$(pct 2 3)" "--since 2026-03-04: total success_pct 2 of 3"
for k in attempted:3 migrated:2 rollback_failed:1 reached_production:1 \
	submit_to_production_s:172800.0; do
	is "$(field total "${k%%:*}")" "${k#*:}" "--since 2026-03-04: total ${k%%:*} ${k#*:} (ENH-1 reached production before)"
done
stats_json --since 2026-03-02T10:30
for k in attempted:4 backed_out:1 reached_production:2; do
	is "$(field total "${k%%:*}")" "${k#*:}" "--since 2026-03-02T10:30: total ${k%%:*} ${k#*:} (the back-out is after it)"
done

stats_json --since 2099-01-01
is "$rc" 0 "--since in the future: exit 0"
is "$(python3 -c 'import json,sys; s = json.load(open(sys.argv[1])); t = s["total"]; print(len(s["environments"]), t["attempted"], t["migrated"], t["rolled_back"], t["rollback_failed"], t["refused"], t["backed_out"], t["running"], t["success_pct"], t["mean_ms"], t["p95_ms"], t["submit_to_production_s"])' "$T/stats.json" 2>&1)" \
	"0 0 0 0 0 0 0 0 None None None None" "--since in the future: no rows, zeros, no figures"
ns stats --since 2099-01-01
is "$(printf '%s\n' "$out" | sed -n 2p | tr -s ' ')" "total - 0 0 0 0 0 0 0 - - - -" \
	"--since in the future: the text total is zeros and dashes"

for bad in yesterday 2026-13-01 2026-02-30 2026-03-04T25:00 "2026-03-04 junk" ""; do
	ns stats --since "$bad"
	is "$rc" 2 "--since '$bad': exit 2"
	like "$err" "--since" "--since '$bad': the message names --since"
	is "$out" "" "--since '$bad': nothing on stdout"
done
ns stats --bogus
is "$rc" 2 "an unknown option: exit 2"
ns stats extra
is "$rc" 2 "an argument: exit 2"

# ---- a run in flight is running, not attempted ------------------------------
at 2026-03-05T01:00:00
pkg 7 "[verify]
command = touch $T/in-verify; i=0; while [ ! -e $T/release ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done"
ns_ready ENH-7 >/dev/null
"$NS" window run --env model --now >"$T/w.out" 2>&1 &
W=$!
i=0
while [ ! -e "$T/in-verify" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
stats_json
is "$(field demo/model running) $(field demo/model attempted)" "1 6" \
	"while ENH-7 verifies: demo/model running 1, attempted still 6"
touch "$T/release"
wait $W
is "$?" 0 "ENH-7's window run: exit 0"
like "$(cat "$T/w.out")" "ENH-7 r1 .*migrated" "ENH-7 migrated"
stats_json
is "$(field demo/model running) $(field demo/model attempted) $(field demo/model migrated)" "0 7 5" \
	"after it: running 0, attempted 7, migrated 5"

done_testing
