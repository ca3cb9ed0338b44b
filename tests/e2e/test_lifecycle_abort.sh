#!/usr/bin/env bash
# SPEC §2 (abort) and §5.1 (lifecycle): `phasegate abort RUN` from another terminal.
#  1. abort in the middle of a backfill rolls the plan back; the next `run` applies it from the start (every row
#     filled, not "applied" with the rows still NULL).
#  2. abort during a command step terminates the program (its `sleep` never finishes), then rolls back; exit 6.
#  3. abort only touches runs of its own database: `abort 1` in db_b does not stop run 1 of db_a (same cluster),
#     whether db_b's run 1 waits at its contract gate or has a live runner of its own.
source "$(dirname "$0")/lib.sh"
BG=()  # background processes (each the leader of its own process group, via setsid)
trap 'for p in "${BG[@]}"; do kill -9 -- "-$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

# bg OUTFILE CMD...: start CMD in the background in its own process group; $BGPID is its pid.
bg() { local out=$1; shift; setsid "$@" >"$out.out" 2>"$out.err" & BGPID=$!; BG+=("$BGPID"); }
# wait_exit PID SECONDS DESC: $RC = PID's exit code once it ends; after SECONDS (polled) it is a failure, the
# process group is killed and $RC = "still running".
wait_exit() {
  local pid=$1 tries=$(($2 * 10))
  for _ in $(seq "$tries"); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    echo "FAIL: $3 still running after $2 s"; FAILS=$((FAILS + 1))
    kill -9 -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    RC="still running"
    return 0
  fi
  set +e; wait "$pid"; RC=$?; set -e
}
# wait_true DESC SQL [SECONDS]: poll SQL (0.1 s steps) until it prints t; a failure after SECONDS (default 30).
wait_true() {
  local tries=$((${3:-30} * 10))
  for _ in $(seq "$tries"); do [[ "$(q "$2" 2>/dev/null)" == t ]] && return 0; sleep 0.1; done
  echo "FAIL: timed out waiting for $1"; FAILS=$((FAILS + 1)); return 1
}

# ---------------------------------------------------------------------------------------------------------
# 1. abort in the middle of a backfill, then run again. Twice: a backfill without `down` (the column it fills
#    is dropped by the earlier step's down, so it needs no undo: SPEC §5.1) and one with the README's
#    `down = "UPDATE books SET lvl = NULL"`.
# ---------------------------------------------------------------------------------------------------------
for variant in no-down with-down; do
  new_db e2e_lc_abort_backfill
  new_project
  q "CREATE TABLE books (id int PRIMARY KEY, title text NOT NULL);
     INSERT INTO books SELECT g, 'book ' || g FROM generate_series(1, 3000) g; ANALYZE books"
  plan 0001-lvl <<'TOML'
[plan]
description = "books.lvl, backfilled"
[[expand.steps]]
name = "add lvl"
sql = "ALTER TABLE books ADD COLUMN lvl int"
down = "ALTER TABLE books DROP COLUMN lvl"
[[migrate.steps]]
name = "fill lvl"
backfill = { table = "books", set = "lvl = id % 7 + 1", where = "lvl IS NULL", batch_rows = 100, pause = "100ms" }
[contract]
start = "manual"
[[contract.steps]]
name = "comment lvl"
sql = "COMMENT ON COLUMN books.lvl IS 'reading level'"
irreversible = true
TOML
  [[ $variant == with-down ]] && sed -i 's/^\(backfill = .*\)$/\1\ndown = "UPDATE books SET lvl = NULL"/' "$WORK/project/plans/0001-lvl.toml"
  bg "$WORK/bf" "$PHASEGATE_BIN" -C "$WORK/project" run
  runner=$BGPID
  if wait_true "the backfill to commit 2 batches ($variant)" \
       "SELECT coalesce((cursor->>'batches')::int, 0) >= 2 FROM phasegate.steps WHERE step = 'fill lvl'"; then
    run_id=$(q "SELECT max(run_id) FROM phasegate.runs WHERE plan_id = '0001-lvl'")
    expect 0 timeout 120 "$PHASEGATE_BIN" -C "$WORK/project" abort "$run_id"
    wait_exit "$runner" 30 "the aborted runner ($variant)"
    check "backfill abort ($variant): the runner exits 6" "$RC" "6"
    check "backfill abort ($variant): the column is gone (rolled back)" "$(col_exists books lvl)" "0"
    check "backfill abort ($variant): the run was aborted and rolled back" "$(q "SELECT status || ' ' || cause FROM phasegate.runs WHERE run_id = $run_id")" "rolled_back aborted"
    check "backfill abort ($variant): status --json: the plan is rolled back" "$(pj 'p["state"]' 0001-lvl)" "rolled_back"
    check "backfill abort ($variant): status --json: no step done, both pending again" \
      "$(pj 'str(p["steps_done"]) + " " + json.dumps(p["pending"])' 0001-lvl)" '0 ["add lvl", "fill lvl"]'
    check "backfill abort ($variant): every step pending, no cursor kept" \
      "$(q "SELECT count(*) FROM phasegate.steps WHERE plan_id = '0001-lvl' AND (cursor IS NOT NULL OR status <> 'pending')")" "0"
    expect 4 pg status --check
  fi
  expect 0 pg run
  check "rerun after abort ($variant): the column is back" "$(col_exists books lvl)" "1"
  check "rerun after abort ($variant): no row left NULL" "$(q "SELECT count(*) FROM books WHERE lvl IS NULL")" "0"
  check "rerun after abort ($variant): every row lvl = id % 7 + 1" "$(q "SELECT count(*) FROM books WHERE lvl IS DISTINCT FROM id % 7 + 1")" "0"
  check "rerun after abort ($variant): status --json: waiting for the contract start, nothing pending" \
    "$(pj 'p["state"] + " " + json.dumps(p["pending"])' 0001-lvl)" "waiting []"
  expect 0 pg status --check
done

# ---------------------------------------------------------------------------------------------------------
# 2. abort during a command step: the program is terminated, the expand step rolled back
# ---------------------------------------------------------------------------------------------------------
new_db e2e_lc_abort_command
new_project
q "CREATE TABLE books (id int PRIMARY KEY)"
M1="$WORK/project/cmd-started"
M2="$WORK/project/cmd-finished"
plan 0001-cmd <<TOML
[plan]
description = "a command step that takes a minute"
[[expand.steps]]
name = "add shelf"
sql = "ALTER TABLE books ADD COLUMN shelf int"
down = "ALTER TABLE books DROP COLUMN shelf"
[[migrate.steps]]
name = "slow command"
command = ["sh", "-c", "echo \$\$ > $M1; sleep 60; echo finished > $M2"]
irreversible = true
TOML
bg "$WORK/cmd" "$PHASEGATE_BIN" -C "$WORK/project" run
runner=$BGPID
started=0
for _ in $(seq 300); do [[ -s "$M1" ]] && { started=1; break; }; sleep 0.1; done
check "command abort: the command step started (marker written)" "$started" "1"
if [[ $started == 1 ]]; then
  cmd_pid=$(cat "$M1")
  run_id=$(q "SELECT max(run_id) FROM phasegate.runs WHERE plan_id = '0001-cmd'")
  bg "$WORK/cmd-abort" timeout 120 "$PHASEGATE_BIN" -C "$WORK/project" abort "$run_id"
  aborter=$BGPID
  wait_exit "$runner" 30 "the runner (abort during a command step)"
  check "command abort: the runner exits 6 within 30 s" "$RC" "6"
  gone=0
  for _ in $(seq 50); do alive "$cmd_pid" || { gone=1; break; }; sleep 0.1; done
  check "command abort: the command's process was terminated" "$gone" "1"
  check "command abort: the command never finished (second marker absent)" "$([[ -e "$M2" ]] && echo present || echo absent)" "absent"
  check "command abort: the expand step is rolled back (column gone)" "$(col_exists books shelf)" "0"
  check "command abort: the run was aborted and rolled back" "$(q "SELECT status || ' ' || cause FROM phasegate.runs WHERE run_id = $run_id")" "rolled_back aborted"
  wait_exit "$aborter" 30 "phasegate abort (command step)"
  check "command abort: phasegate abort exits 0" "$RC" "0"
  # A command the abort left running (its runner may have put it in a process group of its own): stop it now.
  if alive "$cmd_pid"; then kill -9 -- "-$cmd_pid" 2>/dev/null || kill -9 "$cmd_pid" 2>/dev/null || true; fi
  abort_said=$(cat "$WORK/cmd-abort.out" "$WORK/cmd-abort.err")
  check "command abort: abort does not say nothing was rolled back / incomplete ($abort_said)" \
    "$(grep -ciE 'nothing was rolled back|incomplete' <<<"$abort_said" || true)" "0"
fi

# ---------------------------------------------------------------------------------------------------------
# 3. abort only touches runs of this database: databases in the same cluster, each with its own DATABASE_URL
#    (project dirs proj_a and proj_b), every one with a run 1. db_a's runner -- three of them, db_a1..db_a3,
#    the same plan -- sits in a long statement (a loop waiting for gate.go) on its connection, so a cancel sent
#    to it fails its step. Several db_a runners and several fresh db_b databases, because which lock holder a
#    lookup across the whole cluster finds first depends on the lock table's layout: a binary with that bug is
#    caught in nearly every run (miss probability ~0.6 % with 3 victims and 8 attempts), never by luck passes.
# ---------------------------------------------------------------------------------------------------------
new_project
mv "$WORK/project" "$WORK/proj_a"
cat >"$WORK/proj_a/plans/0001-touch.toml" <<'TOML'
[plan]
description = "a long statement, then a slow backfill"
[[migrate.steps]]
name = "hold"
sql = "DO $$ BEGIN FOR i IN 1..1800 LOOP EXIT WHEN (SELECT go FROM gate); PERFORM pg_sleep(0.1); END LOOP; END $$"
irreversible = true
[[migrate.steps]]
name = "touch"
backfill = { table = "items", set = "touched = touched + 1", batch_rows = 500, pause = "100ms" }
irreversible = true
TOML
URL_A=()
RUNNER_A=()
for a in 1 2 3; do
  new_db "e2e_lc_abort_a$a"
  URL_A[a]=$DATABASE_URL
  q "CREATE TABLE gate (go bool NOT NULL); INSERT INTO gate VALUES (false);
     CREATE TABLE items (id int PRIMARY KEY, touched int NOT NULL DEFAULT 0);
     INSERT INTO items (id) SELECT g FROM generate_series(1, 3000) g; ANALYZE items"
  bg "$WORK/a$a" "$PHASEGATE_BIN" -C "$WORK/proj_a" run
  RUNNER_A[a]=$BGPID
done
qa() { DATABASE_URL=${URL_A[$1]} q "$2"; }
a_ready=1
for a in 1 2 3; do
  DATABASE_URL=${URL_A[a]} wait_true "db_a$a's runner to sit in its long statement" \
    "SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid() AND query LIKE '%EXIT WHEN (SELECT go FROM gate)%'" || a_ready=0
  check "db_a$a: its run is run 1, running" "$(qa "$a" "SELECT run_id || ':' || status FROM phasegate.runs" 2>/dev/null || true)" "1:running"
done
victims_alive() {  # "running" while every db_a runner is
  local a
  for a in 1 2 3; do alive "${RUNNER_A[a]}" || { echo "db_a$a's runner is gone"; return 0; }; done
  echo running
}

# 3a. db_b's run 1 is open but not running: it waits for its manual contract start.
new_db e2e_lc_abort_b
URL_B=$DATABASE_URL
qb() { DATABASE_URL=$URL_B q "$1"; }
new_project
rm -rf "$WORK/proj_b"; mv "$WORK/project" "$WORK/proj_b"
cat >"$WORK/proj_b/plans/0001-wait.toml" <<'TOML'
[plan]
description = "waits at its contract gate"
[[expand.steps]]
name = "add note"
sql = "ALTER TABLE items ADD COLUMN note text"
down = "ALTER TABLE items DROP COLUMN note"
[contract]
start = "manual"
[[contract.steps]]
name = "comment note"
sql = "COMMENT ON COLUMN items.note IS 'note'"
irreversible = true
TOML
qb "CREATE TABLE items (id int PRIMARY KEY, touched int NOT NULL DEFAULT 0)"
DATABASE_URL=$URL_B expect 0 "$PHASEGATE_BIN" -C "$WORK/proj_b" run
check "db_b: run 1 waits at the contract gate" "$(qb "SELECT run_id || ':' || status FROM phasegate.runs")" "1:waiting"
DATABASE_URL=$URL_B expect 0 timeout 120 "$PHASEGATE_BIN" -C "$WORK/proj_b" abort 1
check "db_b: its waiting run 1 is aborted and rolled back" "$(qb "SELECT status || ' ' || cause FROM phasegate.runs WHERE run_id = 1")" "rolled_back aborted"
check "db_b: its expand step is rolled back" "$(DATABASE_URL=$URL_B col_exists items note)" "0"
check "db_a: every runner still running after db_b's abort of a waiting run" "$(victims_alive)" "running"

# 3b. db_b's run 1 has a live runner (a slow backfill) at the same time as the db_a runners: `abort 1` in db_b
#     stops db_b's runner and nobody else. On 8 fresh databases.
for attempt in 1 2 3 4 5 6 7 8; do
  [[ "$(victims_alive)" == running ]] || break
  new_db "e2e_lc_abort_b$attempt"
  URL_B=$DATABASE_URL
  cat >"$WORK/proj_b/plans/0001-wait.toml" <<'TOML'
[plan]
description = "a slow backfill in db_b"
[[migrate.steps]]
name = "touch b"
backfill = { table = "items", set = "touched = touched + 1", batch_rows = 100, pause = "100ms" }
irreversible = true
TOML
  qb "CREATE TABLE items (id int PRIMARY KEY, touched int NOT NULL DEFAULT 0); INSERT INTO items (id) SELECT g FROM generate_series(1, 3000) g"
  DATABASE_URL=$URL_B bg "$WORK/b$attempt" "$PHASEGATE_BIN" -C "$WORK/proj_b" run
  runner_b=$BGPID
  DATABASE_URL=$URL_B wait_true "db_b's backfill to commit a batch (attempt $attempt)" \
    "SELECT coalesce((cursor->>'batches')::int, 0) >= 1 FROM phasegate.steps WHERE step = 'touch b'" || break
  DATABASE_URL=$URL_B expect 0 timeout 120 "$PHASEGATE_BIN" -C "$WORK/proj_b" abort 1
  wait_exit "$runner_b" 30 "db_b's runner (attempt $attempt)"
  check "db_b (attempt $attempt): its runner was aborted: exit 6" "$RC" "6"
  check "db_a (attempt $attempt): every runner still running after db_b's abort of its own live run 1" "$(victims_alive)" "running"
done

for a in 1 2 3; do
  [[ $a_ready == 1 ]] && qa "$a" "UPDATE gate SET go = true"
done
for a in 1 2 3; do
  wait_exit "${RUNNER_A[a]}" 60 "db_a$a's runner"
  check "db_a$a: its runner was not stopped by db_b's aborts: exit 0" "$RC" "0"
  [[ $RC == 0 ]] || echo "db_a$a's runner said: $(cat "$WORK/a$a.err")"
  check "db_a$a: every row touched exactly once" "$(qa "$a" "SELECT count(*) FILTER (WHERE touched = 1) || '|' || count(*) FILTER (WHERE touched <> 1) FROM items")" "3000|0"
  check "db_a$a: run 1 completed" "$(qa "$a" "SELECT string_agg(run_id || ':' || status, ',') FROM phasegate.runs")" "1:completed"
  check "db_a$a: no abort or rollback in its events" "$(qa "$a" "SELECT count(*) FROM phasegate.events WHERE kind LIKE '%abort%' OR kind LIKE 'rollback.%'")" "0"
done
finish
