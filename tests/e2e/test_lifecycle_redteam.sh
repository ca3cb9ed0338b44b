#!/usr/bin/env bash
# What a red-team pass found after the lifecycle rework, each a reproduction that must stay fixed:
# drift hides behind a rollback (a deleted/moved contract step, a renamed step), a non-transactional step said
# "nothing was applied" and ran twice, an edited part-applied backfill resumed, abort reported "stopped" for a
# runner that never finished, a dropped connection let a runner go on without the run lock, unreachable or
# read-only databases got the wrong exit code.
source "$(dirname "$0")/lib.sh"

# --- 1. the point of no return is read from the records, and rollback refuses drift ---
new_db e2e_rt_contract
q "CREATE TABLE books (id int PRIMARY KEY, old_level text); INSERT INTO books VALUES (1, 'L3')"
new_project
plan 0001-level <<'TOML'
[[expand.steps]]
name = "add new_level"
sql = "ALTER TABLE books ADD COLUMN new_level text"
down = "ALTER TABLE books DROP COLUMN new_level"
[[migrate.steps]]
name = "copy"
backfill = { table = "books", set = "new_level = old_level", where = "new_level IS NULL" }
[contract]
start = "auto"
[[contract.steps]]
name = "drop old_level"
sql = "ALTER TABLE books DROP COLUMN old_level"
irreversible = true
TOML
expect 0 pg run
cp "$WORK/project/plans/0001-level.toml" "$WORK/level.toml"
python3 - "$WORK/project/plans/0001-level.toml" <<'PY'
import sys; p = sys.argv[1]; s = open(p).read(); open(p, "w").write(s[:s.index("[contract]")])
PY
expect 2 pg rollback 0001-level --yes
contains "contract section deleted: rollback refuses, naming the step" "$ERR" "drop old_level"
check "contract section deleted: the only copy of the data is still there" "$(q "SELECT new_level FROM books")" "L3"
expect 4 pg status --check
sed -e 's/^\[contract\]$//' -e 's/^start = "auto"$//' -e 's/^\[\[contract.steps\]\]$/[[expand.steps]]/' "$WORK/level.toml" >"$WORK/project/plans/0001-level.toml"
expect 4 pg status --check
contains "contract step moved to expand: status names the move" "$OUT" "was moved from the contract phase"
expect 2 pg rollback 0001-level --yes
check "contract step moved to expand: nothing was rolled back" "$(q "SELECT new_level FROM books")" "L3"
cp "$WORK/level.toml" "$WORK/project/plans/0001-level.toml"
expect 5 pg rollback 0001-level --yes
contains "restored file: the point of no return" "$ERR" "point of no return"

# --- 2. a renamed applied step is drift for rollback too ---
new_db e2e_rt_rename
q "CREATE TABLE t (id int)"
new_project
plan 0001-two <<'TOML'
[[expand.steps]]
name = "add a"
sql = "ALTER TABLE t ADD COLUMN a int"
down = "ALTER TABLE t DROP COLUMN a"
[[expand.steps]]
name = "add b"
sql = "ALTER TABLE t ADD COLUMN b int"
down = "ALTER TABLE t DROP COLUMN b"
TOML
expect 0 pg run
sed -i 's/^name = "add b"$/name = "add column b"/' "$WORK/project/plans/0001-two.toml"
expect 2 pg rollback 0001-two --yes
contains "renamed step: rollback names the step no longer in the file" "$ERR" '"add b"'
check "renamed step: both columns still there" "$(col_exists t a)$(col_exists t b)" "11"

# --- 3. a non-transactional step blocked after its first statement says so, and never runs it twice ---
new_db e2e_rt_nontx
q "CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL DEFAULT 0); INSERT INTO counters VALUES (1, 0)"
new_project
plan 0001-bump <<'TOML'
[[expand.steps]]
name = "bump and vacuum"
sql = "UPDATE counters SET n = n + 1; VACUUM counters"
down = "UPDATE counters SET n = n - 1"
TOML
"$PSQL" "$DATABASE_URL" -qAtX -c "BEGIN; LOCK TABLE counters IN SHARE UPDATE EXCLUSIVE MODE; SELECT pg_sleep(30); COMMIT" >/dev/null 2>&1 &
locker=$!
for _ in $(seq 100); do [[ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'counters' AND l.mode = 'ShareUpdateExclusiveLock' AND l.granted")" == 1 ]] && break; sleep 0.1; done
expect 75 pg run
contains "blocked: it says the first statement ran" "$ERR" "the first 1 of its 2 statements ran"
check "blocked: the first statement ran once" "$(q "SELECT n FROM counters")" "1"
kill "$locker" 2>/dev/null; wait "$locker" 2>/dev/null || true
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%LOCK TABLE counters%' AND pid <> pg_backend_pid()" >/dev/null
for _ in $(seq 100); do [[ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'counters' AND l.mode = 'ShareUpdateExclusiveLock'")" == 0 ]] && break; sleep 0.1; done
expect 0 pg run
check "resumed after the statement that ran: n = 1, not 2" "$(q "SELECT n FROM counters")" "1"

# --- 4. an edited part-applied backfill is drift: it is not resumed with the new SQL ---
new_db e2e_rt_bf
q "CREATE TABLE vals (id int PRIMARY KEY, n int); INSERT INTO vals SELECT g, NULL FROM generate_series(1, 1000) g"
new_project
plan 0001-fill <<'TOML'
[[migrate.steps]]
name = "bump"
backfill = { table = "vals", set = "n = 1", where = "n IS NULL", batch_rows = 100 }
irreversible = true
TOML
PHASEGATE_CRASH_AT="after-batch:bump" expect 137 pg run
sed -i 's/set = "n = 1"/set = "n = 2"/' "$WORK/project/plans/0001-fill.toml"
expect 2 pg run
contains "edited part-applied backfill: refused as drift" "$ERR" "was edited while it was"
check "edited part-applied backfill: no row got the new value" "$(q "SELECT count(*) FROM vals WHERE n = 2")" "0"
expect 4 pg status --check

# --- 5. abort whose runner stops without finishing: abort finishes it and says what the database holds ---
new_db e2e_rt_abort
q "CREATE TABLE t (id int)"
new_project
plan 0001-wait <<'TOML'
[[expand.steps]]
name = "add a"
sql = "ALTER TABLE t ADD COLUMN a int"
down = "ALTER TABLE t DROP COLUMN a"
[[expand.steps]]
name = "wait"
command = ["sleep", "29"]
irreversible = true
TOML
"$PHASEGATE_BIN" -C "$WORK/project" run >"$WORK/r.out" 2>"$WORK/r.err" &
runner=$!
for _ in $(seq 300); do [[ "$(q "SELECT count(*) FROM phasegate.steps WHERE step = 'wait' AND status = 'running'" 2>/dev/null)" == 1 ]] && break; sleep 0.1; done
kill -STOP "$runner"
"$PHASEGATE_BIN" -C "$WORK/project" abort 1 >"$WORK/a.out" 2>"$WORK/a.err" &
aborter=$!
for _ in $(seq 300); do [[ "$(q "SELECT count(*) FROM phasegate.runs WHERE abort_requested_at IS NOT NULL")" == 1 ]] && break; sleep 0.1; done
check "the abort request is an event" "$(q "SELECT count(*) FROM phasegate.events WHERE kind = 'run.abort_requested'")" "1"
kill -KILL "$runner"; wait "$runner" 2>/dev/null || true
pkill -f "sleep 29" 2>/dev/null || true
set +e; wait "$aborter"; aexit=$?; set -e
check "abort of a runner that died: exit 0 (rolled back by abort itself)" "$aexit" "0"
contains "abort says it finished the run itself" "$(cat "$WORK/a.out" "$WORK/a.err")" "stopped without finishing; aborted here"
check "the run is rolled back, the column gone" "$(q "SELECT status FROM phasegate.runs WHERE run_id = 1") $(col_exists t a)" "rolled_back 0"

# --- 6. a runner whose connection is dropped reconnects and takes the run lock again before it writes; when
#        someone else holds the lock by then, it never writes without it: exit 75, nothing applied ---
new_db e2e_rt_conn
q "CREATE TABLE log (what text)"
new_project
cat >>"$WORK/project/phasegate.toml" <<'TOML'
[database]
reconnect_timeout = "2s"
TOML
plan 0001-conn <<'TOML'
[[expand.steps]]
name = "wait"
command = ["sleep", "3"]
irreversible = true
[[expand.steps]]
name = "insert"
sql = "INSERT INTO log VALUES ('inserted')"
down = "DELETE FROM log"
TOML
attempts_of_wait() { q "SELECT coalesce((SELECT attempts FROM phasegate.steps WHERE step = 'wait' AND status = 'running'), 0)" 2>/dev/null || echo 0; }
start_runner() {  # starts the runner and waits until *this* runner's command step runs (its attempt recorded)
  local before; before=$(attempts_of_wait)
  "$PHASEGATE_BIN" -C "$WORK/project" run >"$WORK/c.out" 2>"$WORK/c.err" &
  runner=$!
  for _ in $(seq 600); do [[ $(attempts_of_wait) -gt $before ]] && break; sleep 0.1; done
}
cut_off() {  # terminates the runner's session and waits for the runner
  q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'phasegate run%'" >/dev/null
  set +e; wait "$runner"; rexit=$?; set -e
}
# 6a. Someone takes the run lock the moment the runner's session is gone (a waiter on the same advisory lock).
start_runner
"$PSQL" "$DATABASE_URL" -qAtX -c "SELECT pg_advisory_lock(1347900487, hashtext('phasegate'))" -c "SELECT pg_sleep(6)" >/dev/null &
holder=$!
for _ in $(seq 300); do [[ "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")" == 1 ]] && break; sleep 0.1; done
cut_off
check "a runner that cannot take the lock back exits 75 (never 0, 1 or 5)" "$rexit" "75"
contains "it says another session holds the lock" "$(cat "$WORK/c.err")" "run lock is held by another session"
check "it applied nothing without the lock" "$(q "SELECT count(*) FROM log")" "0"
check "no rollback was recorded by the cut-off runner" "$(q "SELECT count(*) FROM phasegate.events WHERE kind LIKE 'rollback.%'")" "0"
wait "$holder" || true
# 6b. Nobody took it: the runner reconnects, takes the lock again, re-runs the interrupted command step, goes on.
start_runner
cut_off
check "the cut-off runner reconnected and finished" "$rexit" "0"
check "the step after it applied once" "$(q "SELECT count(*) FROM log") $(q "SELECT string_agg(status, ',') FROM phasegate.runs")" "1 completed"
check "run.reconnected recorded" "$(q "SELECT count(*) FROM phasegate.events WHERE kind = 'run.reconnected'")" "1"

# --- 7. cannot reach or write the target: exit 69, nothing changed ---
new_project
plan 0001-x <<'TOML'
[[expand.steps]]
name = "x"
sql = "CREATE TABLE x (id int)"
down = "DROP TABLE x"
TOML
DATABASE_URL="host=127.0.0.1 port=1 user=postgres dbname=postgres connect_timeout=2" expect 69 pg run
contains "unreachable: says so" "$ERR" "cannot reach the target database"
new_db e2e_rt_ro
q "ALTER DATABASE e2e_rt_ro SET default_transaction_read_only = on"
expect 69 pg run
contains "read-only: says so" "$ERR" "read-only"
finish
