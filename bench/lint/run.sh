#!/usr/bin/env bash
# bench/lint: a generated 20,000-statement migration corpus linted by phasegate (json and text formats) and by
# squawk (npm squawk-cli, installed into a temp dir) with --reporter json, in one run. Prints statements/s and
# the ratio. Usage: bench/lint/run.sh [STATEMENTS=20000] [REPEATS=3]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-20000}
repeats=${2:-3}
"$root/scripts/deps.sh"
build=$("$root/scripts/build.sh")
work=$(mktemp -d /tmp/phasegate-bench-lint.XXXXXX)
trap 'rm -rf "$work"' EXIT
command -v npm >/dev/null || { echo "bench/lint: npm is needed to install squawk-cli" >&2; exit 2; }
(cd "$work" && npm install --silent --no-audit --no-fund squawk-cli@2 >/dev/null 2>&1) ||
  { echo "bench/lint: npm install squawk-cli failed" >&2; exit 2; }
squawk="$work/node_modules/.bin/squawk"
"$squawk" --version >&2

# A mix of what real migrations hold: safe and unsafe DDL, data changes, comments.
awk -v n="$n" 'BEGIN {
  print "SET lock_timeout = '\''2s'\'';"
  for (i = 0; i < n - 1; i++) {
    t = "app_table_" (i % 500); k = i % 12
    if (k == 0) printf "ALTER TABLE %s ADD COLUMN c_%d integer;\n", t, i
    else if (k == 1) printf "ALTER TABLE %s ADD COLUMN u_%d uuid DEFAULT gen_random_uuid();\n", t, i
    else if (k == 2) printf "CREATE INDEX CONCURRENTLY idx_%d ON %s (c_%d);\n", i, t, i - 2
    else if (k == 3) printf "CREATE INDEX idx_b_%d ON %s (created_at);\n", i, t
    else if (k == 4) printf "-- keep the old name until the code ships\nALTER TABLE %s ADD CONSTRAINT fk_%d FOREIGN KEY (owner_id) REFERENCES owners (id) NOT VALID;\n", t, i
    else if (k == 5) printf "ALTER TABLE %s VALIDATE CONSTRAINT fk_%d;\n", t, i - 1
    else if (k == 6) printf "UPDATE %s SET status = '\''active'\'' WHERE status IS NULL AND id < %d;\n", t, i
    else if (k == 7) printf "ALTER TABLE %s ALTER COLUMN amount TYPE bigint;\n", t
    else if (k == 8) printf "CREATE TABLE new_table_%d (id bigint PRIMARY KEY, name text NOT NULL, created_at timestamptz DEFAULT now());\n", i
    else if (k == 9) printf "ALTER TABLE %s ALTER COLUMN name SET NOT NULL;\n", t
    else if (k == 10) printf "ALTER TABLE %s ADD CONSTRAINT chk_%d CHECK (amount >= 0);\n", t, i
    else printf "ALTER TABLE %s RENAME COLUMN legacy_%d TO legacy_old_%d;\n", t, i, i
  }
}' >"$work/corpus.sql"
stmts=$(grep -c ';$' "$work/corpus.sql")

best_ms() {  # best_ms CMD... -> best wall ms over $repeats runs (exit 0 or 3 expected from linters)
  local best=0 t0 t1 ms rc
  for _ in $(seq 1 "$repeats"); do
    t0=$(date +%s%N); set +e; "$@" >"$work/out" 2>"$work/err"; rc=$?; set -e; t1=$(date +%s%N)
    if [[ $rc -ne 0 && $rc -ne 3 && $rc -ne 1 ]]; then echo "bench/lint: '$*' exited $rc" >&2; tail -3 "$work/err" >&2; exit 1; fi
    ms=$(( (t1 - t0) / 1000000 )); [[ $best -eq 0 || $ms -lt $best ]] && best=$ms
  done
  echo "$best"
}
pg_json=$(best_ms "$build/phasegate" lint "$work/corpus.sql" --format json)
pg_findings=$("$build/phasegate" lint "$work/corpus.sql" --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["findings"]))' || true)
pg_text=$(best_ms "$build/phasegate" lint "$work/corpus.sql")
sq_json=$(best_ms "$squawk" --reporter json "$work/corpus.sql")
sq_findings=$("$squawk" --reporter json "$work/corpus.sql" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' || true)

awk -v s="$stmts" -v pj="$pg_json" -v pt="$pg_text" -v q="$sq_json" -v pf="$pg_findings" -v qf="$sq_findings" 'BEGIN {
  printf "bench/lint: %d statements in one file, best of runs\n", s
  printf "  phasegate lint --format json  %6d ms  %9.0f statements/s  (%s findings)\n", pj, s / (pj / 1000), pf
  printf "  phasegate lint (text)         %6d ms  %9.0f statements/s  (goal < 1000 ms)\n", pt, s / (pt / 1000)
  printf "  squawk --reporter json        %6d ms  %9.0f statements/s  (%s findings)\n", q, s / (q / 1000), qf
  printf "  phasegate / squawk speed (json): %.1fx (goal >= 2x)\n", q / pj
}'
