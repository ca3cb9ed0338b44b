// /status (docs/serve.md): the broadcast, the run in progress with its backfill's progress, and the plans as
// `status --check` sees them — computed by engine/status.cpp's functions over the last reading.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "phasegate/broadcast.hpp"
#include "phasegate/guards.hpp"
#include "phasegate/serve.hpp"

namespace phasegate::serve {

using json = nlohmann::json;

std::vector<PlanStatus> plan_statuses(const std::vector<Plan>& plans, const Reading& reading) {
  std::map<std::string, std::vector<StepRecord>> steps;
  for (const auto& s : reading.steps) steps[s.plan_id].push_back(s);
  auto latest = [&](const std::string& id) -> std::optional<RunRecord> {
    for (const auto& r : reading.latest_runs)
      if (r.plan_id == id) return r;
    return std::nullopt;
  };
  std::vector<PlanStatus> out;
  for (const Plan& p : plans) out.push_back(plan_status(p, steps[p.id], latest(p.id)));
  // Plans the database knows (a step that is not pending) whose file is gone: drift, as `status` says.
  std::vector<KnownPlan> known;
  for (const auto& [id, recs] : steps)
    if (std::any_of(recs.begin(), recs.end(), [](const StepRecord& r) { return r.status != StepStatus::pending; }))
      known.push_back(KnownPlan{id, recs});
  for (const auto& [k, renamed] : vanished_plans(known, plans)) out.push_back(missing_plan_status(k, latest(k.plan_id), renamed));
  return out;
}

namespace {
json when(const std::optional<TimePoint>& t) { return t ? json(guards::rfc3339(*t)) : json(nullptr); }
json text_or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

// The running backfill: its cursor (committed with each batch) and the rate and estimate of its latest progress event.
json backfill_json(const Reading& r, const Reading::Current& c) {
  auto rec = std::find_if(r.steps.begin(), r.steps.end(), [&](const StepRecord& s) {
    return s.plan_id == c.run.plan_id && s.step == c.step && s.status == StepStatus::running;
  });
  auto progress = json::parse(c.backfill.empty() ? "{}" : c.backfill, nullptr, false);
  std::optional<backfill::Cursor> cursor;
  if (rec != r.steps.end() && !rec->cursor.empty()) cursor = backfill::Cursor::from_json(rec->cursor);
  if (!cursor && c.backfill.empty()) return nullptr;
  if (!progress.is_object()) progress = json::object();
  const long long scanned = cursor ? cursor->scanned : progress.value("scanned", 0LL);
  const long long estimated = progress.value("estimated_total", 0LL);
  const double rate = progress.value("rows_per_s", 0.0);
  json out{{"step", c.step}, {"scanned", scanned}, {"updated", cursor ? cursor->updated : progress.value("updated", 0LL)},
           {"batches", cursor ? cursor->batches : 0}, {"estimated_total", estimated}, {"rows_per_s", rate},
           {"percent", nullptr}, {"eta_seconds", nullptr}};
  if (estimated > 0) out["percent"] = std::min(100.0, std::round(1000.0 * static_cast<double>(scanned) / static_cast<double>(estimated)) / 10);
  if (rate > 0 && estimated > scanned) out["eta_seconds"] = std::ceil(static_cast<double>(estimated - scanned) / rate);
  return out;
}

json run_json(const Reading& r) {
  if (!r.current) return nullptr;
  const auto& c = *r.current;
  return {{"id", c.run.id}, {"plan", c.run.plan_id}, {"state", run_status_name(c.run.status)}, {"phase", text_or_null(c.run.phase)},
          {"started_at", text_or_null(c.started_at)}, {"step", text_or_null(c.step)}, {"step_event", text_or_null(c.step_event)},
          {"step_at", text_or_null(c.step_at)}, {"backfill", backfill_json(r, c)}};
}

json smoke_json(const std::vector<SmokeRecord>& records) {
  json out = json::array();
  for (const auto& s : records)
    out.push_back({{"name", s.name}, {"ok", s.ok}, {"last_ok", s.last_ok}, {"since", when(s.since)}, {"last_at", when(s.last_at)},
                   {"checks", s.checks}, {"failures", s.failures}, {"consecutive_failures", s.consecutive_failures},
                   {"last_reason", text_or_null(s.last_reason)}, {"deploy_run", s.deploy_run}});
  return out;
}

json plans_json(const std::vector<PlanStatus>& plans) {
  json applied = json::array(), pending = json::array(), drifted = json::array(), waiting = json::array(), list = json::array();
  bool ok = true;
  long long drifted_steps = 0;
  for (const auto& st : plans) {
    ok = ok && !st.fails_check();
    drifted_steps += static_cast<long long>(st.drift.size());
    if (!st.drift.empty() || st.file_missing) drifted.push_back(st.plan_id);
    else if (st.state == PlanState::applied) applied.push_back(st.plan_id);
    else if (!st.pending.empty()) pending.push_back(st.plan_id);
    else if (!st.contract_pending.empty()) waiting.push_back(st.plan_id);
    list.push_back({{"plan", st.plan_id}, {"state", plan_state_name(st.state)}, {"steps_done", st.steps_done},
                    {"steps_total", st.steps_total}, {"pending", st.pending}, {"contract_pending", st.contract_pending},
                    {"part_applied", st.part_applied}, {"drifted_steps", st.drift.size()}, {"file_missing", st.file_missing}});
  }
  return {{"applied", applied}, {"pending", pending}, {"drifted", drifted}, {"contract_waiting", waiting},
          {"check", {{"ok", ok}, {"drifted_steps", drifted_steps}}}, {"list", list}};
}
}  // namespace

std::string status_json(const View& view, TimePoint now) {
  json out{{"version", view.version}, {"stale", view.stale}, {"error", text_or_null(view.read_error)}};
  if (!view.reading) {  // nothing read yet: say so, with the level apps should assume
    out.update({{"level", "unknown"}, {"message", ""}, {"since", nullptr}, {"until", nullptr}, {"read_at", nullptr},
                {"age_seconds", nullptr}, {"run", nullptr}, {"plans", nullptr}, {"smoke", json::array()}});
    return out.dump();
  }
  const Reading& r = *view.reading;
  const Broadcast b = effective_broadcast(r.broadcast, now);
  const double age = std::chrono::duration<double>(now - view.read_at).count();
  json plans = plans_json(view.plans);
  out.update({{"level", b.level}, {"message", b.message}, {"since", when(b.since)}, {"until", when(b.until)},
              {"announced_by", text_or_null(b.by)}, {"automatic", b.run_id != 0}, {"read_at", guards::rfc3339(view.read_at)},
              {"age_seconds", std::round(age * 10) / 10}, {"run", run_json(r)}, {"plans", plans}, {"check", plans["check"]},
              {"deployed", r.deployed_run ? json{{"run", r.deployed_run}, {"plan", r.deployed_plan}, {"at", r.deployed_at}} : json(nullptr)},
              {"smoke", smoke_json(r.smoke)}});
  out["plans"].erase("check");
  return out.dump();
}

}  // namespace phasegate::serve
