#pragma once
// The Executor's per-run state, shared by its translation units (executor.cpp: the run, phases, steps;
// executor_guards.cpp: guard gates and abort; executor_backfill.cpp: backfill batches). Private to src/engine.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "phasegate/engine.hpp"

namespace phasegate {

using json = nlohmann::json;

// A blocker for messages ("pid 42 (user u, application 'psql', idle in transaction ...): SELECT ...") and events.
std::string describe_blocker(const Blocker& b);
json blockers_json(const std::vector<Blocker>& bs);

struct Executor::Context {
  const Plan& plan;
  RunOptions options;
  Guards guards;
  std::string digest;
  RunRecord run;
  std::map<std::string, StepRecord> records;
  int applied = 0;
  // Guard waiting: the guard currently saying wait (verdict changes are events) and the --wait deadline.
  std::string waiting_on;
  TimePoint wait_since{};
  std::optional<TimePoint> wait_deadline;
  std::string blocked_by;
  // An operator's abort was acted on (the run is rolling back or stopped): the rollback's own programs and
  // waits are not interrupted by the same request again.
  bool abort_seen = false;
  bool contract_waiting = false;
  // While a backfill runs: its table (the health stops ask about it), when they are next due, and its latest
  // progress (a health stop shows why it paused in it).
  std::string backfill_table;
  TimePoint health_due{};
  std::optional<backfill::Progress> backfill_progress;
  // The approvals that met the quorum at the run's gate (id and principal), kept in run.started / run.resumed.
  std::vector<guards::CountedApproval> approved_by;
};

// A state-store read or write that failed is not "the run failed and was rolled back" (exit 1): the run stays
// as it was last recorded and the next run resumes it; a human should look (exit 5).
inline PlanOutcome refused(PlanOutcome out, const Error& e) {
  out.exit = e.code == Exit::failed ? Exit::needs_human : e.code;
  out.message = e.code == Exit::failed ? "could not read or record the state of plan " + out.plan_id + " (" + e.message +
                                             "); nothing more was done, the next phasegate run resumes from what is recorded"
                                       : e.message;
  return out;
}

}  // namespace phasegate
