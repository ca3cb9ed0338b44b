#!/usr/bin/env bash
# Credentials are never echoed (issue #12, docs/secrets.md). A role with a recognisable password; every command
# that reads the database, with URI and key=value conninfo, good and malformed (libpq quotes a malformed URI, or a
# password's bad %-escape, in its error); then the password must be in none of stdout, stderr, `log --json`, the
# events table, the runs' and steps' errors. A command step (which gets DATABASE_URL by design) and a smoke hook
# print their environment: what reaches the events is masked, and the hook never had the URL.
# The test cluster uses trust authentication (scripts/pg.sh): the password is not checked, but it is in the URL.
source "$(dirname "$0")/lib.sh"
new_db e2e_secrets
ADMIN_URL=$DATABASE_URL
PORT=$(sed -E 's/.*port=([0-9]+).*/\1/' <<<"$PHASEGATE_TEST_URL")
ROLE=e2e_secrets_owner
PW="S3cr3t-zz-$RANDOM$RANDOM"
# new_db dropped the database a previous run left to the role, so the role owns nothing any more.
"$PSQL" "$PHASEGATE_TEST_URL" -qAtX -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
DROP ROLE IF EXISTS $ROLE;
CREATE ROLE $ROLE LOGIN PASSWORD '$PW';
GRANT pg_monitor TO $ROLE;
ALTER DATABASE e2e_secrets OWNER TO $ROLE;
SQL
"$PSQL" "$ADMIN_URL" -qAtX -v ON_ERROR_STOP=1 -c "ALTER SCHEMA public OWNER TO $ROLE" >/dev/null
auth=$("$PSQL" "$ADMIN_URL" -qAtX -c "SELECT string_agg(DISTINCT auth_method, ',') FROM pg_hba_file_rules WHERE type = 'host'")
echo "test cluster host authentication: $auth (with trust the password is not checked, but it is in every URL below)"

URI="postgresql://$ROLE:$PW@127.0.0.1:$PORT/e2e_secrets"
KV="host=127.0.0.1 port=$PORT user=$ROLE password='$PW' dbname=e2e_secrets"
declare -A BAD=(
  [uri-ipv6]="postgresql://$ROLE:$PW@[::1/x"
  [uri-percent]="postgresql://$ROLE:$PW%zz@127.0.0.1:$PORT/e2e_secrets"
  [uri-param]="postgresql://127.0.0.1:$PORT/e2e_secrets?user=$ROLE&password=$PW&bogus_option=1"
  [kv-missing-eq]="host=127.0.0.1 port=$PORT password=$PW dbname=e2e_secrets stray"
  [kv-unknown-option]="host=127.0.0.1 port=$PORT password='$PW two' nosuchoption=1"
  [kv-refused]="host=127.0.0.1 port=1 user=$ROLE password=$PW dbname=e2e_secrets connect_timeout=5"
)

new_project
P="$WORK/project"
cat >>"$P/phasegate.toml" <<'TOML'
[smoke.env]
command = ["sh", "-c", "echo hook-url[${DATABASE_URL:-unset}] hook-pgpass[${PGPASSWORD:-unset}]; env"]
TOML
plan 0001-secrets <<'TOML'
[expand]
smoke = ["env"]
[[expand.steps]]
name = "create"
sql = "CREATE TABLE secrets_t (id int)"
down = "DROP TABLE secrets_t"
[[expand.steps]]
name = "print env"
command = ["sh", "-c", "echo step-url[$DATABASE_URL] step-pgpass[$PGPASSWORD]; env"]
irreversible = true
TOML

# px URL ARGS...: phasegate with only PATH, HOME, the URL and PGPASSWORD in its environment, so a hook's `env`
# output is short enough to be kept whole in its event.
px() {
  local url=$1; shift
  env -i PATH="$PATH" HOME="${HOME:-/tmp}" ${LSAN_OPTIONS:+LSAN_OPTIONS="$LSAN_OPTIONS"} DATABASE_URL="$url" PGPASSWORD="$PW" \
    "$PHASEGATE_BIN" -C "$P" "$@"
}
# no_leak WHAT TEXT: the password (any variant contains $PW) is not in TEXT; shows where it was, masked.
no_leak() {
  if [[ "$2" == *"$PW"* ]]; then
    echo "FAIL: $1: the password appears:"
    printf '%s\n' "${2//"$PW"/<<THE PASSWORD>>}" | grep -F '<<THE PASSWORD>>' | head -5
    FAILS=$((FAILS + 1))
  else
    echo "ok: $1: no password"
  fi
}
# run_checked WANT WHAT URL ARGS...: the command's exit code, and no password in its stdout or stderr.
run_checked() {
  local want=$1 what=$2 url=$3; shift 3
  expect "$want" px "$url" "$@"
  local args="$*"
  args=${args//"$PW"/<PW>}
  no_leak "$what: $args (stdout)" "$OUT"
  no_leak "$what: $args (stderr)" "$ERR"
}

for form in uri kv; do
  url=$URI; [[ $form == kv ]] && url=$KV
  echo "--- $form conninfo, good"
  run_checked 0 "$form" "$url" validate
  run_checked 0 "$form" "$url" run
  check "$form: the plan applied" "$(q "SELECT to_regclass('secrets_t') IS NOT NULL")" "t"
  run_checked 0 "$form" "$url" status
  run_checked 0 "$form" "$url" --json status
  run_checked 0 "$form" "$url" plan 0001-secrets
  run_checked 0 "$form" "$url" log
  run_checked 0 "$form" "$url" --json log
  check "$form: log --json is JSON and its chain verifies" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["chain_ok"])' "$OUT" 2>&1)" "True"
  run_checked 0 "$form" "$url" runs
  run_checked 0 "$form" "$url" --json runs
  last_run=$(q "SELECT max(run_id) FROM phasegate.runs")
  run_checked 2 "$form" "$url" abort "$last_run"
  contains "$form: abort of a finished run says so" "$ERR" "already completed"
  run_checked 0 "$form" "$url" --yes rollback 0001-secrets
  check "$form: rolled back" "$(q "SELECT to_regclass('secrets_t') IS NULL")" "t"
  run_checked 0 "$form" "$url" --json log
done

echo "--- malformed and unreachable conninfo"
for name in "${!BAD[@]}"; do
  url=${BAD[$name]}
  run_checked 0 "$name" "$url" validate
  for cmd in "status" "--json status" "run" "--json run" "log" "--json log" "runs" "abort 1" "--yes rollback 0001-secrets"; do
    # shellcheck disable=SC2086
    run_checked 69 "$name" "$url" $cmd
  done
  contains "$name: the error names the cause" "$ERR" "cannot reach the target database"
  run_checked 0 "$name" "$url" plan 0001-secrets
  contains "$name: plan says the database is unreachable" "$OUT$ERR" "unreachable"
  run_checked 2 "$name" "$url" lint --db 0001-secrets
  run_checked 2 "$name" "$ADMIN_URL" trace 0001-secrets --scratch-url "$url"
done
# The masked position is shown, so the message still says which URL was wrong.
expect 69 px "${BAD[uri-ipv6]}" status
contains "the malformed URI is quoted with its password masked" "$ERR" "postgresql://$ROLE:****@[::1/x"
expect 69 px "${BAD[uri-percent]}" status
contains "the bad percent-escape is masked" "$ERR" "invalid percent-encoded token: \"****\""

echo "--- what was stored"
no_leak "events table (payload and every column)" "$(q "SELECT string_agg(e::text, E'\n') FROM phasegate.events e")"
no_leak "runs table" "$(q "SELECT string_agg(r::text, E'\n') FROM phasegate.runs r")"
no_leak "steps table" "$(q "SELECT string_agg(s::text, E'\n') FROM phasegate.steps s")"
out=$(q "SELECT string_agg(payload->>'stdout', E'\n') FROM phasegate.events WHERE kind = 'step.completed' AND step = 'print env'")
contains "the command step got DATABASE_URL (URI form): stored masked" "$out" "step-url[postgresql://$ROLE:****@127.0.0.1:$PORT/e2e_secrets]"
contains "the command step got DATABASE_URL (key=value form): stored masked" "$out" "password=****"
contains "the command step got PGPASSWORD: stored masked" "$out" "step-pgpass[****]"
hooks=$(q "SELECT string_agg(m->>'stdout', E'\n') FROM phasegate.events, jsonb_array_elements(payload->'measurements') m WHERE kind = 'smoke.passed'")
contains "the smoke hook ran and printed its environment" "$hooks" "PHASEGATE_EVENT=smoke"
contains "the smoke hook never had DATABASE_URL or PGPASSWORD" "$hooks" "hook-url[unset] hook-pgpass[unset]"
check "no DATABASE_URL/PGPASSWORD line in the hook's env" "$(grep -cE '^(DATABASE_URL|PGPASSWORD)=' <<<"$hooks" || true)" "0"

echo "--- a hook allowed the URL ([hooks] pass_env): what it prints is stored masked"
cat >>"$P/phasegate.toml" <<'TOML'
[hooks]
pass_env = ["DATABASE_URL", "PGPASSWORD"]
TOML
run_checked 0 "pass_env" "$URI" run
hooks=$(q "SELECT payload->'measurements'->0->>'stdout' FROM phasegate.events WHERE kind = 'smoke.passed' ORDER BY event_id DESC LIMIT 1")
contains "the hook saw the URL, stored masked" "$hooks" "hook-url[postgresql://$ROLE:****@"
contains "the hook saw PGPASSWORD, stored masked" "$hooks" "PGPASSWORD=****"
run_checked 0 "pass_env" "$URI" --json log
no_leak "log --json after the pass_env run" "$OUT"
no_leak "events table after the pass_env run" "$(q "SELECT string_agg(e::text, E'\n') FROM phasegate.events e")"

echo "--- a command step that fails quoting the URL: the run's and the step's error, as stored and as printed"
plan 0002-fails <<'TOML'
[[expand.steps]]
name = "complain"
command = ["sh", "-c", "echo \"cannot use $DATABASE_URL\" >&2; exit 3"]
irreversible = true
TOML
run_checked 1 "failing step" "$KV" run
contains "the failure is reported, masked" "$ERR" "cannot use host=127.0.0.1 port=$PORT user=$ROLE password=****"
check "the run failed" "$(q "SELECT status FROM phasegate.runs WHERE plan_id = '0002-fails' ORDER BY run_id DESC LIMIT 1")" "rolled_back"
contains "the run's error is stored, masked" "$(q "SELECT error FROM phasegate.runs WHERE plan_id = '0002-fails'")" "password=****"
no_leak "runs table after the failure" "$(q "SELECT string_agg(r::text, E'\n') FROM phasegate.runs r")"
no_leak "steps table after the failure" "$(q "SELECT string_agg(s::text, E'\n') FROM phasegate.steps s")"
no_leak "events table after the failure" "$(q "SELECT string_agg(e::text, E'\n') FROM phasegate.events e")"
run_checked 0 "failing step" "$KV" runs
run_checked 0 "failing step" "$KV" --json runs
contains "runs --json shows the masked error" "$OUT" "password=****"
run_checked 0 "failing step" "$KV" status
run_checked 0 "failing step" "$KV" log
run_checked 0 "failing step" "$KV" --json log
finish
