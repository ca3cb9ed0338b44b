#!/usr/bin/env bash
# Load guards (SPEC §3.4) for real: replication lag from pg_stat_replication with a streaming standby made by
# pg_basebackup (its replay paused), active connections, and a throttle query. Each waits with backoff,
# records why (guard.wait), and goes (guard.go) once the load is gone.
source "$(dirname "$0")/lib.sh"
eval "$("$PHASEGATE_SRC/scripts/pg.sh" replica)"
trap '"$PHASEGATE_SRC/scripts/pg.sh" stop "$PHASEGATE_REPLICA_DIR"; rm -rf "$WORK"; kill $(jobs -p) 2>/dev/null || true' EXIT
new_db e2e_load
new_project
sr() { "$PSQL" "$PHASEGATE_REPLICA_URL" -qAtX -c "$1"; }
for _ in $(seq 100); do [[ $(q "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") -ge 1 ]] && break; sleep 0.1; done
check "a standby is streaming" "$(q "SELECT count(*) >= 1 FROM pg_stat_replication WHERE state = 'streaming'")" "t"
q "CREATE TABLE walgen (x int); CREATE TABLE throttle (busy boolean); INSERT INTO throttle VALUES (false)"
add_plan() {
  plan "$1" <<TOML
[plan]
description = "load"
[[expand.steps]]
name = "create"
sql = "CREATE TABLE $2 (id int)"
down = "DROP TABLE $2"
TOML
}
exists() { q "SELECT to_regclass('$1') IS NOT NULL"; }
# start_run: phasegate run in the background (bounded by --wait so a broken guard cannot hang the test).
start_run() { pg run --wait=60s >"$WORK/run.out" 2>"$WORK/run.err" & RUN=$!; }
wait_event() {  # wait_event GUARD KIND: until the event is recorded (10 s at most)
  for _ in $(seq 100); do
    [[ $(q "SELECT count(*) FROM phasegate.events WHERE kind = '$2' AND payload->>'guard' = '$1'" 2>/dev/null) -ge 1 ]] && return 0
    sleep 0.1
  done
  return 1
}

# --- replication lag: pause replay on the standby and keep writing on the primary ---
sed -i 's/^\[guards\]$/[guards]\nmax_replication_lag = "1s"/' "$WORK/project/phasegate.toml"
add_plan 0001-lag lag_t
sr "SELECT pg_wal_replay_pause()"
(for _ in $(seq 300); do q "INSERT INTO walgen VALUES (1)" || true; sleep 0.2; done) &
GEN=$!
for _ in $(seq 100); do
  [[ $(q "SELECT coalesce(extract(epoch FROM max(replay_lag)), 0) > 1.5 FROM pg_stat_replication") == t ]] && break; sleep 0.1
done
start_run
wait_event replication_lag guard.wait || { echo "FAIL: no guard.wait for replication_lag"; FAILS=$((FAILS + 1)); }
sleep 1
check "lagging standby: step not applied yet" "$(exists lag_t)" "f"
contains "the wait says why" "$(q "SELECT payload->>'reason' FROM phasegate.events WHERE kind = 'guard.wait'")" "> max_replication_lag 1s"
sr "SELECT pg_wal_replay_resume()"
kill $GEN 2>/dev/null || true
wait $RUN; rc=$?
check "after the standby caught up: run exit 0" "$rc" "0"
check "applied" "$(exists lag_t)" "t"
check "guard.go recorded" "$(q "SELECT count(*) FROM phasegate.events WHERE kind = 'guard.go' AND payload->>'guard' = 'replication_lag'")" "1"

# --- active connections ---
sed -i 's/^max_replication_lag = "1s"$/max_active_connections = 2/' "$WORK/project/phasegate.toml"
add_plan 0002-conns conns_t
for _ in 1 2 3; do q "SELECT pg_sleep(4)" >/dev/null & done
sleep 0.5
start_run
wait_event active_connections guard.wait || { echo "FAIL: no guard.wait for active_connections"; FAILS=$((FAILS + 1)); }
check "busy server: not applied yet" "$(exists conns_t)" "f"
wait $RUN; rc=$?
check "after the sessions ended: run exit 0" "$rc" "0"
check "applied" "$(exists conns_t)" "t"

# --- throttle query ---
sed -i 's/^max_active_connections = 2$/throttle_query = "SELECT busy FROM throttle"/' "$WORK/project/phasegate.toml"
add_plan 0003-throttle throttle_t
q "UPDATE throttle SET busy = true"
start_run
wait_event throttle_query guard.wait || { echo "FAIL: no guard.wait for throttle_query"; FAILS=$((FAILS + 1)); }
check "throttled: not applied yet" "$(exists throttle_t)" "f"
q "UPDATE throttle SET busy = false"
wait $RUN; rc=$?
check "throttle lifted: run exit 0" "$rc" "0"
check "applied" "$(exists throttle_t)" "t"
contains "progress shows the wait" "$(cat "$WORK/run.err")" "throttle_query returned true"
finish
