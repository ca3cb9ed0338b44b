// Drift detection and per-plan status, computed from the plan file and the recorded steps.
#include <map>

#include "phasegate/engine.hpp"

namespace phasegate {

namespace {
std::string iso_utc(TimePoint t) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
}  // namespace

std::string Drift::describe(const std::string& plan_id) const {
  std::string when = applied_at ? " at " + iso_utc(*applied_at) : "";
  std::string who = applied_by.empty() ? "" : " by " + applied_by;
  if (file_checksum.empty())
    return "plan " + plan_id + ": step \"" + step + "\" was applied" + when + who +
           " but is no longer in the plan file (applied checksum " + applied_checksum.substr(0, 12) + ")";
  return "plan " + plan_id + ": step \"" + step + "\" was edited after it was applied" + when + who +
         ": applied checksum " + applied_checksum.substr(0, 12) + ", file checksum " + file_checksum.substr(0, 12) +
         ". Restore the applied SQL and put the change in a new plan";
}

std::vector<Drift> find_drift(const Plan& plan, const std::vector<StepRecord>& records) {
  std::map<std::string, const Step*> by_name;
  for (const Step* s : plan.steps()) by_name[s->name] = s;
  std::vector<Drift> out;
  for (const auto& r : records) {
    if (r.status != StepStatus::completed) continue;
    auto it = by_name.find(r.step);
    std::string now = it == by_name.end() ? "" : step_checksum(*it->second);
    if (now != r.checksum) out.push_back(Drift{r.step, r.checksum, now, r.applied_by, r.finished_at});
  }
  return out;
}

PlanStatus plan_status(const Plan& plan, const std::vector<StepRecord>& records, const std::optional<RunRecord>& open) {
  PlanStatus st;
  st.plan_id = plan.id;
  st.run = open;
  st.drift = find_drift(plan, records);
  std::map<std::string, const StepRecord*> by_name;
  for (const auto& r : records) by_name[r.step] = &r;
  bool any_failed = false;
  for (const Step* s : plan.steps()) {
    ++st.steps_total;
    auto it = by_name.find(s->name);
    bool done = it != by_name.end() && it->second->status == StepStatus::completed;
    if (it != by_name.end() && it->second->status == StepStatus::failed) any_failed = true;
    if (done) ++st.steps_done;
    else if (s->phase == Phase::contract) st.contract_pending.push_back(s->name);
    else st.pending.push_back(s->name);
  }
  if (!st.drift.empty()) st.state = "drifted";
  else if (st.steps_done == st.steps_total) st.state = "applied";
  else if (open && open->status == RunStatus::running) st.state = "running";
  else if (any_failed) st.state = "failed";
  else if (open && (open->status == RunStatus::waiting || open->status == RunStatus::blocked)) st.state = "waiting";
  else st.state = "pending";
  return st;
}

}  // namespace phasegate
