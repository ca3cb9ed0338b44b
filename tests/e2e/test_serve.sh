#!/usr/bin/env bash
# Issue #14: a real `phasegate serve` polled with curl while a real `phasegate run` proceeds: /status shows the
# banner, the run, its backfill's progress and the plans as status --check sees them; /metrics is valid exposition
# text; the database server goes away (the last known state is served, marked stale) and comes back; `announce`
# sets the banner by hand; SIGTERM stops serve promptly with exit 0.
source "$(dirname "$0")/lib.sh"
: "${PHASEGATE_PG_DIR:?the restart part needs the cluster of scripts/pg.sh}" "${PHASEGATE_PG_BIN:?}"
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

new_db e2e_serve
q "CREATE TABLE books (id int PRIMARY KEY, lexile int NOT NULL); INSERT INTO books SELECT g, g % 1500 FROM generate_series(1, 6000) g; ANALYZE books"
# The backfill holds (the load guard's throttle_query) once 1000 rows are filled, until the test deletes the row of
# `hold`: the test looks at a run in progress for as long as it needs, whatever the machine's speed.
q "CREATE TABLE hold (x int); INSERT INTO hold VALUES (1)"
new_project
cat >>"$WORK/project/phasegate.toml" <<'TOML'
throttle_query = "SELECT EXISTS (SELECT 1 FROM hold) AND coalesce((SELECT (cursor->>'scanned')::int FROM phasegate.steps WHERE step = 'backfill reading_level'), 0) >= 1000"
[announce]
during = "maintenance"
on_failure = "degraded"
TOML
plan 0001-levels <<'TOML'
[[expand.steps]]
name = "add reading_level"
sql = "ALTER TABLE books ADD COLUMN reading_level int"
down = "ALTER TABLE books DROP COLUMN reading_level"
[[migrate.steps]]
name = "backfill reading_level"
backfill = { table = "books", set = "reading_level = lexile / 150", where = "reading_level IS NULL", batch_rows = 100, target_batch_time = "1s", pause = "20ms" }
TOML

# --- usage errors touch nothing ---
expect 2 pg serve --listen nonsense
contains "a bad --listen is named" "$ERR" "is not HOST:PORT"
expect 2 pg announce --level maintenace --message x
contains "a bad level gets a did-you-mean" "$ERR" 'did you mean "maintenance"'
expect 2 pg announce --level down
contains "a banner needs its text" "$ERR" "--message is required"
expect 2 pg announce --level down --message "back soon" --until yesterday
contains "a bad --until is explained" "$ERR" "neither an RFC 3339 instant"
check "nothing was created by the refusals" "$(q "SELECT to_regnamespace('phasegate') IS NULL")" "t"

start_serve
check "/healthz answers 200" "$(curl -s -o /dev/null -w '%{http_code}' "$SERVE/healthz")" "200"
check "unknown paths are 404" "$(curl -s -o /dev/null -w '%{http_code}' "$SERVE/nope")" "404"
wait_for "/status has read the state schema" sj_true "d['read_at'] is not None"
check "before the run: level ok" "$(sj "d['level']")" "ok"
check "before the run: the plan is pending, as status --check says" "$(sj "d['plans']['pending']")" '["0001-levels"]'
check "before the run: the check fails" "$(sj "d['check']['ok']")" "false"
check "before the run: no run" "$(sj "d['run']")" "null"
check "/metrics is valid before any run" "$(metrics_problems)" ""
check "pending plans gauge" "$(metric phasegate_pending_plans)" "1"

# --- the run: the banner says maintenance while it runs, with the backfill's progress ---
run_bg run
wait_for "the banner says maintenance during the backfill, with progress" \
  sj_true "d['level'] == 'maintenance' and d['run'] is not None and d['run']['phase'] == 'migrate' and (d['run']['backfill'] or {}).get('scanned', 0) >= 1000"
check "the run in /status is the plan's" "$(sj "d['run']['plan'] + ' ' + d['run']['state'] + ' ' + d['run']['step']")" "0001-levels running backfill reading_level"
check "the banner was set by the run" "$(sj "d['automatic']")" "true"
wait_for "the backfill reports its estimate and an ETA" sj_true "(d['run'] or {}).get('backfill') is not None and d['run']['backfill']['estimated_total'] > 0 and d['run']['backfill']['eta_seconds'] is not None"
check "/metrics is valid during the run" "$(metrics_problems)" ""
check "a run is active" "$(metric phasegate_run_active)" "1"
check "the estimate is exported" "$(metric phasegate_backfill_rows_estimated)" "6000"
check "the run is not done yet (the hold works)" "$(q "SELECT status FROM phasegate.runs")" "running"
q "DELETE FROM hold"
wait_rc
check "the run completed" "$rc" "0"
[[ $rc == 0 ]] || { echo "stderr: $(cat "$WORK/err")"; }
wait_for "the banner is back to ok and the plan applied" sj_true "d['level'] == 'ok' and d['plans']['applied'] == ['0001-levels'] and d['run'] is None"
check "after the run: the check passes, like status --check" "$(sj "d['check']['ok']"):$(pg status --check >/dev/null 2>&1; echo $?)" "true:0"
check "the deploy is known" "$(sj "d['deployed']['plan']")" "0001-levels"
check "announcements recorded with their events" "$(q "SELECT string_agg(payload->>'level', ',' ORDER BY event_id) FROM phasegate.events WHERE kind = 'status.announced'")" "maintenance,ok"
check "the broadcast row is ok again" "$(q "SELECT level || ':' || run_id FROM phasegate.broadcast")" "ok:1"
check "/metrics is valid after the run" "$(metrics_problems)" ""
check "one completed run in the duration histogram" "$(metric 'phasegate_run_duration_seconds_count{status="completed"}')" "1"
check "every backfilled row counted" "$(metric phasegate_backfill_rows_total)" "6000"
check "two step durations observed" "$(( $(metric 'phasegate_step_duration_seconds_count{phase="expand"}') + $(metric 'phasegate_step_duration_seconds_count{phase="migrate"}') ))" "2"
check "no pending plan" "$(metric phasegate_pending_plans)" "0"
check "the hold is one completed guard wait" "$(metric 'phasegate_guard_wait_seconds_count{guard="throttle_query"}')" "1"

# --- announce by hand: the banner apps show; a run does not overwrite it ---
expect 0 pg announce --level down --message "Huey is moving house, back at 5" --until 1h --json
check "announce --json" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ok"], d["level"], d["until"] is not None)')" "True down True"
wait_for "/status shows the announcement" sj_true "d['level'] == 'down' and d['message'] == 'Huey is moving house, back at 5' and d['until'] is not None and not d['automatic']"
check "the level gauge follows" "$(metric 'phasegate_broadcast_level{level="down"}')" "1"
expect 0 pg announce --level ok
wait_for "/status is ok again" sj_true "d['level'] == 'ok' and d['message'] == ''"

# --- the database goes away: the last known state, marked stale with its age; the server restarts; fresh again ---
# Away for as long as the test needs: the database refuses sessions and serve's is cut; then the server restarts.
"$PSQL" "$PHASEGATE_TEST_URL" -qc "ALTER DATABASE e2e_serve ALLOW_CONNECTIONS false"
"$PSQL" "$PHASEGATE_TEST_URL" -qAtc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'e2e_serve'" >/dev/null
wait_for "/status says stale while the database is away" sj_true "d['stale'] and d['level'] == 'ok' and d['plans']['applied'] == ['0001-levels']"
wait_for "the age of the last good read grows" sj_true "d['age_seconds'] >= 1"
check "the error is said" "$(sj "d['error'] is not None")" "true"
check "serve still answers /healthz" "$(curl -s "$SERVE/healthz")" '{"ok":true,"stale":true}'
check "phasegate_up is 0 while stale" "$(metric phasegate_up)" "0"
check "/metrics still valid while stale" "$(metrics_problems)" ""
as_pg "$PHASEGATE_PG_BIN/pg_ctl" -D "$PHASEGATE_PG_DIR/data" -w -m fast restart >/dev/null
check "still stale across the server restart" "$(sj "d['stale']")" "true"
"$PSQL" "$PHASEGATE_TEST_URL" -qc "ALTER DATABASE e2e_serve ALLOW_CONNECTIONS true"
wait_for "fresh again after the server is back" sj_true "not d['stale'] and d['age_seconds'] < 5"
check "phasegate_up is 1 again" "$(metric phasegate_up)" "1"
contains "serve said it reconnected" "$(cat "$WORK/serve.log")" "reconnected"
check "serve keeps one session" "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'phasegate serve%'")" "1"

# --- SIGTERM: a clean, prompt stop ---
kill -TERM "$serve_pid"
stopped() { ! alive "$serve_pid"; }
wait_for "serve exits after SIGTERM" stopped
set +e; wait "$serve_pid"; serve_rc=$?; set -e
check "serve exits 0 on SIGTERM" "$serve_rc" "0"
contains "serve said why it stopped" "$(cat "$WORK/serve.log")" "SIGTERM"
serve_pid=""
finish
