#!/usr/bin/env bash
# Online backfill (issue #5) against the real server: composite/uuid/text keys and a quoted table name,
# kill -9 at any instant resumes with no row done twice or skipped, app writers during the backfill,
# and `phasegate abort RUN` from another terminal.
source "$(dirname "$0")/lib.sh"
new_db e2e_backfill
new_project
sed -i 's/^lock_timeout = "1s"$/lock_timeout = "2s"/' "$WORK/project/phasegate.toml"
pgbg() { exec "$PHASEGATE_BIN" -C "$WORK/project" "$@"; }  # for `pgbg ... &`: $! is phasegate itself
cursor() { q "SELECT coalesce(cursor->>'scanned', '0') FROM phasegate.steps WHERE step = '$1'" 2>/dev/null || echo 0; }
wait_scanned() {  # wait_scanned STEP N: until the backfill has walked at least N keys (20 s at most)
  for _ in $(seq 200); do [[ $(cursor "$1") -ge $2 ]] && return 0; sleep 0.1; done
  echo "FAIL: $1 never reached $2 keys"; FAILS=$((FAILS + 1))
}

# --- a quoted table name with a composite key; only rows matching `where` change ---
q "CREATE TABLE \"Order Items\" (order_id bigint, line int, qty int NOT NULL, price numeric NOT NULL, PRIMARY KEY (order_id, line));
   INSERT INTO \"Order Items\" SELECT o, l, (o + l) % 7 + 1, 2.5 FROM generate_series(1, 4000) o, generate_series(1, 5) l;
   ANALYZE \"Order Items\""
plan 0001-order-total <<'TOML'
[plan]
description = "order totals"
[[expand.steps]]
name = "add total"
sql = 'ALTER TABLE "Order Items" ADD COLUMN total numeric'
down = 'ALTER TABLE "Order Items" DROP COLUMN total'
[[migrate.steps]]
name = "fill total"
backfill = { table = "Order Items", set = "total = qty * price", where = "total IS NULL AND line <> 5", batch_rows = 3000 }
down = 'UPDATE "Order Items" SET total = NULL'
TOML
expect 0 pg plan 0001-order-total
contains "plan describes the backfill" "$OUT" "keyset batches over the primary key"
expect 0 pg run
check "every matching row filled" "$(q "SELECT count(*) FROM \"Order Items\" WHERE line <> 5 AND total IS DISTINCT FROM qty * price")" "0"
check "rows outside where untouched" "$(q "SELECT count(*) FROM \"Order Items\" WHERE line = 5 AND total IS NOT NULL")" "0"
check "cursor: all keys walked, matching rows updated" "$(q "SELECT cursor->>'scanned', cursor->>'updated', cursor->'last' FROM phasegate.steps WHERE step = 'fill total'")" \
  '20000|16000|["4000", "5"]'
contains "progress logged (not a TTY)" "$ERR" "backfill fill total: 20.0k/~20.0k keys (100%), 16.0k updated"
check "step.completed carries the counts" "$(q "SELECT payload->'backfill'->>'updated' FROM phasegate.events WHERE kind = 'step.completed' AND step = 'fill total'")" "16000"

# --- uuid and text keys ---
q "CREATE TABLE tokens (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), v int); INSERT INTO tokens (v) SELECT g FROM generate_series(1, 3000) g;
   CREATE TABLE tags (name text PRIMARY KEY, v int); INSERT INTO tags SELECT 'tag ' || g, g FROM generate_series(1, 3000) g"
plan 0002-keys <<'TOML'
[plan]
description = "uuid and text keys"
[[migrate.steps]]
name = "uuid keys"
backfill = { table = "tokens", set = "v = -v", batch_rows = 700 }
irreversible = true
[[migrate.steps]]
name = "text keys"
backfill = { table = "public.tags", set = "v = -v", batch_rows = 700 }
irreversible = true
TOML
expect 0 pg run 0002-keys
check "uuid keys: every row once" "$(q "SELECT count(*) FILTER (WHERE v < 0), count(*) FROM tokens")" "3000|3000"
check "text keys: every row once" "$(q "SELECT count(*) FILTER (WHERE v < 0), count(*) FROM tags")" "3000|3000"

# --- kill -9 at any instant: resume with no row done twice, none skipped ---
q "CREATE TABLE hits (id bigint PRIMARY KEY, touched int NOT NULL DEFAULT 0); INSERT INTO hits (id) SELECT g * 2 FROM generate_series(1, 30000) g; ANALYZE hits"
plan 0003-touch <<'TOML'
[plan]
description = "touch every row exactly once"
[[migrate.steps]]
name = "touch"
backfill = { table = "hits", set = "touched = touched + 1", batch_rows = 500, pause = "20ms" }
irreversible = true
TOML
for point in after-batch:touch before-commit:touch; do
  PHASEGATE_CRASH_AT=$point expect 137 pg run 0003-touch
done
pgbg run 0003-touch >"$WORK/bg.out" 2>&1 &
bg=$!
wait_scanned touch 12000
kill -9 $bg; wait $bg 2>/dev/null || true
before=$(cursor touch)
expect 0 pg run 0003-touch
check "killed three times (two crash points, one kill -9 mid-run), resumed: every row touched exactly once" \
  "$(q "SELECT count(*) FILTER (WHERE touched = 1), count(*) FILTER (WHERE touched <> 1) FROM hits")" "30000|0"
check "the resume started from the cursor, not from the start" "$(( before > 10000 ))" "1"

# --- app writers during the backfill: the expand-phase code writes `total` itself ---
q "CREATE TABLE carts (id bigserial PRIMARY KEY, qty int NOT NULL, price int NOT NULL); INSERT INTO carts (qty, price) SELECT g % 9 + 1, 3 FROM generate_series(1, 40000) g; ANALYZE carts"
plan 0004-carts <<'TOML'
[plan]
description = "cart totals with the app writing"
[[expand.steps]]
name = "add total"
sql = "ALTER TABLE carts ADD COLUMN total int"
down = "ALTER TABLE carts DROP COLUMN total"
[[migrate.steps]]
name = "fill total"
backfill = { table = "carts", set = "total = qty * price", where = "total IS NULL", batch_rows = 1000, pause = "10ms" }
down = "UPDATE carts SET total = NULL"
TOML
expect 0 pg run 0004-carts --phase expand
# The new code: inserts and updates write total = qty * price (what the docs tell the application to do).
( for i in $(seq 150); do
    q "INSERT INTO carts (qty, price, total) VALUES ($((i % 5 + 1)), 4, $(((i % 5 + 1) * 4)));
       UPDATE carts SET qty = qty + 1, total = (qty + 1) * price WHERE id = (SELECT (random() * 39999)::bigint + 1)" >/dev/null 2>&1 || true
    sleep 0.02
  done ) &
writers=$!
expect 0 pg run 0004-carts --phase migrate
wait $writers || true
check "with writers during the backfill every row ends with total = qty * price" \
  "$(q "SELECT count(*) FROM carts WHERE total IS DISTINCT FROM qty * price")" "0"
check "the writers' rows are there" "$(q "SELECT count(*) > 40000 FROM carts")" "t"

# --- abort from another terminal stops between batches; with on_failure = "pause" nothing is rolled back and
# the next run continues from the cursor (with "rollback", test_lifecycle_abort.sh: the cursor is cleared) ---
printf '[rollback]\non_failure = "pause"\n' >>"$WORK/project/phasegate.toml"
q "CREATE TABLE slow (id int PRIMARY KEY, touched int NOT NULL DEFAULT 0); INSERT INTO slow (id) SELECT g FROM generate_series(1, 20000) g"
plan 0005-slow <<'TOML'
[plan]
description = "a slow backfill to abort"
[[migrate.steps]]
name = "slow touch"
backfill = { table = "slow", set = "touched = touched + 1", batch_rows = 200, pause = "100ms" }
irreversible = true
TOML
pgbg run 0005-slow >"$WORK/slow.out" 2>"$WORK/slow.err" &
runner=$!
wait_scanned "slow touch" 1000
run_id=$(q "SELECT max(run_id) FROM phasegate.runs WHERE plan_id = '0005-slow'")
t0=$(date +%s%N)
expect 0 pg abort "$run_id"
contains "abort reports the stop" "$OUT" "run $run_id (0005-slow) its runner (backend pid"
contains "abort says where it stopped" "$OUT" "stopped before any step completed; nothing was rolled back"
set +e; wait $runner; rc=$?; set -e
check "the runner exits 6" "$rc" "6"
check "it stopped within 2 s" "$(( ($(date +%s%N) - t0) / 1000000 < 2000 ))" "1"
contains "the runner says who aborted" "$(cat "$WORK/slow.err")" "aborted by"
check "run aborted, step keeps its cursor" "$(q "SELECT r.status, s.status FROM phasegate.runs r, phasegate.steps s WHERE r.run_id = $run_id AND s.step = 'slow touch'")" "aborted|running"
expect 0 pg status 0005-slow
contains "status shows the paused backfill's progress" "$OUT" "backfill slow touch: "
contains "status: where it continues" "$OUT" "continues after key ("
expect 2 pg abort "$run_id"
contains "aborting twice is refused" "$ERR" "already aborted"
sed -i 's/pause = "100ms"/pause = "0ms"/' "$WORK/project/plans/0005-slow.toml"
expect 0 pg run 0005-slow
check "resumed after abort: every row touched once" "$(q "SELECT count(*) FILTER (WHERE touched = 1), count(*) FILTER (WHERE touched <> 1) FROM slow")" "20000|0"
finish
