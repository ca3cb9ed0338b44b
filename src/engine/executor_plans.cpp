// Many plans (SPEC §5.1): file-name order, phase by phase. A plan whose contract phase waits for its start
// does not hold back the expand and migrate phases of the plans after it; their contract phases wait for it.
#include "engine/executor_context.hpp"

namespace phasegate {

OrderedOutcome Executor::run_in_order(const std::vector<const Plan*>& plans, const RunOptions& options,
                                      const std::function<Result<RunOptions>(const Plan&, RunOptions)>& prepare,
                                      const std::function<void(const PlanOutcome&)>& done) {
  OrderedOutcome all;
  std::string held = options.contract_held_by;
  for (const Plan* plan : plans) {
    RunOptions o = options;
    o.contract_held_by = held;
    if (prepare) {
      auto prepared = prepare(*plan, o);
      if (!prepared && !store_.connected()) {  // the session broke between plans: reconnect, then ask again
        if (auto r = reconnect(plan->id, 0, "the session to the target database broke between plans"); !r) prepared = std::unexpected(r.error());
        else prepared = prepare(*plan, o);
      }
      if (!prepared) {
        all.exit = prepared.error().code;
        all.message = prepared.error().message;
        return all;
      }
      o = *prepared;
    }
    PlanOutcome out = run_plan(*plan, o);
    all.plans.push_back(out);
    if (done) done(out);
    if (out.exit != Exit::ok) {
      all.exit = out.exit;
      all.message = out.message;
      return all;
    }
    if (out.contract_waiting) all.waiting.push_back(plan->id);
    auto after = store_.steps(plan->id);
    if (!after && !store_.connected()) {
      if (auto r = reconnect(plan->id, out.run_id, "the session to the target database broke between plans"); !r) {
        all.exit = r.error().code;
        all.message = r.error().message;
        return all;
      }
      after = store_.steps(plan->id);
    }
    if (!after) {
      all.exit = Exit::needs_human;
      all.message = "could not read the state of plan " + plan->id + ": " + after.error().message;
      return all;
    }
    if (held.empty() && !plan_status(*plan, *after, std::nullopt).contract_pending.empty()) held = plan->id;
  }
  return all;
}

}  // namespace phasegate
