// The postmortem model (docs/report.md): the run's events folded into steps, guard waits, restarts, smoke
// results, the failure and the rollback; then the derived times (open_items.cpp: what is left for a human).
#include <algorithm>
#include <map>
#include <tuple>

#include "phasegate/text.hpp"
#include "report/events.hpp"
#include "report/model.hpp"

namespace phasegate::report {

const char* tone_name(Tone t) {
  switch (t) {
    case Tone::info: return "info";
    case Tone::good: return "good";
    case Tone::warn: return "warn";
    case Tone::bad: return "bad";
  }
  return "info";
}

std::string human_ms(long long ms) {
  if (ms < 0) ms = 0;
  char buf[48];
  if (ms < 1000) std::snprintf(buf, sizeof buf, "%lld ms", ms);
  else if (ms < 60'000) std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  else if (ms < 3'600'000) std::snprintf(buf, sizeof buf, "%lld min %02lld s", ms / 60'000, ms / 1000 % 60);
  else std::snprintf(buf, sizeof buf, "%lld h %02lld min", ms / 3'600'000, ms / 60'000 % 60);
  return buf;
}

namespace detail {
namespace {

// The last non-empty line a program printed (its own account, e.g. "restarted api: pid 41 -> 57").
std::string last_line(const json& process) {
  for (const char* stream : {"stdout", "stderr"}) {
    std::string s = trim(text_of(process, stream));
    if (s.empty()) continue;
    auto nl = s.rfind('\n');
    return truncate_utf8(nl == std::string::npos ? s : s.substr(nl + 1), 300);
  }
  return "";
}

// "... pid 41 -> 57" (or "pid none -> 57", "pid 41 (not running) -> 57"): the service's pids before and after.
std::pair<std::optional<long long>, std::optional<long long>> pids_said(const std::string& line) {
  auto at = line.rfind("pid ");
  auto arrow = line.find("->", at == std::string::npos ? 0 : at);
  if (at == std::string::npos || arrow == std::string::npos) return {};
  auto number = [](const std::string& s) -> std::optional<long long> {
    size_t i = s.find_first_not_of(' ');
    if (i == std::string::npos || s[i] < '0' || s[i] > '9') return std::nullopt;
    return std::stoll(s.substr(i, 18));
  };
  return {number(line.substr(at + 4, arrow - at - 4)), number(line.substr(arrow + 2))};
}

struct Builder {
  Builder(Postmortem& out, long long origin_ms) : pm(out), origin(origin_ms) {}
  Postmortem& pm;
  long long origin = 0;
  std::map<std::string, size_t> step_index;
  std::map<std::string, std::string> step_began;  // the latest step.started of each step
  std::optional<Failure> candidate;             // what failed, until run.failed / run.aborted says the run failed
  std::string abort_by, abort_at;
  std::string previous_at;                      // the event before this one
  bool rolling_back = false;
  bool paused = false;  // the run stopped on purpose (waiting, blocked, a signal): its next resume is no crash

  StepReport& step(const std::string& name, const std::string& phase) {
    auto it = step_index.find(name);
    if (it != step_index.end()) return pm.steps[it->second];
    step_index[name] = pm.steps.size();
    pm.steps.push_back(StepReport{});
    pm.steps.back().name = clean(name);
    pm.steps.back().phase = clean(phase);
    return pm.steps.back();
  }
  long long ms(const std::string& at) const { return epoch_ms(at).value_or(origin); }

  void on_step(const EventRow& e, const json& p) {
    StepReport& s = step(e.step, e.phase);
    if (e.kind == "step.started") {
      s.attempts += 1;
      if (s.started_at.empty()) s.started_at = clean(e.at);
      s.outcome = "interrupted";
      step_began[e.step] = clean(e.at);
    } else if (e.kind == "step.completed") {
      s.outcome = "completed";
      s.finished_at = clean(e.at);
      s.duration_ms = int_of(p, "duration_ms");
      s.error.clear();
      s.sqlstate.clear();
      if (p.contains("backfill")) {
        BackfillStats b{int_of(p["backfill"], "scanned").value_or(0), int_of(p["backfill"], "updated").value_or(0),
                        int_of(p["backfill"], "batches").value_or(0), std::nullopt};
        if (s.duration_ms && *s.duration_ms > 0) b.rows_per_s = static_cast<double>(b.scanned) * 1000.0 / static_cast<double>(*s.duration_ms);
        s.backfill = b;
      }
    } else if (e.kind == "step.failed") {
      s.outcome = "failed";
      s.finished_at = clean(e.at);
      s.error = text_of(p, "error");
      s.sqlstate = text_of(p, "sqlstate");
      auto began = step_began.find(e.step);
      if (began != step_began.end()) s.duration_ms = ms(e.at) - ms(began->second);
      if (!rolling_back) {
        const bool check = text_of(p, "reason") == "check";
        candidate = Failure{clean(e.at), check ? "check" : "step", clean(e.phase), clean(e.step), s.sqlstate, s.error, "",
                            began != step_began.end() && !check ? began->second : previous_at};
      }
    } else if (e.kind == "step.retrying") {
      const std::string reason = text_of(p, "reason");
      if (reason.empty() || reason == "cancel_blockers")
        s.lock_retries.push_back(LockRetry{clean(e.at), static_cast<int>(int_of(p, "attempt").value_or(0)), int_of(p, "wait_ms").value_or(0),
                                           reason == "cancel_blockers", text_of(p, "error"), blockers_of(p)});
      else
        s.waits.push_back(reason);
    } else if (e.kind == "step.waited") {
      s.waits.push_back(text_of(p, "reason"));
    } else if (e.kind == "step.marked") {
      s.outcome = "marked " + text_of(p, "now");
    } else if (e.kind == "backfill.progress" && !s.backfill) {
      s.backfill = BackfillStats{int_of(p, "scanned").value_or(0), int_of(p, "updated").value_or(0), 0, std::nullopt};
      if (auto r = int_of(p, "rows_per_s")) s.backfill->rows_per_s = static_cast<double>(*r);
    } else if (e.kind == "backfill.progress") {
      s.backfill->scanned = std::max(s.backfill->scanned, int_of(p, "scanned").value_or(0));
      s.backfill->updated = std::max(s.backfill->updated, int_of(p, "updated").value_or(0));
      if (auto r = int_of(p, "rows_per_s")) s.backfill->rows_per_s = static_cast<double>(*r);
    }
  }

  void on_guard(const EventRow& e, const json& p) {
    if (e.kind == "guard.wait") {
      pm.guard_waits.push_back(GuardWait{text_of(p, "guard"), text_of(p, "reason"), clean(e.phase), clean(e.at), "", std::nullopt, "still waiting"});
      return;
    }
    // guard.go: the latest wait of that guard went on.
    const std::string guard = text_of(p, "guard");
    for (auto it = pm.guard_waits.rbegin(); it != pm.guard_waits.rend(); ++it)
      if (it->guard == guard && it->outcome == "still waiting") {
        it->outcome = "went on";
        it->ended_at = clean(e.at);
        it->waited_ms = int_of(p, "waited_ms");
        break;
      }
  }

  void on_service(const EventRow& e, const json& p) {
    const std::string name = text_of(p, "service");
    if (e.kind == "service.restarting") {
      Restart r;
      r.service = name;
      r.phase = clean(e.phase);
      r.at = clean(e.at);
      r.during_rollback = rolling_back;
      pm.restarts.push_back(r);
      return;
    }
    auto it = std::find_if(pm.restarts.rbegin(), pm.restarts.rend(), [&](const Restart& r) { return r.service == name; });
    if (it == pm.restarts.rend()) return;
    Restart& r = *it;
    r.healthy = e.kind == "service.healthy";
    r.total_ms = int_of(p, "elapsed_ms");
    r.checks = static_cast<int>(int_of(p, "checks").value_or(0));
    if (p.contains("process") && p["process"].is_object()) {
      const json& proc = p["process"];
      r.restart_ms = int_of(proc, "elapsed_ms");
      r.said = last_line(proc);
      std::tie(r.pid_before, r.pid_after) = pids_said(r.said);
    }
    if (r.total_ms && r.restart_ms && r.healthy) r.health_ms = std::max(0LL, *r.total_ms - *r.restart_ms);
    if (!r.healthy) {
      r.reason = text_of(p, "reason");
      if (!rolling_back) candidate = Failure{clean(e.at), "service", clean(e.phase), "", "", "service " + name + ": " + r.reason, "", r.at};
    }
  }

  void on_smoke(const EventRow& e, const json& p) {
    SmokeResult s{text_of(p, "smoke"), clean(e.phase), clean(e.at), e.kind == "smoke.passed", static_cast<int>(int_of(p, "passes").value_or(0)),
                  static_cast<int>(int_of(p, "failures").value_or(0)), static_cast<int>(int_of(p, "failure_limit").value_or(0)), text_of(p, "reason")};
    pm.smoke.push_back(s);
    if (!s.passed && !rolling_back) candidate = Failure{s.at, "smoke", s.phase, "", "", "smoke check " + s.name + ": " + s.reason, "", previous_at};
  }

  void on_run(const EventRow& e, const json& p) {
    const std::string& k = e.kind;
    if (k == "run.started" && p.contains("approved_by")) {
      pm.approvals_known = true;
      for (const auto& a : p["approved_by"]) pm.approvals.push_back(Approval{int_of(a, "id").value_or(0), text_of(a, "principal"), "", "", true, false});
    } else if (k == "run.abort_requested") {
      abort_by = text_of(p, "by");
      abort_at = clean(e.at);
    } else if ((k == "run.failed" || k == "run.aborted") && !pm.failure) {
      Failure f = candidate.value_or(Failure{clean(e.at), "other", clean(e.phase), "", "", "", "", previous_at});
      // An abort is what stopped the run, whatever else went wrong first; it is detected when the run acts on it.
      if (k == "run.aborted") f = Failure{clean(e.at), "abort", clean(e.phase), "", "", "", abort_by, abort_at.empty() ? previous_at : abort_at};
      if (!text_of(p, "error").empty()) f.message = text_of(p, "error");
      if (f.sqlstate.empty()) f.sqlstate = text_of(p, "sqlstate");
      pm.failure = f;
    } else if (k == "run.resumed") {
      if (!paused)  // its runner died mid-run (kill -9, a crash, the machine)
        pm.interruptions.push_back(clean(e.at) + ": the run's runner had stopped without recording why (a crash?); " + actor_of(e) +
                                   " resumed it" + (cut_short().empty() ? "" : "; " + cut_short()));
      paused = false;
    } else if (k == "run.reconnected") {
      pm.interruptions.push_back(clean(e.at) + ": the database session broke (" + text_of(p, "error") + "); reconnected after " +
                                 human_ms(int_of(p, "reconnect_ms").value_or(0)));
    } else if (k == "run.interrupted" || k == "run.blocked") {
      paused = true;
    }
    if (k == "run.interrupted") {
      pm.interruptions.push_back(clean(e.at) + ": phasegate was stopped by a signal (" + text_of(p, "error") + ")");
    } else if (k == "run.blocked") {
      for (auto& w : pm.guard_waits)
        if (w.outcome == "still waiting") {
          w.outcome = "run stopped (exit 75)";
          w.ended_at = clean(e.at);
        }
    }
  }

  // A step that had started and not ended when the run was resumed: its runner died mid-step.
  std::string cut_short() const {
    std::vector<std::string> names;
    for (const auto& s : pm.steps)
      if (s.outcome == "interrupted") names.push_back("step \"" + s.name + "\" had started and not ended (cut short; it resumes idempotently)");
    return join(names, "; ");
  }

  void on_rollback(const EventRow& e, const json& p) {
    if (!pm.rollback) pm.rollback = Rollback{};
    Rollback& rb = *pm.rollback;
    const std::string& k = e.kind;
    if (k == "rollback.started") {
      rolling_back = true;
      rb.started_at = clean(e.at);
      rb.reason = text_of(p, "reason");
    } else if (k == "rollback.resumed") {
      rolling_back = true;
      rb.resumed += 1;
      if (rb.started_at.empty()) rb.started_at = clean(e.at);
      pm.interruptions.push_back(clean(e.at) + ": the rollback had been cut short; " + actor_of(e) + " finished it");
    } else if (k == "rollback.step") {
      if (flag_of(p, "begin")) return;  // the intent of a non-transactional down; its end is the next one
      const std::string action = text_of(p, "action");
      RollbackAction a{clean(e.at), action, action == "restart" ? text_of(p, "service") : clean(e.step), flag_of(p, "ok"), flag_of(p, "skipped"),
                       describe(e, p, origin).text, int_of(p, "duration_ms"), text_of(p, "revert_commit")};
      if (action == "master" && a.target.empty()) a.target = text_of(p, "release_commit");
      rb.actions.push_back(a);
      if (!e.step.empty()) step(e.step, e.phase).undo = a.detail;
    } else if (k == "rollback.completed" || k == "rollback.failed") {
      rolling_back = false;
      rb.outcome = k == "rollback.completed" ? "completed" : "incomplete";
      rb.finished_at = clean(e.at);
      auto strings = [&](const char* key) {
        std::vector<std::string> out;
        if (p.contains(key) && p[key].is_array())
          for (const auto& v : p[key]) out.push_back(clean(v.is_string() ? v.get<std::string>() : v.dump()));
        return out;
      };
      rb.undone = strings("undone");
      rb.notes = strings("notes");
      rb.left = strings("left");
      pm.times.undo_ms = int_of(p, "database_ms");
      pm.times.revert_ms = int_of(p, "master_ms");
      pm.times.restart_ms = int_of(p, "services_ms");
      pm.times.recover_ms = int_of(p, "total_ms");
    }
  }

  void fold(const EventRow& e) {
    const json p = parse_payload(e.payload);
    pm.timeline.push_back(describe(e, p, origin));
    const std::string family = e.kind.substr(0, e.kind.find('.'));
    if (family == "step" || e.kind == "backfill.progress") on_step(e, p);
    else if (family == "guard") on_guard(e, p);
    else if (family == "service") on_service(e, p);
    else if (family == "smoke") on_smoke(e, p);
    else if (family == "run") on_run(e, p);
    else if (family == "rollback") on_rollback(e, p);
    previous_at = clean(e.at);
  }
};

}  // namespace
}  // namespace detail

Postmortem build(const Input& in) {
  using namespace detail;
  Postmortem pm;
  const RunRow& r = in.run;
  pm.run_id = r.run.id;
  pm.plan = clean(r.run.plan_id);
  pm.description = clean(in.description);
  pm.digest = clean(r.run.digest);
  pm.release_commit = clean(r.run.release_commit);
  pm.state = run_status_name(r.run.status);
  pm.cause = clean(r.run.cause);
  pm.created_at = clean(in.events.empty() ? r.created_at : in.events.front().at);
  pm.finished_at = clean(r.finished_at);
  const std::string where = r.os_user + "@" + r.host;
  pm.started_by = clean(r.initiator.empty() ? where : r.initiator + " (" + where + ")");
  if (!in.events.empty() && in.events.front().kind == "run.created") pm.started_by = actor_of(in.events.front());
  Builder b(pm, epoch_ms(pm.created_at).value_or(0));
  // The plan's order: steps the records know, by ordinal, before the events add what they saw.
  std::vector<StepRecord> records = in.steps;
  std::sort(records.begin(), records.end(), [](const StepRecord& x, const StepRecord& y) { return x.ordinal < y.ordinal; });
  for (const auto& rec : records) b.step(rec.step, rec.phase);
  for (const auto& e : in.events) b.fold(e);
  add_approvals(pm, in);
  derive_times(pm, in);
  pm.open_items = open_items(pm, in);
  pm.log_verified = in.log_problems.empty();
  for (const auto& p : in.log_problems) pm.log_problems.push_back(clean(p));
  describe_outcome(pm);
  return pm;
}

}  // namespace phasegate::report
