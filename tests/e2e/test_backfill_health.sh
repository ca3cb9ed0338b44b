#!/usr/bin/env bash
# Backfill health stops (issue #16; docs/guards/load.md) for real: a VACUUM crawling over the backfill's table
# (vacuum_cost_delay at its maximum) pauses the batches until it is cancelled; on a second server with
# archive_mode on and no archive_command, WAL segments waiting for the archiver past
# max_archive_pending pause them until archiving works again. Each pause is a guard.wait event with the
# reason, a progress line that says it, and a guard.go when the batches go on; every row is filled once.
source "$(dirname "$0")/lib.sh"
new_db e2e_backfill_health
new_project
ev() { q "SELECT count(*) FROM phasegate.events WHERE kind = '$1' AND payload->>'guard' = '$2'" 2>/dev/null || echo 0; }
has_event() { [[ $(ev "$1" "$2") -ge 1 ]]; }
filled_once() { q "SELECT count(*) FILTER (WHERE n <> 1) || '/' || count(*) FROM $1"; }

# --- a VACUUM on the table -------------------------------------------------------------------------
q "CREATE TABLE crawl (id int PRIMARY KEY, v int NOT NULL, v2 int, n int NOT NULL DEFAULT 0) WITH (autovacuum_enabled = false);
   INSERT INTO crawl (id, v) SELECT g, g FROM generate_series(1, 20000) g; UPDATE crawl SET v = v + 1"  # dead tuples: work for VACUUM
plan 0001-fill-crawl <<'TOML'
[plan]
description = "fill v2 while a VACUUM works on the table"
[[migrate.steps]]
name = "fill v2"
backfill = { table = "crawl", set = "v2 = v * 2, n = n + 1", where = "v2 IS NULL", batch_rows = 1000, pause = "50ms" }
TOML
expect 0 pg plan 0001-fill-crawl
contains "plan names the health stops" "$OUT" "health stops: waits for an anti-wraparound or manual VACUUM of the table, waits while over 100 WAL segments wait for the archiver"
# The VACUUM of another session, slowed to a crawl (cost limit 1, delay 100 ms per point): it runs until cancelled.
"$PSQL" "$DATABASE_URL" -qX -c "SET application_name = 'slow-vacuum'" -c "SET vacuum_cost_limit = 1" -c "SET vacuum_cost_delay = 100" \
  -c "VACUUM crawl" >"$WORK/vacuum.out" 2>&1 &
vacuum_psql=$!
vacuuming() { [[ $(q "SELECT count(*) FROM pg_stat_progress_vacuum WHERE relid = 'crawl'::regclass") -ge 1 ]]; }
wait_for "the VACUUM of crawl shows in pg_stat_progress_vacuum" vacuuming
run_bg run
wait_for "a guard.wait for the vacuum" has_event guard.wait vacuum
check "the run is still running while it waits" "$(alive "$runner" && echo yes)" "yes"
check "no batch before the VACUUM ends" "$(q "SELECT count(*) FROM crawl WHERE v2 IS NOT NULL")" "0"
reason=$(q "SELECT payload->>'reason' FROM phasegate.events WHERE kind = 'guard.wait' AND payload->>'guard' = 'vacuum'")
contains "the wait names the VACUUM and the table" "$reason" "VACUUM by postgres (pid "
contains "the wait names the table" "$reason" "is vacuuming public.crawl"
check "no guard.go yet" "$(ev guard.go vacuum)" "0"
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'slow-vacuum'" >/dev/null
wait "$vacuum_psql" || true
contains "the VACUUM was cancelled (not finished)" "$(cat "$WORK/vacuum.out")" "canceling statement due to user request"
wait_rc
check "the run completes once the VACUUM is gone" "$rc" "0"
check "every row filled exactly once" "$(filled_once crawl)" "0/20000"
check "guard.go after the wait" "$(ev guard.go vacuum)" "1"
contains "the progress line says why it paused" "$(cat "$WORK/err" "$WORK/out")" "paused: VACUUM by postgres (pid "

# pause_on_vacuum = false: the same VACUUM does not stop the batches.
q "UPDATE crawl SET v2 = NULL, n = 0"
"$PSQL" "$DATABASE_URL" -qX -c "SET application_name = 'slow-vacuum'" -c "SET vacuum_cost_limit = 1" -c "SET vacuum_cost_delay = 100" \
  -c "VACUUM crawl" >"$WORK/vacuum.out" 2>&1 &
vacuum_psql=$!
wait_for "the second VACUUM shows" vacuuming
sed -i 's/^\[guards\]$/[guards]\npause_on_vacuum = false/' "$WORK/project/phasegate.toml"
plan 0002-fill-crawl-again <<'TOML'
[plan]
description = "fill v2 again, not pausing for VACUUM"
[[migrate.steps]]
name = "fill v2 again"
backfill = { table = "crawl", set = "v2 = v * 2, n = n + 1", where = "v2 IS NULL", batch_rows = 1000 }
TOML
expect 0 pg run
check "with pause_on_vacuum = false: one guard.wait in all (the first run's)" "$(ev guard.wait vacuum)" "1"
check "every row filled exactly once again" "$(filled_once crawl)" "0/20000"
check "the VACUUM was still running" "$(vacuuming && echo yes)" "yes"
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'slow-vacuum'" >/dev/null
wait "$vacuum_psql" || true

# --- WAL archiving falls behind (a server of our own: archive_mode needs a restart) --------------
# archive_command stays unset (so segments pile up as .ready): a -c on the command line would also win over
# the ALTER SYSTEM that fixes archiving below.
eval "$(PHASEGATE_PG_OPTS="-c archive_mode=on -c wal_level=replica" "$PHASEGATE_SRC/scripts/pg.sh" start)"
trap '"$PHASEGATE_SRC/scripts/pg.sh" stop "$PHASEGATE_PG_DIR"; rm -rf "$WORK"; kill $(jobs -p) 2>/dev/null || true' EXIT
new_db e2e_archive
new_project
sed -i 's/^\[guards\]$/[guards]\nmax_archive_pending = 2/' "$WORK/project/phasegate.toml"
q "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, v2 int, n int NOT NULL DEFAULT 0);
   INSERT INTO items (id, v) SELECT g, g FROM generate_series(1, 20000) g"
for _ in 1 2 3 4; do q "INSERT INTO items (id, v) VALUES (-1, 0); DELETE FROM items WHERE id = -1; SELECT pg_switch_wal()" >/dev/null; done
ready() { q "SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'"; }
check "segments are waiting for the archiver (no archive_command)" "$(( $(ready) > 2 ))" "1"
plan 0001-fill-items <<'TOML'
[plan]
description = "fill v2 while the archiver is behind"
[[migrate.steps]]
name = "fill v2"
backfill = { table = "items", set = "v2 = v * 2, n = n + 1", where = "v2 IS NULL", batch_rows = 1000 }
TOML
expect 0 pg plan 0001-fill-items
contains "plan names the archive limit" "$OUT" "waits while over 2 WAL segments wait for the archiver"
run_bg run
wait_for "a guard.wait for archive_pending" has_event guard.wait archive_pending
check "the run waits (alive)" "$(alive "$runner" && echo yes)" "yes"
contains "the wait says how far behind" "$(q "SELECT payload->>'reason' FROM phasegate.events WHERE kind = 'guard.wait' AND payload->>'guard' = 'archive_pending'")" \
  "WAL segments wait for archive_command > max_archive_pending 2"
q "ALTER SYSTEM SET archive_command = 'true'"
q "SELECT pg_reload_conf()" >/dev/null
caught_up() { [[ $(ready) -le 2 ]]; }
wait_for "the archiver catches up" caught_up
wait_rc
check "the run completes once archiving caught up" "$rc" "0"
check "every row filled exactly once" "$(filled_once items)" "0/20000"
check "guard.go for archive_pending" "$(ev guard.go archive_pending)" "1"
finish
