// The postmortem's conclusions (docs/report.md): who approved, the derived times, what is left for a human, and
// the one sentence of how the run ended.
#include <algorithm>

#include "phasegate/guards.hpp"
#include "phasegate/text.hpp"
#include "report/events.hpp"
#include "report/model.hpp"

namespace phasegate::report::detail {

namespace {
std::string bare_digest(const std::string& d) { return d.rfind("sha256:", 0) == 0 ? d.substr(7) : d; }

std::optional<long long> between(const std::string& from, const std::string& to) {
  auto a = epoch_ms(from), b = epoch_ms(to);
  if (!a || !b) return std::nullopt;
  return std::max(0LL, *b - *a);
}
}  // namespace

void add_approvals(Postmortem& pm, const Input& in) {
  const std::string until = in.events.empty() ? "" : in.events.back().at;
  for (const auto& row : in.approvals) {
    auto doc = guards::parse_approval(row.document);
    if (!doc || bare_digest(doc->digest) != bare_digest(pm.digest)) continue;  // another version of the plan
    const std::string recorded = guards::rfc3339(row.created_at);
    auto it = std::find_if(pm.approvals.begin(), pm.approvals.end(), [&](const Approval& a) { return a.id == row.id; });
    if (it == pm.approvals.end()) {
      if (!until.empty() && recorded > until) continue;  // recorded after this run: not part of its story
      pm.approvals.push_back(Approval{row.id, clean(row.principal), "", "", false, false});
      it = std::prev(pm.approvals.end());
    }
    it->recorded_at = recorded;
    it->comment = clean(row.comment);
    it->revoked = row.revoked_at.has_value() || row.revoked_event != 0;
  }
}

void derive_times(Postmortem& pm, const Input& in) {
  if (!in.events.empty()) pm.times.run_ms = between(pm.created_at, in.events.back().at);
  if (!pm.failure) return;
  pm.times.detect_ms = between(pm.failure->started_at, pm.failure->at);
  if (!pm.rollback || pm.rollback->outcome != "cut short") return;  // the rollback's end measured them itself
  // Cut short: from the actions that did happen, since the failure.
  std::string db, master, services;
  for (const auto& a : pm.rollback->actions) {
    if (!a.ok) continue;
    if (a.action == "down" || a.action == "drop_invalid_index") db = a.at;
    if (a.action == "master") master = a.at;
    if (a.action == "restart") services = a.at;
  }
  if (!db.empty()) pm.times.undo_ms = between(pm.failure->at, db);
  if (!master.empty()) pm.times.revert_ms = between(pm.failure->at, master);
  if (!services.empty()) pm.times.restart_ms = between(pm.failure->at, services);
}

std::vector<std::string> open_items(const Postmortem& pm, const Input& in) {
  std::vector<std::string> out;
  const std::string plan = pm.plan, run = std::to_string(pm.run_id);
  if (!in.log_problems.empty())
    out.push_back("the event log of this database was altered outside phasegate (" + clean(join(in.log_problems, "; ")) +
                  "): this report may not tell the whole story; find out who had write access to the state schema");
  const std::string& st = pm.state;
  if (pm.rollback)
    for (const auto& l : pm.rollback->left) out.push_back(l);
  if (st == "rollback_incomplete")
    out.push_back("once what is left is undone: phasegate mark " + plan + " STEP --pending --yes for each step, then phasegate rollback " + plan);
  else if (st == "rolling_back")
    out.push_back("the rollback was cut short: the next phasegate command that touches plan " + plan + " finishes it (phasegate rollback " + plan + ")");
  else if (st == "failed" || st == "aborted")
    out.push_back("nothing was rolled back (on_failure = \"pause\", or past the point of no return): fix the cause and run phasegate run " + plan +
                  " again, or undo it with phasegate rollback " + plan);
  else if (st == "blocked")
    out.push_back("run " + run + " is stopped and resumable: phasegate run " + plan + " continues it, phasegate abort " + run + " rolls it back");
  else if (st == "waiting")
    out.push_back("the run waits (the contract phase's start, or --phase): phasegate run " + plan + " --phase contract when no old code runs");
  else if (st == "running" || st == "created")
    out.push_back("run " + run + " has no end recorded: it is running now, or its runner died (phasegate run " + plan + " resumes it)");
  else if (st == "rolled_back" && pm.failure)
    out.push_back("plan " + plan + " is pending again: fix what failed before phasegate run " + plan + " applies it from the start");
  if (pm.rollback)
    for (const auto& a : pm.rollback->actions)
      if (a.action == "master" && a.skipped)
        out.push_back("master was not reverted (" + a.detail + "): check whether code that needs plan " + plan + " reached master");
  // The step records now (only meaningful while this is the plan's latest run).
  if (in.latest)
    for (const auto& rec : in.steps)
      if (rec.status == StepStatus::running || rec.status == StepStatus::failed || rec.status == StepStatus::undoing)
        out.push_back("step \"" + clean(rec.step) + "\" is " + step_status_name(rec.status) +
                      ": part of its effect may be in the database; check before the next run");
  for (const auto& e : in.events)
    if (e.kind == "notify.failed") {
      const json p = parse_payload(e.payload);
      out.push_back("the notification of " + text_of(p, "event_kind") + " to sink " + text_of(p, "sink") + " was never delivered (" +
                    text_of(p, "error") + "): whoever it was for was not told; check the sink (phasegate notify test " + text_of(p, "sink") + ")");
    }
  // (a duplicate instruction says nothing new)
  std::vector<std::string> unique;
  for (auto& o : out)
    if (std::find(unique.begin(), unique.end(), o) == unique.end()) unique.push_back(std::move(o));
  return unique;
}

void describe_outcome(Postmortem& pm) {
  const std::string& st = pm.state;
  const bool aborted = pm.failure && pm.failure->kind == "abort";
  std::string how = st == "completed"             ? "completed"
                    : st == "rolled_back"         ? (aborted ? "aborted and rolled back" : pm.failure ? "failed and rolled back" : "rolled back by hand")
                    : st == "rollback_incomplete" ? (aborted ? "aborted; rollback INCOMPLETE" : "failed; rollback INCOMPLETE")
                    : st == "rolling_back"        ? "rolling back (cut short)"
                    : st == "failed"              ? "failed; nothing rolled back"
                    : st == "aborted"             ? "aborted; nothing rolled back"
                    : st == "blocked"             ? "stopped by a guard, resumable"
                    : st == "waiting"             ? "waiting for its next phase"
                                                  : "no end recorded";
  pm.title = "Run " + std::to_string(pm.run_id) + " of plan " + pm.plan + ": " + how;
  int done = 0, total = 0;
  for (const auto& s : pm.steps) {
    total += s.outcome != "not in this run" || !s.undo.empty() ? 1 : 0;
    done += s.outcome == "completed" ? 1 : 0;
  }
  std::string s = "Plan " + pm.plan + " (digest sha256:" + pm.digest.substr(0, 12) + "), started by " + pm.started_by + " at " + pm.created_at;
  if (pm.times.run_ms) s += ", " + how + " after " + human_ms(*pm.times.run_ms);
  s += "; " + std::to_string(done) + " of " + std::to_string(total) + " step(s) it reached completed";
  if (pm.failure) {
    s += ". " + std::string(aborted ? "Aborted" : "Failed") + (pm.failure->step.empty() ? "" : " at step \"" + pm.failure->step + "\"") +
         (pm.failure->sqlstate.empty() ? "" : " with SQLSTATE " + pm.failure->sqlstate) + (aborted && !pm.failure->aborted_by.empty() ? " by " + pm.failure->aborted_by : "");
  }
  if (pm.rollback && pm.times.recover_ms) s += "; rollback " + pm.rollback->outcome + " " + human_ms(*pm.times.recover_ms) + " after the failure";
  pm.outcome = s + ".";
}

}  // namespace phasegate::report::detail
