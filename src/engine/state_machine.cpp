// The run lifecycle as an explicit table: (state, trigger) -> state, with the event it records.
#include "phasegate/engine.hpp"

namespace phasegate {

namespace {
using S = RunStatus;
using T = RunTrigger;

// Non-terminal: created, running, waiting (a phase gate: contract start, or --phase finished),
// blocked (a guard said wait, e.g. lock retries exhausted). Terminal: completed, failed, aborted.
constexpr RunTransition kRunTransitions[] = {
    {S::created, T::start, S::running, "run.started"},
    {S::running, T::resume, S::running, "run.resumed"},  // the process died mid-run; the lock holder resumes
    {S::waiting, T::resume, S::running, "run.resumed"},
    {S::blocked, T::resume, S::running, "run.resumed"},
    {S::running, T::phase_limit, S::waiting, "run.blocked"},
    {S::running, T::gate_closed, S::waiting, "run.blocked"},
    {S::running, T::lock_exhausted, S::blocked, "run.blocked"},
    {S::running, T::guard_wait, S::blocked, "run.blocked"},  // window closed mid-run, or --wait ran out
    {S::running, T::step_failed, S::failed, "run.failed"},
    {S::running, T::all_done, S::completed, "run.completed"},
    {S::created, T::abort, S::aborted, "run.aborted"},
    {S::running, T::abort, S::aborted, "run.aborted"},
    {S::waiting, T::abort, S::aborted, "run.aborted"},
    {S::blocked, T::abort, S::aborted, "run.aborted"},
};
}  // namespace

const char* run_status_name(RunStatus s) {
  switch (s) {
    case S::created: return "created";
    case S::running: return "running";
    case S::waiting: return "waiting";
    case S::blocked: return "blocked";
    case S::completed: return "completed";
    case S::failed: return "failed";
    case S::aborted: return "aborted";
  }
  return "?";
}

std::optional<RunStatus> parse_run_status(std::string_view s) {
  for (auto st : {S::created, S::running, S::waiting, S::blocked, S::completed, S::failed, S::aborted})
    if (s == run_status_name(st)) return st;
  return std::nullopt;
}

bool is_terminal(RunStatus s) { return s == S::completed || s == S::failed || s == S::aborted; }

const char* step_status_name(StepStatus s) {
  switch (s) {
    case StepStatus::pending: return "pending";
    case StepStatus::running: return "running";
    case StepStatus::completed: return "completed";
    case StepStatus::failed: return "failed";
    case StepStatus::rolled_back: return "rolled_back";
  }
  return "?";
}

std::optional<StepStatus> parse_step_status(std::string_view s) {
  for (auto st : {StepStatus::pending, StepStatus::running, StepStatus::completed, StepStatus::failed, StepStatus::rolled_back})
    if (s == step_status_name(st)) return st;
  return std::nullopt;
}

const char* trigger_name(RunTrigger t) {
  switch (t) {
    case T::start: return "start";
    case T::resume: return "resume";
    case T::phase_limit: return "phase_limit";
    case T::gate_closed: return "gate_closed";
    case T::lock_exhausted: return "lock_exhausted";
    case T::guard_wait: return "guard_wait";
    case T::step_failed: return "step_failed";
    case T::all_done: return "all_done";
    case T::abort: return "abort";
  }
  return "?";
}

std::span<const RunTransition> run_transitions() { return kRunTransitions; }

Result<RunTransition> next_transition(RunStatus from, RunTrigger on) {
  for (const auto& t : kRunTransitions)
    if (t.from == from && t.on == on) return t;
  return fail(Exit::internal, std::string("no transition from run state ") + run_status_name(from) + " on " +
                                  trigger_name(on) + " (a bug in phasegate)");
}

std::string describe_transitions() {
  std::string out;
  for (const auto& t : kRunTransitions)
    out += std::string(run_status_name(t.from)) + " --" + trigger_name(t.on) + "--> " + run_status_name(t.to) +
           " [" + t.event + "]\n";
  return out;
}

std::string Actor::label() const {
  std::string who = os_user + "@" + host;
  return principal.empty() ? who : principal + " (" + who + ")";
}

}  // namespace phasegate
