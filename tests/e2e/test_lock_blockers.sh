#!/usr/bin/env bash
# Lock timeout (SPEC §3.3) against real sessions: each timeout names who blocked us (pg_blocking_pids),
# exhausted retries exit 75 with nothing applied, cancel_blockers cancels them once and the step applies.
source "$(dirname "$0")/lib.sh"
new_db e2e_blockers
new_project
sed -i 's/^lock_timeout = "1s"$/lock_timeout = "300ms"/; s/^lock_retries = 1$/lock_retries = 2/' "$WORK/project/phasegate.toml"
q "CREATE TABLE accounts (id int PRIMARY KEY, balance int)"
plan 0001-acct <<'TOML'
[plan]
description = "accounts"
[[expand.steps]]
name = "add note"
sql = "ALTER TABLE accounts ADD COLUMN note text"
down = "ALTER TABLE accounts DROP COLUMN note"
TOML
# blocker SECONDS: a report that holds ACCESS SHARE on accounts in a running query, in the background.
blocker() {
  PGAPPNAME=e2e-report "$PSQL" "$DATABASE_URL" -qAtX -c "BEGIN; LOCK TABLE accounts IN ACCESS SHARE MODE; SELECT pg_sleep($1); COMMIT" \
    >"$WORK/blocker.out" 2>&1 &
  BLOCKER=$!
  for _ in $(seq 50); do
    [[ $(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'e2e-report' AND l.relation = 'accounts'::regclass") == 1 ]] && return
    sleep 0.1
  done
  echo "FAIL: the blocker never took its lock"; FAILS=$((FAILS + 1))
}
blocker 30
bpid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'e2e-report'")
expect 75 pg run
contains "exhausted retries exit 75 naming the blocker" "$ERR" "blocked by pid $bpid (user postgres, application 'e2e-report', active"
contains "the blocker's query" "$ERR" "LOCK TABLE accounts IN ACCESS SHARE MODE"
contains "nothing applied" "$ERR" "nothing was applied"
contains "suggests cancel_blockers" "$ERR" "cancel_blockers = true"
check "no column" "$(q "SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'note'")" "0"
check "each retry event names the blocker" \
  "$(q "SELECT count(*) FROM phasegate.events WHERE kind = 'step.retrying' AND payload->'blockers' @> '[{\"application\": \"e2e-report\"}]'")" "2"
check "run is blocked" "$(q "SELECT status FROM phasegate.runs ORDER BY run_id DESC LIMIT 1")" "blocked"
check "the blocker is still there" "$(kill -0 $BLOCKER 2>/dev/null && echo alive)" "alive"

sed -i 's/^lock_retries = 2$/lock_retries = 1\ncancel_blockers = true/' "$WORK/project/phasegate.toml"
expect 0 pg run
check "cancel_blockers: step applied after cancelling" \
  "$(q "SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'note'")" "1"
wait $BLOCKER || true
contains "the blocker's query was cancelled" "$(cat "$WORK/blocker.out")" "canceling statement due to user request"
check "cancel recorded with the pid" \
  "$(q "SELECT payload->>'cancelled' FROM phasegate.events WHERE kind = 'step.retrying' AND payload->>'reason' = 'cancel_blockers'")" "1"
finish
