#!/usr/bin/env bash
# Seed 004 (CodePen), extended: "if we had code running every 5 minutes that tried to save a pen, and would send an
# alert if there was an error, that would have saved us." A smoke check with `every` is measured by `phasegate serve`
# after a deploy (a completed run); when saving starts failing, exactly one smoke.failed event is recorded for the
# streak (notifications pick events up) and exactly one smoke.recovered when it saves again — not one per failure.
source "$(dirname "$0")/lib.sh"
new_db e2e_smoke_watch
q "CREATE TABLE pens (id serial PRIMARY KEY, title text)"
new_project
mkdir -p "$WORK/project/hooks"
# Saves a pen, as a browser would; fails while the file "broken" exists (the web servers were never restarted).
cat >"$WORK/project/hooks/save-pen.sh" <<'SH'
#!/usr/bin/env bash
echo "$(date +%s.%N) ${PHASEGATE_EVENT:-} ${PHASEGATE_SMOKE_MODE:-} run ${PHASEGATE_RUN_ID:-}" >>measured.log
if [[ -e broken ]]; then echo "POST /pens answered 500: column pens.summary does not exist" >&2; exit 1; fi
echo "saved pen"
SH
chmod +x "$WORK/project/hooks/save-pen.sh"
receiver ok  # on-call's webhook (a real HTTP receiver, tests/e2e/tools/receiver.py)
cat >>"$WORK/project/phasegate.toml" <<'TOML'
[notify.oncall]
webhook_url_env = "HOOK_URL"
format = "json"
events = ["smoke.failed", "smoke.recovered"]
timeout = "2s"
[smoke.save_pen]
command = ["hooks/save-pen.sh"]
every = "1s"
failure_limit = 0
TOML
plan 0001-pens <<'TOML'
[[expand.steps]]
name = "add summary"
sql = "ALTER TABLE pens ADD COLUMN summary text"
down = "ALTER TABLE pens DROP COLUMN summary"
TOML
expect 0 pg validate
start_serve
first=$(sj "d['read_at']")
advanced() { [[ $(sj "d['read_at']") != "$first" && $(sj "d['read_at']") != "null" ]]; }
wait_for "serve read the state schema again" advanced
check "before any deploy nothing is measured" "$(sj "d['smoke']"):$([[ -e "$WORK/project/measured.log" ]] && echo measured || echo none)" "[]:none"

expect 0 pg run
measured() { sj_true "len(d['smoke']) == 1 and d['smoke'][0]['checks'] >= $1"; }
wait_for "after the deploy save_pen is measured on its interval" measured 2
check "it passes" "$(sj "d['smoke'][0]['ok']")" "true"
contains "the check knows which deploy it watches" "$(cat "$WORK/project/measured.log")" "smoke continuous run 1"

touch "$WORK/project/broken"
wait_for "/status shows save_pen failing" sj_true "not d['smoke'][0]['ok']"
base=$(sj "d['smoke'][0]['checks']")
wait_for "three more failed measurements" measured $((base + 3))
check "the streak is one alert: exactly one smoke.failed" "$(q "SELECT count(*) FROM phasegate.events WHERE kind = 'smoke.failed'")" "1"
check "the alert says why" "$(q "SELECT payload->>'reason' LIKE '%column pens.summary does not exist%' FROM phasegate.events WHERE kind = 'smoke.failed'")" "t"
check "phasegate_smoke_ok is 0" "$(metric 'phasegate_smoke_ok{smoke="save_pen"}')" "0"
failures=$(metric 'phasegate_smoke_failures_total{smoke="save_pen"}')
check "each failed measurement is counted" "$([[ ${failures:-0} -ge 4 ]] && echo yes || echo "no ($failures)")" "yes"
check "/metrics is valid" "$(metrics_problems)" ""

rm "$WORK/project/broken"
wait_for "/status shows save_pen recovered" sj_true "d['smoke'][0]['ok']"
base=$(sj "d['smoke'][0]['checks']")
wait_for "two more passing measurements" measured $((base + 2))
check "exactly one smoke.recovered" "$(q "SELECT count(*) FROM phasegate.events WHERE kind = 'smoke.recovered'")" "1"
check "still exactly one smoke.failed" "$(q "SELECT count(*) FROM phasegate.events WHERE kind = 'smoke.failed'")" "1"
check "the recovery says how long it failed" "$(q "SELECT (payload->>'failing_for_ms')::bigint > 0 FROM phasegate.events WHERE kind = 'smoke.recovered'")" "t"

heard() { [[ $(rx "[x['json']['kind'] for x in r]") == "$1" ]]; }
wait_for "on-call got one alert and one all-clear, from serve's own delivery" heard "['smoke.failed', 'smoke.recovered']"
check "the alert says which check and why" "$(rx "r[0]['json']['payload']['smoke'] + ': ' + str('column pens.summary does not exist' in r[0]['json']['payload']['reason'])")" "save_pen: True"

# A restarted serve reads the streak from the database: a failure that is still going on is not announced again.
touch "$WORK/project/broken"
wait_for "failing again" sj_true "not d['smoke'][0]['ok']"
kill -TERM "$serve_pid"; set +e; wait "$serve_pid"; set -e
check "two streaks, two alerts" "$(q "SELECT count(*) FROM phasegate.events WHERE kind = 'smoke.failed'")" "2"
start_serve
base=$(sj "d['smoke'][0]['checks']")
wait_for "the new serve measures the failing check twice" measured $((base + 2))
check "the new serve did not alert again" "$(q "SELECT count(*) FROM phasegate.events WHERE kind = 'smoke.failed'")" "2"
expect 0 pg log --json
check "the events are in the chain" "$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["chain_ok"])')" "True"
finish
