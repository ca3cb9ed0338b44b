#pragma once
// Interfaces between the engine and the world. Real implementations live in src/adapters/,
// fakes in tests/unit/fakes.hpp. The engine never reads the clock or sleeps except through Clock.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "phasegate/duration.hpp"
#include "phasegate/error.hpp"

namespace phasegate {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() = 0;
  virtual void sleep_for(Millis d) = 0;
};

struct Actor {
  std::string principal;  // --as / PHASEGATE_PRINCIPAL; may be empty
  std::string os_user;
  std::string host;
  std::string label() const;  // "alice (bob@host)"
};

struct Event {
  std::string kind;  // e.g. "step.completed" (SPEC §6)
  int64_t run_id = 0;
  std::string plan_id, phase, step;
  std::string payload = "{}";  // a JSON object
  TimePoint at{};
};

// Step states (docs/state.md; the transitions are in lifecycle.hpp):
//   pending    nothing of it is in the database (never ran, or rolled back)
//   running    intent recorded: work outside one transaction is under way or was cut short (may be part-done)
//   completed  its effect is in the database
//   failed     it failed; a non-transactional step may have left part of its effect
//   undoing    intent recorded for a non-transactional down: the effect may be part-undone
enum class StepStatus { pending, running, completed, failed, undoing };
const char* step_status_name(StepStatus s);
std::optional<StepStatus> parse_step_status(std::string_view s);

struct StepRecord {
  std::string plan_id, step, phase;
  int ordinal = 0;
  StepStatus status = StepStatus::pending;
  int attempts = 0;
  std::string checksum;
  std::string down_checksum;  // of the `down` when the step was applied ("" = none): an edited down is reported
  int64_t run_id = 0;
  std::string applied_by;
  std::optional<TimePoint> started_at, finished_at;
  std::string error;
  std::string cursor;  // JSON: a backfill's progress (backfill::Cursor) or a non-transactional step's statements done
  bool partial = false;  // failed part-way outside a transaction: part of its effect may be in the database
};
// Whether the step's effect may be (partly) in the database, judged from its record alone (never from the file,
// which may have been edited since): completed, intent recorded, failed part-way, or undoing.
bool record_has_effect(const StepRecord& rec);

// Run states (docs/state.md; the transitions are in lifecycle.hpp). Open: created, running, waiting, blocked,
// rolling_back. Terminal: completed, failed, aborted, rolled_back, rollback_incomplete.
enum class RunStatus { created, running, waiting, blocked, completed, failed, aborted, rolling_back, rolled_back, rollback_incomplete };
const char* run_status_name(RunStatus s);
std::optional<RunStatus> parse_run_status(std::string_view s);
bool is_terminal(RunStatus s);

struct RunRecord {
  int64_t id = 0;
  std::string plan_id, digest;
  RunStatus status = RunStatus::created;
  std::string phase;
  std::string initiator;
  std::string error;
  std::string release_commit;  // the app commit master rollback reverts, a full SHA ("" = unknown)
  std::string cause;           // why a rollback runs: "failed" | "aborted" | "by_hand" ("" = none)
};

// The broadcast status apps show as a banner (`phasegate announce`, a run's automatic announcements, serve's
// /status; docs/serve.md). One row in the state schema.
struct Broadcast {
  std::string level = "ok";  // ok | maintenance | degraded | down (broadcast.hpp)
  std::string message;
  std::optional<TimePoint> until;  // after it the announcement is over: readers see "ok" (none: until replaced)
  std::string by;                  // who set it: an actor label, or "run N"
  int64_t run_id = 0;              // the run whose automatic announcement this is (0: set by hand)
  std::optional<TimePoint> since;  // when the level last changed (read back; the store sets it)
};

// A continuous smoke check's record ([smoke.NAME] every, run by `phasegate serve`; smoke.hpp): its streak, so
// the first failure and the recovery are announced once each, whichever process measured them.
struct SmokeRecord {
  std::string name;
  bool ok = true;                 // as announced: false from smoke.failed until smoke.recovered
  bool last_ok = true;            // the latest measurement
  int consecutive_failures = 0;
  long long checks = 0, failures = 0;  // measurements and failed measurements so far (counters)
  std::optional<TimePoint> since;      // when `ok` last changed (or the first measurement)
  std::optional<TimePoint> last_at;    // the latest measurement
  std::string last_reason;             // what the latest failed measurement said
  int64_t deploy_run = 0;              // the completed run the checks watch after
};

struct Timeouts {
  Millis lock_timeout{2000};
  Millis statement_timeout{30 * 60'000};
};

// One transaction of the state store: state changes and the events that record them commit together or
// not at all (SPEC §5.1). Built by the engine from the lifecycle tables.
struct StateChange {
  std::optional<RunRecord> run;
  // The state the run must still be in for this change to land (optimistic concurrency): a command acting on a
  // stale view of the run — another process moved it meanwhile — gets an error and changes nothing.
  std::optional<RunStatus> run_was;
  std::vector<StepRecord> steps;
  struct PlanMark {
    std::string plan_id, digest, state;
  };
  std::optional<PlanMark> plan;
  std::vector<Event> events;
  // The broadcast status (with its status.announced event in `events`).
  std::optional<Broadcast> broadcast;
  // A continuous smoke check's record; it lands only when the stored record still has `smoke_checks_was`
  // measurements (optimistic: two `serve` processes cannot both announce one failure).
  std::optional<SmokeRecord> smoke;
  long long smoke_checks_was = 0;
  StateChange& add(Event e) {
    events.push_back(std::move(e));
    return *this;
  }
};

// A plan the database knows about: its recorded steps (for plans whose file may be gone).
struct KnownPlan {
  std::string plan_id;
  std::vector<StepRecord> steps;
};

// The state schema in the target database (SPEC §5).
class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual Result<void> ensure_schema() = 0;
  virtual Result<std::vector<StepRecord>> steps(const std::string& plan_id) = 0;
  // The newest run of the plan that is not terminal / the newest run of the plan at all.
  virtual Result<std::optional<RunRecord>> open_run(const std::string& plan_id) = 0;
  virtual Result<std::optional<RunRecord>> latest_run(const std::string& plan_id) = 0;
  // Inserts a run (status created) and commits `created` (its run.created event, run id filled in) with it.
  virtual Result<RunRecord> create_run(const RunRecord& run, const Actor& actor, Event created) = 0;
  // Everything in `change` in one transaction.
  virtual Result<void> commit(const StateChange& change) = 0;
  // Every plan with a step that is not pending (its effect may be in the database).
  virtual Result<std::vector<KnownPlan>> known_plans() = 0;
  // Who asked `phasegate abort RUN` to stop this run ("" = nobody).
  virtual Result<std::string> abort_requested(int64_t run_id) = 0;
  // Whether this run recorded phase.completed for `phase` (its restarts and smoke checks passed).
  virtual Result<bool> phase_completed(int64_t run_id, const std::string& phase) = 0;
  Result<void> append_event(const Event& event) { return commit(StateChange{}.add(event)); }
  // The broadcast status as stored (its `until` not applied: broadcast.hpp's effective_broadcast does that).
  virtual Result<Broadcast> broadcast() { return fail(Exit::internal, "this state store keeps no broadcast status"); }
  // The session broke (server restart, failover, network): nothing can be read or written until reconnect.
  virtual bool connected() { return true; }
  // A new session within `budget` (backoff), holding what the old one held (the run lock). Exit::unavailable
  // when the server did not come back in time, Exit::blocked when another runner holds the run lock.
  virtual Result<void> reconnect(Millis) { return fail(Exit::unavailable, "this state store cannot reconnect"); }
  // After reconnect(): the run is still the one this process drove before the break (nobody resumed it
  // meanwhile), and is now recorded as driven by the new session. false: it moved; touch nothing.
  virtual Result<bool> reclaim_run(int64_t) { return true; }
};

enum class IndexState { absent, valid, invalid };

// A session that held or queued ahead of a lock our step waited for (pg_blocking_pids).
struct Blocker {
  int pid = 0;
  std::string user, application, state, query;
  double transaction_age_s = 0;  // 0: not in a transaction
};

// A backfill's table as the catalog knows it: the quoted qualified name and its primary key columns.
struct BackfillTable {
  std::string qualified;  // e.g. public."Order Items"
  struct Key {
    std::string name;  // the column name (unquoted)
    std::string type;  // format_type(), for casting the cursor's text back
  };
  std::vector<Key> key;
  long long estimated_rows = 0;  // pg_class.reltuples (0 when never analyzed)
};
struct BatchResult {
  long long updated = 0, scanned = 0;
  std::vector<std::string> last;  // last key scanned (empty when the batch found no keys)
  std::string aborted_by;         // `phasegate abort` was requested for the run: nothing was done (who asked)
};
// One batch's statements (backfill::batch_sql; docs/backfill.md). Parameters: the cursor's key values $1..$k
// (only when there is a cursor), then:
struct BatchSql {
  std::string settings;  // SET LOCAL planner settings for the batch's transaction (no parameters)
  std::string bound;   // + the offset (limit - 1): the limit-th key after the cursor, as text (no row: fewer are left)
  std::string tail;    // + the limit: the count of the keys after the cursor (at most limit) and the last of them (no row: none left)
  std::string update;  // + the batch's last key: UPDATE of the key range (cursor, last] where `where` IS TRUE
};

// Executes the plan's SQL on the target database.
class Target {
 public:
  virtual ~Target() = default;
  virtual Result<bool> check(const std::string& sql, const Timeouts& t) = 0;
  // BEGIN; SET LOCAL timeouts; sql; commit what completion() returns (built after the SQL, so timings are
  // true); COMMIT — all or nothing.
  virtual Result<void> apply_atomically(const std::string& sql, const Timeouts& t,
                                        const std::function<StateChange()>& completion) = 0;
  // Each statement on its own, outside any transaction block (CONCURRENTLY & co).
  virtual Result<void> apply_autocommit(const std::vector<std::string>& statements, const Timeouts& t) = 0;
  virtual Result<IndexState> index_state(const std::string& schema, const std::string& name) = 0;
  // Who blocked the latest apply_* while it waited for a lock (empty when nobody or not sampled).
  virtual std::vector<Blocker> last_blockers() = 0;
  // pg_cancel_backend on each pid; returns how many signals were sent.
  virtual Result<int> cancel_backends(const std::vector<int>& pids) = 0;
  // Resolves a backfill's `table` (as written, or an unquoted name with spaces) and its primary key.
  virtual Result<BackfillTable> backfill_table(const std::string& table) = 0;
  // BEGIN; SET LOCAL timeouts; one batch of at most `limit` keys after `cursor` (empty: from the first key);
  // persist record(result); COMMIT — the cursor moves with the rows. When `abort_of_run` is a run id, the
  // batch first asks whether an abort was requested for it (in the same round trip as BEGIN) and, if so,
  // does nothing and returns who asked.
  virtual Result<BatchResult> backfill_batch(const BatchSql& sql, const std::vector<std::string>& cursor, int limit, int64_t abort_of_run,
                                             const Timeouts& t, const std::function<StateChange(const BatchResult&)>& record) = 0;
};

// ---- guard facts (SPEC §3): what the guards decide over, gathered by adapters ----------------------
struct LoadFacts {
  std::optional<Millis> replication_lag;  // the largest replay lag over connected standbys (none: no standby)
  int standbys = 0;
  std::optional<int> active_connections;  // client backends in state 'active' (asked only when configured)
  std::optional<bool> throttle;           // throttle_query's answer (asked only when configured)
};

// A stored approval (SPEC §3.2) with the verdict of `ssh-keygen -Y verify` on its signature.
struct ApprovalRecord {
  int64_t id = 0;
  std::string plan_id, principal, document, signature, comment;
  TimePoint created_at{};  // when it was recorded (the row's created_at)
  std::optional<TimePoint> revoked_at;
  bool signature_ok = false;
  std::string signature_problem;  // ssh-keygen's complaint when the signature does not verify
  // The signed withdrawal `revoke` stored with it (state schema v4), and ssh-keygen's verdict on it.
  std::string revocation, revocation_signature;
  bool revocation_ok = false;
  std::string revocation_problem;
  int64_t revoked_event = 0;  // an approval.revoked event of the (hash-chained) log names this approval
};

// What the backfill health stops decide over (docs/guards/load.md).
struct HealthFacts {
  std::optional<std::string> vacuum;          // a VACUUM works on the table: who and how far ("autovacuum ... 40% scanned")
  bool vacuum_must_finish = false;            // it is an autovacuum to prevent wraparound or a VACUUM run by hand
  std::optional<long long> archive_pending;   // WAL segments waiting for archive_command (none: archive_mode off or no privilege)
};

class GuardProbe {
 public:
  virtual ~GuardProbe() = default;
  virtual Result<LoadFacts> load(bool lag, bool connections, const std::optional<std::string>& throttle_query) = 0;
  // One query: a VACUUM on `table` (a qualified name; asked when vacuum), WAL segments pending archival (when archive).
  virtual Result<HealthFacts> health(const std::string& table, bool vacuum, bool archive) = 0;
  virtual Result<std::vector<ApprovalRecord>> approvals(const std::string& plan_id) = 0;  // signatures verified
  virtual Result<std::string> target_id() = 0;  // "<system_identifier>/<database>"
};

// Runs external programs (hooks, ssh-keygen, systemctl, kubectl): argv only, never a shell, in a process
// group of their own. A program that exits normally leaves whatever it started in the background alone (a
// restart command's daemon keeps running); only a timeout, an interrupt or a signal to phasegate stops the
// whole group. A SIGINT/SIGTERM/SIGHUP to phasegate (phasegate/interrupt.hpp) is forwarded to the group,
// then SIGKILL after `grace`.
struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0]: a path (relative to cwd) or a bare name looked up on PATH
  std::string cwd;                // empty: the current directory
  std::vector<std::pair<std::string, std::string>> env;  // added to (or replacing in) phasegate's environment
  std::vector<std::string> unset_env;                     // removed from it (secrets a hook must not see)
  std::string stdin_data;
  Millis timeout{60'000};   // then SIGTERM to the process group, SIGKILL after `grace`
  Millis grace{5'000};
  std::size_t capture_limit = 64 * 1024;  // bytes kept of stdout and of stderr each
  // Asked about every `interrupt_poll` while the program runs (e.g. "did an operator abort the run?"); true
  // stops it like a timeout does: SIGTERM to its process group, SIGKILL after `grace`. Empty: never asked.
  std::function<bool()> interrupt;
  Millis interrupt_poll{500};
  // false: a program run beside the run's own (a notification command on the delivery thread): it is not the
  // one process group the signal handler knows about, so it cannot displace the run's hook there.
  bool foreground = true;
};
struct ProcessResult {
  int exit_code = -1;   // -1 when killed by a signal
  int signal = 0;       // the signal that ended it, 0 if none
  bool timed_out = false;
  bool interrupted = false;  // stopped because `interrupt` said so, or because phasegate got a signal
  int forwarded = 0;         // the signal to phasegate that stopped it (0: none)
  std::string out, err;  // captured (bounded) output
  bool truncated = false;
  // Processes it started are still running in its process group after it exited (a daemon): their output,
  // which phasegate no longer reads, goes on into this file (kept, like nohup.out). Empty: none left.
  std::string background_output;
  Millis elapsed{0};
  bool ok() const { return exit_code == 0 && !timed_out && !interrupted; }
  std::string describe() const;  // "exit 3", "killed by signal 9 after timeout 2s", ...
};
class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // An error only when the program could not be started at all (not found, not executable).
  virtual Result<ProcessResult> run(const ProcessSpec& spec) = 0;
};

// HTTP GET for health and smoke checks (src/adapters/http.cpp, cpp-httplib).
struct HttpResponse {
  int status = 0;
  std::string body;  // bounded
};
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // An error when no response arrived (refused, timed out, bad URL); any status is a response.
  virtual Result<HttpResponse> get(const std::string& url, Millis timeout) = 0;
  // A JSON body; `headers` are added (webhook signatures, idempotency keys).
  using Headers = std::vector<std::pair<std::string, std::string>>;
  virtual Result<HttpResponse> post(const std::string& url, const std::string& body, Millis timeout, const Headers& headers) = 0;
  Result<HttpResponse> post(const std::string& url, const std::string& body, Millis timeout) { return post(url, body, timeout, Headers{}); }
};

// Named instants where a test may kill the process (fault injection, like leveldb's FaultInjectionTestEnv).
using CrashPoint = std::function<void(const std::string& point)>;

}  // namespace phasegate
