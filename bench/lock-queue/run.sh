#!/usr/bin/env bash
# bench/lock-queue: the lock-queue outage. An ALTER TABLE waiting for ACCESS EXCLUSIVE behind a long
# transaction makes every later reader of the table queue behind it. pgbench plays the application (a
# fixed-rate primary-key SELECT on app_items); a long transaction holds ACCESS SHARE for a while; then the
# same ALTER is run (a) naively through psql with no lock_timeout and (b) as a phasegate plan step with
# lock_timeout = 200ms and retries. Each scenario (plus two baselines) on a fresh database of the same
# throwaway server, in one run. Prints the app's p50/p99/max latency per scenario and the goal check.
# Usage: bench/lock-queue/run.sh [DURATION_S=20] [RATE=200]
#   PHASEGATE_BIN=/path/to/phasegate  use that binary instead of building
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
duration=${1:-20}
rate=${2:-200}
blocker_at=3         # s after pgbench starts: the long transaction begins
blocker_hold=8       # s it holds ACCESS SHARE on app_items
migrate_at=4         # s after pgbench starts: the ALTER begins (1 s after the blocker)
lock_timeout_ms=200
goal_ms=$((lock_timeout_ms + 50))
(( duration >= migrate_at + blocker_hold + 4 )) ||
  { echo "bench: DURATION_S must be >= $((migrate_at + blocker_hold + 4)) so phasegate's retries land inside the run" >&2; exit 2; }

"$root/scripts/deps.sh" --bench
if [[ -n "${PHASEGATE_BIN:-}" ]]; then
  phasegate=$PHASEGATE_BIN
else
  build=$("$root/scripts/build.sh")
  phasegate=$build/phasegate
fi
[[ -x "$phasegate" ]] || { echo "bench: $phasegate is not executable" >&2; exit 2; }
pgbench=$(command -v pgbench || true)
eval "$("$root/scripts/pg.sh" start)"
[[ -n "$pgbench" ]] || pgbench=$PHASEGATE_PG_BIN/pgbench
work=$(mktemp -d /tmp/phasegate-bench.XXXXXX)
trap 'jobs -p | xargs -r kill 2>/dev/null || true; "$root/scripts/pg.sh" stop "$PHASEGATE_PG_DIR"; rm -rf "$work"' EXIT
psql="$PHASEGATE_PG_BIN/psql"
url="$PHASEGATE_TEST_URL dbname=lockq"

# --- the app, the blocker, the migration in its two shapes ---
cat >"$work/app.sql" <<'SQL'
\set id random(1, 10000)
SELECT v FROM app_items WHERE id = :id;
SQL
alter="ALTER TABLE app_items ADD COLUMN note text"
mkdir -p "$work/pg/plans"
cat >"$work/pg/phasegate.toml" <<TOML
[project]
name = "bench"
[guards]
lock_timeout = "${lock_timeout_ms}ms"
lock_retries = 20
lock_retry_backoff = { initial = "250ms", max = "2s" }
TOML
cat >"$work/pg/plans/0001-add-col.toml" <<TOML
[plan]
description = "add a column"
[[expand.steps]]
name = "add_col"
sql = "$alter"
down = "ALTER TABLE app_items DROP COLUMN note"
TOML

fresh() {
  "$psql" "$PHASEGATE_TEST_URL" -qX -c "DROP DATABASE IF EXISTS lockq WITH (FORCE)" -c "CREATE DATABASE lockq" 2>/dev/null
  "$psql" "$url" -qX -v ON_ERROR_STOP=1 \
    -c "CREATE TABLE app_items (id int PRIMARY KEY, v int)" \
    -c "INSERT INTO app_items SELECT i, i FROM generate_series(1, 10000) i" \
    -c "VACUUM ANALYZE app_items"
}
now_ns() { date +%s%N; }
blocker() {
  "$psql" "$url" -qX -v ON_ERROR_STOP=1 -c "BEGIN" -c "SELECT count(*) FROM app_items" \
    -c "SELECT pg_sleep($blocker_hold)" -c "COMMIT" >"$work/$1.blocker.log" 2>&1
}
migrate_naive() { "$psql" "$url" -qX -v ON_ERROR_STOP=1 -c "$alter"; }
migrate_phasegate() { DATABASE_URL="$url" "$phasegate" -C "$work/pg" run; }

# scenario NAME BLOCKER(0|1) MIGRATION(-|naive|phasegate) -> one table row on stdout
scenario() {
  local name=$1 with_blocker=$2 migration=$3 app_pid blk_pid="" t0 t1 rc="-" secs="-"
  fresh
  "$pgbench" -n -f "$work/app.sql" -c 4 -j 2 -R "$rate" -T "$duration" -l --log-prefix "$work/$name" \
    "$url" >"$work/$name.pgbench.log" 2>&1 &
  app_pid=$!
  if [[ $with_blocker == 1 ]]; then sleep "$blocker_at"; blocker "$name" & blk_pid=$!; fi
  if [[ $migration != - ]]; then
    sleep $((migrate_at - blocker_at))
    t0=$(now_ns)
    set +e; "migrate_$migration" >"$work/$name.migration.log" 2>&1; rc=$?; set -e
    t1=$(now_ns)
    secs=$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f", ns / 1e9 }')
  fi
  [[ -n $blk_pid ]] && { wait "$blk_pid" || { echo "bench: $name: the blocker failed:" >&2; cat "$work/$name.blocker.log" >&2; exit 1; }; }
  wait "$app_pid" || { echo "bench: $name: pgbench failed:" >&2; tail -5 "$work/$name.pgbench.log" >&2; exit 1; }
  if [[ $migration != - ]]; then
    local col
    col=$("$psql" "$url" -qAtX -c "SELECT count(*) FROM pg_attribute WHERE attrelid = 'app_items'::regclass AND attname = 'note'")
    if [[ $rc == 0 && $col != 1 ]]; then echo "bench: $name: exit 0 but the column is missing" >&2; exit 1; fi
  fi
  # Per-transaction log: client_id transaction_no time script_no time_epoch time_us schedule_lag.
  # Under -R, pgbench measures `time` from the transaction's *scheduled* start (pgbench.c processXactStats:
  # latency = now - txn_scheduled; lag = txn_begin - txn_scheduled), so it already contains schedule_lag and
  # a stall shows in full. Adding the lag would count it twice. The check below keeps that assumption honest.
  cat "$work/$name".[0-9]* | python3 -c '
import sys
name, migration_rc, migration_s = sys.argv[1:4]
lat, bad = [], 0
for line in sys.stdin:
    f = line.split()
    if len(f) < 7 or f[2] == "skipped" or f[2] == "failed":
        continue
    t, lag = int(f[2]), int(f[6])
    bad += t < lag
    lat.append(t / 1000.0)
if not lat or bad:
    sys.exit(f"bench: {name}: {len(lat)} transactions logged, {bad} with time < schedule_lag")
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))]
slow = sum(x > 50 for x in lat)
print(f"{name:<14}{len(lat):>9}{pct(50):>8.1f}{pct(99):>8.1f}{lat[-1]:>8.1f}{migration_rc:>16}{migration_s:>13}{slow:>10}")
' "$name" "$rc" "$secs"
}

echo "bench/lock-queue: pgbench ${rate} tps (-c 4 -j 2) for ${duration} s; blocker at ${blocker_at} s holds ACCESS SHARE" \
     "${blocker_hold} s; ALTER at ${migrate_at} s; phasegate lock_timeout ${lock_timeout_ms}ms, 20 retries, backoff 250ms..2s"
printf '%-14s%9s%8s%8s%8s%16s%13s%10s\n' scenario app_txns p50_ms p99_ms max_ms migration_exit migration_s over_50ms
{
  scenario baseline 0 -
  scenario reader-only 1 -
  scenario naive-ALTER 1 naive
  scenario phasegate 1 phasegate
} | tee "$work/table"
# the phasegate scenario ran last, so its state is still in the database
"$psql" "$url" -qAtX -c "SELECT 'phasegate: ' || count(*) + 1 || ' attempts of ${lock_timeout_ms} ms; backoff waits (ms): '
  || coalesce(string_agg(payload->>'wait_ms', ' ' ORDER BY event_id), 'none')
  FROM phasegate.events WHERE kind = 'step.retrying' AND payload ? 'attempt'" 2>/dev/null ||
  echo "phasegate: attempts unknown (no phasegate.events)"

awk -v goal="$goal_ms" '
  $1 == "naive-ALTER" { naive = $5 }
  $1 == "phasegate"   { pg = $5; pg_rc = $6 }
  END {
    printf "goal: phasegate'"'"'s worst app wait <= lock_timeout + 50 ms = %d ms per attempt: %s (max %.1f ms)\n",
      goal, (pg <= goal ? "met" : "NOT met"), pg
    if (pg_rc != 0) printf "goal: phasegate applied the step: NOT met (exit %s)\n", pg_rc
    if (pg > 0) printf "naive max / phasegate max: %.1fx\n", naive / pg
  }' "$work/table"
