#!/usr/bin/env bash
# Seed 004: the migration ran at 1am and nobody was awake. Here the scheduled run's backfill fails part-way on
# real data (a CHECK the new values break, SQLSTATE 23514): the on-call webhook hears run.failed — what happened,
# which plan, step and run, what to do — within seconds and before the run exits, then
# hears that the rollback completed. The pager command gets the same alert; nobody has to be watching a terminal.
source "$(dirname "$0")/lib.sh"
new_db e2e_seed004_alert
q "CREATE TABLE pens (id bigint PRIMARY KEY, title text NOT NULL, views int NOT NULL)"
q "INSERT INTO pens SELECT g, 'pen ' || g, CASE WHEN g = 4500 THEN -100 ELSE g END FROM generate_series(1, 6000) g"
new_project
mkdir -p "$WORK/project/hooks"
cat >"$WORK/project/hooks/page.sh" <<'SH'
#!/bin/sh
# The pager: what a human would be woken with.
python3 -c 'import json,sys; e=json.load(sys.stdin); print(e["kind"], e["plan_id"], e["run_id"], e["payload"].get("sqlstate",""))' >>"$PHASEGATE_PROJECT_ROOT/paged.log"
SH
chmod +x "$WORK/project/hooks/page.sh"
cat >>"$WORK/project/phasegate.toml" <<'TOML'
[notify.oncall]
webhook_url_env = "HOOK_URL"
events = ["run.failed", "rollback.*"]
[notify.pager]
command = ["hooks/page.sh"]
events = ["run.failed", "rollback.failed"]
TOML
plan 0007-popularity <<'TOML'
[plan]
description = "pens.popularity from views (the 1am job)"
[[expand.steps]]
name = "add popularity"
sql = "ALTER TABLE pens ADD COLUMN popularity int"
down = "ALTER TABLE pens DROP COLUMN popularity"
[[expand.steps]]
name = "popularity is never negative"
sql = "ALTER TABLE pens ADD CONSTRAINT popularity_non_negative CHECK (popularity >= 0) NOT VALID"
down = "ALTER TABLE pens DROP CONSTRAINT popularity_non_negative"
[[migrate.steps]]
name = "fill popularity"
backfill = { table = "pens", set = "popularity = views / 10", batch_rows = 1000 }
TOML
receiver ok
expect 1 pg run
ended=$(date +%s.%N)
check "the run failed on the bad row and rolled back" "$(col_exists pens popularity)" "0"
check "on-call heard run.failed, then the rollback" \
  "$(rx "' '.join(x['headers']['X-Phasegate-Event'] for x in r if x['headers']['X-Phasegate-Event'] in ('run.failed', 'rollback.completed', 'rollback.failed'))")" "run.failed rollback.completed"
alert=$(rx "[x['json'] for x in r if x['headers']['X-Phasegate-Event'] == 'run.failed'][0]")
contains "the alert names the plan" "$alert" "0007-popularity"
contains "the alert says what happened (the constraint)" "$alert" "popularity_non_negative"
contains "and what to do" "$alert" "phasegate log 1"
check "the failure alert came first, the rollback's after" \
  "$(rx "min(x['t'] for x in r if x['headers']['X-Phasegate-Event'] == 'run.failed') <= min(x['t'] for x in r if x['headers']['X-Phasegate-Event'] == 'rollback.completed')")" "True"
check "and before the run exited" "$(rx "min(x['t'] for x in r if x['headers']['X-Phasegate-Event'] == 'run.failed') < $ended")" "True"
failed_at=$(q "SELECT extract(epoch FROM at) FROM phasegate.events WHERE kind = 'run.failed'")
echo "measured: run.failed recorded -> received by on-call: $(rx "'%.2f s' % (min(x['t'] for x in r if x['headers']['X-Phasegate-Event'] == 'run.failed') - $failed_at)")"
check "the pager was woken with the SQLSTATE" "$(cat "$WORK/project/paged.log")" "run.failed 0007-popularity 1 23514"
check "nothing left to deliver" "$(q "SELECT count(*) FROM phasegate.outbox WHERE delivered_at IS NULL")" "0"
# The morning after (issue #14): the blameless postmortem draft of the night's run.
expect 0 pg report --format json
printf '%s\n' "$OUT" >"$WORK/report.json"
pmj() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=eval(sys.argv[2]); print(r if isinstance(r, str) else json.dumps(r))' "$WORK/report.json" "$1"; }
check "report: the failure is the backfill, with its SQLSTATE" "$(pmj 'd["failure"]["kind"] + " " + d["failure"]["step"] + " " + d["failure"]["sqlstate"]')" "step fill popularity 23514"
check "report: the rollback completed, undoing both expand steps newest first" \
  "$(pmj '[a["target"] for a in d["rollback"]["actions"] if a["action"] == "down" and a["ok"] and not a["skipped"]]')" '["popularity is never negative", "add popularity"]'
check "report: times to detect, undo and recover are measured" "$(pmj 'str([d["times"][k] is not None for k in ("detect_ms", "undo_ms", "recover_ms")])')" "[True, True, True]"
expect 0 pg report
contains "report md: the headline" "$OUT" "# Postmortem draft: Run 1 of plan 0007-popularity: failed and rolled back"
contains "report md: where it failed and why" "$OUT" 'Failed at step "fill popularity" with SQLSTATE 23514'
contains "report md: the sections for people" "$OUT" "## What we expected"
finish
