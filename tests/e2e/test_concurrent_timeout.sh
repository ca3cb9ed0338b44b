#!/usr/bin/env bash
# CONCURRENTLY under lock_timeout (issue #13 §4): CREATE INDEX CONCURRENTLY waits for every older snapshot of the
# database, and PostgreSQL counts that wait against lock_timeout. concurrent_lock_timeout bounds it instead; an
# INVALID index a timed-out attempt leaves is dropped before the retry (and by a rollback); the old transaction
# it waited for is named in the events.
source "$(dirname "$0")/lib.sh"
new_db e2e_concurrent
new_project  # lock_timeout = "1s", lock_retries = 1
q "CREATE TABLE books (id int PRIMARY KEY, title text, at timestamptz); CREATE TABLE other (id int);
   INSERT INTO books SELECT g, 'b' || g, now() FROM generate_series(1, 1000) g"
index_step() {  # index_step PLAN STEP INDEX COLUMN
  plan "$1" <<TOML
[[expand.steps]]
name = "$2"
sql = "CREATE INDEX CONCURRENTLY $3 ON books ($4)"
down = "DROP INDEX CONCURRENTLY IF EXISTS $3"
TOML
}

# An old snapshot: a REPEATABLE READ transaction on *another* table, idle until snapshot_end commits it.
snapshot_start() {
  rm -f "$WORK/snap.fifo"
  mkfifo "$WORK/snap.fifo"
  PGAPPNAME=e2e-old-snapshot "$PSQL" "$DATABASE_URL" -qAtX <"$WORK/snap.fifo" >"$WORK/snap.out" 2>&1 &
  SNAP=$!
  exec 7>"$WORK/snap.fifo"
  echo "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM other;" >&7
  wait_for "the old snapshot is held" snapshot_held
  SPID=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'e2e-old-snapshot'")
}
snapshot_held() {
  [[ $(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'e2e-old-snapshot'
          AND state = 'idle in transaction' AND backend_xmin IS NOT NULL") == 1 ]]
}
snapshot_end() {
  echo "COMMIT;" >&7
  exec 7>&-
  wait "$SNAP" || true
}
build_waits() {  # our CREATE INDEX CONCURRENTLY waits for another transaction's virtual xid (its snapshot)
  [[ $(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted
          AND l.locktype = 'virtualxid' AND a.query LIKE 'CREATE INDEX CONCURRENTLY%'") -ge 1 ]]
}
events() { q "SELECT count(*) FROM phasegate.events WHERE $1"; }
invalid_indexes() { q "SELECT count(*) FROM pg_index WHERE NOT indisvalid"; }

# 1. With the default concurrent_lock_timeout (1m) the build waits past lock_timeout (1s) and succeeds once
#    the old snapshot ends; step.waited names the transaction it waited for.
index_step 0001-title "title index" books_title_idx title
expect 0 pg plan 0001-title
contains "plan notes the wait and its timeout" "$OUT" "waits for every transaction older than it in the whole database"
contains "plan shows concurrent_lock_timeout" "$OUT" "concurrent_lock_timeout 1m counts those waits"
snapshot_start
run_bg run
wait_for "the build waits for the old snapshot" build_waits
sleep 3  # three lock_timeouts: a wait counted against lock_timeout (1s) would have failed by now
check "still waiting past lock_timeout" "$(build_waits && echo waiting)" "waiting"
check "no retry: lock_timeout does not count the wait" "$(events "kind = 'step.retrying'")" "0"
snapshot_end
wait_rc
check "the run succeeded once the snapshot ended" "$rc" "0"
check "the index is valid" "$(q "SELECT indisvalid FROM pg_index WHERE indexrelid = 'books_title_idx'::regclass")" "t"
check "step.waited names the old transaction's pid" \
  "$(events "kind = 'step.waited' AND payload->'blockers' @> '[{\"pid\": $SPID}]'")" "1"
check "and its query" \
  "$(q "SELECT payload->'blockers'->0->>'query' FROM phasegate.events WHERE kind = 'step.waited'")" "SELECT count(*) FROM other;"
contains "the runner says whom it waited for" "$(cat "$WORK/err")" "waited for older transactions: pid $SPID"

# 2. A short concurrent_lock_timeout: the attempt fails while the snapshot is held and leaves an INVALID index;
#    each retry drops it first; once the snapshot ends a retry succeeds. The blocker is in the retry events.
printf 'concurrent_lock_timeout = "300ms"\n' >>"$WORK/project/phasegate.toml"
sed -i 's/^lock_retries = 1$/lock_retries = 100/; s/^lock_retry_backoff = .*/lock_retry_backoff = { initial = "100ms", max = "200ms" }/' \
  "$WORK/project/phasegate.toml"
index_step 0002-at "at index" books_at_idx at
snapshot_start
run_bg run
some() { [[ $(events "$1") -ge 1 ]]; }  # polled by wait_for: the query runs on every poll
wait_for "an attempt timed out naming the old transaction" \
  some "kind = 'step.retrying' AND step = 'at index' AND payload->'blockers' @> '[{\"pid\": $SPID}]'"
wait_for "a retry dropped the invalid index it left" \
  some "kind = 'step.retrying' AND payload->>'reason' = 'dropping invalid index books_at_idx left by a build that did not finish'"
snapshot_end
wait_rc
check "the retry succeeded once the snapshot ended" "$rc" "0"
check "one valid index, no invalid one left" "$(q "SELECT count(*) FROM pg_class WHERE relname = 'books_at_idx'"):$(invalid_indexes)" "1:0"
check "the retry event names the blocker's query (at least once)" \
  "$(some "kind = 'step.retrying' AND step = 'at index' AND payload->'blockers' @> '[{\"query\": \"SELECT count(*) FROM other;\"}]'" && echo yes)" "yes"

# 3. Retries exhausted: exit 75 naming concurrent_lock_timeout and the blocker; the INVALID index it leaves is
#    dropped by the rollback, which then has nothing else to undo for the step.
# (3s: the blocker watch samples from half the timeout on, every 100 ms, so even a slow machine sees the blocker)
sed -i 's/^lock_retries = 100$/lock_retries = 0/; s/^concurrent_lock_timeout = .*/concurrent_lock_timeout = "3s"/' "$WORK/project/phasegate.toml"
index_step 0003-id "id index" books_id2_idx id
snapshot_start
expect 75 pg run
contains "the message names concurrent_lock_timeout" "$ERR" "concurrent_lock_timeout (3s) hit 1 times"
contains "and the old transaction" "$ERR" "blocked by pid $SPID"
check "an INVALID index is left" "$(invalid_indexes)" "1"
snapshot_end
expect 0 pg rollback 0003-id --yes
check "the rollback dropped it" "$(invalid_indexes):$(q "SELECT count(*) FROM pg_class WHERE relname = 'books_id2_idx'")" "0:0"
check "rollback.step drop_invalid_index" "$(events "kind = 'rollback.step' AND payload->>'action' = 'drop_invalid_index'")" "1"
finish
