#!/usr/bin/env bash
# Seed 000 (Huey Books): "a broadcast channel would be of great benefit ... a way to inject a banner into
# applications: 'Huey is currently performing maintenance!', 'Something has gone wrong at Huey HQ. Please come back
# later!'" and "a message and health level readily available". With [announce], the run itself sets the banner an app
# reads from serve's /status (docs/serve.md has the JS that renders it): maintenance while the slow migration runs,
# degraded when a run fails, ok again after one succeeds — and an operator's own announcement is never overwritten.
source "$(dirname "$0")/lib.sh"
new_db e2e_seed000
q "CREATE TABLE recommendations (id int PRIMARY KEY, school int NOT NULL); INSERT INTO recommendations SELECT g, g % 5 FROM generate_series(1, 4000) g; ANALYZE recommendations"
# The migration holds half-way (the load guard's throttle_query) until the test has seen the banner: what a user
# sees during a 30-minute migration, without the test depending on how fast this machine is.
q "CREATE TABLE hold (x int); INSERT INTO hold VALUES (1)"
new_project
cat >>"$WORK/project/phasegate.toml" <<'TOML'
throttle_query = "SELECT EXISTS (SELECT 1 FROM hold) AND coalesce((SELECT (cursor->>'scanned')::int FROM phasegate.steps WHERE step = 'backfill reading_age'), 0) >= 1000"
[announce]
during = "maintenance"
on_failure = "degraded"
during_message = "Huey is currently performing maintenance!"
on_failure_message = "Something has gone wrong at Huey HQ. Please come back later!"
TOML
plan 0001-reading-age <<'TOML'
[[expand.steps]]
name = "add reading_age"
sql = "ALTER TABLE recommendations ADD COLUMN reading_age int"
down = "ALTER TABLE recommendations DROP COLUMN reading_age"
[[migrate.steps]]
name = "backfill reading_age"
backfill = { table = "recommendations", set = "reading_age = 5 + school", batch_rows = 100, target_batch_time = "1s", pause = "150ms" }
TOML
start_serve
wait_for "the app sees level ok before the change" sj_true "d['level'] == 'ok' and d['read_at'] is not None"
run_bg run
wait_for "the app's banner says maintenance while the migration runs" \
  sj_true "d['level'] == 'maintenance' and d['message'] == 'Huey is currently performing maintenance!' and (d['run'] or {}).get('backfill') is not None"
check "the banner names since when" "$(sj "d['since'] is not None")" "true"
check "the app can tell how long is left" "$(sj "d['run']['backfill']['eta_seconds'] is not None")" "true"
q "DELETE FROM hold"
wait_rc
check "the migration completed" "$rc" "0"
wait_for "the banner is gone after the migration" sj_true "d['level'] == 'ok' and d['message'] == ''"

# A change that fails (orphans the check finds): rolled back, and the app says something went wrong.
plan 0002-school-fk <<'TOML'
[[expand.steps]]
name = "schools"
sql = "CREATE TABLE schools (id int PRIMARY KEY)"
down = "DROP TABLE schools"
[[expand.steps]]
name = "school fk"
check = "SELECT NOT EXISTS (SELECT 1 FROM recommendations r LEFT JOIN schools s ON s.id = r.school WHERE s.id IS NULL)"
sql = "ALTER TABLE recommendations ADD CONSTRAINT recommendations_school_fk FOREIGN KEY (school) REFERENCES schools (id) NOT VALID"
down = "ALTER TABLE recommendations DROP CONSTRAINT IF EXISTS recommendations_school_fk"
TOML
expect 1 pg run
wait_for "the banner says something went wrong" \
  sj_true "d['level'] == 'degraded' and d['message'] == 'Something has gone wrong at Huey HQ. Please come back later!' and d['automatic']"
check "degraded is in the event log" "$(q "SELECT payload->>'level' FROM phasegate.events WHERE kind = 'status.announced' ORDER BY event_id DESC LIMIT 1")" "degraded"

# The operator takes over the banner; the next run (fixed plan) neither replaces it nor clears it.
expect 0 pg announce --level down --message "Huey is having a nap; back at 13:00"
check "the rollback dropped schools" "$(q "SELECT to_regclass('schools') IS NULL")" "t"
q "CREATE TABLE schools (id int PRIMARY KEY); INSERT INTO schools VALUES (0), (1), (2), (3), (4)"
sed -i 's/^sql = "CREATE TABLE schools (id int PRIMARY KEY)"/sql = "CREATE TABLE IF NOT EXISTS schools (id int PRIMARY KEY)"/' "$WORK/project/plans/0002-school-fk.toml"
expect 0 pg run
check "the operator's banner stands through a run" "$(q "SELECT level || ': ' || message || ' by run ' || run_id FROM phasegate.broadcast")" "down: Huey is having a nap; back at 13:00 by run 0"
wait_for "the app shows the operator's banner" sj_true "d['level'] == 'down' and d['message'] == 'Huey is having a nap; back at 13:00' and not d['automatic']"
expect 0 pg announce --level ok
wait_for "ok when the operator says so" sj_true "d['level'] == 'ok'"
check "every announcement is an event, by hand or by a run" \
  "$(q "SELECT string_agg(payload->>'level' || CASE WHEN (payload->>'automatic')::boolean THEN '(run)' ELSE '' END, ',' ORDER BY event_id) FROM phasegate.events WHERE kind = 'status.announced'")" \
  "maintenance(run),ok(run),maintenance(run),degraded(run),down,ok"
finish
