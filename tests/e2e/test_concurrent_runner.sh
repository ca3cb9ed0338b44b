#!/usr/bin/env bash
# One run at a time per target database: a second runner exits 75 at once and says who holds the lock.
source "$(dirname "$0")/lib.sh"
new_db e2e_lock
new_project
plan 0001-slow <<'TOML'
[[expand.steps]]
name = "slow"
sql = "CREATE TABLE t (id int); SELECT pg_sleep(4)"
TOML
pg run >"$WORK/first.out" 2>&1 &
first=$!
for _ in $(seq 1 100); do
  [[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(4)%' AND application_name LIKE 'phasegate run%'")" == 1 ]] && break
  sleep 0.1
done
start=$(date +%s%N)
expect 75 pg run
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
contains "second runner names the holder" "$ERR" "another run holds the phasegate lock"
contains "holder's application name" "$ERR" "phasegate run"
check "second runner returned before the first finished" "$([[ $elapsed_ms -lt 3000 ]] && echo yes || echo "no (${elapsed_ms} ms)")" "yes"
wait $first
check "first runner completed" "$?" "0"
check "step applied once" "$(q "SELECT status || ':' || attempts FROM phasegate.steps")" "completed:1"
finish
