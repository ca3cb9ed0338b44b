#!/usr/bin/env bash
# Seed 004: the migration ran but the web servers were never restarted. Here the expand phase is followed by a
# restart of a real HTTP service (its pid changes, its health passes, the new release runs) and a smoke check
# that saves a real record through it. systemd and kubernetes kinds run against stand-in systemctl/kubectl
# executables first on PATH that record their argv and answer like the real ones.
source "$(dirname "$0")/lib.sh"
new_db e2e_services
q "CREATE TABLE books (id bigint PRIMARY KEY, title text NOT NULL, lexile int); INSERT INTO books VALUES (1, 'a', 900)"
api_project
plan 0004-reading-level <<'TOML'
[expand]
restart = ["api"]
smoke = ["save_book"]
[[expand.steps]]
name = "add reading_level"
sql = "ALTER TABLE books ADD COLUMN reading_level int"
down = "ALTER TABLE books DROP COLUMN reading_level"
TOML
start_api
before=$(api_pid)
check "release 1 runs before the deploy" "$(curl -s "$API/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["release"])')" "1"
echo 2 >"$WORK/project/app/RELEASE"   # release 2 is deployed: it writes reading_level, and runs only after a restart
expect 0 pg run
after=$(api_pid)
check "the api was restarted (pid changed)" "$([[ $before != "$after" ]] && echo changed || echo "still pid $after")" "changed"
# Gone = no such process, or a zombie its parent has not reaped yet (slow in containers whose init reaps late).
state=$( (sed -E 's/.*\) //' "/proc/$before/stat" 2>/dev/null || true) | cut -c1)
check "the old process is gone" "$([[ -z $state || $state == Z ]] && echo gone || echo "alive ($state)")" "gone"
check "the restarted api runs release 2 and is healthy" "$(curl -s "$API/health" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["release"], d["pid"])')" "2 $after"
check "the smoke check saved two books with the new column" "$(q "SELECT count(*) FROM books WHERE title LIKE 'phasegate smoke%' AND reading_level = 6")" "2"
check "events in order" "$(q "SELECT string_agg(kind, ' ' ORDER BY event_id) FROM phasegate.events WHERE kind ~ '^(step.completed|service|smoke|phase.completed)'")" \
  "step.completed service.restarting service.healthy smoke.passed phase.completed"
contains "the restart hook's output is kept in the event" "$(q "SELECT payload->'process'->>'stdout' FROM phasegate.events WHERE kind = 'service.healthy'")" "restarted python3: pid $before -> $after"
contains "smoke output is kept in the event" "$(q "SELECT payload->'measurements'->0->>'stdout' FROM phasegate.events WHERE kind = 'smoke.passed'")" "smoke: saved $API/books/"
contains "hooks got PHASEGATE_RUN_ID (in the saved title)" "$(q "SELECT string_agg(title, ',') FROM books WHERE title LIKE 'phasegate smoke%'")" "run 1 "

# --- the secret stays out of a hook unless pass_env names it ---
stop_api
new_db e2e_services_env
q "CREATE TABLE t (id int)"
new_project
mkdir -p "$WORK/project/hooks"
cat >"$WORK/project/hooks/env.sh" <<'SH'
#!/usr/bin/env bash
echo "url=$([[ -n ${DATABASE_URL:-} ]] && echo set || echo unset) run=$PHASEGATE_RUN_ID plan=$PHASEGATE_PLAN phase=$PHASEGATE_PHASE event=$PHASEGATE_EVENT cwd=$PWD" >>"$PHASEGATE_PROJECT_ROOT/env.log"
SH
chmod +x "$WORK/project/hooks/env.sh"
cat >>"$WORK/project/phasegate.toml" <<'TOML'
[smoke.env]
command = ["hooks/env.sh"]
TOML
plan 0001-env <<'TOML'
[expand]
smoke = ["env"]
[[expand.steps]]
name = "noop"
sql = "ALTER TABLE t ADD COLUMN c int"
down = "ALTER TABLE t DROP COLUMN c"
[[expand.steps]]
name = "command step"
command = ["hooks/env.sh"]
irreversible = true
TOML
expect 0 pg run
check "a command step gets the database URL; a smoke hook does not" "$(cut -d' ' -f1 "$WORK/project/env.log" | tr '\n' ' ')" "url=set url=unset "
check "PHASEGATE_* and the working directory" "$(tail -1 "$WORK/project/env.log" | cut -d' ' -f2-)" "run=1 plan=0001-env phase=expand event=smoke cwd=$WORK/project"

# --- systemd and kubernetes kinds with stand-ins on PATH ---
new_db e2e_services_kinds
q "CREATE TABLE t (id int)"
new_project
mkdir -p "$WORK/bin"
cat >"$WORK/bin/systemctl" <<'SH'
#!/usr/bin/env bash
# Records argv; answers like systemctl. is-active reads the unit's state from $STATE_DIR/UNIT (default active);
# the Nth restart named in $STATE_DIR/UNIT.recovers-at makes a failed unit active again.
echo "systemctl $*" >>"$STATE_DIR/calls"
case $1 in
  restart)
    n=$(( $(cat "$STATE_DIR/$2.restarts" 2>/dev/null || echo 0) + 1 )); echo "$n" >"$STATE_DIR/$2.restarts"
    if [[ -f "$STATE_DIR/$2.recovers-at" && $n -ge $(cat "$STATE_DIR/$2.recovers-at") ]]; then rm -f "$STATE_DIR/$2"; fi
    exit 0 ;;
  is-active) state=$(cat "$STATE_DIR/$2" 2>/dev/null || echo active); echo "$state"; [[ $state == active ]] || exit 3 ;;
  *) echo "systemctl stand-in: unsupported $1" >&2; exit 1 ;;
esac
SH
cat >"$WORK/bin/kubectl" <<'SH'
#!/usr/bin/env bash
echo "kubectl $*" >>"$STATE_DIR/calls"
if [[ "$1 $2" == "rollout restart" ]]; then echo "${3/\//.apps/} restarted"; exit 0; fi
if [[ "$1 $2" == "rollout status" ]]; then echo "deployment \"${3#deployment/}\" successfully rolled out"; exit 0; fi
echo "kubectl stand-in: unsupported $*" >&2; exit 1
SH
chmod +x "$WORK/bin/systemctl" "$WORK/bin/kubectl"
export PATH="$WORK/bin:$PATH" STATE_DIR="$WORK"
cat >>"$WORK/project/phasegate.toml" <<'TOML'
[services.api]
kind = "systemd"
unit = "bookbot-api.service"
health = { sql = "SELECT true", timeout = "5s" }
[services.web]
kind = "kubernetes"
deployment = "web"
namespace = "prod"
TOML
plan 0002-kinds <<'TOML'
[expand]
restart = ["api", "web"]
[[expand.steps]]
name = "add c"
sql = "ALTER TABLE t ADD COLUMN c int"
down = "ALTER TABLE t DROP COLUMN c"
TOML
expect 0 pg run
check "systemctl then kubectl, in the listed order, with the documented arguments" "$(sed -E 's/--timeout=[0-9]+s/--timeout=Ns/' "$WORK/calls" | tr '\n' '|')" \
  "systemctl restart bookbot-api.service|systemctl is-active bookbot-api.service|kubectl rollout restart deployment/web -n prod|kubectl rollout status deployment/web --timeout=Ns -n prod|"

# A unit that does not come up fails the phase: the step is undone, the services restarted again (it comes up
# the second time), exit 1.
rm -f "$WORK/calls"
echo failed >"$WORK/bookbot-api.service"
plan 0003-kinds <<'TOML'
[expand]
restart = ["api"]
[[expand.steps]]
name = "add d"
sql = "ALTER TABLE t ADD COLUMN d int"
down = "ALTER TABLE t DROP COLUMN d"
TOML
# The first is-active answers "failed"; the unit recovers on its next restart (the rollback's).
echo 3 >"$WORK/bookbot-api.service.recovers-at"   # restart 1 was 0002's, restart 2 fails, restart 3 recovers
expect 1 pg run 0003-kinds
contains "the failure names systemctl is-active" "$ERR" "service api did not become healthy after the expand phase: systemctl is-active bookbot-api.service exit 3"
check "column d was rolled back" "$(q "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'd'")" "0"
check "restarted twice (the phase, then the rollback)" "$(grep -c 'systemctl restart' "$WORK/calls")" "2"
contains "the summary says it" "$ERR" 'rolled back. Done: undid step "add d"; restarted api'
finish
