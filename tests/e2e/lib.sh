# Shared helpers for e2e tests: the built binary against a real PostgreSQL (scripts/pg.sh).
set -euo pipefail
# A command that fails outside a check stops the script (set -e): say which, where, and with what status.
trap '_rc=$?; [[ $- != *e* ]] || echo "FAIL: ${BASH_SOURCE[0]##*/}:$LINENO: \"$BASH_COMMAND\" exited $_rc (the script stops here)" >&2' ERR
: "${PHASEGATE_BIN:?set by ctest}" "${PHASEGATE_TEST_URL:?start a server: eval \"\$(scripts/pg.sh start)\"}"
PSQL="${PHASEGATE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}/psql"
WORK=$(mktemp -d /tmp/phasegate-e2e.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
FAILS=0

# new_db NAME: a fresh database; exports DATABASE_URL.
new_db() {
  PGOPTIONS="-c client_min_messages=warning" "$PSQL" "$PHASEGATE_TEST_URL" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
  export DATABASE_URL="$PHASEGATE_TEST_URL dbname=$1"
}
q() { "$PSQL" "$DATABASE_URL" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
pg() { "$PHASEGATE_BIN" -C "$WORK/project" "$@"; }

# new_project: a project in $WORK/project with an empty plans/ dir.
new_project() {
  rm -rf "$WORK/project"
  mkdir -p "$WORK/project/plans"
  cat >"$WORK/project/phasegate.toml" <<'TOML'
[project]
name = "e2e"
[guards]
lock_timeout = "1s"
lock_retries = 1
lock_retry_backoff = { initial = "50ms", max = "100ms" }
TOML
}
plan() { cat >"$WORK/project/plans/$1.toml"; }

# expect CODE CMD...: runs CMD, captures stdout/stderr in $OUT/$ERR, checks the exit code.
expect() {
  local want=$1; shift
  set +e
  "$@" >"$WORK/out" 2>"$WORK/err"
  local got=$?
  set -e
  OUT=$(cat "$WORK/out"); ERR=$(cat "$WORK/err")
  if [[ $got -ne $want ]]; then
    echo "FAIL: '$*' exited $got, want $want"; echo "stdout: $OUT"; echo "stderr: $ERR"; FAILS=$((FAILS + 1))
  fi
}
check() {  # check DESCRIPTION ACTUAL EXPECTED
  if [[ "$2" != "$3" ]]; then echo "FAIL: $1: got '$2', want '$3'"; FAILS=$((FAILS + 1)); else echo "ok: $1"; fi
}
contains() {  # contains DESCRIPTION HAYSTACK NEEDLE
  if [[ "$2" != *"$3"* ]]; then echo "FAIL: $1: '$3' not in: $2"; FAILS=$((FAILS + 1)); else echo "ok: $1"; fi
}
# pj EXPR [PLAN]: evaluate a Python expression over `status --json` (d = the document, p = PLAN's entry).
pj() {
  local doc
  doc=$("$PHASEGATE_BIN" -C "$WORK/project" --json status 2>/dev/null || true)
  python3 - "$1" "${2:-}" "$doc" <<'PY'
import json, sys
expr, plan, doc = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    d = json.loads(doc)
except Exception:
    print("<status --json did not print JSON: %r>" % doc[:200]); sys.exit(0)
p = next((e for e in d.get("plans", []) if e.get("plan") == plan), None)
if plan and p is None:
    print("<no entry for %s>" % plan); sys.exit(0)
try:
    r = eval(expr)
except Exception as e:
    r = "<%s: %s>" % (type(e).__name__, e)
print(r if isinstance(r, str) else json.dumps(r))
PY
}
# alive PID: the process exists and is not a zombie (containers whose init reaps late keep zombies around).
alive() { local st; st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; [[ -n $st && "${st##*) }" != Z* ]]; }
# wait_for DESCRIPTION CMD...: polls CMD every 0.1 s for up to 60 s (a loaded machine is slow, never flaky);
# a timeout is a failed check that names what it waited for.
wait_for() {
  local what=$1; shift
  for _ in $(seq 600); do "$@" && return 0; sleep 0.1; done
  echo "FAIL: timed out waiting for: $what"; FAILS=$((FAILS + 1)); return 1
}
# run_bg ARGS...: phasegate ARGS in the background (output in $WORK/out, $WORK/err), its pid in $runner;
# wait_rc: waits for it, its exit code in $rc.
run_bg() { "$PHASEGATE_BIN" -C "$WORK/project" "$@" >"$WORK/out" 2>"$WORK/err" & runner=$!; }
wait_rc() { set +e; wait "$runner"; rc=$?; set -e; }
col_exists() { q "SELECT count(*) FROM information_schema.columns WHERE table_name = '$1' AND column_name = '$2'"; }
finish() {
  if [[ $FAILS -gt 0 ]]; then echo "$FAILS check(s) failed"; exit 1; fi
  echo "all checks passed"
}

# ---- services, hooks and git (issue #6) ----
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PSQL
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# api_project: new_project plus the bookbot api (examples/bookbot/app/api.py) as service "api", restarted by
# hooks/restart-by-pidfile.sh on a free port ($API), and the smoke check save_book (hooks/smoke-http-save.sh).
api_project() {
  new_project
  cp -r "$REPO_ROOT/hooks" "$WORK/project/hooks"
  mkdir -p "$WORK/project/app"
  cp "$REPO_ROOT/examples/bookbot/app/api.py" "$WORK/project/app/api.py"
  echo 1 >"$WORK/project/app/RELEASE"
  export BOOKBOT_PORT
  BOOKBOT_PORT=$(free_port)
  API="http://127.0.0.1:$BOOKBOT_PORT"
  cat >>"$WORK/project/phasegate.toml" <<TOML
[services.api]
kind = "command"
restart = ["hooks/restart-by-pidfile.sh", "run/api.pid", "--", "python3", "app/api.py"]
health = { http = "$API/health", expect_status = 200, timeout = "20s" }

[smoke.save_book]
command = ["hooks/smoke-http-save.sh", "$API/books"]
count = 2
interval = "200ms"

[hooks]
pass_env = ["DATABASE_URL"]
TOML
  trap 'stop_api; rm -rf "$WORK"' EXIT
}
# start_api: starts the api and waits (up to 60 s) until it answers /health: the hook returns once the process
# lives, which on a loaded machine is well before python listens.
start_api() {
  (cd "$WORK/project" && hooks/restart-by-pidfile.sh run/api.pid -- python3 app/api.py >/dev/null)
  wait_for "the api answers $API/health" curl -sf -o /dev/null "$API/health"
}
api_pid() { cat "$WORK/project/run/api.pid"; }
stop_api() { [[ -s "$WORK/project/run/api.pid" ]] && kill "$(cat "$WORK/project/run/api.pid")" 2>/dev/null || true; }

# git_app: a bare origin and a clone of it ($APP) with one base commit on main; exports GIT_* identity.
git_app() {
  export GIT_AUTHOR_NAME=dev GIT_AUTHOR_EMAIL=dev@example.com GIT_COMMITTER_NAME=dev GIT_COMMITTER_EMAIL=dev@example.com
  ORIGIN="$WORK/origin.git"
  APP="$WORK/app"
  git init -q --bare -b main "$ORIGIN"
  git clone -q "$ORIGIN" "$APP" 2>/dev/null
  git -C "$APP" checkout -q -b main
  echo "v1" >"$APP/app.txt"
  git -C "$APP" add app.txt && git -C "$APP" commit -qm "base"
  git -C "$APP" push -q origin main
}
origin_head() { git --git-dir "$ORIGIN" log -1 --format=%s main; }

# ---- notifications (issue #14): a real webhook receiver (tests/e2e/tools/receiver.py) ----
TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tools"

# receiver MODE: (re)starts the receiver with a fresh log; $HOOK_URL points at it (the path looks like a Slack
# token, which must never show). Stopped at exit.
receiver() {
  stop_receiver
  rm -f "$WORK/rx.port" "$WORK/rx.log"
  echo "$1" >"$WORK/rx.mode"
  python3 "$TOOLS/receiver.py" "$WORK/rx.port" "$WORK/rx.log" "$WORK/rx.mode" & RX=$!
  wait_for "the receiver listens" test -s "$WORK/rx.port"
  export HOOK_URL="http://127.0.0.1:$(cat "$WORK/rx.port")/services/T000/B000/sEcReTtOkEn123"
}
stop_receiver() {
  if [[ -n ${RX:-} ]]; then kill "$RX" 2>/dev/null || true; wait "$RX" 2>/dev/null || true; fi
  RX=
}
# rx PYEXPR: evaluates over the received requests (r = list of {"t","n","path","headers","body","json"}).
rx() {
  python3 - "$1" "$WORK/rx.log" <<'PY'
import json, sys
expr, log = sys.argv[1], sys.argv[2]
r = []
try:
    for line in open(log):
        e = json.loads(line)
        e["json"] = json.loads(e["body"])
        r.append(e)
except FileNotFoundError:
    pass
print(eval(expr))
PY
}
trap 'stop_receiver; rm -rf "$WORK"' EXIT

# ---- serve (issue #14) ----
# start_serve [ARGS...]: `phasegate serve` on a free port, reading every 200 ms ($SERVE: its base URL, $serve_pid,
# stderr in $WORK/serve.log); returns once /healthz answers. The EXIT trap stops it (and an api, and removes $WORK).
start_serve() {
  local port
  port=$(free_port)
  SERVE="http://127.0.0.1:$port"
  "$PHASEGATE_BIN" -C "$WORK/project" serve --listen "127.0.0.1:$port" --interval 200ms "$@" >"$WORK/serve.out" 2>"$WORK/serve.log" &
  serve_pid=$!
  trap '[[ -n ${serve_pid:-} ]] && kill "$serve_pid" 2>/dev/null; stop_receiver; stop_api; rm -rf "$WORK"' EXIT
  wait_for "phasegate serve answers /healthz (log: $WORK/serve.log)" curl -sf -o /dev/null "$SERVE/healthz" || { cat "$WORK/serve.log"; return 1; }
}
# sj EXPR: a Python expression over serve's /status document (d); prints its value (JSON for non-strings).
sj() {
  local doc
  doc=$(curl -s --max-time 10 "$SERVE/status" || true)
  python3 - "$1" "$doc" <<'PY'
import json, sys
expr, doc = sys.argv[1], sys.argv[2]
try:
    d = json.loads(doc)
except Exception:
    print("<serve /status did not answer JSON: %r>" % doc[:200]); sys.exit(0)
try:
    r = eval(expr)
except Exception as e:
    r = "<%s: %s>" % (type(e).__name__, e)
print(r if isinstance(r, str) else json.dumps(r))
PY
}
sj_true() { [[ $(sj "$1") == "true" ]]; }
# metrics_problems: reads /metrics and checks it strictly against the Prometheus text format 0.0.4 (HELP and TYPE
# before each family's samples, names and label syntax, counters named _total, histograms with cumulative buckets,
# +Inf equal to _count, _sum and _count present). Prints one line per problem; nothing when it is valid.
metrics_problems() {
  curl -s --max-time 10 "$SERVE/metrics" >"$WORK/metrics.txt" || { echo "GET /metrics failed"; return 0; }
  python3 - "$WORK/metrics.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\])*",?)*)\})? (-?(?:[0-9.]+(?:e[+-]?[0-9]+)?|\+Inf|NaN))$')
label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)"')
types, helps, problems, buckets, counts = {}, set(), [], {}, {}
if not text.endswith("\n"): problems.append("the text does not end with a newline")
def family(name):
    for s in ("_bucket", "_sum", "_count"):
        if name.endswith(s) and types.get(name[:-len(s)]) == "histogram": return name[:-len(s)]
    return name
for n, line in enumerate(text.splitlines(), 1):
    if line.startswith("# HELP "):
        helps.add(line.split(" ")[2]); continue
    if line.startswith("# TYPE "):
        _, _, name, t = line.split(" ", 3)
        if t not in ("counter", "gauge", "histogram", "summary", "untyped"): problems.append("%d: bad type %s" % (n, t))
        if name in types: problems.append("%d: second TYPE for %s" % (n, name))
        if name not in helps: problems.append("%d: TYPE before HELP for %s" % (n, name))
        types[name] = t; continue
    m = sample.match(line)
    if not m: problems.append("%d: not a sample line: %r" % (n, line)); continue
    name, labels, value = m.group(1), dict(label.findall(m.group(3) or "")), float(m.group(4))
    fam = family(name)
    if fam not in types: problems.append("%d: %s has no TYPE before it" % (n, name)); continue
    if types[fam] == "counter" and not name.endswith("_total"): problems.append("%d: counter %s does not end in _total" % (n, name))
    if types[fam] == "counter" and value < 0: problems.append("%d: negative counter" % n)
    key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
    if name.endswith("_bucket") and fam != name:
        if "le" not in labels: problems.append("%d: bucket without le" % n)
        prev = buckets.get((fam, key))
        if prev and value < prev[1]: problems.append("%d: buckets not cumulative" % n)
        buckets[(fam, key)] = (labels.get("le"), value)
    if name.endswith("_count") and fam != name: counts[(fam, key)] = value
for (fam, key), (le, v) in buckets.items():
    if le != "+Inf": problems.append("%s%s: the last bucket is not +Inf" % (fam, key))
    if counts.get((fam, key)) != v: problems.append("%s%s: +Inf bucket %s != _count %s" % (fam, key, v, counts.get((fam, key))))
for p in problems: print(p)
PY
}
# metric NAME_WITH_LABELS: the value of one series on /metrics ("" when absent).
metric() { curl -s --max-time 10 "$SERVE/metrics" | awk -v s="$1" '$1 == s { print $2 }'; }
