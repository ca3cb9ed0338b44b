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
finish
