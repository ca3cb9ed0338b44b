#pragma once
// Versioned DDL of the state schema. Each entry upgrades from version i to i+1; never edit a shipped entry.
#include <string>
#include <vector>

namespace phasegate::pg {

inline std::vector<std::string> schema_migrations(const std::string& s) {
  return {
      // v1: plans, runs, steps, approvals, events (append-only, hash-chained), broadcast status
      "CREATE TABLE " + s + ".plans (plan_id text PRIMARY KEY, digest text NOT NULL, status text NOT NULL,"
      " first_seen timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), applied_at timestamptz);"
      "CREATE TABLE " + s + ".runs (run_id bigserial PRIMARY KEY, plan_id text NOT NULL, digest text NOT NULL,"
      " status text NOT NULL, phase text NOT NULL DEFAULT '', initiator text, os_user text, host text, release_commit text,"
      " created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),"
      " finished_at timestamptz, error text);"
      "CREATE INDEX runs_plan_idx ON " + s + ".runs (plan_id, run_id);"
      "CREATE TABLE " + s + ".steps (plan_id text NOT NULL, step text NOT NULL, phase text NOT NULL, ordinal int NOT NULL,"
      " status text NOT NULL, attempts int NOT NULL DEFAULT 0, checksum text NOT NULL, run_id bigint, applied_by text,"
      " started_at timestamptz, finished_at timestamptz, cursor jsonb, error text, PRIMARY KEY (plan_id, step));"
      "CREATE TABLE " + s + ".approvals (approval_id bigserial PRIMARY KEY, plan_id text NOT NULL, digest text NOT NULL,"
      " target text NOT NULL, principal text NOT NULL, document text NOT NULL, signature text NOT NULL,"
      " expires_at timestamptz NOT NULL, comment text, created_at timestamptz NOT NULL DEFAULT now(), revoked_at timestamptz);"
      "CREATE TABLE " + s + ".events (event_id bigserial PRIMARY KEY, at timestamptz NOT NULL, at_ms bigint NOT NULL,"
      " run_id bigint, plan_id text, phase text, step text, kind text NOT NULL, principal text, os_user text, host text,"
      " payload jsonb NOT NULL DEFAULT '{}', prev_hash text NOT NULL, hash text NOT NULL);"
      "CREATE INDEX events_run_idx ON " + s + ".events (run_id, event_id);"
      // The chain head: appenders serialize on this row's lock (UPDATE ... RETURNING sees the latest commit).
      "CREATE TABLE " + s + ".event_head (id int PRIMARY KEY CHECK (id = 1), hash text NOT NULL);"
      "INSERT INTO " + s + ".event_head VALUES (1, repeat('0', 64));"
      "CREATE FUNCTION " + s + ".events_append_only() RETURNS trigger LANGUAGE plpgsql AS"
      " $$BEGIN RAISE EXCEPTION 'phasegate events are append-only'; END$$;"
      "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON " + s + ".events"
      " FOR EACH ROW EXECUTE FUNCTION " + s + ".events_append_only();"
      "CREATE TABLE " + s + ".broadcast (id int PRIMARY KEY DEFAULT 1 CHECK (id = 1), level text NOT NULL,"
      " message text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), updated_by text);"
      "INSERT INTO " + s + ".broadcast (level, message) VALUES ('ok', '');",
      // v2: `phasegate abort RUN` asks the runner to stop (it checks between backfill batches, and its running
      // statement is cancelled).
      "ALTER TABLE " + s + ".runs ADD COLUMN abort_requested_at timestamptz, ADD COLUMN abort_requested_by text;",
      // v3: one lifecycle model (docs/state.md): a rolled-back step is pending again (its cursor cleared); a run
      // records why it rolls back and the backend pid of the runner driving it (abort cancels only that one); a step
      // records whether it failed part-way outside a transaction; a step records the checksum of the down it was applied with.
      "ALTER TABLE " + s + ".runs ADD COLUMN cause text, ADD COLUMN runner_pid int;"
      "ALTER TABLE " + s + ".steps ADD COLUMN down_checksum text, ADD COLUMN partial boolean NOT NULL DEFAULT false;"
      "UPDATE " + s + ".steps SET status = 'pending', cursor = NULL WHERE status = 'rolled_back';"
      "CREATE INDEX steps_status_idx ON " + s + ".steps (status, plan_id);",
      // v4: tamper evidence (docs/state.md). The chain head also records the id of the newest event (the append
      // statement writes both), so deleting the newest events or emptying the table shows; TRUNCATE of the events is
      // refused like UPDATE/DELETE, and the head row cannot be removed. Approvals keep their signed revocation, and
      // the revocation events are found by plan. Written to be re-runnable (IF NOT EXISTS, OR REPLACE).
      "ALTER TABLE " + s + ".event_head ADD COLUMN IF NOT EXISTS last_id bigint NOT NULL DEFAULT 0;"
      // An untouched chain's head is its newest event; a head that matches none keeps the newest id (and shows).
      "UPDATE " + s + ".event_head h SET last_id = coalesce((SELECT max(e.event_id) FROM " + s + ".events e WHERE e.hash = h.hash),"
      " (SELECT max(event_id) FROM " + s + ".events), 0) WHERE h.last_id = 0;"
      "DROP TRIGGER IF EXISTS events_no_truncate ON " + s + ".events;"
      "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON " + s + ".events"
      " FOR EACH STATEMENT EXECUTE FUNCTION " + s + ".events_append_only();"
      "CREATE OR REPLACE FUNCTION " + s + ".event_head_kept() RETURNS trigger LANGUAGE plpgsql AS"
      " $$BEGIN RAISE EXCEPTION 'the phasegate event chain head cannot be removed'; END$$;"
      "DROP TRIGGER IF EXISTS event_head_kept ON " + s + ".event_head;"
      "CREATE TRIGGER event_head_kept BEFORE DELETE OR TRUNCATE ON " + s + ".event_head"
      " FOR EACH STATEMENT EXECUTE FUNCTION " + s + ".event_head_kept();"
      "ALTER TABLE " + s + ".approvals ADD COLUMN IF NOT EXISTS revocation text, ADD COLUMN IF NOT EXISTS revocation_signature text;"
      "CREATE INDEX IF NOT EXISTS events_revoked_idx ON " + s + ".events (plan_id, event_id) WHERE kind = 'approval.revoked';",
      // v5: the notification outbox (docs/notify.md). One row per event and [notify.NAME] sink it is routed to,
      // inserted by the statement that appends the event (so in its transaction); any phasegate process leases due
      // rows, sends them, and marks them delivered, retried later or given up (with a notify.failed event).
      // No foreign key to the events: it would change how TRUNCATE of the events fails (the tamper checks).
      "CREATE TABLE " + s + ".outbox (event_id bigint NOT NULL, sink text NOT NULL,"
      " attempts int NOT NULL DEFAULT 0, next_attempt_at timestamptz NOT NULL DEFAULT now(), leased_until timestamptz,"
      " delivered_at timestamptz, gave_up_at timestamptz, last_error text, PRIMARY KEY (event_id, sink));"
      "CREATE INDEX outbox_due_idx ON " + s + ".outbox (next_attempt_at) WHERE delivered_at IS NULL AND gave_up_at IS NULL;",
      // v6: the broadcast status and continuous smoke checks (docs/serve.md). The broadcast knows since when its level
      // holds, until when it is meant to, and which run set it (0: by hand); each continuous smoke check keeps its
      // streak, so the first failure and the recovery are announced once. Events of serve's reads are found by kind.
      "ALTER TABLE " + s + ".broadcast ADD COLUMN IF NOT EXISTS since timestamptz NOT NULL DEFAULT now(),"
      " ADD COLUMN IF NOT EXISTS until timestamptz, ADD COLUMN IF NOT EXISTS run_id bigint NOT NULL DEFAULT 0;"
      "CREATE TABLE IF NOT EXISTS " + s + ".smoke_status (name text PRIMARY KEY, ok boolean NOT NULL, last_ok boolean NOT NULL,"
      " consecutive_failures int NOT NULL, checks bigint NOT NULL, failures bigint NOT NULL, since timestamptz,"
      " last_at timestamptz, last_reason text NOT NULL DEFAULT '', deploy_run bigint NOT NULL DEFAULT 0);"
      "CREATE INDEX IF NOT EXISTS events_kind_idx ON " + s + ".events (kind, event_id);",
  };
}

}  // namespace phasegate::pg
