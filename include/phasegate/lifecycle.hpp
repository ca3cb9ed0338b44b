#pragma once
// The lifecycle of steps, runs and plans as data (SPEC §5.1, docs/state.md): transition tables that say,
// for a state and a trigger, the next state and the event recorded with it. Every state change goes through
// these tables, and is committed in the same transaction as its event (StateStore::commit).
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "phasegate/error.hpp"
#include "phasegate/ports.hpp"

namespace phasegate {

// ---- steps -------------------------------------------------------------------------------------------
enum class StepTrigger {
  apply,         // a transactional step's SQL committed with its record
  intend,        // intent recorded before work that cannot share a transaction (CONCURRENTLY, backfill, command)
  finish,        // that work is done
  fail,          // the step failed (its transaction rolled back; a non-transactional one may be part-done)
  undo_begin,    // intent recorded before a non-transactional down
  undone,        // its down ran: the effect is gone
  no_undo,       // nothing to undo (no effect, or an effect that needs no undo): pending again as it is
  mark_applied,  // `phasegate mark PLAN STEP --applied`: a human says the effect is there
  mark_pending,  // `phasegate mark PLAN STEP --pending`: a human says it is not
};
const char* step_trigger_name(StepTrigger t);

struct StepTransition {
  StepStatus from;
  StepTrigger on;
  StepStatus to;
  const char* event;  // the event committed with it
};
std::span<const StepTransition> step_transitions();
std::span<const StepStatus> all_step_statuses();
std::span<const StepTrigger> all_step_triggers();
Result<StepTransition> next_step_transition(StepStatus from, StepTrigger on);
// The one writer of StepRecord::status: the record after the transition (pending again = cursor and error
// cleared; applied = error cleared). Exit::internal when the table has no such transition.
Result<StepRecord> step_after(const StepRecord& rec, StepTrigger on);
// Whether the step's effect may be (partly) in the database: completed, or stopped part-way.
bool step_may_have_effect(StepStatus s);

// ---- runs --------------------------------------------------------------------------------------------
enum class RunTrigger {
  start, resume, phase_limit, gate_closed, lock_exhausted, guard_wait, all_done,
  fail,             // a step/service/smoke check failed and [rollback] on_failure = "rollback"
  fail_hold,        // ... and nothing may be rolled back: on_failure = "pause", or past the point of no return
  abort,            // an operator aborted; roll back
  abort_hold,       // ... and nothing may (or needs to) be rolled back
  interrupt,        // phasegate got SIGINT/SIGTERM/SIGHUP: stopped where it was, resumed by the next run
  rollback,         // `phasegate rollback PLAN` takes over the plan's run (or a new one)
  resume_rollback,  // a rollback cut short (crash, server restart) is continued
  rollback_done,    // every step of the plan is pending again, master and services done
  rollback_left,    // something could not be undone: a human must act
};
const char* trigger_name(RunTrigger t);

struct RunTransition {
  RunStatus from;
  RunTrigger on;
  RunStatus to;
  const char* event;  // the event committed with it
};
std::span<const RunTransition> run_transitions();
std::span<const RunStatus> all_run_statuses();
std::span<const RunTrigger> all_run_triggers();
Result<RunTransition> next_transition(RunStatus from, RunTrigger on);
// Open runs are resumed by the next command that touches their plan; terminal ones never change again
// (but for rollback_incomplete, which `phasegate rollback PLAN` takes up again).
bool is_open(RunStatus s);

// ---- plans -------------------------------------------------------------------------------------------
// A plan's state is derived, never stored apart from its evidence: from its steps, its latest run and
// whether its file is still there. The rules are tried in order; the first that holds names the state.
enum class PlanState { drifted, rolling_back, rollback_incomplete, applied, running, blocked, waiting, failed, rolled_back, pending };
const char* plan_state_name(PlanState s);
struct PlanFacts {
  bool drift = false;            // an applied step's checksum differs, or its file is gone
  bool all_applied = false;      // every step completed
  bool any_effect = false;       // some step completed or stopped part-way
  bool contract_pending_only = false;  // expand and migrate completed, contract not
  std::optional<RunStatus> latest;     // the plan's latest run
};
struct PlanRule {
  PlanState state;
  const char* when;  // the rule in words, for docs/state.md
  bool (*holds)(const PlanFacts&);
};
std::span<const PlanRule> plan_rules();
PlanState derive_plan_state(const PlanFacts& f);

// The tables as markdown (docs/state.md is generated from this; a unit test keeps it true).
std::string describe_lifecycle();

}  // namespace phasegate
