#!/usr/bin/env bash
# Issue #14: `phasegate report` — the blameless postmortem draft — of real runs against the test PostgreSQL, each
# in its own database: one that completes (approved by two operators with real keys, a lock wait on a real
# blocking session, a backfill, the api restarted and smoke-checked), one aborted from another terminal, one that
# fails on a real error (SQLSTATE 23514) and rolls back (master reverted on a real origin, the api restarted).
# Checks the md and json content, validates every --format json against docs/schemas/report.schema.json with
# python3-jsonschema, and that neither the database password nor a webhook's token is in any of it.
source "$(dirname "$0")/lib.sh"
SCHEMA="$REPO_ROOT/docs/schemas/report.schema.json"
PW="Rep0rt-Secret-Pw"
# fresh_db NAME: new_db with the password in the URL (the test cluster trusts local connections: it is not
# checked, but phasegate holds it and must never print it).
fresh_db() { new_db "$1"; export DATABASE_URL="$DATABASE_URL password=$PW"; }
fresh_db e2e_report_ok
q "CREATE TABLE books (id bigint PRIMARY KEY, title text NOT NULL, lexile int); INSERT INTO books SELECT g, 'b' || g, 100 + g FROM generate_series(1, 3000) g"
api_project
git_app
P="$WORK/project"
sed -i 's/^lock_retries = 1$/lock_retries = 8/' "$P/phasegate.toml"
mkdir -p "$P/ops" "$WORK/keys"
for who in alice bob; do ssh-keygen -q -t ed25519 -N '' -C "$who" -f "$WORK/keys/$who"; done
{ echo "alice@example.com $(cat "$WORK/keys/alice.pub")"; echo "bob@example.com $(cat "$WORK/keys/bob.pub")"; } >"$P/ops/allowed_signers"
cat >>"$P/phasegate.toml" <<'TOML'
[approvals]
allowed_signers = "ops/allowed_signers"
valid_for = "1h"
[rollback]
on_failure = "rollback"
timeout = "2m"
master = { kind = "git", repo = "../app", branch = "main", remote = "origin" }
TOML
export PHASEGATE_PRINCIPAL=carol@example.com

# validate NAME FILE: the document validates against the schema (jsonschema's own message when it does not).
validate() {
  local why
  if why=$(python3 - "$SCHEMA" "$2" 2>&1 <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
jsonschema.validate(json.load(open(sys.argv[2])), schema, cls=jsonschema.Draft7Validator)
PY
  ); then echo "ok: $1: report --format json validates against report.schema.json"
  else echo "FAIL: $1: report --format json does not validate: $why"; FAILS=$((FAILS + 1)); fi
}
# jq_ FILE EXPR: a Python expression over the JSON document d.
jq_() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=eval(sys.argv[2]); print(r if isinstance(r, str) else json.dumps(r))' "$1" "$2"; }
# reports NAME RUN: md, html and json of RUN into $WORK/NAME.{md,html,json}; each exits 0 and none holds the password.
reports() {
  local f
  for f in md html json; do
    expect 0 pg report $2 --format "$f"
    printf '%s\n' "$OUT" >"$WORK/$1.$f"
    if [[ "$OUT$ERR" == *"$PW"* ]]; then echo "FAIL: $1: the password is in report --format $f"; FAILS=$((FAILS + 1)); fi
  done
  validate "$1" "$WORK/$1.json"
}

# ---------------------------------------------------------------------------------------------------------
# 1. a run that completes: approvals, a lock wait and who blocked it, a backfill, restart + smoke
# ---------------------------------------------------------------------------------------------------------
plan 0001-shelf <<'TOML'
[plan]
description = "books.shelf, filled from the id"
[guards]
approvals = 2
[expand]
restart = ["api"]
smoke = ["save_book"]
[[expand.steps]]
name = "add shelf"
sql = "ALTER TABLE books ADD COLUMN shelf int"
down = "ALTER TABLE books DROP COLUMN shelf"
[migrate]
[[migrate.steps]]
name = "fill shelf"
backfill = { table = "books", set = "shelf = id % 7", where = "shelf IS NULL", batch_rows = 500 }
TOML
for who in alice bob; do expect 0 pg approve 0001-shelf --key "$WORK/keys/$who"; done
start_api
# A session that holds a lock on books until phasegate has recorded its first lock timeout (a condition, not a
# sleep): the report must name it as the blocker.
"$PSQL" "$DATABASE_URL" -qAtX -v ON_ERROR_STOP=1 >"$WORK/blocker.out" 2>&1 <<'SQL' &
SET application_name = 'e2e-report-blocker';
BEGIN;
LOCK TABLE books IN ACCESS SHARE MODE;
DO $$ DECLARE n int := 0; BEGIN
  FOR i IN 1..1800 LOOP  -- gives up after 3 minutes
    IF to_regclass('phasegate.events') IS NOT NULL THEN
      EXECUTE 'SELECT count(*) FROM phasegate.events WHERE kind = ''step.retrying''' INTO n;
      EXIT WHEN n > 0;
    END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;
COMMIT;
SQL
blocker_job=$!
blocker_holds() { [[ $(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'e2e-report-blocker' AND l.relation = 'books'::regclass AND l.granted") == 1 ]]; }
wait_for "the blocking session holds its lock on books" blocker_holds
api_before=$(api_pid)
blocker_pid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'e2e-report-blocker'")
expect 0 pg run 0001-shelf
wait "$blocker_job" || { echo "FAIL: the blocking session failed: $(cat "$WORK/blocker.out")"; FAILS=$((FAILS + 1)); }
api_after=$(api_pid)
reports ok ""
check "ok: the default run is the latest (run 1)" "$(jq_ "$WORK/ok.json" 'd["run"]["id"]')" "1"
check "ok: state and title" "$(jq_ "$WORK/ok.json" 'd["run"]["state"] + " | " + d["title"]')" "completed | Run 1 of plan 0001-shelf: completed"
check "ok: started by the principal" "$(jq_ "$WORK/ok.json" 'd["run"]["started_by"].split(" ")[0]')" "carol@example.com"
check "ok: both approvals counted, named by the run" \
  "$(jq_ "$WORK/ok.json" 'str(d["approvals"]["recorded_by_run"]) + " " + ",".join(sorted(a["principal"] for a in d["approvals"]["list"] if a["counted"]))')" \
  "True alice@example.com,bob@example.com"
check "ok: both steps completed, in plan order" "$(jq_ "$WORK/ok.json" '",".join(s["name"] + "=" + s["outcome"] for s in d["steps"])')" "add shelf=completed,fill shelf=completed"
check "ok: the lock retry names the blocking session" \
  "$(jq_ "$WORK/ok.json" 'sorted({b["pid"] for r in d["steps"][0]["lock_retries"] for b in r["blockers"]})')" "[$blocker_pid]"
check "ok: the backfill's rows and a rate" \
  "$(jq_ "$WORK/ok.json" 'str(d["steps"][1]["backfill"]["updated"] >= 3000) + " " + str(d["steps"][1]["backfill"]["rows_per_s"] > 0)')" "True True"
check "ok: the restart: healthy, the api's pids before and after as the hook reported them, restart and health timings" \
  "$(jq_ "$WORK/ok.json" 'str(d["restarts"][0]["healthy"]) + " " + str(d["restarts"][0]["pid_before"] == '"$api_before"' and d["restarts"][0]["pid_after"] == '"$api_after"') + " " + str(d["restarts"][0]["restart_ms"] >= 0 and d["restarts"][0]["health_ms"] >= 0 and d["restarts"][0]["total_ms"] >= d["restarts"][0]["restart_ms"])')" "True True True"
contains "ok: the restart's own words give the api's new pid" "$(jq_ "$WORK/ok.json" 'd["restarts"][0]["said"]')" "-> $api_after"
check "ok: the smoke check passed" "$(jq_ "$WORK/ok.json" '[(s["name"], s["passed"]) for s in d["smoke"]]')" '[["save_book", true]]'
check "ok: no failure, no rollback, nothing left for a human" "$(jq_ "$WORK/ok.json" '[d["failure"], d["rollback"], d["open_items"]]')" "[null, null, []]"
check "ok: the timeline has every event of the run" "$(jq_ "$WORK/ok.json" 'len(d["timeline"])')" "$(q "SELECT count(*) FROM phasegate.events WHERE run_id = 1")"
MD=$(cat "$WORK/ok.md")
contains "ok md: the title" "$MD" "# Postmortem draft: Run 1 of plan 0001-shelf: completed"
contains "ok md: who approved" "$MD" "| Approved by | alice@example.com (approval #"
contains "ok md: the lock wait and who blocked it" "$MD" "blocked by pid $blocker_pid (user"
contains "ok md: the blocker's application" "$MD" "application 'e2e-report-blocker'"
contains "ok md: the backfill rate" "$MD" "rows/s"
contains "ok md: the restart line with the new pid" "$MD" "-&gt; $api_after"
contains "ok md: the sections for people" "$MD" "## What we expected"
contains "ok md: the sections for people" "$MD" "## What we will change"
expect 0 pg --json report
check "ok: --json is --format json" "$OUT" "$(cat "$WORK/ok.json")"
expect 2 pg report nonsense
contains "a RUN that is not a number is refused" "$ERR" 'RUN must be a run id (a number), got "nonsense"'
expect 2 pg report 999 --format md
contains "an unknown run is refused with a pointer" "$ERR" "no run 999 in this database (phasegate runs lists them)"
expect 2 pg report --format pdf
contains "an unknown format is a usage error" "$ERR" "pdf"

# ---------------------------------------------------------------------------------------------------------
# 2. a run aborted from another terminal during a command step
# ---------------------------------------------------------------------------------------------------------
fresh_db e2e_report_abort
q "CREATE TABLE books (id bigint PRIMARY KEY, title text NOT NULL, lexile int)"
rm -f "$P"/plans/*.toml
M1="$WORK/slow-started"
plan 0002-slow <<TOML
[plan]
description = "an import that takes too long"
[[expand.steps]]
name = "add note"
sql = "ALTER TABLE books ADD COLUMN note text"
down = "ALTER TABLE books DROP COLUMN note"
[[migrate.steps]]
name = "slow import"
command = ["sh", "-c", "echo \$\$ > $M1; sleep 120"]
irreversible = true
TOML
run_bg run 0002-slow
wait_for "the slow command step started" test -s "$M1"
run_id=$(q "SELECT max(run_id) FROM phasegate.runs")
# (not through expect: the runner in the background writes $WORK/out)
set +e
PHASEGATE_PRINCIPAL=dave@example.com timeout 120 "$PHASEGATE_BIN" -C "$P" abort "$run_id" >"$WORK/abort.out" 2>&1
abort_rc=$?
set -e
check "abort: phasegate abort exits 0" "$abort_rc" "0"
runner_gone() { ! alive "$runner"; }
wait_for "the aborted runner exits" runner_gone
wait_rc
check "abort: the runner exits 6" "$rc" "6"
reports abort "$run_id"
check "abort: rolled back after an abort" "$(jq_ "$WORK/abort.json" 'd["run"]["state"] + " " + d["run"]["cause"] + " | " + d["title"]')" \
  "rolled_back aborted | Run $run_id of plan 0002-slow: aborted and rolled back"
check "abort: the failure is the abort, by whom" "$(jq_ "$WORK/abort.json" 'd["failure"]["kind"] + " " + d["failure"]["aborted_by"].split(" ")[0]')" "abort dave@example.com"
check "abort: time to detect (request -> the run acting on it) is measured" "$(jq_ "$WORK/abort.json" 'str(d["times"]["detect_ms"] is not None)')" "True"
check "abort: the rollback undid the expand step" \
  "$(jq_ "$WORK/abort.json" '[(a["action"], a["target"], a["ok"]) for a in d["rollback"]["actions"] if a["action"] == "down" and not a["skipped"]]')" '[["down", "add note", true]]'
check "abort: the command step was interrupted" "$(jq_ "$WORK/abort.json" '[s["outcome"] for s in d["steps"] if s["name"] == "slow import"]')" '["interrupted"]'
contains "abort md: who aborted" "$(cat "$WORK/abort.md")" "aborted by dave@example.com"
if [[ -s "$M1" ]] && alive "$(cat "$M1")"; then kill -9 "$(cat "$M1")" 2>/dev/null || true; fi

# ---------------------------------------------------------------------------------------------------------
# 3. a run that fails on a real error and rolls back: database, master, services
# ---------------------------------------------------------------------------------------------------------
fresh_db e2e_report_fail
q "CREATE TABLE books (id bigint PRIMARY KEY, title text NOT NULL, lexile int); INSERT INTO books VALUES (1, 'a', 900), (2, 'negative', -5)"
rm -f "$P"/plans/*.toml
echo "v2: needs lexile > 0" >"$APP/app.txt"
git -C "$APP" commit -qam "release 2: lexile check"
git -C "$APP" push -q origin main
RELEASE=$(git -C "$APP" rev-parse HEAD)
plan 0003-lexile <<'TOML'
[plan]
description = "lexile must be positive"
[expand]
restart = ["api"]
[[expand.steps]]
name = "add lexile check"
sql = "ALTER TABLE books ADD CONSTRAINT lexile_positive CHECK (lexile > 0) NOT VALID"
down = "ALTER TABLE books DROP CONSTRAINT IF EXISTS lexile_positive"
[migrate]
[[migrate.steps]]
name = "validate lexile check"
sql = "ALTER TABLE books VALIDATE CONSTRAINT lexile_positive"
TOML
# On-call's webhook is down: its URL carries a token (a secret), and the given-up delivery is left for a human.
TOKEN="T0-B0-Hook-Token-4711"
export HOOK_URL="http://127.0.0.1:$(free_port)/services/$TOKEN"
cat >>"$P/phasegate.toml" <<'TOML'
[notify.oncall]
webhook_url_env = "HOOK_URL"
events = ["run.failed"]
attempts = 2
TOML
expect 1 pg run --release-commit "$RELEASE"
contains "fail: the run failed on the check violation" "$ERR" "violated by some row"
notify_failed() { [[ $(q "SELECT count(*) FROM phasegate.events WHERE kind = 'notify.failed'") -ge 1 ]]; }
wait_for "the given-up delivery to on-call is recorded" notify_failed
reports fail ""
check "fail: rolled back after a failure" "$(jq_ "$WORK/fail.json" 'd["run"]["state"] + " | " + d["title"]')" "rolled_back | Run 1 of plan 0003-lexile: failed and rolled back"
check "fail: the failure: the step and its SQLSTATE" "$(jq_ "$WORK/fail.json" 'd["failure"]["kind"] + " " + d["failure"]["step"] + " " + d["failure"]["sqlstate"]')" \
  "step validate lexile check 23514"
contains "fail: the failure's message" "$(jq_ "$WORK/fail.json" 'd["failure"]["message"]')" 'check constraint "lexile_positive"'
check "fail: the rollback step by step" "$(jq_ "$WORK/fail.json" '[(a["action"], a["ok"]) for a in d["rollback"]["actions"]]')" \
  '[["down", true], ["down", true], ["master", true], ["restart", true]]'
revert=$(git --git-dir "$ORIGIN" rev-parse main)
check "fail: the master revert commit is origin's new head" "$(jq_ "$WORK/fail.json" '[a["revert_commit"] for a in d["rollback"]["actions"] if a["action"] == "master"][0]')" "$revert"
check "fail: origin's main ends with the revert" "$(origin_head)" 'Revert "release 2: lexile check"'
check "fail: every time is measured" \
  "$(jq_ "$WORK/fail.json" '",".join(k for k, v in sorted(d["times"].items()) if v is None)')" ""
check "fail: time to undo <= time to revert <= time to restart <= time to recover" \
  "$(jq_ "$WORK/fail.json" 'str(d["times"]["undo_ms"] <= d["times"]["revert_ms"] <= d["times"]["restart_ms"] <= d["times"]["recover_ms"])')" "True"
check "fail: the restart after the rollback is marked so" "$(jq_ "$WORK/fail.json" '[r["during_rollback"] for r in d["restarts"]]')" "[false, true]"
contains "fail: what is left for a human" "$(jq_ "$WORK/fail.json" '" ".join(d["open_items"])')" "plan 0003-lexile is pending again"
contains "fail: the undelivered alert is left for a human" "$(jq_ "$WORK/fail.json" '" ".join(d["open_items"])')" "the notification of run.failed to sink oncall was never delivered"
for f in md html json; do
  if grep -q "$TOKEN" "$WORK/fail.$f"; then echo "FAIL: fail: the webhook's token is in report --format $f"; FAILS=$((FAILS + 1)); else echo "ok: fail: no webhook token in the $f report"; fi
done
MD=$(cat "$WORK/fail.md")
contains "fail md: the SQLSTATE" "$MD" "with SQLSTATE 23514"
contains "fail md: the key times" "$MD" "| Time to revert |"
contains "fail md: the rollback's master step" "$MD" "revert commit ${revert:0:12}"
contains "fail md: the open item as a task" "$MD" "- [ ] plan 0003-lexile is pending again"
contains "fail html: the step names in the page" "$(cat "$WORK/fail.html")" "validate lexile check"
check "fail html: no script" "$(grep -c '<script' "$WORK/fail.html" || true)" "0"

# The report reads only: nothing it did changed the event log.
before=$(q "SELECT count(*) || ' ' || max(event_id) FROM phasegate.events")
expect 0 pg report --format html
check "report changes nothing in the state schema" "$(q "SELECT count(*) || ' ' || max(event_id) FROM phasegate.events")" "$before"
finish
