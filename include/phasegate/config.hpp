#pragma once
// The typed model of phasegate.toml and plans/*.toml (SPEC §1). Loading never touches a database.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "phasegate/duration.hpp"
#include "phasegate/error.hpp"

namespace phasegate {

struct SourcePos {
  std::string file;
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based
  std::string str() const;  // "file:line:col"
};

struct Diagnostic {
  SourcePos pos;
  std::string message;
  std::string str() const { return pos.str() + ": " + message; }
};
using Diagnostics = std::vector<Diagnostic>;

struct Backoff {
  Millis initial{250};
  Millis max{30'000};
};

// pause_on_vacuum: which VACUUMs of a backfill's table make it wait between batches (docs/guards/load.md).
enum class VacuumPause {
  off,         // false
  wraparound,  // "wraparound" (default): an autovacuum to prevent wraparound, or a VACUUM someone ran by hand
  any,         // true: also routine autovacuum (GitLab's batched background migrations)
};

// Every field optional so a plan's [guards] can override phasegate.toml key by key.
struct GuardSettings {
  std::optional<std::vector<std::string>> windows;
  std::optional<int> approvals;
  std::optional<Millis> lock_timeout;
  std::optional<Millis> statement_timeout;
  std::optional<Millis> concurrent_lock_timeout;
  std::optional<int> lock_retries;
  std::optional<Backoff> lock_retry_backoff;
  std::optional<bool> cancel_blockers;
  std::optional<Millis> max_replication_lag;
  std::optional<int> max_active_connections;
  std::optional<std::string> throttle_query;
  std::optional<VacuumPause> pause_on_vacuum;
  std::optional<int> max_archive_pending;
  SourcePos pos;
};

// GuardSettings with the defaults filled in.
struct Guards {
  std::vector<std::string> windows;
  int approvals = 0;
  Millis lock_timeout{2000};
  Millis statement_timeout{30 * 60'000};
  // lock_timeout of CONCURRENTLY statements, whose waits for every older transaction of the database count as
  // lock waits (docs/guards/lock-timeout.md); bounded by statement_timeout; 0 = none
  Millis concurrent_lock_timeout{60'000};
  int lock_retries = 8;
  Backoff lock_retry_backoff;
  bool cancel_blockers = false;
  std::optional<Millis> max_replication_lag;
  std::optional<int> max_active_connections;
  std::optional<std::string> throttle_query;
  // Backfill health stops (docs/guards/load.md), asked between batches at most once a second:
  VacuumPause pause_on_vacuum = VacuumPause::wraparound;  // a VACUUM works on the backfill's table
  int max_archive_pending = 100;  // WAL segments waiting for archive_command (archive_mode on); 0 = not checked
};
Guards merge_guards(const GuardSettings& project, const GuardSettings& plan);

struct WindowAllow {
  std::vector<int> days;               // 0 = Sunday .. 6 = Saturday
  std::optional<int> start_minute;     // minutes after local midnight; nullopt = whole day
  std::optional<int> end_minute;
};
struct WindowDeny {
  std::optional<std::string> from, to;  // YYYY-MM-DD, local whole days
  std::optional<std::string> cron;      // 5-field cron
  std::optional<Millis> duration;
};
struct Window {
  std::string name;
  std::string timezone;
  std::vector<WindowAllow> allow;
  std::vector<WindowDeny> deny;
  std::string overrun = "finish-phase";  // or "finish-step"
  SourcePos pos;
};

struct ApprovalSettings {
  std::string allowed_signers;
  Millis valid_for{12 * 3'600'000};
  bool allow_initiator = false;
  SourcePos pos;
};

struct Health {
  std::string http;
  int expect_status = 200;
  std::vector<std::string> command;
  std::string sql;  // returns true when healthy
  Millis timeout{60'000};
};
struct Service {
  std::string name;
  std::string kind;  // systemd | kubernetes | command
  std::string unit, deployment, namespace_;
  std::vector<std::string> restart;
  std::optional<Health> health;
  SourcePos pos;
};

struct Smoke {
  std::string name;
  std::vector<std::string> command;
  std::string http, sql;
  int expect_status = 0;    // http: 0 = any 2xx
  Millis timeout{30'000};   // one measurement
  Millis interval{5000};
  int count = 1;
  int failure_limit = 0;
  // Continuous checking (docs/serve.md): `phasegate serve` measures it every `every` once a run completed;
  // failure_limit consecutive failures are tolerated before smoke.failed. nullopt: only after phases.
  std::optional<Millis> every;
  SourcePos pos;
};

struct MasterRollback {
  std::string kind;  // git | command
  std::string repo, branch = "main", remote = "origin";
  std::vector<std::string> command;
};
struct RollbackSettings {
  std::string on_failure = "rollback";  // rollback | pause
  Millis timeout{20 * 60'000};
  std::optional<MasterRollback> master;
  SourcePos master_pos;  // the master table
};

// [notify.NAME] (docs/notify.md): a webhook (its URL from an environment variable) or a command (event JSON on stdin).
struct Notifier {
  std::string name;
  std::string webhook_url_env;
  std::string format = "slack";  // webhook body: slack (text + blocks) | json (every event field)
  std::string secret_env;        // webhook: HMAC-SHA256 of the body with this variable's value, in a header
  std::vector<std::string> command;
  std::vector<std::string> events;  // globs over event kinds
  int attempts = 3;                 // tries per event before notify.failed
  Millis timeout{10'000};           // one try
  SourcePos pos;
  SourcePos events_pos;
};

// [announce]: the broadcast status a run sets by itself (docs/serve.md). Empty level: that announcement is off.
struct AnnounceSettings {
  std::string during;           // while a phase that changes the database runs, e.g. "maintenance"
  std::string on_failure;       // when a run failed, e.g. "degraded"; back to "ok" after a run that succeeds
  std::string during_message;   // the banner text ("" = a default naming the plan and phase)
  std::string on_failure_message;
  SourcePos pos;
  bool enabled() const { return !during.empty() || !on_failure.empty(); }
};

// [lint]: enable lists the opt-in rules (schema-design advice, docs/lint.md) lint, validate and plan apply.
struct LintSettings {
  std::vector<std::string> enable;  // rule ids, checked against the rule table when loaded
  SourcePos pos;
};

struct Project {
  std::string root;  // directory holding phasegate.toml
  std::string file;  // path of phasegate.toml
  std::string name;
  std::string plans_dir = "plans";
  SourcePos plans_dir_pos;  // where plans_dir is set ([project] when it is not)
  std::string state_schema = "phasegate";
  std::string url_env = "DATABASE_URL";
  std::string url;
  // [database] reconnect_timeout: how long a connection lost mid-run (server restart, failover) is retried
  // with backoff before the run stops with exit 75 (resumable).
  Millis reconnect_timeout{120'000};
  GuardSettings guards;
  std::map<std::string, Window> windows;
  std::optional<ApprovalSettings> approvals;
  std::map<std::string, Service> services;
  std::map<std::string, Smoke> smoke;
  RollbackSettings rollback;
  std::map<std::string, Notifier> notify;
  // [hooks] pass_env: secrets phasegate removes from hooks' environment (the database URL variable and
  // PGPASSWORD) unless named here.
  std::vector<std::string> hook_pass_env;
  LintSettings lint;
  AnnounceSettings announce;
};

enum class Phase { expand = 0, migrate = 1, contract = 2 };
const char* phase_name(Phase p);
std::optional<Phase> parse_phase(std::string_view s);
inline constexpr Phase kPhases[] = {Phase::expand, Phase::migrate, Phase::contract};

struct Backfill {
  std::string table, set, where;
  int batch_rows = 1000;
  Millis target_batch_time{200};
  Millis pause{0};
};

struct Step {
  std::string name;
  Phase phase = Phase::expand;
  int ordinal = 0;                     // position in the plan, 0-based across phases
  std::string sql;                     // set for sql steps
  std::optional<Backfill> backfill;    // set for backfill steps
  std::vector<std::string> command;    // set for command steps
  std::string down, check;
  std::optional<bool> transaction;     // nullopt = decide from the SQL
  std::optional<Millis> lock_timeout, statement_timeout;
  bool irreversible = false;
  SourcePos pos;                       // the [[phase.steps]] table
  SourcePos sql_pos, down_pos, check_pos;  // where the string values start (their opening quote)
  SourcePos set_pos, where_pos;            // backfill.set / backfill.where values
};

struct PhaseSpec {
  Phase phase = Phase::expand;
  std::vector<std::string> restart;
  std::vector<std::string> smoke;
  std::string start = "manual";  // contract only: manual | auto | after:DUR
  std::vector<Step> steps;
  SourcePos pos;
};

struct Plan {
  std::string id;
  std::string file;
  std::string description, release, release_commit;
  GuardSettings guards;
  PhaseSpec phases[3];
  SourcePos pos;
  std::string source;  // the file's text, to map offsets inside SQL strings back to line:column
  std::vector<const Step*> steps() const;  // every step in execution order
};

// Maps a byte offset inside a TOML string value (as decoded) to its file line:column.
SourcePos locate_in_string(const std::string& source, const SourcePos& value_pos, size_t decoded_offset);

// Loading: TOML syntax, keys and types. Problems are appended to `diags`; the model is as complete as it can be.
std::optional<Project> load_project(const std::string& file, Diagnostics& diags);
std::optional<Plan> load_plan(const std::string& file, Diagnostics& diags);
// Plans in plans_dir in file-name order: every entry named *.toml (except editor lock files ".#*") must be a
// regular file, or a symlink to one; a dangling symlink, a FIFO or a directory is reported, never opened.
std::vector<Plan> load_plans(const Project& project, Diagnostics& diags);
// Finds phasegate.toml in dir or its parents.
std::optional<std::string> find_project_file(const std::string& start_dir);

// Semantic validation: references, hooks, SQL syntax, duplicate names. Touches no database.
void validate_project(const Project& project, Diagnostics& diags);
void validate_plan(const Project& project, const Plan& plan, Diagnostics& diags);

// Scaffolding for `init` and `new`.
Result<std::vector<std::string>> scaffold_project(const std::string& dir, const std::string& name);
Result<std::string> scaffold_plan(const Project& project, const std::string& name);

}  // namespace phasegate
