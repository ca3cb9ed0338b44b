#!/usr/bin/env bash
# CLI conventions (issue #15): did-you-mean for commands and options, `help [COMMAND]`, help showing the global
# options and exit codes, -C DIR for plan paths, NO_COLOR, the target banner, `plan --detailed-exitcode`, and the
# backfill progress bar on an 80-column terminal / without a terminal.
source "$(dirname "$0")/lib.sh"
new_db e2e_cli
new_project
cd "$WORK"
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" <<<"$OUT" 2>&1 || true; }

# --- mistyped commands and options ---
expect 2 "$PHASEGATE_BIN" statsu
contains "unknown command: did you mean" "$ERR" 'unknown command "statsu" (did you mean "status"?)'
expect 2 "$PHASEGATE_BIN" -C "$WORK/project" statsu --check
contains "unknown command after -C DIR" "$ERR" 'did you mean "status"'
expect 2 "$PHASEGATE_BIN" status --chek
contains "unknown option: did you mean" "$ERR" 'unknown option "--chek" for phasegate status (did you mean "--check"?)'
expect 2 "$PHASEGATE_BIN" run --relase-commit abc
contains "unknown option with a value" "$ERR" 'did you mean "--release-commit"'
expect 2 "$PHASEGATE_BIN" --json statsu
check "usage error under --json: the error document" "$(json 'd["ok"], d["exit"], "did you mean" in d["error"]')" "(False, 2, True)"
expect 2 "$PHASEGATE_BIN"
contains "no command: the list" "$ERR" "a command is required: init, new, validate, run"
expect 2 "$PHASEGATE_BIN" --jsn
contains "an unknown option without a command" "$ERR" 'unknown option "--jsn" (did you mean "--json"?)'
expect 2 "$PHASEGATE_BIN" run --phase sideways
contains "CLI11's own message for a bad value" "$ERR" "sideways"

# --- help ---
expect 0 "$PHASEGATE_BIN" help
contains "help lists the commands" "$OUT" "status"
contains "help has the exit codes" "$OUT" "Exit codes"
expect 0 "$PHASEGATE_BIN" help status
for want in "Usage: phasegate status" "--check" "Global options" "-C DIR" "--json" "Exit codes" "75 " "NO_COLOR"; do
  contains "help status shows: $want" "$OUT" "$want"
done
HELP_STATUS=$OUT
expect 0 "$PHASEGATE_BIN" status --help
check "status --help is help status" "$OUT" "$HELP_STATUS"
expect 2 "$PHASEGATE_BIN" help statsu
contains "help of an unknown command" "$ERR" 'did you mean "status"'
expect 0 "$PHASEGATE_BIN" help notify test
contains "help of a nested command" "$OUT" "Usage: phasegate notify test"
contains "a nested command's help has the exit codes" "$OUT" "Exit codes"
expect 2 "$PHASEGATE_BIN" notify tset
contains "a mistyped nested command" "$ERR" 'unknown command "tset" (did you mean "test"?)'
expect 2 "$PHASEGATE_BIN" notify
contains "a command that needs its own command" "$ERR" "phasegate notify needs a command: test"
expect 0 "$PHASEGATE_BIN" help plan
contains "plan documents --detailed-exitcode" "$OUT" "--detailed-exitcode"
# help and docs/exit-codes.md list the same codes.
expect 0 "$PHASEGATE_BIN" help --json
DOC_CODES=$(grep -oE '^\| [0-9]+(, [0-9]+)* \|' "$PHASEGATE_SRC/docs/exit-codes.md" | grep -oE '[0-9]+' | awk '$1 < 128' | tr '\n' ' ')
grep -q '^| 130, 143, 129 |' "$PHASEGATE_SRC/docs/exit-codes.md" && DOC_CODES+="128+N"
check "help --json and docs/exit-codes.md: the same codes" "$(json '" ".join(c["code"] for c in d["exit_codes"])')" "$DOC_CODES"

# --- -C DIR: a relative plan path is read in DIR first, then here ---
plan 0001-add-col <<'TOML'
[[expand.steps]]
name = "add col"
sql = "CREATE TABLE cli_t (id int PRIMARY KEY)"
down = "DROP TABLE cli_t"
TOML
mkdir -p "$WORK/elsewhere/plans"
cd "$WORK/elsewhere"
expect 0 "$PHASEGATE_BIN" -C "$WORK/project" validate plans/0001-add-col.toml
contains "a path relative to DIR" "$OUT" "1 plan"
cd "$WORK"
expect 0 "$PHASEGATE_BIN" -C project validate project/plans/0001-add-col.toml
contains "a path relative to the current directory" "$OUT" "1 plan"
cd "$WORK/elsewhere"
# The same relative path here too (a copy, not a plan of this project): DIR's is the one meant.
cp "$WORK/project/plans/0001-add-col.toml" "$WORK/elsewhere/plans/"
expect 0 "$PHASEGATE_BIN" -C "$WORK/project" --json plan plans/0001-add-col.toml
check "ambiguous path: DIR first" "$(json 'd["plan"]')" "0001-add-col"
expect 2 "$PHASEGATE_BIN" -C "$WORK/project" validate plans/0009-none.toml
contains "a path in neither" "$ERR" 'no plan "plans/0009-none.toml"'
cd "$WORK"

# --- target banner, plan --detailed-exitcode, status --json ok/exit ---
export DATABASE_URL="$DATABASE_URL password=hunter2-not-shown"
DB_NAME=e2e_cli
expect 8 pg plan 0001-add-col --detailed-exitcode
contains "detailed: steps to apply" "$OUT" "1 step to apply"
contains "plan names its target" "$ERR" "target: "
contains "the banner names the database and state schema" "$ERR" "/$DB_NAME as "
contains "the banner names the state schema" "$ERR" "(state schema phasegate)"
expect 8 pg --json plan 0001-add-col --detailed-exitcode
check "detailed --json: exit 8, ok false, target" "$(json 'd["exit"], d["ok"], d["target"]["database"], d["target"]["state_schema"], d["changes"]["pending"]')" \
  "(8, False, '$DB_NAME', 'phasegate', ['add col'])"
expect 0 pg --json status
check "status --json: ok true with exit 0" "$(json 'd["ok"], d["exit"], d["target"]["database"]')" "(True, 0, '$DB_NAME')"
check "status --json: no banner line in JSON mode" "$(grep -c 'target: ' <<<"$ERR" || true)" "0"
expect 4 pg --json status --check
check "status --check --json: ok false with exit 4" "$(json 'd["ok"], d["exit"]')" "(False, 4)"
expect 0 pg status
contains "status names its target" "$ERR" "target: "
expect 0 pg run
contains "run names its target" "$ERR" "target: "
for out in "$OUT" "$ERR"; do
  [[ "$out" != *hunter2* ]] || { echo "FAIL: the password was printed: $out"; FAILS=$((FAILS + 1)); }
done
expect 0 pg plan 0001-add-col --detailed-exitcode
contains "detailed: nothing to do" "$OUT" "nothing to apply"
SUM=$(q "SELECT checksum FROM phasegate.steps WHERE step = 'add col'")
q "UPDATE phasegate.steps SET checksum = 'edited' WHERE step = 'add col'"
expect 2 pg plan 0001-add-col --detailed-exitcode
contains "detailed: drift is what run refuses" "$OUT" "exit 2"
q "UPDATE phasegate.steps SET checksum = '$SUM' WHERE step = 'add col'"
expect 0 pg rollback 0001-add-col
contains "rollback names its target" "$ERR" "target: "
# A closed window: steps to apply, but run would wait (75).
cat >>"$WORK/project/phasegate.toml" <<'TOML'
[windows.never]
timezone = "UTC"
allow = [ { days = "mon-sun", start = "00:00", end = "00:01" } ]
deny = [ { from = "2000-01-01", to = "2100-01-01" } ]
TOML
sed -i 's/^\[guards\]$/[guards]\nwindows = ["never"]/' "$WORK/project/phasegate.toml"
expect 75 pg plan 0001-add-col --detailed-exitcode
contains "detailed: a guard would make run wait" "$OUT" "exit 75"
expect 2 env -u DATABASE_URL "$PHASEGATE_BIN" -C "$WORK/project" plan 0001-add-col --detailed-exitcode
contains "detailed needs the database" "$ERR" "needs the target database"
sed -i '/^windows = \["never"\]$/d' "$WORK/project/phasegate.toml"

# --- NO_COLOR: only a non-empty value turns colour off (on a terminal; `script` gives one) ---
colour_of() { script -qec "env $1 '$PHASEGATE_BIN' -C '$WORK/project' window never --at 2030-01-01T00:00:00Z" /dev/null </dev/null | grep -c $'\x1b\[' || true; }
check "a terminal gets colour" "$([[ $(colour_of "-u NO_COLOR") -gt 0 ]] && echo yes)" "yes"
check "NO_COLOR= (empty) keeps colour" "$([[ $(colour_of "NO_COLOR=") -gt 0 ]] && echo yes)" "yes"
check "NO_COLOR=1 turns it off" "$(colour_of "NO_COLOR=1")" "0"
# Colour follows each stream: stdout on the terminal keeps it, stderr into a file drops it.
script -qec "'$PHASEGATE_BIN' -C '$WORK/project' status 2>'$WORK/status.err'" "$WORK/status.tty" </dev/null >/dev/null || true
check "stdout on a terminal: coloured" "$([[ $(grep -c $'\x1b\[' "$WORK/status.tty" || true) -gt 0 ]] && echo yes)" "yes"
check "stderr into a file: the banner without colour codes" "$(grep -c $'\x1b' "$WORK/status.err" || true) $(grep -c '^target: ' "$WORK/status.err" || true)" "0 1"

# --- the progress bar on an 80-column terminal; a guard's line printed above it, never into it ---
# The throttle says "busy" once 500 to 700 rows are filled, until the test releases it after seeing the wait
# (state, not a clock): so a guard.wait comes in while the bar is on screen.
q "CREATE TABLE cli_fill (id int PRIMARY KEY, v int); INSERT INTO cli_fill SELECT g, NULL FROM generate_series(1, 3000) g; ANALYZE cli_fill;
   CREATE TABLE cli_gate (released boolean); INSERT INTO cli_gate VALUES (false)"
sed -i 's/^\[guards\]$/[guards]\nthrottle_query = "SELECT n BETWEEN 500 AND 700 AND NOT released FROM (SELECT count(v) AS n FROM cli_fill) c, cli_gate"/' \
  "$WORK/project/phasegate.toml"
plan 0002-fill <<'TOML'
[[migrate.steps]]
name = "fill v for every row of cli_fill"
backfill = { table = "cli_fill", set = "v = id", where = "v IS NULL", batch_rows = 50, target_batch_time = "1s" }
irreversible = true
TOML
script -qec "stty cols 80 rows 24; '$PHASEGATE_BIN' -C '$WORK/project' run" "$WORK/typescript" </dev/null >/dev/null &
term=$!
throttled() { [[ $(q "SELECT count(*) FROM phasegate.events WHERE kind = 'guard.wait' AND payload->>'guard' = 'throttle_query'") -ge 1 ]]; }
wait_for "the throttle's guard.wait during the backfill" throttled || true
q "UPDATE cli_gate SET released = true"
set +e; wait "$term"; rc=$?; set -e
check "run on the terminal exited 0" "$rc" "0"
check "the backfill ran on the terminal" "$(q "SELECT count(*) FROM cli_fill WHERE v = id")" "3000"
SCREEN=$(python3 "$PHASEGATE_SRC/tests/e2e/term_screen.py" "$WORK/typescript" 80)
check "no progress line wrapped at 80 columns" \
  "$(python3 -c 'import json,sys; print([l for l in json.loads(sys.argv[1])["wrapped"] if "keys" in l])' "$SCREEN")" "[]"
check "the bar was drawn" "$(python3 -c 'import json,sys; print(any("keys/s" in l and "[#" in l for l in json.loads(sys.argv[1])["lines"]))' "$SCREEN")" "True"
check "the guard's wait line stands alone, above the bar" \
  "$(python3 -c 'import json,sys; L=json.loads(sys.argv[1])["lines"]; w=[l for l in L if "wait " in l and "throttle" in l]; print(len(w) > 0 and all("[" not in l for l in w))' "$SCREEN")" "True"
check "the bar's last state is kept, complete" \
  "$(python3 -c 'import json,sys; L=json.loads(sys.argv[1])["lines"]; print(any("[##########]" in l and "100%" in l for l in L))' "$SCREEN")" "True"
check "no event text after a bar on one line" \
  "$(python3 -c 'import json,sys,re; L=json.loads(sys.argv[1])["lines"]; print([l for l in L if re.search(r"\] .*( ok | -> |wait )", l)])' "$SCREEN")" "[]"
# Without a terminal: log lines, and no bare "backfill.progress" event lines between them.
q "CREATE TABLE cli_fill2 (id int PRIMARY KEY, v int); INSERT INTO cli_fill2 SELECT g, NULL FROM generate_series(1, 3000) g; ANALYZE cli_fill2"
plan 0003-fill <<'TOML'
[[migrate.steps]]
name = "fill cli_fill2"
backfill = { table = "cli_fill2", set = "v = id", batch_rows = 50, target_batch_time = "1s" }
irreversible = true
TOML
expect 0 pg run
check "no tty: the backfill ran" "$(q "SELECT count(*) FROM cli_fill2 WHERE v = id")" "3000"
contains "no tty: the progress line" "$ERR" "backfill fill cli_fill2: 3000/~3000 keys (100%)"
check "no tty: no bare backfill.progress lines" "$(grep -c '^backfill.progress' <<<"$ERR" || true)" "0"
check "no tty: no bar" "$(grep -c '\[#' <<<"$ERR" || true)" "0"
finish
