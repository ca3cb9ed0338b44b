#!/usr/bin/env bash
# Notifications (docs/notify.md) against a real HTTP receiver (tests/e2e/tools/receiver.py) and a real command
# sink: a failed run alerts before the run exits, in Slack and JSON form, signed and with an idempotency key; a
# receiver answering 500 gets retries with the same key; one that is down, slow or answers 404 never fails or
# changes the run, and shows as notify.failed in `log`; events a killed phasegate left queued are delivered by the
# next command; `notify test` checks each sink; the URL (a secret) never shows.
source "$(dirname "$0")/lib.sh"

new_db e2e_notify
q "CREATE TABLE books (id int PRIMARY KEY, title text)"
new_project
mkdir -p "$WORK/project/hooks"
cat >"$WORK/project/hooks/notify.sh" <<'SH'
#!/bin/sh
# A command sink: keeps what it got.
cat >>"$PHASEGATE_PROJECT_ROOT/command-sink.log"
echo >>"$PHASEGATE_PROJECT_ROOT/command-sink.log"
echo "$PHASEGATE_EVENT $PHASEGATE_NOTIFY_SINK ${DATABASE_URL:-no-db-url}" >>"$PHASEGATE_PROJECT_ROOT/command-sink.env"
SH
chmod +x "$WORK/project/hooks/notify.sh"
cat >>"$WORK/project/phasegate.toml" <<'TOML'
[notify.slack]
webhook_url_env = "HOOK_URL"
secret_env = "HOOK_SECRET"
events = ["run.*", "rollback.*"]
timeout = "2s"
[notify.audit]
webhook_url_env = "HOOK_URL"
format = "json"
events = ["run.failed"]
timeout = "2s"
[notify.pager]
command = ["hooks/notify.sh"]
events = ["run.failed", "notify.failed"]
TOML
export HOOK_SECRET="s3cret-signing-key"
plan 0001-broken <<'TOML'
[[expand.steps]]
name = "add lexile"
sql = "ALTER TABLE books ADD COLUMN lexile int"
down = "ALTER TABLE books DROP COLUMN lexile"
[[expand.steps]]
name = "typo"
sql = "ALTER TABLE books ADD COLUMN lexile int"
down = "SELECT 1"
TOML

expect 0 pg validate
# --- a failed run alerts, in both formats, signed, before the run exits ---
receiver ok
expect 1 pg run
ended=$(date +%s.%N)
check "the run failed and rolled back (the exit code notifications never change)" "$(col_exists books lexile)" "0"
check "slack got run.failed, then the rollback" "$(rx "' '.join(x['headers']['X-Phasegate-Event'] for x in r if x['headers'].get('X-Phasegate-Delivery','').endswith('.slack'))")" \
  "run.created run.started run.failed rollback.started rollback.step rollback.step rollback.completed"
failed=$(rx "[x for x in r if x['headers']['X-Phasegate-Delivery'].endswith('.slack') and x['json']['text'].startswith('phasegate: run.failed')][0]")
contains "the slack text names the plan" "$failed" "0001-broken"
contains "the slack blocks say what happened (the SQLSTATE's message)" "$(rx "[x['body'] for x in r if x['headers']['X-Phasegate-Event'] == 'run.failed' and x['headers']['X-Phasegate-Delivery'].endswith('.slack')][0]")" "already exists"
contains "and what to do" "$(rx "[x['body'] for x in r if x['headers']['X-Phasegate-Event'] == 'run.failed' and x['headers']['X-Phasegate-Delivery'].endswith('.slack')][0]")" "phasegate log 1"
check "every slack request is signed with HMAC-SHA256 of its body" "$(rx "all(x['headers']['X-Phasegate-Signature-256'] == 'sha256=' + __import__('hmac').new(b'$HOOK_SECRET', x['body'].encode(), 'sha256').hexdigest() for x in r if x['headers']['X-Phasegate-Delivery'].endswith('.slack'))")" "True"
check "the json sink is not signed (no secret_env) and got every field" "$(rx "[(x['headers'].get('X-Phasegate-Signature-256'), x['json']['kind'], x['json']['plan_id'], x['json']['run_id'], x['json']['step'], 'already exists' in x['json']['payload']['error']) for x in r if x['headers']['X-Phasegate-Delivery'].endswith('.audit')]")" \
  "[(None, 'run.failed', '0001-broken', 1, '', True)]"
check "idempotency key = event id + hash" "$(rx "all(x['headers']['Idempotency-Key'] == str(x['json'].get('id', '')) + '.' + x['json']['hash'][:16] for x in r if x['headers']['X-Phasegate-Delivery'].endswith('.audit'))")" "True"
check "the alert came before the run exited" "$(rx "min(x['t'] for x in r if x['headers']['X-Phasegate-Event'] == 'run.failed') < $ended")" "True"
latency=$(python3 -c "
import json,datetime,sys
r=[json.loads(l) for l in open('$WORK/rx.log')]
x=[e for e in r if e['headers']['X-Phasegate-Event']=='run.failed'][0]
at=datetime.datetime.fromisoformat(json.loads(x['body'])['at'].replace('Z','+00:00')).timestamp() if 'at' in json.loads(x['body']) else None
print('%.2f s' % (x['t']-at) if at else 'n/a')")
echo "measured: run.failed event to its receipt (audit sink): $latency"
contains "the command sink got the event JSON on stdin" "$(cat "$WORK/project/command-sink.log")" '"kind":"run.failed"'
check "the command sink ran without the database URL" "$(cat "$WORK/project/command-sink.env")" "run.failed pager no-db-url"
check "nothing left in the outbox" "$(q "SELECT count(*) FROM phasegate.outbox WHERE delivered_at IS NULL")" "0"
check "one outbox row per event and sink" "$(q "SELECT count(*) FROM phasegate.outbox o JOIN phasegate.events e USING (event_id) WHERE e.kind = 'run.failed'")" "3"

# --- 500, 500, then 200: retried with backoff, the same key each time ---
plan 0001-broken <<'TOML'
[[expand.steps]]
name = "add lexile"
sql = "ALTER TABLE books ADD COLUMN lexile int"
down = "ALTER TABLE books DROP COLUMN lexile"
TOML
sed -i 's/events = \["run.\*", "rollback.\*"\]/events = ["run.completed"]/' "$WORK/project/phasegate.toml"
receiver fail:2
expect 0 pg run
check "run.completed arrived on the third try" "$(rx "[(x['n'], x['headers']['X-Phasegate-Event']) for x in r]")" "[(1, 'run.completed'), (2, 'run.completed'), (3, 'run.completed')]"
check "with one idempotency key" "$(rx "len(set(x['headers']['Idempotency-Key'] for x in r))")" "1"
check "the retries waited (1 s, then 2 s)" "$(rx "r[1]['t'] - r[0]['t'] >= 0.9 and r[2]['t'] - r[1]['t'] >= 1.9")" "True"
check "the outbox row records 3 tries" "$(q "SELECT attempts, delivered_at IS NOT NULL FROM phasegate.outbox o JOIN phasegate.events e USING (event_id) WHERE e.kind = 'run.completed' AND o.sink = 'slack'")" "3|t"

# --- down, 404, slow: the run is unaffected; notify.failed in the log; the URL never shows ---
q "ALTER TABLE books DROP COLUMN lexile; DELETE FROM phasegate.steps; DELETE FROM phasegate.plans"
for mode in down 404 slow:5; do
  if [[ $mode == down ]]; then stop_receiver; export HOOK_URL="http://127.0.0.1:$(free_port)/services/T000/B000/sEcReTtOkEn123"; else receiver "$mode"; fi
  rm -f "$WORK/project/command-sink.env"
  expect 0 pg run
  check "[$mode] the run applied its step" "$(col_exists books lexile)" "1"
  left=$(q "SELECT count(*) FROM phasegate.outbox o JOIN phasegate.events e USING (event_id) WHERE e.kind = 'run.completed' AND o.sink = 'slack' AND o.delivered_at IS NULL AND o.gave_up_at IS NULL")
  # a slow receiver (5 s, timeout 2 s) may still be in its retries when run's 15 s exit wait ends: the next command goes on
  wait_for "[$mode] the delivery is given up" bash -c "'$PHASEGATE_BIN' -C '$WORK/project' status >/dev/null 2>&1; [[ \$('$PSQL' '$DATABASE_URL' -qAtX -c \"SELECT count(*) FROM phasegate.events WHERE kind = 'notify.failed' AND payload->>'sink' = 'slack' AND (payload->>'event_id')::bigint = (SELECT max(event_id) FROM phasegate.events WHERE kind = 'run.completed')\") == 1 ]]"
  tries=$(q "SELECT payload->>'attempts' FROM phasegate.events WHERE kind = 'notify.failed' AND payload->>'sink' = 'slack' ORDER BY event_id DESC LIMIT 1")
  check "[$mode] tries before giving up (3; a 404 is not retried)" "$tries" "$([[ $mode == 404 ]] && echo 1 || echo 3)"
  expect 0 pg log
  contains "[$mode] log shows notify.failed" "$OUT" "notify.failed"
  if [[ $OUT$ERR == *sEcReTtOkEn123* ]] || q "SELECT payload::text FROM phasegate.events" | grep -q sEcReTtOkEn123; then
    check "[$mode] the webhook URL never shows" "leaked" "hidden"
  else
    check "[$mode] the webhook URL never shows" "hidden" "hidden"
  fi
  wait_for "[$mode] the pager (command sink) heard of the failed notification" grep -q "notify.failed pager" "$WORK/project/command-sink.env"
  q "ALTER TABLE books DROP COLUMN lexile; DELETE FROM phasegate.steps; DELETE FROM phasegate.plans"
done
echo "notify.failed errors: $(q "SELECT string_agg(DISTINCT payload->>'error', ' | ') FROM phasegate.events WHERE kind = 'notify.failed' AND payload->>'sink' = 'slack'")"

# --- a phasegate killed with events queued: the next command delivers them ---
sed -i 's/events = \["run.completed"\]/events = ["step.*"]\nattempts = 10/' "$WORK/project/phasegate.toml"
stop_receiver
export HOOK_URL="http://127.0.0.1:$(free_port)/services/T000/B000/sEcReTtOkEn123"   # down while the run dies
PHASEGATE_CRASH_AT="after-step:add lexile" expect 137 pg run
check "the crash left step events queued" "$(q "SELECT count(*) > 0 FROM phasegate.outbox o JOIN phasegate.events e USING (event_id) WHERE e.kind = 'step.completed' AND o.sink = 'slack' AND o.delivered_at IS NULL")" "t"
receiver ok
wait_for "a later command delivered the queued step.completed" bash -c "'$PHASEGATE_BIN' -C '$WORK/project' status >/dev/null 2>&1; grep -q '\"X-Phasegate-Event\": \"step.completed\"' '$WORK/rx.log'"
check "delivered once" "$(rx "sum(1 for x in r if x['headers']['X-Phasegate-Event'] == 'step.completed')")" "1"

# --- notify test ---
expect 0 pg notify test slack
contains "notify test says delivered" "$OUT" "slack: delivered"
check "the receiver got the sample" "$(rx "r[-1]['headers']['X-Phasegate-Event']")" "notify.test"
echo 404 >"$WORK/rx.mode"
expect 1 pg --json notify test
check "notify test --json: which sinks failed" "$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(d['exit'], [(s['sink'], s['delivered']) for s in d['sinks']])" "$OUT")" \
  "1 [('audit', False), ('pager', True), ('slack', False)]"
expect 2 pg notify test slak
contains "a mistyped sink gets a did-you-mean" "$ERR" 'did you mean "slack"'

# --- bad config is refused with file:line ---
cat >>"$WORK/project/phasegate.toml" <<'TOML'
[notify.typo]
webhook_url_env = "https://hooks.example.com/x"
events = ["run.faild"]
TOML
expect 2 pg validate
contains "an unknown event kind" "$ERR" 'phasegate.toml:'
contains "with a did-you-mean" "$ERR" 'did you mean "run.failed"'
contains "a URL where the variable's name belongs" "$ERR" "must name an environment variable"
finish
