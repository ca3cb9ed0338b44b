#!/usr/bin/env bash
# Issue #12, processes: a restart command whose daemon was started in the background (`nohup app &`, no
# setsid, output not redirected) survives phasegate and keeps serving; a project under a path with '=' and
# spaces (CI matrix workspaces) runs its hooks for real and leaks no environment into the events; SIGTERM /
# SIGINT to phasegate reach the running program and the running statement, and the run stops resumable.
source "$(dirname "$0")/lib.sh"

# --- 1. a daemon left behind by a restart command (nohup ... &) keeps running after phasegate exits ---
new_db e2e_proc_daemon
q "CREATE TABLE books (id bigint PRIMARY KEY, title text NOT NULL, lexile int)"
api_project
cat >"$WORK/project/hooks/nohup-start.sh" <<'SH'
#!/bin/sh
# The way many restart scripts are written: stop the old one, start the new one with nohup in the background.
[ -s run/api.pid ] && kill "$(cat run/api.pid)" 2>/dev/null && sleep 0.5
mkdir -p run
nohup python3 app/api.py &
echo $! > run/api.pid
echo "started $!"
SH
chmod +x "$WORK/project/hooks/nohup-start.sh"
sed -i 's|^restart = .*|restart = ["hooks/nohup-start.sh"]|' "$WORK/project/phasegate.toml"
plan 0001-col <<'TOML'
[expand]
restart = ["api"]
[[expand.steps]]
name = "add reading_level"
sql = "ALTER TABLE books ADD COLUMN reading_level int"
down = "ALTER TABLE books DROP COLUMN reading_level"
TOML
expect 0 pg run
daemon=$(api_pid)
check "the daemon the restart command left behind is alive after phasegate exited" "$(alive "$daemon" && echo alive || echo gone)" "alive"
# It still answers, and logs each request to the stderr it inherited (a file phasegate keeps, like nohup.out).
for _ in 1 2 3; do curl -s -o /dev/null "$API/health" || true; done
check "the daemon still serves /health" "$(curl -s -o /dev/null -w '%{http_code}' "$API/health")" "200"
check "and is still alive after writing its logs" "$(alive "$daemon" && echo alive || echo gone)" "alive"
kept=$(q "SELECT payload->'process'->>'background_output' FROM phasegate.events WHERE kind = 'service.healthy'")
contains "the event says where the daemon's output goes" "$kept" "phasegate-out-"
outfile=${kept%% and *} errfile=${kept##* and }
contains "the daemon's request log went to the kept files" "$(cat "$outfile" "$errfile" 2>/dev/null)" "GET /health"
stop_api
rm -f "$outfile" "$errfile"

# --- 2. a project under a path with '=' and spaces: hooks run, nothing of the environment in the events ---
new_db e2e_proc_eq
q "CREATE TABLE t (id int)"
P="$WORK/label=linux/my project"
mkdir -p "$P/plans" "$P/hooks"
cat >"$P/phasegate.toml" <<'TOML'
[project]
name = "eq"
[smoke.hello]
command = ["hooks/say=hello.sh"]
TOML
cat >"$P/hooks/say=hello.sh" <<'SH'
#!/bin/sh
echo "hello from $(basename "$0")" >> "$PHASEGATE_PROJECT_ROOT/ran.log"
echo hello
SH
cat >"$P/hooks/mark=step.sh" <<'SH'
#!/bin/sh
echo step >> "$PHASEGATE_PROJECT_ROOT/ran.log"
SH
chmod +x "$P/hooks/"*.sh
cat >"$P/plans/0001-eq.toml" <<'TOML'
[expand]
smoke = ["hello"]
[[expand.steps]]
name = "cmd"
command = ["hooks/mark=step.sh"]
TOML
expect 0 "$PHASEGATE_BIN" -C "$P" run
check "the command step and the smoke hook both ran" "$(cat "$P/ran.log" 2>/dev/null | tr '\n' ' ')" "step hello from say=hello.sh "
check "the smoke output is the hook's, not env(1)'s dump" "$(q "SELECT payload->'measurements'->0->>'stdout' FROM phasegate.events WHERE kind = 'smoke.passed'")" "hello"
check "no event holds the database URL or an environment dump" \
  "$(q "SELECT count(*) FROM phasegate.events WHERE payload::text LIKE '%dbname=e2e_proc_eq%' OR payload::text LIKE '%PATH=%'")" "0"

# --- 3. SIGTERM to phasegate during a command step: forwarded to the program's group, the run stops resumable ---
new_db e2e_proc_term
q "CREATE TABLE t (id int)"
new_project
mkdir -p "$WORK/project/hooks"
cat >"$WORK/project/hooks/slow.sh" <<'SH'
#!/bin/bash
# Slow unless app/FAST exists; says when its trap is set; a child in its group must go with it.
cd "$PHASEGATE_PROJECT_ROOT"
[[ -e FAST ]] && { echo fast; exit 0; }
trap 'echo "got TERM" > term.log; exit 1' TERM
sleep 300 & echo $! > child.pid
touch started
wait
SH
chmod +x "$WORK/project/hooks/slow.sh"
plan 0001-slow <<'TOML'
[[expand.steps]]
name = "add c"
sql = "ALTER TABLE t ADD COLUMN c int"
down = "ALTER TABLE t DROP COLUMN c"
[[expand.steps]]
name = "slow command"
command = ["hooks/slow.sh"]
[[expand.steps]]
name = "add d"
sql = "ALTER TABLE t ADD COLUMN d int"
down = "ALTER TABLE t DROP COLUMN d"
TOML
run_bg run
wait_for "the command step started" test -e "$WORK/project/started"
kill -TERM "$runner"
wait_rc
check "phasegate exits 128+15 on SIGTERM" "$rc" "143"
contains "it says the run is resumable" "$(cat "$WORK/err")" "resumable"
check "the program got the SIGTERM" "$(cat "$WORK/project/term.log" 2>/dev/null)" "got TERM"
child=$(cat "$WORK/project/child.pid")
gone() { ! alive "$1"; }
wait_for "the program's child is gone" gone "$child"
check "the run is blocked (interrupted), not failed" "$(q "SELECT status FROM phasegate.runs ORDER BY run_id DESC LIMIT 1")" "blocked"
check "run.interrupted recorded" "$(q "SELECT count(*) FROM phasegate.events WHERE kind = 'run.interrupted'")" "1"
check "nothing was rolled back; the step after it did not run" "$(col_exists t c)$(col_exists t d)" "10"
touch "$WORK/project/FAST"
expect 0 pg run
check "the next run resumed the same run and finished it" "$(q "SELECT string_agg(status, ',' ORDER BY run_id) FROM phasegate.runs")" "completed"
check "every step applied once" "$(col_exists t c)$(col_exists t d)" "11"

# --- 4. SIGINT during a long statement: cancelled at once, nothing of the step applied ---
new_db e2e_proc_int
q "CREATE TABLE t (id int)"
new_project
plan 0001-sleepy <<'TOML'
[[expand.steps]]
name = "sleepy"
sql = "ALTER TABLE t ADD COLUMN c int; SELECT pg_sleep(300)"
down = "ALTER TABLE t DROP COLUMN c"
TOML
run_bg run
sleeping() { [[ $(q "SELECT count(*) FROM pg_stat_activity WHERE datname = 'e2e_proc_int' AND query LIKE '%pg_sleep(300)%' AND pid <> pg_backend_pid()") != 0 ]]; }
wait_for "the statement runs" sleeping
kill -INT "$runner"
wait_rc
check "phasegate exits 128+2 on SIGINT" "$rc" "130"
check "the statement was cancelled (not left running)" "$(sleeping && echo running || echo cancelled)" "cancelled"
check "its transaction rolled back: no column" "$(col_exists t c)" "0"
check "the step is pending, the run blocked" "$(q "SELECT coalesce((SELECT status FROM phasegate.steps WHERE step = 'sleepy'), 'pending') || ' ' || (SELECT status FROM phasegate.runs ORDER BY run_id DESC LIMIT 1)")" "pending blocked"

# --- 5. a signal while waiting for a closed window (before any run exists): exits at once, no busy loop ---
new_db e2e_proc_wait
q "CREATE TABLE t (id int)"
new_project
cat >>"$WORK/project/phasegate.toml" <<'TOML'
[windows.never]
timezone = "UTC"
allow = [ { days = "mon-sun" } ]
deny = [ { from = "2000-01-01", to = "2099-12-31" } ]
TOML
sed -i 's/^\[guards\]$/[guards]\nwindows = ["never"]/' "$WORK/project/phasegate.toml"
plan 0001-w <<'TOML'
[[expand.steps]]
name = "add c"
sql = "ALTER TABLE t ADD COLUMN c int"
down = "ALTER TABLE t DROP COLUMN c"
TOML
run_bg run --wait=1h
waiting() { [[ $(q "SELECT count(*) FROM phasegate.events WHERE kind = 'guard.wait'" 2>/dev/null) == 1 ]]; }
wait_for "the run waits for the window" waiting
kill -INT "$runner"
exited() { ! kill -0 "$runner" 2>/dev/null; }
wait_for "phasegate exits after SIGINT during the wait" exited || kill -KILL "$runner"
wait_rc
check "exit 130, nothing started" "$rc $(col_exists t c)" "130 0"

# --- 6. a signal that cancels a step's check: stopped resumable, the earlier step not rolled back ---
new_db e2e_proc_check
q "CREATE TABLE t (id int)"
new_project
plan 0001-chk <<'TOML'
[[expand.steps]]
name = "add c"
sql = "ALTER TABLE t ADD COLUMN c int"
down = "ALTER TABLE t DROP COLUMN c"
[[expand.steps]]
name = "add d"
check = "SELECT pg_sleep(300) IS NOT NULL"
sql = "ALTER TABLE t ADD COLUMN d int"
down = "ALTER TABLE t DROP COLUMN d"
TOML
run_bg run
checking() { [[ $(q "SELECT count(*) FROM pg_stat_activity WHERE datname = 'e2e_proc_check' AND query LIKE '%pg_sleep(300)%' AND pid <> pg_backend_pid()") != 0 ]]; }
wait_for "the check runs" checking
kill -TERM "$runner"
wait_rc
check "exit 143, the run blocked, the first step kept" "$rc $(q "SELECT status FROM phasegate.runs") $(col_exists t c)$(col_exists t d)" "143 blocked 10"

# --- 7. binary output of a program does not break the run ---
new_db e2e_proc_bin
q "CREATE TABLE t (id int)"
new_project
mkdir -p "$WORK/project/hooks"
printf '#!/bin/sh\nprintf "ok \\377\\376 done \\000 end\\n"\n' >"$WORK/project/hooks/bin.sh"
chmod +x "$WORK/project/hooks/bin.sh"
plan 0001-bin <<'TOML'
[[expand.steps]]
name = "binary"
command = ["hooks/bin.sh"]
irreversible = true
TOML
expect 0 pg run
contains "its output is stored as text" "$(q "SELECT payload->>'stdout' FROM phasegate.events WHERE kind = 'step.completed'")" "done"
finish
