# Shared helpers for e2e tests: the built binary against a real PostgreSQL (scripts/pg.sh).
set -euo pipefail
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
finish() {
  if [[ $FAILS -gt 0 ]]; then echo "$FAILS check(s) failed"; exit 1; fi
  echo "all checks passed"
}
