#pragma once
// The blameless postmortem draft of one run (issue #14, docs/report.md): a pure model built from the run's
// events and its rows, and its three renderings (Markdown, one self-contained HTML file, JSON per
// docs/schemas/report.schema.json). No I/O here: `phasegate report` (src/cli/cmd_report.cpp) reads the state
// schema, build() decides what happened, the renderers print it. Every string of the model has passed the
// credential mask (secrets::redact) when build() returns.
#include <optional>
#include <string>
#include <vector>

#include "phasegate/pg.hpp"

namespace phasegate::report {

// What the state schema holds about the run.
struct Input {
  RunRow run;
  std::string description;                 // the plan's, from its file ("" when the file is gone)
  std::vector<EventRow> events;            // the run's, oldest first
  std::vector<StepRecord> steps;           // the plan's step records now
  bool latest = true;                      // the plan's latest run: its step records say what this run left
  std::vector<ApprovalRecord> approvals;   // the plan's approval rows (signatures are not verified here)
  std::vector<std::string> log_problems;   // the event chain does not verify: each problem (empty: it does)
};

enum class Tone { info, good, warn, bad };
const char* tone_name(Tone t);

// One line of the timeline: an event said in words.
struct Entry {
  int64_t event_id = 0;
  std::string at;            // RFC 3339 UTC, milliseconds
  long long offset_ms = 0;   // since the run was created
  std::string kind, phase, step, actor;
  std::string text;
  Tone tone = Tone::info;
};

struct LockRetry {
  std::string at;
  int attempt = 0;
  long long wait_ms = 0;
  bool cancelled_blockers = false;  // cancel_blockers = true: these sessions were cancelled
  std::string error;
  std::vector<Blocker> blockers;    // who held the lock (pg_blocking_pids)
};

struct BackfillStats {
  long long scanned = 0, updated = 0, batches = 0;
  std::optional<double> rows_per_s;
};

struct StepReport {
  std::string name, phase;
  // What this run did to it: completed | failed | interrupted (started, no end recorded) | marked pending|completed |
  // not in this run (a step of the plan this run did not touch: applied earlier, or not reached)
  std::string outcome = "not in this run";
  int attempts = 0;  // step.started events of this run (more than one: retried after a failure or a crash)
  std::string started_at, finished_at;
  std::optional<long long> duration_ms;
  std::vector<LockRetry> lock_retries;
  std::vector<std::string> waits;  // a CONCURRENTLY build waited for older transactions (step.waited)
  std::string error, sqlstate;
  std::optional<BackfillStats> backfill;
  std::string undo;  // what the rollback did to it ("" = nothing)
};

struct GuardWait {
  std::string guard, reason, phase, at;
  std::string ended_at;                // guard.go, or the run.blocked that gave up
  std::optional<long long> waited_ms;  // until it said go
  std::string outcome;                 // went on | run stopped (exit 75) | still waiting
};

struct Restart {
  std::string service, phase, at;
  bool during_rollback = false, healthy = false;
  std::optional<long long> restart_ms, health_ms, total_ms;  // the restart program, then the health checks
  // The service's pids before and after, as the restart program said them ("pid OLD -> NEW", which the bundled
  // hooks/restart-by-pidfile.sh prints); unset when it said nothing of the kind.
  std::optional<long long> pid_before, pid_after;
  int checks = 0;
  std::string said;    // the restart program's last line of output (the bundled hook prints "pid OLD -> NEW")
  std::string reason;  // why it was not healthy
};

struct SmokeResult {
  std::string name, phase, at;
  bool passed = false;
  int passes = 0, failures = 0, failure_limit = 0;
  std::string reason;
};

struct Failure {
  std::string at, kind;  // kind: step | check | smoke | service | abort | other
  std::string phase, step, sqlstate, message, aborted_by;
  std::string started_at;  // when the action that failed began (time to detect runs from here)
};

struct RollbackAction {
  std::string at, action, target;  // action: down | master | restart; target: the step or the service
  bool ok = false, skipped = false;
  std::string detail;
  std::optional<long long> duration_ms;
  std::string revert_commit;
};

struct Rollback {
  std::string started_at, finished_at, reason;
  std::string outcome = "cut short";  // completed | incomplete | cut short (no end recorded)
  int resumed = 0;                    // times the next command finished a rollback cut short
  std::vector<RollbackAction> actions;
  std::vector<std::string> undone, notes, left;
};

// Derived durations, milliseconds; unset when the run has no such moment.
struct Times {
  std::optional<long long> run_ms;      // run.created to its last event
  std::optional<long long> detect_ms;   // the failing action's start to the failure
  std::optional<long long> undo_ms;     // the failure to the database undone
  std::optional<long long> revert_ms;   // the failure to master reverted
  std::optional<long long> restart_ms;  // the failure to the services restarted on the reverted code
  std::optional<long long> recover_ms;  // the failure to the rollback's end
};

struct Approval {
  int64_t id = 0;
  std::string principal, recorded_at, comment;
  bool counted = false;  // run.started names it among the approvals that met the quorum
  bool revoked = false;
};

struct Postmortem {
  int64_t run_id = 0;
  std::string plan, description, digest, release_commit, state, cause;
  std::string title, outcome;  // a headline and one sentence of how it ended
  std::string created_at, finished_at, started_by;
  std::vector<Approval> approvals;  // of this plan digest
  bool approvals_known = false;     // run.started recorded who counted (older runs did not)
  std::vector<Entry> timeline;
  std::vector<StepReport> steps;
  std::vector<GuardWait> guard_waits;
  std::vector<Restart> restarts;
  std::vector<SmokeResult> smoke;
  std::optional<Failure> failure;
  std::optional<Rollback> rollback;
  std::vector<std::string> interruptions;  // crashes resumed, lost connections, signals
  Times times;
  std::vector<std::string> open_items;     // left for a human
  bool log_verified = true;
  std::vector<std::string> log_problems;
};

Postmortem build(const Input& in);

// The schema the JSON rendering follows (docs/schemas/report.schema.json names it in "$id").
inline constexpr const char* kSchemaId = "https://phasegate.dev/schemas/report.schema.json";
std::string render_markdown(const Postmortem& pm);
std::string render_html(const Postmortem& pm);
std::string render_json(const Postmortem& pm);

// "1.2 s", "850 ms", "3 min 05 s", "2 h 10 min" — for people, in every rendering.
std::string human_ms(long long ms);

}  // namespace phasegate::report
