#!/usr/bin/env bash
# bench/overhead: 200 trivial steps applied by phasegate vs the same statements through `psql -f` and
# through sqitch (200 changes), each on a fresh database of the same throwaway server, in one run.
# Prints per-step overhead over psql and the ratios. Usage: bench/overhead/run.sh [STEPS] [REPEATS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
steps=${1:-200}
repeats=${2:-3}
"$root/scripts/deps.sh" --bench
build=$("$root/scripts/build.sh")
eval "$("$root/scripts/pg.sh" start)"
work=$(mktemp -d /tmp/phasegate-bench.XXXXXX)
trap '"$root/scripts/pg.sh" stop "$PHASEGATE_PG_DIR"; rm -rf "$work"' EXIT
psql="$PHASEGATE_PG_BIN/psql"
port=$(sed -E 's/.*port=([0-9]+).*/\1/' <<<"$PHASEGATE_TEST_URL")

# --- the same 200 statements in three shapes ---
mkdir -p "$work/pg/plans" "$work/sqitch/deploy" "$work/sqitch/revert" "$work/sqitch/verify"
printf '[project]\nname = "bench"\n[guards]\nlock_timeout = "2s"\n' >"$work/pg/phasegate.toml"
{
  echo "[plan]"; echo 'description = "overhead benchmark"'
  for i in $(seq 1 "$steps"); do
    printf '[[expand.steps]]\nname = "s%d"\nsql = "CREATE TABLE t_%d (id int)"\ndown = "DROP TABLE t_%d"\n' "$i" "$i" "$i"
  done
} >"$work/pg/plans/0001-bench.toml"
for i in $(seq 1 "$steps"); do echo "CREATE TABLE t_$i (id int);"; done >"$work/naive.sql"
cat >"$work/sqitch/sqitch.conf" <<CONF
[core]
  engine = pg
[engine "pg"]
  client = $psql
[user]
  name = Bench
  email = bench@example.com
CONF
{
  echo "%syntax-version=1.0.0"; echo "%project=bench"; echo
  for i in $(seq 1 "$steps"); do
    echo "CREATE TABLE t_$i (id int);" >"$work/sqitch/deploy/c$i.sql"
    echo "DROP TABLE t_$i;" >"$work/sqitch/revert/c$i.sql"
    echo "SELECT 1/count(*) FROM pg_class WHERE relname = 't_$i';" >"$work/sqitch/verify/c$i.sql"
    echo "c$i 2026-01-01T00:00:00Z Bench <bench@example.com> # step $i"
  done
} >"$work/sqitch/sqitch.plan"

fresh() { "$psql" "$PHASEGATE_TEST_URL" -qX -c "DROP DATABASE IF EXISTS bench WITH (FORCE)" -c "CREATE DATABASE bench" 2>/dev/null; }
now_ns() { date +%s%N; }
measure() {  # measure NAME CMD... -> best wall time in ms over $repeats fresh databases
  local best=0 t0 t1 ms
  for _ in $(seq 1 "$repeats"); do
    fresh
    t0=$(now_ns); "$@" >"$work/$1.log" 2>&1 || { echo "bench: $1 failed:" >&2; tail -5 "$work/$1.log" >&2; exit 1; }; t1=$(now_ns)
    ms=$(( (t1 - t0) / 1000000 ))
    if [[ $best -eq 0 || $ms -lt $best ]]; then best=$ms; fi
  done
  echo "$best"
}
url="$PHASEGATE_TEST_URL dbname=bench"
run_psql() { "$psql" "$url" -qX -v ON_ERROR_STOP=1 -f "$work/naive.sql"; }
run_phasegate() { DATABASE_URL="$url" "$build/phasegate" -C "$work/pg" run; }
run_sqitch() { (cd "$work/sqitch" && sqitch deploy "db:pg://postgres@127.0.0.1:$port/bench"); }

psql_ms=$(measure run_psql)
sqitch_ms=$(measure run_sqitch)
pg_ms=$(measure run_phasegate)  # last, so its state can be checked below
applied=$("$psql" "$url" -qAtX -c "SELECT count(*) FROM phasegate.steps WHERE status = 'completed'")
[[ "$applied" == "$steps" ]] || { echo "bench: phasegate applied $applied of $steps steps" >&2; exit 1; }

awk -v n="$steps" -v p="$psql_ms" -v g="$pg_ms" -v s="$sqitch_ms" 'BEGIN {
  printf "bench/overhead: %d trivial steps, best of repeats, fresh database each\n", n
  printf "  psql -f (no bookkeeping)   %7d ms  %6.2f ms/step\n", p, p / n
  printf "  phasegate run              %7d ms  %6.2f ms/step\n", g, g / n
  printf "  sqitch deploy              %7d ms  %6.2f ms/step\n", s, s / n
  printf "  phasegate overhead over psql: %.2f ms/step (goal <= 5)\n", (g - p) / n
  printf "  sqitch / phasegate: %.1fx (goal >= 10x)\n", s / g
}'
