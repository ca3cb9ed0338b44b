#!/usr/bin/env bash
# bench/backfill: filling a new column on a big table while the application writes to it. pgbench plays the
# application (a fixed-rate single-row UPDATE on a random key of items, with a per-transaction log); the fill
# `v2 = v * 2 WHERE v2 IS NULL` is run (a) naively as one UPDATE through psql and (b) as a phasegate backfill
# step (keyset batches over the primary key, one short transaction each) at each batch size, plus a baseline
# window with no migration. Each scenario runs on a fresh copy of the same loaded table (CREATE DATABASE ...
# TEMPLATE), on one throwaway server, in one run. Prints per scenario the app's p50/p99/max latency over the
# window the migration ran, the migration's wall time and rows/s, phasegate's statements per batch
# (pg_stat_statements), then the goal checks and ratios.
# Usage: bench/backfill/run.sh [--rows N | --10m] [--rate R] [--baseline-s S] [--batch-rows "N ..."]
#                              [--target-batch-time DUR] [--pause DUR] [--fresh-stats] [--scaling [SIZES]] [--keep]
#   --rows N               rows in items (default 2000000); --10m is --rows 10000000
#   --rate R               app transactions/s (pgbench -R, -c 4 -j 2; default 200)
#   --baseline-s S         length of the baseline window (default 10)
#   --batch-rows "N ..."   one phasegate scenario per batch_rows (default "1000 2000")
#   --target-batch-time DUR, --pause DUR   the backfill step's target_batch_time / pause (default 200ms / 0ms)
#   --fresh-stats          the table as loaded; default: statistics that lie (v2 analyzed full, then emptied)
#   --scaling [SIZES]      run every scenario at each size (default "1000000 10000000") and check that
#                          phasegate's rows/s stays within ±20% of the smallest size's
#   --keep                 keep the work directory (pgbench logs, phasegate output) and print its path
#   PHASEGATE_BIN=/path/to/phasegate  use that binary instead of building
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rows=2000000
rate=200
baseline_s=10
batch_list="1000 2000"
target_batch_time=200ms
lying_stats=1
pause=0ms
sizes=""
keep=0
usage() { sed -n '10,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }
while (($#)); do
  case $1 in
    --rows) rows=${2:?}; shift 2 ;;
    --10m) rows=10000000; shift ;;
    --rate) rate=${2:?}; shift 2 ;;
    --baseline-s) baseline_s=${2:?}; shift 2 ;;
    --batch-rows) batch_list=${2:?}; shift 2 ;;
    --fresh-stats) lying_stats=0; shift ;;
    --target-batch-time) target_batch_time=${2:?}; shift 2 ;;
    --pause) pause=${2:?}; shift 2 ;;
    --scaling)
      if [[ ${2:-} =~ ^[0-9][0-9\ ]*$ ]]; then sizes=$2; shift 2; else sizes="1000000 10000000"; shift; fi ;;
    --keep) keep=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "bench: unknown argument $1" >&2; usage ;;
  esac
done
[[ -n $sizes ]] || sizes=$rows
for n in $sizes $rate $baseline_s $batch_list; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench: $n is not a positive integer" >&2; exit 2; }
done
warmup_s=2    # the app runs this long before the window opens
margin_s=2    # and this long after the migration ends (a transaction stalled by it completes inside the run)

"$root/scripts/deps.sh" --bench
if [[ -n "${PHASEGATE_BIN:-}" ]]; then
  phasegate=$PHASEGATE_BIN
else
  build=$("$root/scripts/build.sh")
  phasegate=$build/phasegate
fi
[[ -x "$phasegate" ]] || { echo "bench: $phasegate is not executable" >&2; exit 2; }
pgbench=$(command -v pgbench || true)
# pg_stat_statements counts phasegate's statements per batch (what a batch costs besides its UPDATE).
eval "$(PHASEGATE_PG_OPTS="-c shared_preload_libraries=pg_stat_statements" "$root/scripts/pg.sh" start)"
[[ -n "$pgbench" ]] || pgbench=$PHASEGATE_PG_BIN/pgbench
work=$(mktemp -d /tmp/phasegate-bench.XXXXXX)
cleanup() {
  jobs -p | xargs -r kill 2>/dev/null || true
  "$root/scripts/pg.sh" stop "$PHASEGATE_PG_DIR"
  if [[ $keep == 1 ]]; then echo "bench: logs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
psql="$PHASEGATE_PG_BIN/psql"
on() { local db=$1; shift; PGOPTIONS="-c client_min_messages=warning" "$psql" "$PHASEGATE_TEST_URL dbname=$db" -qAtX -v ON_ERROR_STOP=1 "$@"; }
admin() { on postgres "$@"; }

# --- the migration in its two shapes ---
set_sql="v2 = v * 2"
where_sql="v2 IS NULL"
for b in $batch_list; do
  mkdir -p "$work/pg$b/plans"
  printf '[project]\nname = "bench"\n' >"$work/pg$b/phasegate.toml"
  cat >"$work/pg$b/plans/0001-fill.toml" <<TOML
[plan]
description = "fill v2"
[[migrate.steps]]
name = "fill"
backfill = { table = "items", set = "$set_sql", where = "$where_sql", batch_rows = $b, target_batch_time = "$target_batch_time", pause = "$pause" }
irreversible = true
TOML
done
# migrate NAME URL: baseline | naive | pgN (phasegate with batch_rows = N)
migrate() {
  case $1 in
    baseline) sleep "$baseline_s" ;;
    # a reference, not a migration: one CPU-bound query (no writes) for as long as the baseline, i.e. what one
    # busy core costs the app on this machine (statement_timeout ends it)
    cpu1) PGOPTIONS="-c statement_timeout=${baseline_s}s" "$psql" "$2" -qX -c "SELECT count(*) FROM generate_series(1, 10000000000000)" || true ;;
    naive) "$psql" "$2" -qX -v ON_ERROR_STOP=1 -c "UPDATE items SET $set_sql WHERE $where_sql" ;;
    pg*) DATABASE_URL="$2" "$phasegate" -C "$work/$1" run ;;
  esac
}

# The template every scenario copies: N rows, frozen and analyzed, so each starts from the same clean table.
load_template() {
  local n=$1
  admin -c "DROP DATABASE IF EXISTS bf_template" -c "CREATE DATABASE bf_template"
  on bf_template \
    -c "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, v2 int)" \
    -c "INSERT INTO items SELECT i, i % 100000 FROM generate_series(1, $n) i" \
    -c "VACUUM (FREEZE, ANALYZE) items"
  # The issue's case (#16): ANALYZE saw v2 filled, then it was emptied: the statistics say `v2 IS NULL` matches
  # no row while it matches every row (a bulk UPDATE and VACUUM, as in production after a failed first try).
  # Autovacuum is off in the template so no ANALYZE corrects it; each scenario's copy turns it back on.
  if [[ $lying_stats == 1 ]]; then
    on bf_template -c "ALTER TABLE items SET (autovacuum_enabled = false)" -c "UPDATE items SET v2 = 0" \
      -c "VACUUM ANALYZE items" -c "UPDATE items SET v2 = NULL" -c "VACUUM (FREEZE) items"
  fi
}

# scenario ROWS NAME(baseline|naive|phasegate) -> one table row on stdout
scenario() {
  local n=$1 name=$2 db=bf_$2 app_pid t0 t1 rc=- ck0 ck1 left="" alive
  local url="$PHASEGATE_TEST_URL dbname=$db" tag=$1.$2
  # STRATEGY FILE_COPY: a plain file copy between two checkpoints, so no scenario starts with the copy's WAL
  # or a checkpoint pending; the previous scenario's database (dead tuples, autovacuum) is gone.
  admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CHECKPOINT" \
    -c "CREATE DATABASE $db TEMPLATE bf_template STRATEGY FILE_COPY"
  on "$db" -c "ALTER TABLE items RESET (autovacuum_enabled)"
  [[ $name == pg* ]] && on "$db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
  printf '\\set id random(1, %d)\nUPDATE items SET v = v + 1 WHERE id = :id;\n' "$n" >"$work/app.sql"
  ck0=$(admin -c "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")
  # -T is only an upper bound: the run is ended by terminating pgbench's sessions (below), which makes its
  # clients abort and pgbench flush its logs and exit 2.
  "$pgbench" -n -f "$work/app.sql" -c 4 -j 2 -R "$rate" -T 36000 -l --log-prefix "$work/$tag" \
    "$url" >"$work/$tag.pgbench.log" 2>&1 &
  app_pid=$!
  sleep "$warmup_s"
  t0=$(date +%s%N)
  set +e; migrate "$name" "$url" >"$work/$tag.migration.log" 2>&1; rc=$?; set -e
  t1=$(date +%s%N)
  sleep "$margin_s"
  alive=$(admin -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND application_name = 'pgbench'")
  [[ $alive == 4 ]] || { echo "bench: $tag: only $alive of 4 pgbench clients alive:" >&2; tail -20 "$work/$tag.pgbench.log" >&2; exit 1; }
  ck1=$(admin -c "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")
  local autovac
  autovac=$(on "$db" -c "SELECT autovacuum_count + autoanalyze_count FROM pg_stat_user_tables WHERE relname = 'items'")
  admin -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$db' AND application_name = 'pgbench'" >/dev/null
  set +e; wait "$app_pid"; local app_rc=$?; set -e
  # expected: exit 2 with exactly the 4 aborts we caused (all 4 clients were alive just before); a client
  # idle until its next scheduled start learns of it on its next send ("perhaps the backend died")
  local aborts others
  aborts=$(grep -c "aborted in command.*\(terminating connection due to administrator command\|perhaps the backend died\)" \
    "$work/$tag.pgbench.log" || true)
  others=$(grep -i "error\|fatal" "$work/$tag.pgbench.log" |
    grep -vc "aborted in command\|terminating connection due to administrator command\|Run was aborted" || true)
  if [[ $app_rc != 2 || $aborts != 4 || $others != 0 ]]; then
    echo "bench: $tag: pgbench exit $app_rc, $aborts aborts by us, $others other errors:" >&2; tail -20 "$work/$tag.pgbench.log" >&2; exit 1
  fi
  if [[ $name != baseline && $name != cpu1 ]]; then
    [[ $rc == 0 ]] || { echo "bench: $tag: the migration failed (exit $rc):" >&2; tail -20 "$work/$tag.migration.log" >&2; exit 1; }
    left=$(on "$db" -c "SELECT count(*) FROM items WHERE v2 IS NULL")
    [[ $left == 0 ]] || { echo "bench: $tag: exit 0 but $left rows still have v2 IS NULL" >&2; exit 1; }
  fi
  if [[ $name == pg* ]]; then  # phasegate's statements (not the app's, not ours), per batch
    local batches
    batches=$(on "$db" -c "SELECT cursor->>'batches' FROM phasegate.steps WHERE step = 'fill'")
    on "$db" -F '|' -c "SELECT calls, round(total_exec_time::numeric, 1), regexp_replace(left(query, 70), '\s+', ' ', 'g')
      FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND query NOT LIKE '%SET v = v +%' AND query NOT LIKE '%pg_stat_statements%' AND calls >= $batches / 2
      ORDER BY total_exec_time DESC" >"$work/$tag.statements"
    echo "$batches" >"$work/$tag.batches"
  fi
  local processed
  processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/$tag.pgbench.log")
  cat "$work/$tag".[0-9]* | python3 "$work/window.py" "$n" "$name" "$t0" "$t1" "$processed" \
    "$((ck1 - ck0))" "${autovac:-0}"
}

# Per-transaction log: client_id transaction_no time script_no time_epoch time_us schedule_lag.
# time_epoch/time_us is when the transaction completed (pgbench.c doLog takes the time as it logs). Under -R,
# `time` is measured from the transaction's *scheduled* start (pgbench.c processXactStats:
# latency = now - txn_scheduled; lag = txn_begin - txn_scheduled), so it already contains schedule_lag and a
# stall shows in full; adding the lag would count it twice. The check time >= lag keeps that assumption
# honest. A transaction belongs to a window by its scheduled start = completion - time, so the transactions
# that queued behind a stall count in full even if they completed after the migration ended.
cat >"$work/window.py" <<'PY'
import sys
n, name, t0, t1, processed, ckpts, autovac = sys.argv[1:8]
t0, t1 = int(t0) / 1000.0, int(t1) / 1000.0          # ns -> us
lat, bad, logged = [], 0, 0
for line in sys.stdin:
    f = line.split()
    if len(f) < 7 or f[2] in ("skipped", "failed"):
        continue
    logged += 1
    t, lag = int(f[2]), int(f[6])
    bad += t < lag
    start = int(f[4]) * 1e6 + int(f[5]) - t
    if t0 <= start <= t1:
        lat.append(t / 1000.0)
if bad or not lat or str(logged) != processed:
    sys.exit(f"bench: {name}: {len(lat)} transactions in the window, {bad} with time < schedule_lag, "
             f"{logged} logged of {processed} processed")
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))]
secs = (t1 - t0) / 1e6
rps = "-" if name in ("baseline", "cpu1") else f"{int(n) / secs:.0f}"
slow = sum(x > 50 for x in lat)
print(f"{int(n):>9} {name:<10} {len(lat):>6} {pct(50):>9.2f} {pct(99):>9.2f} {lat[-1]:>9.1f} {slow:>6} {secs:>8.2f} {rps:>10} {ckpts:>5} {autovac:>7}")
PY

echo "bench/backfill: items(id bigint PK, v int, v2 int); app = pgbench 'UPDATE items SET v = v + 1 WHERE id = random'" \
     "at ${rate} tps (-c 4 -j 2); fill 'UPDATE items SET $set_sql WHERE $where_sql'"
echo "  naive = one UPDATE via psql; pgN = phasegate backfill step, batch_rows = N, target_batch_time = $target_batch_time," \
     "pause = $pause; baseline = ${baseline_s} s of the app alone; cpu1 = ${baseline_s} s next to one CPU-bound query (a" \
     "reference: what one busy core costs the app here); latency over the window the migration ran;" \
     "statistics: $([[ $lying_stats == 1 ]] && echo "lying (v2 analyzed full, then emptied)" || echo "fresh")"
printf '%9s %-10s %6s %9s %9s %9s %6s %8s %10s %5s %7s\n' rows scenario txns p50_ms p99_ms max_ms '>50ms' window_s rows_per_s ckpts autovac
for n in $sizes; do
  load_template "$n"
  scenario "$n" baseline
  scenario "$n" cpu1
  scenario "$n" naive
  for b in $batch_list; do scenario "$n" "pg$b"; done
done | tee "$work/table"
# phasegate's own account of each backfill (its final progress line; its keys/s excludes process start-up)
# and what each batch cost on the server: calls per batch and mean ms of each statement (pg_stat_statements).
for n in $sizes; do
  for b in $batch_list; do
    tag=$n.pg$b
    echo "$n rows, batch_rows $b: phasegate said: $(grep -o 'backfill fill: .*' "$work/$tag.migration.log" | tail -1)," \
         "$(grep -o 'ok migrate/fill.*' "$work/$tag.migration.log" | tail -1 | tr -s ' ')"
    python3 - "$work/$tag.statements" "$(cat "$work/$tag.batches")" "$work/table" "$n" "pg$b" "$work/$tag.migration.log" \
      "$work/$tag.paused" <<'PY'
import re, sys
batches = int(sys.argv[2])
# the health stops and load guards: phasegate prints "wait <reason>" and "go <guard> after <ms> ms"
waits = [l.strip() for l in open(sys.argv[6]) if re.match(r"\s+wait ", l)]
gos = [(m.group(1), int(m.group(2))) for m in re.finditer(r"\n\s+go (\S+) after (\d+) ms", open(sys.argv[6]).read())]
paused = sum(ms for _, ms in gos) / 1000.0
open(sys.argv[7], "w").write(f"{paused}\n")
for w in waits:
    print(f"    guard: {w[:150]}")
if gos:
    print(f"    paused {paused:.1f} s in {len(gos)} guard wait(s): " + ", ".join(f"{g} {ms / 1000:.1f} s" for g, ms in gos))
window = next(float(l.split()[7]) for l in open(sys.argv[3]) if l.split()[0] == sys.argv[4] and l.split()[1] == sys.argv[5])
total, calls_total = 0.0, 0.0
for line in open(sys.argv[1]):
    calls, ms, query = line.rstrip("\n").split("|", 2)
    per = int(calls) / batches
    calls_total += per
    total += float(ms)
    print(f"    {per:5.2f}/batch {float(ms) / int(calls):7.3f} ms  {query}")
print(f"    {batches} batches; {calls_total:.1f} statements per batch; server time {total / batches:.2f} ms/batch"
      f" of {1000 * (window - paused) / batches:.2f} ms/batch wall, guard pauses excluded (the rest: client, network, scheduling)")
PY
  done
done

for n in $sizes; do for b in $batch_list; do echo "$n pg$b $(cat "$work/$n.pg$b.paused")"; done; done >"$work/paused"
python3 - "$work/table" "$sizes" "$batch_list" "$work/paused" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows[(int(f[0]), f[1])] = {"p50": float(f[3]), "p99": float(f[4]), "max": float(f[5]), "secs": float(f[7]),
                               "rps": None if f[8] == "-" else float(f[8])}
verdict = lambda ok: "met" if ok else "NOT met"
sizes = [int(s) for s in sys.argv[2].split()]
batch_list = sys.argv[3].split()
paused = {(int(l.split()[0]), l.split()[1]): float(l.split()[2]) for l in open(sys.argv[4])}
for (n, name), p in paused.items():  # rows/s of the batches themselves: the window minus phasegate's guard waits
    rows[(n, name)]["active"] = n / (rows[(n, name)]["secs"] - p)
for n in sizes:
    b, nv = rows[(n, "baseline")], rows[(n, "naive")]
    c = rows[(n, "cpu1")]
    print(f"{n} rows: reference: app p99 next to one CPU-bound query / baseline = {c['p99']:.2f} / {b['p99']:.2f} ms = {c['p99'] / b['p99']:.2f}x")
    for bs in batch_list:
        pg = rows[(n, "pg" + bs)]
        r = pg["p99"] / b["p99"]
        t = pg["rps"] / nv["rps"]
        print(f"{n} rows, batch {bs}: backfill / naive UPDATE = {pg['rps']:.0f} / {nv['rps']:.0f} rows/s = {t:.2f}x:"
              f" goal >= 0.5x {verdict(t >= 0.5)}")
        if paused[(n, "pg" + bs)] > 0:
            a = pg["active"] / nv["rps"]
            print(f"{n} rows, batch {bs}: the same without the {paused[(n, 'pg' + bs)]:.1f} s of guard pauses: {pg['active']:.0f} rows/s ="
                  f" {a:.2f}x: goal >= 0.5x {verdict(a >= 0.5)}")
        print(f"{n} rows, batch {bs}: app p99 during the backfill / baseline = {pg['p99']:.2f} / {b['p99']:.2f} ms = {r:.2f}x:"
              f" goal <= 1.5x {verdict(r <= 1.5)}; app max naive / backfill = {nv['max']:.1f} / {pg['max']:.1f} ms")
if len(sizes) > 1:
    for bs in batch_list:
        base = rows[(sizes[0], "pg" + bs)]["rps"]
        for n in sizes[1:]:
            d = rows[(n, "pg" + bs)]["rps"] / base - 1
            print(f"scaling, batch {bs}: backfill rows/s at {n} vs {sizes[0]} rows: {100 * d:+.0f}%:"
                  f" goal flat (within ±20%) {verdict(abs(d) <= 0.2)}")
            if paused[(n, "pg" + bs)] > 0 or paused[(sizes[0], "pg" + bs)] > 0:
                d = rows[(n, "pg" + bs)]["active"] / rows[(sizes[0], "pg" + bs)]["active"] - 1
                print(f"scaling, batch {bs}: the same without guard pauses: {100 * d:+.0f}%: goal flat (within ±20%) {verdict(abs(d) <= 0.2)}")
PY
