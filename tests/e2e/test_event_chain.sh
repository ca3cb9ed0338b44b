#!/usr/bin/env bash
# The event log is tamper-evident (SPEC §5, issue #12, docs/state.md): someone with write access to the state
# schema deletes the newest events, empties the table, or edits an event — with the triggers that refuse it
# disabled, as a superuser or the tables' owner can. `log` still prints what is left, says loudly what is
# missing, and exits 5 (a human must act); `status` says so too, without changing its exit code.
source "$(dirname "$0")/lib.sh"
new_db e2e_event_chain
new_project
plan 0001-t <<'TOML'
[[expand.steps]]
name = "create"
sql = "CREATE TABLE t (id int)"
down = "DROP TABLE t"
[[expand.steps]]
name = "index"
sql = "CREATE INDEX t_id ON t (id)"
down = "DROP INDEX t_id"
TOML
expect 0 pg run
expect 0 pg log
expect 0 pg --json log
check "an untouched log: chain ok, head = newest event" \
  "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); c=d["chain"]; print(d["ok"], d["chain_ok"], c["problems"], c["head"]["id"] == c["newest"]["id"] > 0)' "$OUT")" \
  "True True [] True"
expect 0 pg status
check "status: no warning for an untouched log" "$(grep -c TAMPERED <<<"$OUT$ERR" || true)" "0"
newest=$(q "SELECT max(event_id) FROM phasegate.events")

# The triggers refuse it outright.
expect 1 "$PSQL" "$DATABASE_URL" -qAtX -v ON_ERROR_STOP=1 -c "DELETE FROM phasegate.events WHERE event_id > 3"
contains "DELETE refused" "$ERR" "append-only"
expect 1 "$PSQL" "$DATABASE_URL" -qAtX -v ON_ERROR_STOP=1 -c "TRUNCATE phasegate.events"
contains "TRUNCATE refused" "$ERR" "append-only"
expect 1 "$PSQL" "$DATABASE_URL" -qAtX -v ON_ERROR_STOP=1 -c "DELETE FROM phasegate.event_head"
contains "the head row cannot be deleted" "$ERR" "cannot be removed"
check "nothing was deleted" "$(q "SELECT max(event_id) FROM phasegate.events")" "$newest"

# Behind the triggers' back: the newest events go.
q "SET session_replication_role = replica; DELETE FROM phasegate.events WHERE event_id > 3"
expect 5 pg log
contains "log still prints what is left" "$OUT" "run.created"
contains "log names what is missing" "$ERR" "TAMPERED EVENT LOG: events missing after #3: the chain head records event #$newest"
contains "log says a human must act" "$ERR" "a human must act (exit 5)"
expect 5 pg --json log
check "log --json: not ok, exit 5, the problem" \
  "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["ok"], d["exit"], d["chain_ok"], d["chain"]["head"]["id"], d["chain"]["newest"]["id"], d["chain"]["problems"][0][:25])' "$OUT")" \
  "False 5 False $newest 3 events missing after #3: "
expect 0 pg status
contains "status says it loudly" "$OUT" "event log TAMPERED: events missing after #3"
contains "status warns on stderr" "$ERR" "the event log was altered"
expect 0 pg --json status
check "status --json: event_log not ok" "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["event_log"]["ok"], d["exit"])' "$OUT")" "False 0"

# Everything goes.
q "SET session_replication_role = replica; TRUNCATE phasegate.events"
expect 5 pg log
contains "an emptied log is detected" "$ERR" "the events table is empty but the chain head records event #$newest"

# An edited event (its hash left as it was) on a fresh chain.
new_db e2e_event_chain_edit
expect 0 pg run
q "SET session_replication_role = replica; UPDATE phasegate.events SET payload = '{\"forged\": true}' WHERE event_id = 2"
expect 5 pg log
contains "an edited event is detected" "$ERR" "event #2"
contains "... it does not verify" "$ERR" "does not verify"
contains "... marked in the listing" "$OUT" "HASH CHAIN BROKEN"
finish
