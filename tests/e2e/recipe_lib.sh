# Helpers for the recipe tests (tests/e2e/test_recipe_*.sh): a recipe instantiated into a fresh project, a
# table with data, an "app" writing to it the whole time (every write must succeed), a session that blocks a
# step so `phasegate abort` lands while the step is in progress, and the run -> abort -> run -> rollback ->
# run -> contract walk the tests check the database after.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TABLE_ROWS=3000

# recipe_project DB: a fresh database and project; lock waits are short and retried many times, so a step
# held by a blocker stays in progress until `abort` (or the blocker's end).
recipe_project() {
  new_db "$1"
  rm -rf "$WORK/project"
  mkdir -p "$WORK/project/plans"
  cat >"$WORK/project/phasegate.toml" <<'TOML'
[project]
name = "recipes"
[guards]
lock_timeout = "500ms"
concurrent_lock_timeout = "500ms"
lock_retries = 1000
lock_retry_backoff = { initial = "20ms", max = "100ms" }
TOML
  trap 'app_kill; blocker_stop; stop_receiver; rm -rf "$WORK"' EXIT
}

# instantiate NAME RECIPE KEY=VALUE...: `phasegate new` from the recipe (found through the binary's own lookup,
# no PHASEGATE_RECIPES_DIR), then validate and lint it: exit 0 and not one finding.
instantiate() {
  local name=$1 recipe=$2; shift 2
  local sets=()
  for kv in "$@"; do sets+=(--set "$kv"); done
  expect 0 env -u PHASEGATE_RECIPES_DIR "$PHASEGATE_BIN" -C "$WORK/project" new "$name" --recipe "$recipe" "${sets[@]}"
  PLAN_FILE=$(ls "$WORK/project/plans/"*"-$name.toml")
  PLAN=$(basename "$PLAN_FILE" .toml)
  expect 0 pg validate
  expect 0 pg --json lint
  check "lint of the $recipe plan: findings" "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["findings"]), d["summary"]["errors"], d["summary"]["warnings"], d["summary"]["infos"])' <<<"$OUT")" "0 0 0 0"
}

# ---- the app: app_sql MODE (defined by the test) prints the SQL of one write; MODE is old or new code ----
app_start() {
  echo old >"$WORK/app.mode"
  : >"$WORK/app.ok"
  : >"$WORK/app.fail"
  touch "$WORK/app.on"
  (
    while [[ -e "$WORK/app.on" ]]; do
      mode=$(cat "$WORK/app.mode")
      if out=$(app_sql "$mode" | PGAPPNAME=app "$PSQL" "$DATABASE_URL" -qAtX -v ON_ERROR_STOP=1 2>&1); then
        echo "$mode" >>"$WORK/app.ok"
      else
        echo "[$mode] $out" >>"$WORK/app.fail"
      fi
      echo "$mode" >"$WORK/app.current"
      sleep 0.05  # pacing: a write every ~50 ms plus psql's start-up, so the app does not take a core
    done
  ) &
  APP_PID=$!
}
# app_mode MODE: from the next write on, the app is MODE's code; returns once a write of MODE completed.
app_mode() {
  echo "$1" >"$WORK/app.mode"
  wait_for "the app writing as $1 code" app_wrote "$1"
}
app_wrote() { [[ -s "$WORK/app.ok" ]] && tail -1 "$WORK/app.ok" | grep -qx "$1"; }
app_writes() { wc -l <"$WORK/app.ok"; }
app_kill() { rm -f "$WORK/app.on"; [[ -n ${APP_PID:-} ]] && wait "$APP_PID" 2>/dev/null || true; APP_PID=; }
# app_stop: stops the app and checks that every one of its writes succeeded, and that it wrote in both modes.
app_stop() {
  app_kill
  check "app writes that failed" "$(wc -l <"$WORK/app.fail")" "0"
  [[ -s "$WORK/app.fail" ]] && head -5 "$WORK/app.fail"
  local old new
  old=$(grep -cx old "$WORK/app.ok" || true)
  new=$(grep -cx new "$WORK/app.ok" || true)
  check "app wrote as old and as new code" "$([[ $old -gt 0 && $new -gt 0 ]] && echo yes || echo "no: old $old, new $new")" "yes"
}

# ---- the blocker: a session holding a lock on TABLE until blocker_stop ----
# blocker_start TABLE SQL: SQL runs in a transaction that then sleeps; returns once it holds its lock on TABLE.
blocker_start() {
  PGAPPNAME=blocker "$PSQL" "$DATABASE_URL" -qAtX -c "BEGIN; $2; SELECT pg_sleep(3600);" >/dev/null 2>&1 &
  BLOCKER_PID=$!
  BLOCKED_TABLE=$1
  wait_for "the blocker holding its lock on $1" blocker_holds
}
blocker_holds() {
  [[ $(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'blocker' AND l.granted AND l.relation = to_regclass($(sql_literal "$BLOCKED_TABLE"))") -gt 0 ]]
}
blocker_stop() {
  [[ -n ${BLOCKER_PID:-} ]] || return 0
  q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'blocker'" >/dev/null 2>&1 || true
  wait "$BLOCKER_PID" 2>/dev/null || true
  BLOCKER_PID=
}
sql_literal() { printf "'%s'" "${1//\'/\'\'}"; }
runner_waits_for_lock() {
  [[ $(q "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'phasegate run%' AND wait_event_type = 'Lock'") -gt 0 ]]
}
latest_run() { pg --json runs | python3 -c 'import json,sys; r=json.load(sys.stdin)["runs"]; print(r[-1]["id"] if r else "")'; }
run_has_event() { pg --json log "$1" 2>/dev/null | python3 -c 'import json,sys; sys.exit(0 if any(e["kind"] == sys.argv[1] for e in json.load(sys.stdin)["events"]) else 1)' "$2"; }

# abort_blocked TABLE BLOCKER_SQL [RUN ARGS...]: with the blocker holding its lock, `run` starts and its step
# waits for the lock (in progress); `phasegate abort RUN` from another process stops it; once the runner
# recorded run.aborted the blocker goes, so the rollback's downs get their locks. Checks abort exits 0, run 6.
abort_blocked() {
  local table=$1 sql=$2; shift 2
  blocker_start "$table" "$sql"
  run_bg run "$@"
  if ! wait_for "the runner's step waiting for its lock" runner_waits_for_lock; then
    activity; kill "$runner" 2>/dev/null || true; wait_rc; blocker_stop; cat "$WORK/err"; return 0
  fi
  local id
  id=$(latest_run)
  timeout 240 "$PHASEGATE_BIN" -C "$WORK/project" abort "$id" >"$WORK/abort.out" 2>&1 &
  local aborter=$!
  wait_for "run $id recording run.aborted" run_has_event "$id" run.aborted || activity
  blocker_stop
  set +e; wait "$aborter"; local arc=$?; set -e
  wait_rc
  check "abort of run $id exits" "$arc" "0"
  [[ $arc -eq 0 ]] || cat "$WORK/abort.out"
  check "the aborted run exits" "$rc" "6"
  [[ $rc -eq 6 ]] || { cat "$WORK/out" "$WORK/err"; }
  check "plan state after the abort's rollback" "$(pj 'p["state"]' "$PLAN")" "rolled_back"
}
# What every session of the test database is doing, for a failed wait.
activity() { q "SELECT pid, application_name, state, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()" || true; }

# The catalog, for the state checks.
has_constraint() { q "SELECT count(*) FROM pg_constraint WHERE conname = $(sql_literal "$1")"; }
has_index() { q "SELECT count(*) FROM pg_class WHERE relkind = 'i' AND relname = $(sql_literal "$1")"; }
col_type() { q "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass($(sql_literal "$1")) AND attname = $(sql_literal "$2") AND NOT attisdropped"; }
col_not_null() { q "SELECT attnotnull FROM pg_attribute WHERE attrelid = to_regclass($(sql_literal "$1")) AND attname = $(sql_literal "$2") AND NOT attisdropped"; }
has_trigger() { q "SELECT count(*) FROM pg_trigger WHERE tgname = $(sql_literal "$1")"; }
has_function() { q "SELECT count(*) FROM pg_proc WHERE proname = $(sql_literal "$1")"; }
rows() { q "SELECT count(*) FROM $1"; }
