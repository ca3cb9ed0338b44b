#pragma once
// The run state machine (a transition table) and the executor that drives a plan through it.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "phasegate/backfill.hpp"
#include "phasegate/config.hpp"
#include "phasegate/guards.hpp"
#include "phasegate/ports.hpp"

namespace phasegate {

// ---- the state machine, as data -------------------------------------------------------------
enum class RunTrigger { start, resume, phase_limit, gate_closed, lock_exhausted, guard_wait, step_failed, all_done, abort };
const char* trigger_name(RunTrigger t);

struct RunTransition {
  RunStatus from;
  RunTrigger on;
  RunStatus to;
  const char* event;  // the event written when the transition happens
};
std::span<const RunTransition> run_transitions();
Result<RunTransition> next_transition(RunStatus from, RunTrigger on);
std::string describe_transitions();  // the table as text, one transition per line

// ---- digests and drift ---------------------------------------------------------------------------
std::string step_checksum(const Step& step);
std::string plan_digest(const Plan& plan);

struct Drift {
  std::string step;
  std::string applied_checksum, file_checksum;  // file_checksum empty: the step was removed from the file
  std::string applied_by;
  std::optional<TimePoint> applied_at;
  std::string describe(const std::string& plan_id) const;
};
std::vector<Drift> find_drift(const Plan& plan, const std::vector<StepRecord>& records);

struct PlanStatus {
  std::string plan_id;
  std::string state;  // applied | pending | running | waiting | failed | drifted
  int steps_total = 0, steps_done = 0;
  std::vector<std::string> pending;           // expand/migrate steps not completed
  std::vector<std::string> contract_pending;  // contract steps waiting for their start
  std::vector<Drift> drift;
  std::optional<RunRecord> run;
  bool fails_check() const { return !pending.empty() || !drift.empty(); }
};
PlanStatus plan_status(const Plan& plan, const std::vector<StepRecord>& records, const std::optional<RunRecord>& open);

// ---- the executor --------------------------------------------------------------------------------
struct RunOptions {
  std::optional<Phase> phase;  // nullopt = all phases (contract only when its start gate is open)
  std::string release_commit;
  // --wait[=DUR]: how long a closed window or missing approvals may be waited out (Millis::max(): no
  // limit). nullopt: exit 75 at once. Load guards always wait, bounded by this when it is set.
  std::optional<Millis> wait;
};

struct PlanOutcome {
  std::string plan_id;
  int64_t run_id = 0;
  RunStatus status = RunStatus::completed;
  Exit exit = Exit::ok;
  std::string message;
  int steps_applied = 0;
  std::string blocked_by;  // the guard that said wait ("window", "approvals", "lock", ...)
};

// What to undo (SPEC §1.1 [rollback]): `phasegate rollback PLAN`, a failed run, an aborted run.
struct RollbackRequest {
  int64_t run_id = 0;             // events are recorded under this run (0: none)
  bool only_this_run = true;      // false: every applied step of the plan (phasegate rollback PLAN)
  std::string phase;              // the phase the run reached: services of it and earlier phases restart again
  std::string reason;
  bool master = true;             // revert the release commit on master ([rollback] master)
  bool restart = true;            // restart the services so they run the reverted code
  std::string release_commit;
  std::optional<TimePoint> failed_at;  // when the failure was seen: the times below are measured from it
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
  // Creates or resumes the run of `plan` and drives it as far as the gates allow.
  PlanOutcome run_plan(const Plan& plan, const RunOptions& options);
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
  // Undoes a plan's applied steps (down SQL, newest first, with lock-timeout protection), then master and
  // the services, all within [rollback] timeout; marks the plan rolled_back (or failed when something is
  // left). Takes no run lock: the caller holds it.
  RollbackOutcome rollback(const Plan& plan, const RollbackRequest& request);

 private:
  struct Context;
  std::optional<Error> lint_pending(const Plan& plan, const std::vector<StepRecord>& records);
  Result<void> transition(Context& cx, RunTrigger on, const std::string& payload = "{}");
  Result<void> run_phase(Context& cx, const PhaseSpec& phase);
  Result<void> run_step(Context& cx, const Step& step);
  Result<void> run_transactional(Context& cx, const Step& step, const Timeouts& t);
  Result<void> run_outside_transaction(Context& cx, const Step& step, const Timeouts& t);
  Result<void> run_backfill(Context& cx, const Step& step, const Timeouts& t);
  std::optional<Error> abort_check(Context& cx);
  Result<void> with_lock_retries(Context& cx, const Step& step, const std::function<Result<void>()>& attempt);
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
  // Rollback (executor_rollback.cpp).
  PlanOutcome after_failure(Context& cx, PlanOutcome out, const Error& e, bool aborted);
  RollbackOutcome rollback_in(Context& cx, const RollbackRequest& request);
  bool revert_master(Context& cx, const std::string& commit, TimePoint deadline, RollbackOutcome& out);
  enum class Gate { run, phase, step };
  Result<guards::Verdict> verdict(Context& cx, Gate at);
  Result<void> guard_gate(Context& cx, Gate at);
  void crash(const std::string& point);

  const Project& project_;
  StateStore& store_;
  Target& target_;
  Clock& clock_;
  Actor actor_;
  CrashPoint crash_;
  std::function<void(const Event&)> observer_;
  GuardProbe* probe_ = nullptr;
  std::function<void(const backfill::Progress&)> progress_;
  ProcessRunner* runner_ = nullptr;
  HttpClient* http_ = nullptr;
};

}  // namespace phasegate
