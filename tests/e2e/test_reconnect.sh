#!/usr/bin/env bash
# Issue #12, faults: the database server restarts in the middle of a run (here: while a step's statement
# runs). phasegate reconnects with backoff, takes the run lock again, reads back what committed and goes on:
# exit 0, every step applied once, nothing rolled back. When the database does not come back within
# [database] reconnect_timeout the run stops with exit 75 and is resumed by the next run.
source "$(dirname "$0")/lib.sh"
: "${PHASEGATE_PG_DIR:?the restart test needs the cluster of scripts/pg.sh}" "${PHASEGATE_PG_BIN:?}"
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
running_sleep() { [[ $(q "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1' AND query LIKE '%pg_sleep(2)%' AND pid <> pg_backend_pid()" 2>/dev/null) == 1 ]]; }

new_db e2e_reconnect
q "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT g FROM generate_series(1, 500) g"
new_project
plan 0001-restart <<'TOML'
[[expand.steps]]
name = "add c"
sql = "ALTER TABLE t ADD COLUMN c int"
down = "ALTER TABLE t DROP COLUMN c"
[[expand.steps]]
name = "slow"
sql = "CREATE TABLE slow_done AS SELECT 1 AS one FROM pg_sleep(2)"
down = "DROP TABLE slow_done"
[[expand.steps]]
name = "add d"
sql = "ALTER TABLE t ADD COLUMN d int"
down = "ALTER TABLE t DROP COLUMN d"
TOML
run_bg run
wait_for "the slow step's statement runs" running_sleep e2e_reconnect
as_pg "$PHASEGATE_PG_BIN/pg_ctl" -D "$PHASEGATE_PG_DIR/data" -w -m fast restart >/dev/null
wait_rc
check "the run survived the server restart" "$rc" "0"
[[ $rc == 0 ]] || { echo "stdout: $(cat "$WORK/out")"; echo "stderr: $(cat "$WORK/err")"; }
check "every step applied, once" "$(col_exists t c)$(q "SELECT count(*) FROM slow_done")$(col_exists t d)" "111"
check "one run, completed" "$(q "SELECT string_agg(status, ',') FROM phasegate.runs")" "completed"
check "the reconnect is in the log" "$(q "SELECT count(*) FROM phasegate.events WHERE kind = 'run.reconnected'")" "1"
check "nothing was rolled back" "$(q "SELECT count(*) FROM phasegate.events WHERE kind LIKE 'rollback.%' OR kind = 'run.failed'")" "0"
contains "the progress output said it reconnected" "$(cat "$WORK/err")" "reconnect"

# --- a restart in the middle of a backfill: it continues from its committed cursor, no row skipped or filled twice ---
new_db e2e_reconnect_bf
q "CREATE TABLE b (id int PRIMARY KEY, v int NOT NULL DEFAULT 0); INSERT INTO b (id) SELECT g FROM generate_series(1, 3000) g"
new_project
plan 0001-bf <<'TOML'
[[migrate.steps]]
name = "bump"
backfill = { table = "b", set = "v = v + 1", batch_rows = 100, target_batch_time = "1s", pause = "100ms" }
TOML
run_bg run
halfway() { [[ $(q "SELECT count(*) FROM b WHERE v = 1") -ge 500 ]]; }
wait_for "the backfill is under way" halfway
check "the restart lands mid-backfill" "$(q "SELECT count(*) < 3000 FROM b WHERE v = 1")" "t"
as_pg "$PHASEGATE_PG_BIN/pg_ctl" -D "$PHASEGATE_PG_DIR/data" -w -m fast restart >/dev/null
wait_rc
check "the backfill survived the restart" "$rc" "0"
[[ $rc == 0 ]] || { echo "stderr: $(cat "$WORK/err")"; }
check "every row filled exactly once" "$(q "SELECT count(*) FILTER (WHERE v = 1) || '/' || count(*) FROM b")" "3000/3000"
check "it reconnected once and resumed" "$(q "SELECT count(*) FROM phasegate.events WHERE kind = 'run.reconnected'")" "1"

# --- the database does not come back in time: exit 75, resumable ---
new_db e2e_reconnect_gone
q "CREATE TABLE t (id int PRIMARY KEY)"
new_project
cat >>"$WORK/project/phasegate.toml" <<'TOML'
[database]
reconnect_timeout = "1s"
TOML
plan 0001-gone <<'TOML'
[[expand.steps]]
name = "add c"
sql = "ALTER TABLE t ADD COLUMN c int"
down = "ALTER TABLE t DROP COLUMN c"
[[expand.steps]]
name = "slow"
sql = "CREATE TABLE slow_done AS SELECT 1 AS one FROM pg_sleep(2)"
down = "DROP TABLE slow_done"
TOML
run_bg run
wait_for "the slow step's statement runs" running_sleep e2e_reconnect_gone
# A failover that takes longer than reconnect_timeout: the database refuses new sessions, ours is cut.
q "ALTER DATABASE e2e_reconnect_gone ALLOW_CONNECTIONS false" 2>/dev/null || "$PSQL" "$PHASEGATE_TEST_URL" -qc "ALTER DATABASE e2e_reconnect_gone ALLOW_CONNECTIONS false"
"$PSQL" "$PHASEGATE_TEST_URL" -qAtc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'e2e_reconnect_gone'" >/dev/null
wait_rc
check "exit 75 when the database stays away" "$rc" "75"
contains "it says the run is resumable" "$(cat "$WORK/err")" "resumable"
"$PSQL" "$PHASEGATE_TEST_URL" -qc "ALTER DATABASE e2e_reconnect_gone ALLOW_CONNECTIONS true"
check "the run stays running (as last recorded), not failed" "$(q "SELECT status FROM phasegate.runs")" "running"
check "nothing was rolled back" "$(col_exists t c)" "1"
expect 0 pg run
check "the next run resumed it: both steps applied once" "$(col_exists t c)$(q "SELECT count(*) FROM slow_done")$(q "SELECT string_agg(status, ',') FROM phasegate.runs")" "11completed"
finish
