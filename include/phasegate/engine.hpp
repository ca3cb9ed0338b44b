#pragma once
// The executor that drives a plan through the lifecycle tables (lifecycle.hpp), digests, drift and status.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "phasegate/backfill.hpp"
#include "phasegate/broadcast.hpp"
#include "phasegate/config.hpp"
#include "phasegate/guards.hpp"
#include "phasegate/lifecycle.hpp"
#include "phasegate/ports.hpp"
#include "phasegate/sql.hpp"

namespace phasegate {

// ---- digests and drift ---------------------------------------------------------------------------
std::string step_checksum(const Step& step);
std::string plan_digest(const Plan& plan);

struct Drift {
  std::string step;
  std::string applied_checksum, file_checksum;  // file_checksum empty: the step was removed from the file
  std::string applied_by;
  std::optional<TimePoint> applied_at;
  std::string message;  // set instead of the fields above when the whole plan file is gone
  std::string describe(const std::string& plan_id) const;
};
std::vector<Drift> find_drift(const Plan& plan, const std::vector<StepRecord>& records);
// Exit::invalid naming every drift ("refusing to DOING: ..."), or nullopt when the file matches the records.
std::optional<Error> drift_error(const Plan& plan, const std::vector<StepRecord>& records, const std::string& doing);

// A plan's status as `status`, `status --check`, `plan` and /status report it: derived from what the
// database holds (lifecycle.hpp's plan rules).
struct PlanStatus {
  std::string plan_id;
  PlanState state = PlanState::pending;
  bool file_missing = false;  // known to the database, but no plan file has this id
  int steps_total = 0, steps_done = 0;
  std::vector<std::string> pending;           // expand/migrate steps not completed
  std::vector<std::string> contract_pending;  // contract steps not completed
  std::vector<std::string> part_applied;      // steps stopped part-way (running / failed / undoing)
  std::vector<Drift> drift;
  std::vector<std::string> down_changed;      // applied steps whose `down` was edited since
  std::optional<RunRecord> run;               // the latest run
  bool fails_check() const {
    return !pending.empty() || !drift.empty() || file_missing || state == PlanState::rolling_back ||
           state == PlanState::rollback_incomplete || !part_applied.empty();
  }
};
PlanStatus plan_status(const Plan& plan, const std::vector<StepRecord>& records, const std::optional<RunRecord>& latest);
// A plan the database knows (steps with effects) whose file is gone; `renamed_to`: a plan file whose steps
// have the same checksums (the file was probably renamed).
PlanStatus missing_plan_status(const KnownPlan& known, const std::optional<RunRecord>& latest, const std::string& renamed_to);
// Plans the database knows but the plan files do not; each with the id of a loaded plan it was probably renamed to.
std::vector<std::pair<KnownPlan, std::string>> vanished_plans(const std::vector<KnownPlan>& known, const std::vector<Plan>& plans);
std::string describe_vanished(const KnownPlan& known, const std::string& renamed_to);

// The timeouts of one statement of a step: a CONCURRENTLY statement waits for every older transaction of the
// database, which lock_timeout counts; it gets [guards] concurrent_lock_timeout (unless the step sets its own
// lock_timeout), bounded by statement_timeout (executor_concurrent.cpp).
Timeouts statement_timeouts(const Step& step, const Guards& g, const sql::Statement& st);

// ---- the executor --------------------------------------------------------------------------------
struct RunOptions {
  std::optional<Phase> phase;  // nullopt = all phases (contract only when its start gate is open)
  std::string release_commit;
  // --wait[=DUR]: how long a closed window or missing approvals may be waited out (Millis::max(): no
  // limit). nullopt: exit 75 at once. Load guards always wait, bounded by this when it is set.
  std::optional<Millis> wait;
  // Contract phases run in plan order: the id of an earlier plan whose contract phase is not done ("": none).
  std::string contract_held_by;
};

struct PlanOutcome {
  std::string plan_id;
  int64_t run_id = 0;
  RunStatus status = RunStatus::completed;
  Exit exit = Exit::ok;
  std::string message;
  int steps_applied = 0;
  std::string blocked_by;  // the guard that said wait ("window", "approvals", "lock", ...)
  bool contract_waiting = false;  // expand and migrate are done; the contract phase waits for its start
};

// run over many plans (Executor::run_in_order): each plan's outcome, the first failure's exit, and the plans
// whose contract phase waits for its start.
struct OrderedOutcome {
  std::vector<PlanOutcome> plans;
  Exit exit = Exit::ok;
  std::string message;  // of the plan that stopped the run (or of `prepare`)
  std::vector<std::string> waiting;
};

// What to undo besides the database (SPEC §1.1 [rollback]).
struct RollbackRequest {
  std::string reason;
  bool master = true;   // revert the release commit on master ([rollback] master)
  bool restart = true;  // restart the services of the phases the run reached, so they run the reverted code
  std::optional<TimePoint> failed_at;  // when the failure was seen: the times below are measured from it
  bool announced = false;  // the run's own transition already recorded rollback.started
};
struct RollbackOutcome {
  bool complete = true;
  std::vector<std::string> undone;  // what was done, in order
  std::vector<std::string> notes;   // what was deliberately left alone (irreversible steps, no release commit)
  std::vector<std::string> left;    // what a human must still do, each with why
  std::optional<Millis> database_done, master_done, services_done, total;  // after failed_at (or the start)
  std::string summary() const;
};

class Executor {
 public:
  Executor(const Project& project, StateStore& store, Target& target, Clock& clock, Actor actor,
           CrashPoint crash = nullptr);
  // Creates or resumes the run of `plan` and drives it as far as the gates allow. A connection lost on the
  // way (server restart, failover) is reconnected within [database] reconnect_timeout and the run resumed
  // from what the database says (a step whose commit was cut off is read back, never applied twice);
  // Exit::blocked (75, resumable) when the server does not come back in time.
  PlanOutcome run_plan(const Plan& plan, const RunOptions& options);
  // `plans` in file-name order, phase by phase (SPEC §5.1), stopping at the first that does not exit 0.
  // `prepare` may adjust each plan's options (its release commit) or refuse; `done` sees each outcome.
  OrderedOutcome run_in_order(const std::vector<const Plan*>& plans, const RunOptions& options,
                              const std::function<Result<RunOptions>(const Plan&, RunOptions)>& prepare = nullptr,
                              const std::function<void(const PlanOutcome&)>& done = nullptr);
  // Called after each event is durably recorded (progress output).
  void on_event(std::function<void(const Event&)> observer) { observer_ = std::move(observer); }
  // Facts for the approval and load guards; required when a plan uses them.
  void set_guard_probe(GuardProbe* probe) { probe_ = probe; }
  // Called after every backfill batch (the CLI draws a progress bar or logs a line).
  void on_progress(std::function<void(const backfill::Progress&)> f) { progress_ = std::move(f); }
  // Hooks, command steps, service restarts (runner) and HTTP health/smoke checks (http).
  void set_operations(ProcessRunner* runner, HttpClient* http) {
    runner_ = runner;
    http_ = http;
  }
  // `phasegate rollback PLAN`: undoes the plan's applied steps (down SQL, newest first, with lock-timeout
  // protection) on its open run, its rollback_incomplete run or a new one; refused (exit 5) once a contract
  // step applied. A rollback cut short is finished first. Takes no run lock: the caller holds it.
  PlanOutcome rollback_plan(const Plan& plan, const std::string& reason);
  // `phasegate abort RUN` of a run nobody drives (its runner is gone, or it waits at a gate): the abort
  // transition, then a rollback per [rollback]. The caller holds the run lock.
  PlanOutcome abort_run(const Plan& plan, const RunRecord& run, const std::string& by);
  // `phasegate mark PLAN STEP --applied|--pending`: a human's repair, an audited step.marked event.
  Result<void> mark_step(const Plan& plan, const std::string& step, bool applied, const std::string& reason);

 private:
  struct Context;
  Context context_for(const Plan& plan, const RunOptions& options);
  Result<std::vector<StepRecord>> load_records(Context& cx);  // the plan's recorded steps, into cx.records too
  std::optional<Error> lint_pending(const Plan& plan, const std::vector<StepRecord>& records);
  std::optional<Error> refusal(Context& cx, const std::optional<RunRecord>& latest);
  std::optional<PlanOutcome> begin_run(Context& cx, PlanOutcome& out, bool open);
  PlanOutcome run_plan_once(const Plan& plan, const RunOptions& options);
  // A signal to phasegate is pending (and no rollback shields it): the interrupted error, else nothing.
  std::optional<Error> interrupted(Context& cx);
  // A program of the run (or a server restart it caused) broke the session while nothing of ours was in
  // flight: reconnect and reclaim the run in place, so its known outcome is recorded (not replayed).
  Result<void> reconnect_in_place(Context& cx);
  // After the state store's session broke: reconnects (backoff, reconnect_timeout) and records
  // run.reconnected; the error (exit 75 or the signal's) when it did not come back.
  Result<void> reconnect(const std::string& plan_id, int64_t run_id, const std::string& what_broke);
  PlanOutcome drive_phases(Context& cx, PlanOutcome out);
  Result<void> transition(Context& cx, RunTrigger on, const std::string& payload = "{}");
  Result<void> run_phase(Context& cx, const PhaseSpec& phase);
  PlanOutcome stop_phase(Context& cx, PlanOutcome out, const Error& e);
  Result<void> run_step(Context& cx, const Step& step);
  Result<void> run_transactional(Context& cx, const Step& step, const Timeouts& t);
  Result<void> run_outside_transaction(Context& cx, const Step& step, const Timeouts& t, const sql::Script& script,
                                       bool resuming);
  Result<void> run_backfill(Context& cx, const Step& step, const Timeouts& t);
  std::optional<Error> abort_check(Context& cx);
  Error aborted_by(Context& cx, const std::string& by);
  // timeout_name/timeout: what the message says ran out (default: the step's lock_timeout).
  Result<void> with_lock_retries(Context& cx, const Step& step, const std::function<Result<void>()>& attempt,
                                 const char* timeout_name = "lock_timeout", std::optional<Millis> timeout = std::nullopt);
  // CONCURRENTLY statements (executor_concurrent.cpp).
  Result<void> run_concurrent(Context& cx, const Step& step, const sql::Statement& st, const Timeouts& t, bool resuming);
  // Drops the invalid indexes the step's unfinished CREATE INDEX CONCURRENTLY left; true when the step is nothing
  // but such builds and none of them is valid (nothing else to undo).
  Result<bool> drop_invalid_indexes(Context& cx, const Step& step, const Timeouts& t);
  Result<void> emit(Context& cx, const std::string& kind, const std::string& phase, const std::string& step,
                    const std::string& payload = "{}");
  std::optional<std::string> contract_gate_closed(Context& cx, const PhaseSpec& contract);
  // Operations (executor_operations.cpp): command steps, restarts, health and smoke checks.
  Result<void> run_command_step(Context& cx, const Step& step, const Timeouts& t);
  Result<void> finish_phase(Context& cx, const PhaseSpec& spec);
  Result<bool> needs_finish(Context& cx, const PhaseSpec& spec);
  Result<void> restart_service(Context& cx, const std::string& phase, const std::string& name,
                               std::optional<TimePoint> deadline = std::nullopt);
  Result<void> run_smoke(Context& cx, const std::string& phase, const std::string& name);
  Result<bool> healthy_once(Context& cx, const Service& service, Millis timeout, std::string& why);
  ProcessSpec hook(Context& cx, std::vector<std::string> argv, const std::string& event, const std::string& phase,
                   const std::string& step, Millis timeout, bool secrets = false);
  Result<ProcessResult> run_program(Context& cx, const ProcessSpec& spec);
  // Lifecycle writes (executor.cpp): each state change committed with its event.
  StepRecord& record_of(Context& cx, const Step& step);
  Result<StateChange> step_change(Context& cx, const Step& step, StepTrigger on, const std::string& payload);
  Result<void> step_to(Context& cx, const Step& step, StepTrigger on, const std::string& payload = "{}");
  void observe(const StateChange& change);
  // Rollback (executor_rollback.cpp).
  PlanOutcome after_failure(Context& cx, PlanOutcome out, const Error& e, bool aborted);
  PlanOutcome roll_back(Context& cx, PlanOutcome out, const RollbackRequest& request);
  PlanOutcome resume_rollback(Context& cx, PlanOutcome out);
  RollbackOutcome rollback_in(Context& cx, const RollbackRequest& request);
  bool undo_step(Context& cx, const Step& step, TimePoint deadline, RollbackOutcome& out);
  bool revert_master(Context& cx, const std::string& commit, TimePoint deadline, RollbackOutcome& out);
  std::optional<std::string> past_point_of_no_return(Context& cx);
  enum class Gate { run, phase, step };
  Result<guards::Verdict> verdict(Context& cx, Gate at);
  Result<void> guard_gate(Context& cx, Gate at);
  void crash(const std::string& point);
  // [announce] (executor_announce.cpp): the broadcast a run sets by itself, committed with status.announced.
  void announce(int64_t run_id, const std::string& plan_id, const std::string& phase, RunMoment moment);
  void announce_outcome(const PlanOutcome& out);

  const Project& project_;
  StateStore& store_;
  Target& target_;
  Clock& clock_;
  Actor actor_;
  CrashPoint crash_;
  std::function<void(const Event&)> observer_;
  // The last reconnect that gave up (the server stayed away, or another runner holds the lock): the command
  // stops with it, it does not try again with a fresh budget.
  std::optional<Error> gave_up_;
  GuardProbe* probe_ = nullptr;
  std::function<void(const backfill::Progress&)> progress_;
  ProcessRunner* runner_ = nullptr;
  HttpClient* http_ = nullptr;
};

}  // namespace phasegate
