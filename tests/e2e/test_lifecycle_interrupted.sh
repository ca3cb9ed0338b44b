#!/usr/bin/env bash
# SPEC §5.1: "A rollback cut short (crash, server restart) is finished, or reported incomplete (exit 5), by the
# next command that touches the plan; it is never reported clean."
# Three expand steps with a down each, then a migrate step that fails: the run rolls back newest first and is
# killed part-way through that rollback (the crash points rollback-after-down:/rollback-before-down:, and a
# real kill -9 while a down statement runs). Right after the kill, status must not call the plan clean; the
# next `run` finishes the rollback (exit 1, nothing left) or says it is incomplete (exit 5); the next
# `rollback PLAN --yes` finishes it (exit 0 or 1, nothing left) or exits 5.
source "$(dirname "$0")/lib.sh"

# The plan's objects that exist now.
objects() { q "SELECT coalesce(string_agg(relname, ',' ORDER BY relname), 'none') FROM pg_class WHERE relname IN ('t1', 't2', 't3') AND relkind = 'r'"; }
# wait_gone: until no other client backend is left in this database (a killed runner's backend notices the
# closed socket within client_connection_check_interval and rolls its transaction back).
wait_gone() {
  for _ in $(seq 300); do
    [[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()")" == 0 ]] && return 0
    sleep 0.1
  done
  echo "FAIL: the killed runner's backend is still there after 30 s"; FAILS=$((FAILS + 1))
}

setup() {  # setup DBNAME [DOWN2]: a fresh database and the plan (DOWN2: t2's down)
  new_db "$1"
  new_project
  q "CREATE TABLE sleep_for (s float); INSERT INTO sleep_for VALUES (0)"
  plan 0001-three <<TOML
[plan]
description = "three expand steps, then a failing migrate step"
[[expand.steps]]
name = "t1"
sql = "CREATE TABLE t1 (id int)"
down = "DROP TABLE t1"
[[expand.steps]]
name = "t2"
sql = "CREATE TABLE t2 (id int)"
down = "${2:-DROP TABLE t2}"
[[expand.steps]]
name = "t3"
sql = "CREATE TABLE t3 (id int)"
down = "DROP TABLE t3"
[[migrate.steps]]
name = "boom"
sql = "SELECT 1/0"
TOML
}

# after_kill LABEL: what status says right after the rollback was cut short (t3 undone, t1 and t2 still there).
after_kill() {
  check "$1: killed mid-rollback: t3 undone, t1 and t2 still applied" "$(objects)" "t1,t2"
  local state
  state=$(pj 'p["state"]' 0001-three)
  check "$1: status --json right after the kill says rolling_back or rollback_incomplete (got $state)" \
    "$([[ $state == rolling_back || $state == rollback_incomplete ]] && echo yes || echo no)" "yes"
  expect 4 pg status --check
}

# next_command LABEL run|rollback: the next command finishes the rollback or reports it incomplete.
next_command() {
  local label=$1 cmd=$2 rc clean
  set +e
  if [[ $cmd == run ]]; then pg run >"$WORK/next.out" 2>"$WORK/next.err"; else pg rollback 0001-three --yes >"$WORK/next.out" 2>"$WORK/next.err"; fi
  rc=$?
  set -e
  # Clean now: `run` exits 1 (the original run failed and is now rolled back cleanly); `rollback PLAN` exits 0
  # (everything undone) or 1 (it finished the failed run's rollback cleanly).
  clean=$([[ $cmd == run ]] && echo 1 || echo "0 or 1")
  if [[ $rc == 1 || ($cmd == rollback && $rc == 0) ]]; then
    echo "ok: $label: the next $cmd finished the rollback (exit $rc)"
    check "$label: after exit $rc every object of the plan is gone" "$(objects)" "none"
    check "$label: after exit $rc status --json says rolled_back, no step done" "$(pj 'p["state"] + " " + str(p["steps_done"])' 0001-three)" "rolled_back 0"
    expect 4 pg status --check
  elif [[ $rc == 5 ]]; then
    echo "ok: $label: the next $cmd reported the rollback incomplete (exit 5)"
    check "$label: after exit 5 status does not call the plan clean" \
      "$(pj 'p["state"] not in ("rolled_back", "pending", "applied")' 0001-three)" "true"
  else
    echo "FAIL: $label: the next '$cmd' exited $rc, want $clean (rollback finished) or 5 (incomplete)"
    echo "stdout: $(cat "$WORK/next.out")"; echo "stderr: $(cat "$WORK/next.err")"; FAILS=$((FAILS + 1))
    echo "  (objects now: $(objects); status: $(pj 'p["state"]' 0001-three))"
  fi
}

# --- crash points inside the rollback ---
for point in rollback-after-down:t3 rollback-before-down:t2; do
  for next in run rollback; do
    label="$point, then $next"
    setup e2e_lc_interrupted
    PHASEGATE_CRASH_AT=$point expect 137 pg run
    after_kill "$label"
    next_command "$label" "$next"
  done
done

# --- a real kill -9 while t2's down runs (its statement waits on sleep_for) ---
for next in run rollback; do
  label="kill -9 during t2's down, then $next"
  setup e2e_lc_interrupted_kill "SELECT pg_sleep((SELECT s FROM sleep_for)); DROP TABLE t2"
  q "UPDATE sleep_for SET s = 60"
  "$PHASEGATE_BIN" -C "$WORK/project" run >"$WORK/bg.out" 2>"$WORK/bg.err" &
  runner=$!
  in_down=0
  for _ in $(seq 300); do
    [[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%pg_sleep((SELECT s FROM sleep_for))%'")" == 1 ]] && { in_down=1; break; }
    sleep 0.1
  done
  check "$label: the rollback reached t2's down" "$in_down" "1"
  kill -9 $runner; wait $runner 2>/dev/null || true
  q "UPDATE sleep_for SET s = 0"
  wait_gone
  after_kill "$label"
  next_command "$label" "$next"
done
finish
