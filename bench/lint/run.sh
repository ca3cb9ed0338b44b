#!/usr/bin/env bash
# bench/lint: phasegate lint against squawk's native binary (npm squawk-cli; the binary of its optional
# dependency @squawk-cli/linux-x64, not node_modules/.bin/squawk, whose node launcher costs ~0.3 s a call), in
# one run: a generated 20,000-statement migration file, and a directory of 300 small files linted in one
# process. Each is timed on both cores and pinned to one (taskset -c 0), best of REPEATS, with the peak RSS
# (/usr/bin/time -f %M). Prints statements/s, the ratios and the goals of issue #13.
# The configurations are interleaved (each repetition runs every one once). CALLGRIND=1 also counts instructions.
# Usage: bench/lint/run.sh [STATEMENTS=20000] [REPEATS=3]     PHASEGATE_BIN=/path/to/phasegate skips the build
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-20000}
repeats=${2:-3}
"$root/scripts/deps.sh"
if [[ -n "${PHASEGATE_BIN:-}" ]]; then phasegate=$PHASEGATE_BIN; else phasegate=$("$root/scripts/build.sh")/phasegate; fi
work=$(mktemp -d /tmp/phasegate-bench-lint.XXXXXX)
trap 'rm -rf "$work"' EXIT
command -v npm >/dev/null || { echo "bench/lint: npm is needed to install squawk-cli" >&2; exit 2; }
command -v taskset >/dev/null || { echo "bench/lint: taskset (util-linux) is needed" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "bench/lint: /usr/bin/time (Debian package time) is needed" >&2; exit 2; }
(cd "$work" && npm install --silent --no-audit --no-fund squawk-cli@2 >/dev/null 2>&1) ||
  { echo "bench/lint: npm install squawk-cli failed" >&2; exit 2; }
squawk="$work/node_modules/@squawk-cli/linux-x64/bin/squawk"
[[ -x "$squawk" ]] || { echo "bench/lint: squawk's native binary is not at $squawk" >&2; ls -R "$work/node_modules/@squawk-cli" >&2 || true; exit 2; }
[[ $(head -c 4 "$squawk" | tail -c 3) == ELF ]] || { echo "bench/lint: $squawk is not a native executable" >&2; exit 2; }
squawk_version=$("$squawk" --version 2>&1 | head -1)

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

# The directory: 300 files of 3 to 40 statements cut from the same corpus (a project's migrations folder).
mkdir -p "$work/dir"
awk -v dir="$work/dir" 'BEGIN { f = 0; left = 0 }
  { if (left == 0) { f++; left = 3 + (f * 7) % 38; out = sprintf("%s/%04d_migration.sql", dir, f) }
    print > out; if ($0 ~ /;$/) left--; if (f > 300) exit }' "$work/corpus.sql"
rm -f "$work/dir/0301_migration.sql"
dir_files=$(ls "$work/dir" | wc -l)
dir_stmts=$(cat "$work/dir"/*.sql | grep -c ';$')

# once NAME CMD...: one timed run; keeps NAME's best wall ms with that run's peak RSS (KiB), and NAME's best CPU ms
# (user + system: unlike the wall time, not the time spent waiting for a core on a loaded machine), in
# $work/best.NAME as "wall_ms kib cpu_ms". Exit 0, 1 or 3 (findings) expected.
once() {
  local name=$1 t0 t1 ms rc best=0 kib=0 cpu=0 best_cpu=0 rss user sys
  shift
  t0=$(date +%s%N); set +e; /usr/bin/time -f '%M %U %S' -o "$work/rss" "$@" >"$work/out" 2>"$work/err"; rc=$?; set -e; t1=$(date +%s%N)
  if [[ $rc -ne 0 && $rc -ne 3 && $rc -ne 1 ]]; then echo "bench/lint: '$*' exited $rc" >&2; tail -3 "$work/err" >&2; exit 1; fi
  ms=$(( (t1 - t0) / 1000000 ))
  read -r rss user sys < <(tail -1 "$work/rss")
  cpu=$(python3 -c "print(round(($user + $sys) * 1000))")
  [[ -f "$work/best.$name" ]] && read -r best kib best_cpu <"$work/best.$name"
  if [[ $best -eq 0 || $ms -lt $best ]]; then best=$ms; kib=$rss; fi
  if [[ $best_cpu -eq 0 || $cpu -lt $best_cpu ]]; then best_cpu=$cpu; fi
  echo "$best $kib $best_cpu" >"$work/best.$name"
}
# Interleaved: every repetition runs each configuration once (the 300-file pair three times), so a burst of load on
# this shared machine hits both tools alike rather than one tool's whole series; best per configuration.
for r in $(seq 1 "$repeats"); do
  once pg2 "$phasegate" lint "$work/corpus.sql" --format json
  once sq2 "$squawk" --reporter json "$work/corpus.sql"
  once pg1 taskset -c 0 "$phasegate" lint "$work/corpus.sql" --format json
  once sq1 taskset -c 0 "$squawk" --reporter json "$work/corpus.sql"
  once pgt "$phasegate" lint "$work/corpus.sql"
  for _ in 1 2 3; do  # short runs: a burst of load spoils a larger share of them, so three pairs per repetition
    once pgd taskset -c 0 "$phasegate" lint "$work/dir"/*.sql --format json
    once sqd taskset -c 0 "$squawk" --reporter json "$work/dir"/*.sql
  done
done
read -r pg2 pg2_kib _ <"$work/best.pg2"; read -r pg1 pg1_kib pg1_cpu <"$work/best.pg1"; read -r pgt _ _ <"$work/best.pgt"
read -r sq2 sq2_kib _ <"$work/best.sq2"; read -r sq1 sq1_kib sq1_cpu <"$work/best.sq1"
read -r pgd pgd_kib pgd_cpu <"$work/best.pgd"; read -r sqd sqd_kib sqd_cpu <"$work/best.sqd"
# CALLGRIND=1: instructions executed (valgrind --tool=callgrind, all threads), a second measure that the machine's
# load does not change. 0 = not measured.
pgi=0 sqi=0 pgdi=0 sqdi=0
if [[ "${CALLGRIND:-0}" == 1 ]]; then
  command -v valgrind >/dev/null || { echo "bench/lint: CALLGRIND=1 needs valgrind" >&2; exit 2; }
  instructions() {  # CMD...: the instruction count callgrind collected
    set +e; valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$@" >/dev/null 2>"$work/cg.log"; set -e
    grep -oE 'Collected : [0-9]+' "$work/cg.log" | grep -oE '[0-9]+$' || { echo "bench/lint: callgrind failed on $*" >&2; tail -3 "$work/cg.log" >&2; exit 1; }
  }
  pgi=$(instructions "$phasegate" lint "$work/corpus.sql" --format json)
  sqi=$(instructions "$squawk" --reporter json "$work/corpus.sql")
  pgdi=$(instructions "$phasegate" lint "$work/dir"/*.sql --format json)
  sqdi=$(instructions "$squawk" --reporter json "$work/dir"/*.sql)
fi
pg_findings=$("$phasegate" lint "$work/corpus.sql" --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["findings"]))' || true)
sq_findings=$("$squawk" --reporter json "$work/corpus.sql" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' || true)

python3 - "$stmts" "$dir_files" "$dir_stmts" "$squawk_version" "$pg_findings" "$sq_findings" \
  "$pg2" "$pg2_kib" "$pg1" "$pg1_kib" "$pgt" "$sq2" "$sq2_kib" "$sq1" "$sq1_kib" "$pgd" "$pgd_kib" "$sqd" "$sqd_kib" \
  "$pgi" "$sqi" "$pgdi" "$sqdi" "$repeats" "$pg1_cpu" "$sq1_cpu" "$pgd_cpu" "$sqd_cpu" <<'PY'
import sys
a = sys.argv[1:]
stmts, files, dstmts, version, pf, qf = int(a[0]), int(a[1]), int(a[2]), a[3], a[4], a[5]
pg2, pg2k, pg1, pg1k, pgt, sq2, sq2k, sq1, sq1k, pgd, pgdk, sqd, sqdk, pgi, sqi, pgdi, sqdi, reps = map(int, a[6:24])
pg1c, sq1c, pgdc, sqdc = map(int, a[24:28])
mib = lambda k: k / 1024
ok = lambda b: "met" if b else "NOT met"
print(f"bench/lint: {stmts} statements in one file; {files} files of {dstmts} statements; best of {reps} interleaved runs ({3 * reps} of the 300 files); {version} (native binary)")
print(f"  {'':34} {'ms':>7} {'stmts/s':>10} {'peak MiB':>9}")
for label, ms, k, n in [("phasegate lint --format json", pg2, pg2k, stmts), ("  pinned to one core", pg1, pg1k, stmts),
                        ("phasegate lint (text)", pgt, None, stmts), ("squawk --reporter json", sq2, sq2k, stmts),
                        ("  pinned to one core", sq1, sq1k, stmts), ("phasegate, 300 files, one core", pgd, pgdk, dstmts),
                        ("squawk, 300 files, one core", sqd, sqdk, dstmts)]:
    print(f"  {label:34} {ms:7d} {n / max(ms, 1) * 1000:10.0f} {'' if k is None else f'{mib(k):9.1f}'}")
print(f"  findings on the big file: phasegate {pf}, squawk {qf} (they flag different things; counts for honesty, not a score)")
print(f"  speed, two cores:  phasegate / squawk = {sq2 / pg2:.2f}x")
print(f"  speed, one core:   phasegate / squawk = {sq1 / pg1:.2f}x: goal >= 2x {ok(sq1 / pg1 >= 2)}")
print(f"  peak memory, one core: phasegate {mib(pg1k):.1f} MiB, squawk {mib(sq1k):.1f} MiB: goal <= squawk's {ok(pg1k <= sq1k)}")
print(f"  300 files in one process, one core: phasegate / squawk = {sqd / pgd:.2f}x: goal >= 2x {ok(sqd / pgd >= 2)}")
print(f"  CPU time (user + system, best), one core: phasegate {pg1c} ms, squawk {sq1c} ms = {sq1c / max(pg1c, 1):.2f}x; "
      f"300 files: {pgdc} ms, {sqdc} ms = {sqdc / max(pgdc, 1):.2f}x")
print(f"  text format: {pgt} ms: goal < 1000 ms {ok(pgt < 1000)}")
if pgi:
    print(f"  instructions (callgrind), one file: phasegate {pgi / 1e9:.3f} G, squawk {sqi / 1e9:.3f} G: squawk / phasegate = {sqi / pgi:.2f}x")
    print(f"  instructions (callgrind), {files} files: phasegate {pgdi / 1e9:.3f} G, squawk {sqdi / 1e9:.3f} G: squawk / phasegate = {sqdi / pgdi:.2f}x")
PY
