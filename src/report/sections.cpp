// Wording shared by the Markdown and HTML renderings of a postmortem.
#include <algorithm>
#include <cstdio>

#include "phasegate/text.hpp"
#include "report/sections.hpp"

namespace phasegate::report::detail {

std::string duration_text(const std::optional<long long>& ms) { return ms ? human_ms(*ms) : "—"; }

std::vector<TimeRow> time_rows(const Postmortem& pm) {
  const Times& t = pm.times;
  auto v = [](const std::optional<long long>& ms) { return ms ? human_ms(*ms) : std::string(); };
  if (!pm.failure) return {{"Run duration", v(t.run_ms), "from run.created to the run's last event; nothing failed, so there was nothing to detect or undo"}};
  return {
      {"Time to detect", v(t.detect_ms), "from the start of the action that failed (the step, the restart, the smoke check) to the failure, or from the abort request to the run acting on it"},
      {"Time to undo", v(t.undo_ms), "from the failure to the database steps undone"},
      {"Time to revert", v(t.revert_ms), "from the failure to the release commit reverted on master"},
      {"Time to restart", v(t.restart_ms), "from the failure to the services restarted on the reverted code"},
      {"Time to recover", v(t.recover_ms), "from the failure to the end of the rollback"},
      {"Run duration", v(t.run_ms), "from run.created to the run's last event"},
  };
}

std::string approvals_text(const Postmortem& pm) {
  std::vector<std::string> counted, other;
  for (const auto& a : pm.approvals) {
    std::string s = a.principal + " (approval #" + std::to_string(a.id) + (a.recorded_at.empty() ? "" : ", recorded " + a.recorded_at) +
                    (a.comment.empty() ? "" : ", \"" + a.comment + "\"") + (a.revoked ? ", since revoked" : "") + ")";
    (a.counted ? counted : other).push_back(s);
  }
  std::string out;
  if (pm.approvals_known) out = counted.empty() ? "no approval counted" : join(counted, ", ");
  else out = counted.empty() && other.empty() ? "none required or recorded" : "not recorded by the run (an older phasegate)";
  if (!other.empty()) out += "; on record, not counted by the run: " + join(other, ", ");
  return out;
}

std::string failure_text(const Failure& f) {
  std::string what = f.kind == "abort" ? "aborted" + (f.aborted_by.empty() ? std::string() : " by " + f.aborted_by)
                     : f.kind == "step"    ? "step \"" + f.step + "\" failed"
                     : f.kind == "check"   ? "the check of step \"" + f.step + "\" refused it"
                     : f.kind == "smoke"   ? "a smoke check failed"
                     : f.kind == "service" ? "a service did not become healthy"
                                           : "the run failed";
  return what + (f.phase.empty() ? "" : " in phase " + f.phase) + (f.sqlstate.empty() ? "" : " with SQLSTATE " + f.sqlstate) + " at " + f.at +
         (f.message.empty() ? "" : ": " + f.message);
}

std::string blocker_text(const Blocker& b) {
  char age[32] = "";
  if (b.transaction_age_s > 0) std::snprintf(age, sizeof age, ", transaction open %.1fs", b.transaction_age_s);
  return "pid " + std::to_string(b.pid) + " (user " + b.user + (b.application.empty() ? "" : ", application '" + b.application + "'") +
         (b.state.empty() ? "" : ", " + b.state) + age + ")" + (b.query.empty() ? "" : ": " + truncate_utf8(b.query, 160));
}

std::string retries_text(const StepReport& s) {
  if (s.lock_retries.empty()) return "";
  std::vector<std::string> who;
  for (const auto& r : s.lock_retries)
    for (const auto& b : r.blockers) {
      std::string w = "pid " + std::to_string(b.pid) + (b.application.empty() ? "" : " " + b.application);
      if (std::find(who.begin(), who.end(), w) == who.end()) who.push_back(w);
    }
  return std::to_string(s.lock_retries.size()) + (who.empty() ? "" : " (blocked by " + join(who, ", ") + ")");
}

std::string backfill_text(const StepReport& s) {
  if (!s.backfill) return "";
  const BackfillStats& b = *s.backfill;
  char rate[48] = "";
  if (b.rows_per_s) std::snprintf(rate, sizeof rate, ", %.0f rows/s", *b.rows_per_s);
  return std::to_string(b.updated) + " rows updated of " + std::to_string(b.scanned) + " walked" +
         (b.batches ? " in " + std::to_string(b.batches) + " batches" : "") + rate;
}

std::string restart_result(const Restart& r) {
  if (r.healthy) return "healthy" + (r.checks ? " after " + std::to_string(r.checks) + " check(s)" : std::string());
  if (!r.total_ms && r.reason.empty()) return "no result recorded";
  return "NOT healthy: " + r.reason;
}

std::string pids_text(const Restart& r) {
  if (!r.pid_before && !r.pid_after) return "—";
  return (r.pid_before ? std::to_string(*r.pid_before) : "none") + " -> " + (r.pid_after ? std::to_string(*r.pid_after) : "?");
}

const std::vector<Prompt>& prompts() {
  static const std::vector<Prompt> p{
      {"what_we_expected", "What we expected",
       "What did each of us expect to happen, and what did we assume (about the data, the load, the code, each other)? Where did the "
       "events above differ from it?"},
      {"what_we_will_change", "What we will change",
       "Changes to the process, the plan, the guards, the smoke checks or the tooling — each with an owner and a date."},
  };
  return p;
}

}  // namespace phasegate::report::detail
