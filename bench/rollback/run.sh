#!/usr/bin/env bash
# bench/rollback: time from a failing migration step to "database undone, master reverted, services restarted"
# (issue goal: under 60 s with the default timeouts; the seed outages took 20 minutes to hours to get there).
# The scenario of tests/e2e/test_rollback.sh (seed 003): a plan whose expand adds reading_level and a NOT VALID
# foreign key (both with a down) and restarts the api (examples/bookbot/app/api.py, a real process, restarted by
# hooks/restart-by-pidfile.sh, health GET /health), then a migrate step VALIDATE CONSTRAINT that fails on an
# orphaned row; the release is a merge commit pushed to a real bare origin; [rollback] master = git.
# Each repetition runs two scenarios, each on a fresh database and a fresh git origin of the same throwaway
# server (their order alternates between repetitions):
#   phasegate  `phasegate run --release-commit SHA` (exit 1 expected); times from the rollback.completed event
#              (database_ms, master_ms, services_ms, total_ms: measured from the moment the failure is seen),
#              the step.failed -> rollback.completed gap of the events' `at`, and the wall time of the run.
#   baseline   bench/rollback/baseline.sh: the same SQL deployed naively with psql, and right after the failed
#              psql the same undo by a ready script with no thinking time (psql the downs, git fetch/revert/push
#              in a clone, the same restart hook, curl /health every 0.1 s until 200).
# Every scenario is checked afterwards (column and constraint gone, origin's main is the revert with release
# 1's code, the api answers 200 from a new pid); a scenario that did not roll back fails the bench.
# Usage: bench/rollback/run.sh [--reps N]      (N defaults to 5)
#   PHASEGATE_BIN=/path/to/phasegate  use that binary instead of building
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/bench/rollback"
reps=5
while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) reps=${2:?--reps needs a number}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "usage: bench/rollback/run.sh [--reps N]" >&2; exit 2 ;;
  esac
done
[[ $reps =~ ^[1-9][0-9]*$ ]] || { echo "bench: --reps must be a positive integer, got '$reps'" >&2; exit 2; }
goal_ms=60000
seed_ms=1200000   # the seed's human response: 20 minutes (the seed report; not measured here)

"$root/scripts/deps.sh"
if [[ -n "${PHASEGATE_BIN:-}" ]]; then
  phasegate=$PHASEGATE_BIN
else
  build=$("$root/scripts/build.sh")
  phasegate=$build/phasegate
fi
[[ -x "$phasegate" ]] || { echo "bench: $phasegate is not executable" >&2; exit 2; }
for tool in git curl python3; do command -v $tool >/dev/null || { echo "bench: $tool not found" >&2; exit 2; }; done
eval "$("$root/scripts/pg.sh" start)"
work=$(mktemp -d /tmp/phasegate-bench.XXXXXX)
stop_apis() {  # every api this bench started (each runs in its own session, so by the pid in its pidfile)
  local f
  for f in "$work"/*/project/run/api.pid; do [[ -s $f ]] && kill "$(cat "$f")" 2>/dev/null || true; done
}
trap 'stop_apis; "$root/scripts/pg.sh" stop "$PHASEGATE_PG_DIR"; rm -rf "$work"' EXIT
export PSQL="$PHASEGATE_PG_BIN/psql"
export GIT_AUTHOR_NAME=dev GIT_AUTHOR_EMAIL=dev@example.com GIT_COMMITTER_NAME=dev GIT_COMMITTER_EMAIL=dev@example.com
export GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
us() { echo "${EPOCHREALTIME/./}"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
q() { "$PSQL" "$DATABASE_URL" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

# --- the migration: one set of statements for the plan and for the baseline ---
add_col="ALTER TABLE books ADD COLUMN reading_level int"
add_col_down="ALTER TABLE books DROP COLUMN reading_level"
add_fk="ALTER TABLE books ADD CONSTRAINT books_author_fk FOREIGN KEY (author_id) REFERENCES authors (id) NOT VALID"
add_fk_down="ALTER TABLE books DROP CONSTRAINT IF EXISTS books_author_fk"
validate="ALTER TABLE books VALIDATE CONSTRAINT books_author_fk"

# setup KIND REP: a fresh database, origin, clone with the release merge, project, and the api running release 1.
# Sets DATABASE_URL, BOOKBOT_PORT, dir, release, api.
setup() {
  local kind=$1 rep=$2 db="rb_${1}_$2"
  dir="$work/$kind-$rep"
  mkdir -p "$dir/project/plans" "$dir/project/app" "$dir/sql"
  PGOPTIONS="-c client_min_messages=warning" "$PSQL" "$PHASEGATE_TEST_URL" -qX -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  export DATABASE_URL="$PHASEGATE_TEST_URL dbname=$db"
  q "CREATE TABLE authors (id int PRIMARY KEY);
     CREATE TABLE books (id bigint PRIMARY KEY, title text NOT NULL, lexile int, author_id int);
     INSERT INTO authors VALUES (1); INSERT INTO books VALUES (1, 'a', 900, 1), (2, 'orphan', 600, 99)"
  # git: a bare origin, the developer's clone, and the release as a merge of a feature branch (revert needs -m 1)
  git init -q --bare -b main "$dir/origin.git"
  git clone -q "$dir/origin.git" "$dir/app" 2>/dev/null
  git -C "$dir/app" checkout -q -b main
  echo "v1" >"$dir/app/app.txt"
  git -C "$dir/app" add app.txt && git -C "$dir/app" commit -qm "base"
  git -C "$dir/app" checkout -q -b release-2
  echo "v2: writes reading_level" >"$dir/app/app.txt"
  git -C "$dir/app" commit -qam "release 2: reading_level"
  git -C "$dir/app" checkout -q main
  git -C "$dir/app" merge -q --no-ff -m "Merge branch 'release-2'" release-2
  git -C "$dir/app" push -q origin main
  release=$(git -C "$dir/app" rev-parse HEAD)
  # the project: the api as service "api" on a free port, default timeouts everywhere
  cp -r "$root/hooks" "$dir/project/hooks"
  cp "$root/examples/bookbot/app/api.py" "$dir/project/app/api.py"
  echo 1 >"$dir/project/app/RELEASE"
  export BOOKBOT_PORT
  BOOKBOT_PORT=$(free_port)
  api="http://127.0.0.1:$BOOKBOT_PORT"
  cat >"$dir/project/phasegate.toml" <<TOML
[project]
name = "bench-rollback"

[services.api]
kind = "command"
restart = ["hooks/restart-by-pidfile.sh", "run/api.pid", "--", "python3", "app/api.py"]
health = { http = "$api/health", expect_status = 200 }

[hooks]
pass_env = ["DATABASE_URL"]

[rollback]
on_failure = "rollback"
master = { kind = "git", repo = "../app", branch = "main", remote = "origin" }
TOML
  cat >"$dir/project/plans/0003-author-fk.toml" <<TOML
[expand]
restart = ["api"]
[[expand.steps]]
name = "add reading_level"
sql = "$add_col"
down = "$add_col_down"
[[expand.steps]]
name = "author fk"
sql = "$add_fk"
down = "$add_fk_down"
[migrate]
[[migrate.steps]]
name = "validate author fk"
sql = "$validate"
TOML
  printf '%s;\n%s;\n' "$add_col" "$add_fk" >"$dir/sql/expand.sql"
  printf '%s;\n' "$validate" >"$dir/sql/migrate.sql"
  printf '%s;\n%s;\n' "$add_fk_down" "$add_col_down" >"$dir/sql/downs.sql"   # newest first, as phasegate does
  (cd "$dir/project" && hooks/restart-by-pidfile.sh run/api.pid -- python3 app/api.py >/dev/null)
  wait_healthy || { echo "bench: $kind rep $rep: the api did not start" >&2; exit 1; }
  api_pid0=$(cat "$dir/project/run/api.pid")
}
wait_healthy() {
  local deadline=$((SECONDS + 30))
  until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$api/health" || true) == 200 ]]; do
    (( SECONDS < deadline )) || return 1
    sleep 0.1
  done
}

# verify KIND REP: the rollback really happened; exits the bench when not.
verify() {
  local kind=$1 rep=$2 got want pid
  pid=$(cat "$dir/project/run/api.pid")
  got="$(q "SELECT count(*) FROM information_schema.columns WHERE table_name = 'books' AND column_name = 'reading_level'")"
  got+=" $(q "SELECT count(*) FROM pg_constraint WHERE conname = 'books_author_fk'")"
  got+=" $(git --git-dir "$dir/origin.git" log -1 --format=%s main)"
  got+=" $(git --git-dir "$dir/origin.git" show main:app.txt)"
  got+=" $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$api/health" || true)"
  got+=" $([[ $pid != "$api_pid0" ]] && kill -0 "$pid" 2>/dev/null && echo new-pid || echo old-or-dead-pid)"
  want="0 0 Revert \"Merge branch 'release-2'\" v1 200 new-pid"
  [[ $got == "$want" ]] ||
    { echo "bench: $kind rep $rep did not roll back: got '$got', want '$want'" >&2; tail -5 "$dir"/*.log >&2 || true; exit 1; }
}

teardown() {
  local pidfile="$dir/project/run/api.pid" db=${DATABASE_URL##*dbname=}
  [[ -s $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
  PGOPTIONS="-c client_min_messages=warning" "$PSQL" "$PHASEGATE_TEST_URL" -qX -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  rm -rf "$dir"
}

# run_phasegate REP -> "wall_ms database_ms master_ms services_ms total_ms failed_to_completed_ms"
run_phasegate() {
  local rep=$1 t0 t1 rc row
  setup phasegate "$rep"
  echo 2 >"$dir/project/app/RELEASE"
  t0=$(us)
  set +e
  "$phasegate" -C "$dir/project" run --release-commit "$release" >"$dir/run.out.log" 2>"$dir/run.err.log"
  rc=$?
  set -e
  t1=$(us)
  [[ $rc == 1 ]] || { echo "bench: phasegate rep $rep exited $rc, want 1:" >&2; cat "$dir/run.err.log" >&2; exit 1; }
  grep -q 'violates foreign key constraint "books_author_fk"' "$dir/run.err.log" ||
    { echo "bench: phasegate rep $rep failed for another reason:" >&2; cat "$dir/run.err.log" >&2; exit 1; }
  verify phasegate "$rep"
  [[ $(q "SELECT count(*) FROM phasegate.events WHERE kind = 'service.healthy'") == 2 ]] ||
    { echo "bench: phasegate rep $rep: the api was not restarted twice (after expand, by the rollback)" >&2; exit 1; }
  row=$(q "WITH f AS (SELECT at FROM phasegate.events WHERE kind = 'step.failed' ORDER BY event_id LIMIT 1),
               c AS (SELECT at, payload FROM phasegate.events WHERE kind = 'rollback.completed' ORDER BY event_id DESC LIMIT 1)
           SELECT concat_ws(' ', c.payload->>'database_ms', c.payload->>'master_ms', c.payload->>'services_ms',
                             c.payload->>'total_ms', round(extract(epoch FROM c.at - f.at) * 1000)::bigint)
           FROM f, c")
  [[ $(wc -w <<<"$row") == 5 ]] || { echo "bench: phasegate rep $rep: no step.failed/rollback.completed times ('$row')" >&2; exit 1; }
  echo "$(( (t1 - t0) / 1000 )) $row"
  teardown
}

# run_baseline REP -> "wall_ms database_ms master_ms services_ms total_ms"
run_baseline() {
  local rep=$1 t0 t1 out
  setup baseline "$rep"
  t0=$(us)
  out=$("$here/baseline.sh" "$dir/sql" "$dir/project" "$dir/app" "$release" "$api/health" 2>"$dir/baseline.err.log") ||
    { echo "bench: baseline rep $rep failed:" >&2; cat "$dir/baseline.err.log" >&2; exit 1; }
  t1=$(us)
  grep -q 'violates foreign key constraint "books_author_fk"' "$dir/sql/migrate.err" ||
    { echo "bench: baseline rep $rep: the migration failed for another reason:" >&2; cat "$dir/sql/migrate.err" >&2; exit 1; }
  verify baseline "$rep"
  # deploy_ms=.. database_ms=.. master_ms=.. services_ms=.. total_ms=..
  echo "$(( (t1 - t0) / 1000 )) $(sed -E 's/deploy_ms=[0-9]+ //; s/[a-z_]+=//g' <<<"$out")"
  teardown
}

# Context for the restart times: restart-by-pidfile.sh waits until the old pid is gone (kill -0), and a killed
# detached process stays a zombie until PID 1 (or a subreaper) reaps it. Measured here with a detached sleep.
reap_ms() {
  local pid t0 deadline=$((SECONDS + 15))
  pid=$( (setsid sleep 60 >/dev/null 2>&1 </dev/null & echo $!) )
  sleep 0.1
  t0=$(us)
  kill "$pid"
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.01; done
  echo $(( ($(us) - t0) / 1000 ))
}
reaps="$(reap_ms) $(reap_ms) $(reap_ms)"

echo "bench/rollback: $reps repetitions; PostgreSQL $("$PSQL" --version | awk '{print $3}'), $(nproc) cores, load $(cut -d" " -f1-3 /proc/loadavg); phasegate $phasegate"
echo "scenario: expand (add reading_level, author fk NOT VALID; restart api) -> migrate VALIDATE fails on an orphan -> rollback"
echo "all times in ms; db/master/svc/total are cumulative from the moment the failure is seen"
printf '%-4s | %-42s | %-33s | %s\n' "" "phasegate (rollback.completed payload)" "baseline (scripted, no thinking)" "ratio"
printf '%-4s | %7s %6s %6s %6s %6s %7s | %7s %6s %6s %6s %6s | %s\n' \
  rep wall db master svc total evt wall db master svc total "total pg/base"
: >"$work/results"
for rep in $(seq 1 "$reps"); do
  if (( rep % 2 )); then
    pg_row=$(run_phasegate "$rep"); base_row=$(run_baseline "$rep")
  else
    base_row=$(run_baseline "$rep"); pg_row=$(run_phasegate "$rep")
  fi
  echo "$rep $pg_row $base_row" >>"$work/results"
  read -r _ pw pd pm ps pt pe bw bd bm bs bt <<<"$rep $pg_row $base_row"
  printf '%-4s | %7s %6s %6s %6s %6s %7s | %7s %6s %6s %6s %6s | %.2fx\n' \
    "$rep" "$pw" "$pd" "$pm" "$ps" "$pt" "$pe" "$bw" "$bd" "$bm" "$bs" "$bt" "$(awk -v a="$pt" -v b="$bt" 'BEGIN { print a / b }')"
done
echo "context: a killed detached process was reaped after $reaps ms here (hooks/restart-by-pidfile.sh treats a zombie as gone, so neither side waits for it)"
echo "(wall: the whole phasegate run / the whole naive deploy incl. its undo; evt: step.failed -> rollback.completed by the events' at)"

python3 - "$work/results" "$goal_ms" "$seed_ms" <<'PY'
import statistics, sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
goal, seed = int(sys.argv[2]), int(sys.argv[3])
cols = ["rep", "pg_wall", "pg_db", "pg_master", "pg_svc", "pg_total", "pg_evt", "b_wall", "b_db", "b_master", "b_svc", "b_total"]
c = {name: [r[i] for r in rows] for i, name in enumerate(cols)}
med = {k: statistics.median(v) for k, v in c.items()}
mx = {k: max(v) for k, v in c.items()}
print(f"\nsummary over {len(rows)} repetitions (median / max, ms):")
for label, pg, b in [("database undone", "pg_db", "b_db"), ("master reverted", "pg_master", "b_master"),
                     ("services restarted", "pg_svc", "b_svc"), ("total", "pg_total", "b_total")]:
    print(f"  {label:<38} phasegate {med[pg]:>7.0f} / {mx[pg]:>6}   baseline {med[b]:>7.0f} / {mx[b]:>6}"
          f"   ratio of medians {med[pg] / med[b]:.2f}x")
print(f"  {'step.failed -> rollback.completed':<38} phasegate {med['pg_evt']:>7.0f} / {mx['pg_evt']:>6}")
print(f"  {'wall of the whole run':<38} phasegate {med['pg_wall']:>7.0f} / {mx['pg_wall']:>6}   baseline {med['b_wall']:>7.0f} / {mx['b_wall']:>6}"
      f"   ratio of medians {med['pg_wall'] / med['b_wall']:.2f}x")
per_rep = [p / b for p, b in zip(c["pg_total"], c["b_total"])]
print(f"phasegate / baseline, failure -> services restarted (total): median of per-rep ratios {statistics.median(per_rep):.2f}x"
      f" (range {min(per_rep):.2f}-{max(per_rep):.2f}x); that is phasegate's overhead over a ready script with no thinking time")
worst = max(mx["pg_total"], mx["pg_evt"])
print(f"goal: failing step -> master reverted and services restarted < {goal} ms with default timeouts: "
      f"{'met' if worst < goal else 'NOT met'} (worst of total_ms and step.failed -> rollback.completed: {worst} ms)")
print(f"context, not a measurement: the seed's human response was ~20 min = {seed} ms; phasegate's median total is "
      f"{med['pg_total'] / seed:.4f}x of it ({seed / med['pg_total']:.0f}x faster)")
PY
