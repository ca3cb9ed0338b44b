#!/usr/bin/env bash
# kill -9 at every step boundary (PHASEGATE_CRASH_AT) and in the middle of a step, then rerun:
# the same end state, nothing applied twice, the same run resumed.
source "$(dirname "$0")/lib.sh"
new_project
plan 0001-audit <<'TOML'
[[expand.steps]]
name = "a"
sql = "CREATE TABLE audit (step text); INSERT INTO audit VALUES ('a')"
[[expand.steps]]
name = "idx"
sql = "CREATE INDEX CONCURRENTLY audit_idx ON audit (step)"
[[migrate.steps]]
name = "b"
sql = "INSERT INTO audit VALUES ('b')"
[contract]
start = "auto"
[[contract.steps]]
name = "c"
sql = "INSERT INTO audit VALUES ('c')"
TOML

end_state() {
  echo "$(q "SELECT string_agg(step, ',' ORDER BY step) FROM audit")|$(q "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'audit_idx' AND i.indisvalid")|$(q "SELECT string_agg(status, ',' ORDER BY ordinal) FROM phasegate.steps")|$(q "SELECT count(*) || ':' || max(status) FROM phasegate.runs")"
}
want="a,b,c|1|completed,completed,completed,completed|1:completed"

for point in phase-start:expand before-step:a before-commit:a after-step:a before-step:idx after-intent:idx after-step:idx \
             phase-start:migrate before-step:b before-commit:b after-step:b phase-start:contract before-step:c \
             before-commit:c after-step:c; do
  new_db e2e_crash
  PHASEGATE_CRASH_AT=$point expect 137 pg run
  expect 0 pg run
  check "kill -9 at $point then rerun" "$(end_state)" "$want"
done

# In the middle of a transactional step: the backend notices the dead client
# (client_connection_check_interval) and rolls the step back; the rerun applies it once.
wait_gone() {  # until no phasegate backend is left
  for _ in $(seq 1 100); do
    [[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'phasegate run%'")" == 0 ]] && return 0
    sleep 0.1
  done
  echo "FAIL: the killed runner's backend is still there"; FAILS=$((FAILS + 1))
}
new_db e2e_crash_mid
q "CREATE TABLE sleep_for (s float); INSERT INTO sleep_for VALUES (30)"
plan 0001-audit <<'TOML'
[[expand.steps]]
name = "a"
sql = "CREATE TABLE audit (step text); INSERT INTO audit VALUES ('a'); SELECT pg_sleep((SELECT s FROM sleep_for))"
TOML
"$PHASEGATE_BIN" -C "$WORK/project" run >/dev/null 2>&1 &
runner=$!
for _ in $(seq 1 100); do
  [[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep((SELECT%' AND application_name LIKE 'phasegate run%'")" == 1 ]] && break
  sleep 0.1
done
kill -9 $runner; wait $runner 2>/dev/null || true
wait_gone
check "the killed step left nothing" "$(q "SELECT to_regclass('audit') IS NULL")" "t"
check "the step is not recorded as done" "$(q "SELECT count(*) FROM phasegate.steps WHERE status = 'completed'")" "0"
q "UPDATE sleep_for SET s = 0"
expect 0 pg run
check "rerun applied it once" "$(q "SELECT string_agg(step, ',') FROM audit")" "a"
check "the same run resumed" "$(q "SELECT count(*) || ':' || max(status) FROM phasegate.runs")" "1:completed"

# In the middle of CREATE INDEX CONCURRENTLY: a transaction holding an old snapshot makes the build wait;
# kill -9 leaves an invalid index, which the rerun detects, drops and rebuilds.
new_db e2e_crash_cic
q "CREATE TABLE audit (step text); INSERT INTO audit VALUES ('x')"
plan 0001-audit <<'TOML'
[[expand.steps]]
name = "idx"
sql = "CREATE INDEX CONCURRENTLY audit_idx ON audit (step)"
TOML
"$PSQL" "$DATABASE_URL" -qAtX -c "BEGIN; SELECT txid_current(); SELECT pg_sleep(60); COMMIT" >/dev/null 2>&1 &
blocker=$!
sleep 0.5
"$PHASEGATE_BIN" -C "$WORK/project" run >/dev/null 2>&1 &
runner=$!
for _ in $(seq 1 100); do
  [[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'")" == 1 ]] && break
  sleep 0.1
done
kill -9 $runner; wait $runner 2>/dev/null || true
wait_gone
check "an invalid index was left behind" "$(q "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'audit_idx' AND NOT i.indisvalid")" "1"
check "the step is recorded as running (intent)" "$(q "SELECT status FROM phasegate.steps")" "running"
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
wait $blocker 2>/dev/null || true
expect 0 pg run
check "index rebuilt and valid" "$(q "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'audit_idx' AND i.indisvalid")" "1"
check "the rebuild was recorded" "$(q "SELECT count(*) FROM phasegate.events WHERE payload->>'reason' LIKE 'dropping invalid index%'")" "1"
finish
