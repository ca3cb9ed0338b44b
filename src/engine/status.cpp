// Drift detection and per-plan status, computed from the plan file and the recorded steps.
#include <algorithm>
#include <map>

#include "phasegate/engine.hpp"
#include "phasegate/text.hpp"

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
  if (!message.empty()) return message;
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
    // Applied, or stopped part-way: resuming or undoing an edited step would mix two versions of it.
    if (!record_has_effect(r)) continue;
    auto it = by_name.find(r.step);
    std::string now = it == by_name.end() ? "" : step_checksum(*it->second);
    Drift d{r.step, r.checksum, now, r.applied_by, r.finished_at, ""};
    const char* part = r.status == StepStatus::completed ? "" : " (part-applied: " ;
    if (now != r.checksum && r.status != StepStatus::completed && !now.empty())
      d.message = "plan " + plan.id + ": step \"" + r.step + "\" was edited while it was" + part + step_status_name(r.status) +
                  "): applied checksum " + r.checksum.substr(0, 12) + ", file checksum " + now.substr(0, 12) +
                  ". Resuming or undoing it would mix two versions: restore the file, then finish it or roll it back";
    if (now == r.checksum && it != by_name.end() && !r.phase.empty() && r.phase != phase_name(it->second->phase))
      d.message = "plan " + plan.id + ": step \"" + r.step + "\" was moved from the " + r.phase + " phase to " +
                  phase_name(it->second->phase) + " after it was applied; restore the file (the contract phase is the point of no return)";
    if (now != r.checksum || !d.message.empty()) out.push_back(d);
  }
  return out;
}

PlanStatus plan_status(const Plan& plan, const std::vector<StepRecord>& records, const std::optional<RunRecord>& latest) {
  PlanStatus st;
  st.plan_id = plan.id;
  st.run = latest;
  st.drift = find_drift(plan, records);
  std::map<std::string, const StepRecord*> by_name;
  for (const auto& r : records) by_name[r.step] = &r;
  bool any_effect = false;
  for (const Step* s : plan.steps()) {
    ++st.steps_total;
    auto it = by_name.find(s->name);
    StepStatus status = it == by_name.end() ? StepStatus::pending : it->second->status;
    any_effect = any_effect || step_may_have_effect(status);
    if (status == StepStatus::running || status == StepStatus::failed || status == StepStatus::undoing)
      st.part_applied.push_back(s->name);
    if (status == StepStatus::completed) {
      ++st.steps_done;
      std::string down = s->down.empty() ? "" : sql::checksum(s->down);
      if (!it->second->down_checksum.empty() && down != it->second->down_checksum) st.down_changed.push_back(s->name);
    } else if (s->phase == Phase::contract) {
      st.contract_pending.push_back(s->name);
    } else {
      st.pending.push_back(s->name);
    }
  }
  PlanFacts f;
  f.drift = !st.drift.empty();
  f.all_applied = st.steps_done == st.steps_total;
  f.any_effect = any_effect;
  f.contract_pending_only = st.pending.empty() && !st.contract_pending.empty() && st.part_applied.empty();
  if (latest) f.latest = latest->status;
  st.state = derive_plan_state(f);
  return st;
}

std::vector<std::pair<KnownPlan, std::string>> vanished_plans(const std::vector<KnownPlan>& known, const std::vector<Plan>& plans) {
  std::vector<std::pair<KnownPlan, std::string>> out;
  for (const auto& k : known) {
    if (std::any_of(plans.begin(), plans.end(), [&](const Plan& p) { return p.id == k.plan_id; })) continue;
    // Renamed: a plan file whose steps carry the checksums the vanished plan was applied with.
    std::string renamed;
    for (const auto& p : plans) {
      bool same = true;
      for (const auto& r : k.steps) {
        auto steps = p.steps();
        auto it = std::find_if(steps.begin(), steps.end(), [&](const Step* s) { return s->name == r.step; });
        if (it == steps.end() || (r.status == StepStatus::completed && step_checksum(**it) != r.checksum)) same = false;
      }
      if (same) renamed = p.id;
    }
    out.emplace_back(k, renamed);
  }
  return out;
}

std::string describe_vanished(const KnownPlan& known, const std::string& renamed_to) {
  std::vector<std::string> applied;
  for (const auto& r : known.steps)
    if (step_may_have_effect(r.status)) applied.push_back(r.step);
  std::string s = "plan " + known.plan_id + " has applied steps (" + join(applied, ", ") + ") but no plan file has that id any more";
  if (!renamed_to.empty())
    s += "; plan " + renamed_to + " has the same steps, so its file was probably renamed: give it back its name (or set id = \"" +
         known.plan_id + "\" in [plan])";
  else
    s += "; restore plans/" + known.plan_id + ".toml";
  return s + " — a renamed plan would run again over the applied one";
}

PlanStatus missing_plan_status(const KnownPlan& known, const std::optional<RunRecord>& latest, const std::string& renamed_to) {
  PlanStatus st;
  st.plan_id = known.plan_id;
  st.file_missing = true;
  st.run = latest;
  st.state = PlanState::drifted;
  for (const auto& r : known.steps) {
    ++st.steps_total;
    if (r.status == StepStatus::completed) ++st.steps_done;
  }
  Drift gone;
  gone.message = describe_vanished(known, renamed_to);
  st.drift.push_back(gone);
  return st;
}

}  // namespace phasegate
