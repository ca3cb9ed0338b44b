// The lifecycle tables (include/phasegate/lifecycle.hpp): steps, runs, plans. docs/state.md prints them.
#include "phasegate/lifecycle.hpp"

namespace phasegate {

namespace {
using SS = StepStatus;
using ST = StepTrigger;

constexpr StepStatus kStepStatuses[] = {SS::pending, SS::running, SS::completed, SS::failed, SS::undoing};
constexpr StepTrigger kStepTriggers[] = {ST::apply, ST::intend, ST::finish, ST::fail, ST::undo_begin,
                                         ST::undone, ST::no_undo, ST::mark_applied, ST::mark_pending};

constexpr StepTransition kStepTransitions[] = {
    // running a plan
    {SS::pending, ST::apply, SS::completed, "step.completed"},
    {SS::failed, ST::apply, SS::completed, "step.completed"},
    {SS::pending, ST::intend, SS::running, "step.started"},
    {SS::failed, ST::intend, SS::running, "step.started"},
    {SS::running, ST::intend, SS::running, "step.started"},  // resumed after a kill: the work is redone idempotently
    {SS::running, ST::finish, SS::completed, "step.completed"},
    {SS::pending, ST::fail, SS::failed, "step.failed"},
    {SS::running, ST::fail, SS::failed, "step.failed"},
    {SS::failed, ST::fail, SS::failed, "step.failed"},
    // rolling back (newest step first)
    {SS::completed, ST::undo_begin, SS::undoing, "rollback.step"},
    {SS::running, ST::undo_begin, SS::undoing, "rollback.step"},
    {SS::failed, ST::undo_begin, SS::undoing, "rollback.step"},
    {SS::undoing, ST::undo_begin, SS::undoing, "rollback.step"},  // a down cut short is run again (downs use IF EXISTS)
    {SS::completed, ST::undone, SS::pending, "rollback.step"},
    {SS::running, ST::undone, SS::pending, "rollback.step"},
    {SS::failed, ST::undone, SS::pending, "rollback.step"},
    {SS::undoing, ST::undone, SS::pending, "rollback.step"},
    {SS::completed, ST::no_undo, SS::pending, "rollback.step"},
    {SS::running, ST::no_undo, SS::pending, "rollback.step"},
    {SS::failed, ST::no_undo, SS::pending, "rollback.step"},
    // repair by hand
    {SS::pending, ST::mark_applied, SS::completed, "step.marked"},
    {SS::running, ST::mark_applied, SS::completed, "step.marked"},
    {SS::failed, ST::mark_applied, SS::completed, "step.marked"},
    {SS::undoing, ST::mark_applied, SS::completed, "step.marked"},
    {SS::completed, ST::mark_pending, SS::pending, "step.marked"},
    {SS::running, ST::mark_pending, SS::pending, "step.marked"},
    {SS::failed, ST::mark_pending, SS::pending, "step.marked"},
    {SS::undoing, ST::mark_pending, SS::pending, "step.marked"},
};

using S = RunStatus;
using T = RunTrigger;
constexpr RunStatus kRunStatuses[] = {S::created, S::running, S::waiting, S::blocked, S::completed, S::failed,
                                      S::aborted, S::rolling_back, S::rolled_back, S::rollback_incomplete};
constexpr RunTrigger kRunTriggers[] = {T::start, T::resume, T::phase_limit, T::gate_closed, T::lock_exhausted,
                                       T::guard_wait, T::all_done, T::fail, T::fail_hold, T::abort, T::abort_hold,
                                       T::interrupt, T::rollback, T::resume_rollback, T::rollback_done, T::rollback_left};

constexpr RunTransition kRunTransitions[] = {
    {S::created, T::start, S::running, "run.started"},
    {S::running, T::resume, S::running, "run.resumed"},  // the process died mid-run; the lock holder resumes
    {S::waiting, T::resume, S::running, "run.resumed"},
    {S::blocked, T::resume, S::running, "run.resumed"},
    {S::running, T::phase_limit, S::waiting, "run.blocked"},
    {S::running, T::gate_closed, S::waiting, "run.blocked"},
    {S::running, T::lock_exhausted, S::blocked, "run.blocked"},
    {S::running, T::guard_wait, S::blocked, "run.blocked"},  // window closed mid-run, or --wait ran out
    {S::running, T::all_done, S::completed, "run.completed"},
    {S::running, T::fail, S::rolling_back, "run.failed"},
    {S::running, T::fail_hold, S::failed, "run.failed"},
    {S::created, T::abort, S::rolling_back, "run.aborted"},
    {S::running, T::abort, S::rolling_back, "run.aborted"},
    {S::waiting, T::abort, S::rolling_back, "run.aborted"},
    {S::blocked, T::abort, S::rolling_back, "run.aborted"},
    {S::created, T::abort_hold, S::aborted, "run.aborted"},
    {S::running, T::abort_hold, S::aborted, "run.aborted"},
    {S::waiting, T::abort_hold, S::aborted, "run.aborted"},
    {S::blocked, T::abort_hold, S::aborted, "run.aborted"},
    {S::running, T::interrupt, S::blocked, "run.interrupted"},  // a signal to phasegate: resumable, like a guard's wait
    {S::created, T::rollback, S::rolling_back, "rollback.started"},  // a run made for `phasegate rollback PLAN`
    {S::running, T::rollback, S::rolling_back, "rollback.started"},  // its runner died (the caller holds the run lock)
    {S::waiting, T::rollback, S::rolling_back, "rollback.started"},  // the operator takes over an open run
    {S::blocked, T::rollback, S::rolling_back, "rollback.started"},
    {S::rollback_incomplete, T::rollback, S::rolling_back, "rollback.started"},  // try again after a human fixed it
    {S::rolling_back, T::resume_rollback, S::rolling_back, "rollback.resumed"},
    {S::rolling_back, T::rollback_done, S::rolled_back, "rollback.completed"},
    {S::rolling_back, T::rollback_left, S::rollback_incomplete, "rollback.failed"},
};

bool f_drift(const PlanFacts& f) { return f.drift; }
bool f_rolling(const PlanFacts& f) { return f.latest == S::rolling_back; }
bool f_incomplete(const PlanFacts& f) { return f.latest == S::rollback_incomplete; }
bool f_applied(const PlanFacts& f) { return f.all_applied; }
bool f_running(const PlanFacts& f) { return f.latest == S::running || f.latest == S::created; }
bool f_blocked(const PlanFacts& f) { return f.latest == S::blocked; }
bool f_waiting(const PlanFacts& f) { return f.contract_pending_only; }
bool f_failed(const PlanFacts& f) { return f.any_effect && (f.latest == S::failed || f.latest == S::aborted); }
bool f_rolled_back(const PlanFacts& f) { return !f.any_effect && f.latest == S::rolled_back; }
bool f_pending(const PlanFacts&) { return true; }

constexpr PlanRule kPlanRules[] = {
    {PlanState::drifted, "an applied step was edited or removed, or the plan's file is gone", f_drift},
    {PlanState::rolling_back, "its latest run is rolling back (or a rollback was cut short)", f_rolling},
    {PlanState::rollback_incomplete, "its latest run's rollback left something a human must undo", f_incomplete},
    {PlanState::applied, "every step is completed", f_applied},
    {PlanState::running, "its latest run is created or running", f_running},
    {PlanState::blocked, "its latest run waits for a guard (window, approvals, lock, load) or was interrupted by a signal", f_blocked},
    {PlanState::waiting, "expand and migrate are completed; the contract phase waits for its start", f_waiting},
    {PlanState::failed, "its latest run failed or was aborted without a rollback and steps are (part) applied", f_failed},
    {PlanState::rolled_back, "its latest run was rolled back and no step has an effect", f_rolled_back},
    {PlanState::pending, "otherwise", f_pending},
};
}  // namespace

const char* step_status_name(StepStatus s) {
  switch (s) {
    case SS::pending: return "pending";
    case SS::running: return "running";
    case SS::completed: return "completed";
    case SS::failed: return "failed";
    case SS::undoing: return "undoing";
  }
  return "?";
}

std::optional<StepStatus> parse_step_status(std::string_view s) {
  for (auto st : kStepStatuses)
    if (s == step_status_name(st)) return st;
  return std::nullopt;
}

const char* step_trigger_name(StepTrigger t) {
  switch (t) {
    case ST::apply: return "apply";
    case ST::intend: return "intend";
    case ST::finish: return "finish";
    case ST::fail: return "fail";
    case ST::undo_begin: return "undo_begin";
    case ST::undone: return "undone";
    case ST::no_undo: return "no_undo";
    case ST::mark_applied: return "mark_applied";
    case ST::mark_pending: return "mark_pending";
  }
  return "?";
}

std::span<const StepTransition> step_transitions() { return kStepTransitions; }
std::span<const StepStatus> all_step_statuses() { return kStepStatuses; }
std::span<const StepTrigger> all_step_triggers() { return kStepTriggers; }

Result<StepTransition> next_step_transition(StepStatus from, StepTrigger on) {
  for (const auto& t : kStepTransitions)
    if (t.from == from && t.on == on) return t;
  return fail(Exit::internal, std::string("no transition from step state ") + step_status_name(from) + " on " +
                                  step_trigger_name(on) + " (a bug in phasegate)");
}

Result<StepRecord> step_after(const StepRecord& rec, StepTrigger on) {
  auto t = next_step_transition(rec.status, on);
  if (!t) return std::unexpected(t.error());
  StepRecord out = rec;
  out.status = t->to;
  // Failing from `running` (intent recorded, work outside one transaction) may leave part of the effect.
  if (on == ST::fail) out.partial = rec.status == SS::running || (rec.status == SS::failed && rec.partial);
  if (t->to != SS::failed) out.partial = false;
  if (t->to == SS::pending) {  // nothing of it is in the database: no progress to resume from
    out.cursor.clear();
    out.finished_at.reset();
    out.applied_by.clear();
    out.down_checksum.clear();
  }
  if (t->to == SS::completed) out.error.clear();
  return out;
}

bool step_may_have_effect(StepStatus s) { return s != SS::pending; }

bool record_has_effect(const StepRecord& rec) {
  switch (rec.status) {
    case SS::pending: return false;
    case SS::completed:
    case SS::undoing:
    case SS::running: return true;  // intent recorded: its work may have started (a kill loses what came after)
    case SS::failed: return rec.partial;
  }
  return true;
}

const char* run_status_name(RunStatus s) {
  switch (s) {
    case S::created: return "created";
    case S::running: return "running";
    case S::waiting: return "waiting";
    case S::blocked: return "blocked";
    case S::completed: return "completed";
    case S::failed: return "failed";
    case S::aborted: return "aborted";
    case S::rolling_back: return "rolling_back";
    case S::rolled_back: return "rolled_back";
    case S::rollback_incomplete: return "rollback_incomplete";
  }
  return "?";
}

std::optional<RunStatus> parse_run_status(std::string_view s) {
  for (auto st : kRunStatuses)
    if (s == run_status_name(st)) return st;
  return std::nullopt;
}

bool is_open(RunStatus s) {
  return s == S::created || s == S::running || s == S::waiting || s == S::blocked || s == S::rolling_back;
}
bool is_terminal(RunStatus s) { return !is_open(s); }

const char* trigger_name(RunTrigger t) {
  switch (t) {
    case T::start: return "start";
    case T::resume: return "resume";
    case T::phase_limit: return "phase_limit";
    case T::gate_closed: return "gate_closed";
    case T::lock_exhausted: return "lock_exhausted";
    case T::guard_wait: return "guard_wait";
    case T::all_done: return "all_done";
    case T::fail: return "fail";
    case T::fail_hold: return "fail_hold";
    case T::abort: return "abort";
    case T::abort_hold: return "abort_hold";
    case T::interrupt: return "interrupt";
    case T::rollback: return "rollback";
    case T::resume_rollback: return "resume_rollback";
    case T::rollback_done: return "rollback_done";
    case T::rollback_left: return "rollback_left";
  }
  return "?";
}

std::span<const RunTransition> run_transitions() { return kRunTransitions; }
std::span<const RunStatus> all_run_statuses() { return kRunStatuses; }
std::span<const RunTrigger> all_run_triggers() { return kRunTriggers; }

Result<RunTransition> next_transition(RunStatus from, RunTrigger on) {
  for (const auto& t : kRunTransitions)
    if (t.from == from && t.on == on) return t;
  return fail(Exit::internal, std::string("no transition from run state ") + run_status_name(from) + " on " +
                                  trigger_name(on) + " (a bug in phasegate)");
}

const char* plan_state_name(PlanState s) {
  switch (s) {
    case PlanState::drifted: return "drifted";
    case PlanState::rolling_back: return "rolling_back";
    case PlanState::rollback_incomplete: return "rollback_incomplete";
    case PlanState::applied: return "applied";
    case PlanState::running: return "running";
    case PlanState::blocked: return "blocked";
    case PlanState::waiting: return "waiting";
    case PlanState::failed: return "failed";
    case PlanState::rolled_back: return "rolled_back";
    case PlanState::pending: return "pending";
  }
  return "?";
}

std::span<const PlanRule> plan_rules() { return kPlanRules; }

PlanState derive_plan_state(const PlanFacts& f) {
  for (const auto& r : kPlanRules)
    if (r.holds(f)) return r.state;
  return PlanState::pending;
}

std::string describe_lifecycle() {
  std::string out = "## Steps\n\n| from | trigger | to | event |\n|---|---|---|---|\n";
  for (const auto& t : kStepTransitions)
    out += std::string("| `") + step_status_name(t.from) + "` | " + step_trigger_name(t.on) + " | `" +
           step_status_name(t.to) + "` | `" + t.event + "` |\n";
  out += "\n## Runs\n\n| from | trigger | to | event |\n|---|---|---|---|\n";
  for (const auto& t : kRunTransitions)
    out += std::string("| `") + run_status_name(t.from) + "` | " + trigger_name(t.on) + " | `" + run_status_name(t.to) +
           "` | `" + t.event + "` |\n";
  out += "\n## Plans (derived; the first rule that holds)\n\n| state | when |\n|---|---|\n";
  for (const auto& r : kPlanRules) out += std::string("| `") + plan_state_name(r.state) + "` | " + r.when + " |\n";
  return out;
}

std::string Actor::label() const {
  std::string who = os_user + "@" + host;
  return principal.empty() ? who : principal + " (" + who + ")";
}

}  // namespace phasegate
