// The postmortem as one JSON document: docs/schemas/report.schema.json (tests/e2e/test_report.sh validates it).
#include <nlohmann/json.hpp>

#include "phasegate/report.hpp"

namespace phasegate::report {

namespace {
using json = nlohmann::json;

json opt(const std::optional<long long>& v) { return v ? json(*v) : json(nullptr); }

json step_json(const StepReport& s) {
  json retries = json::array();
  for (const auto& r : s.lock_retries) {
    json blockers = json::array();
    for (const auto& b : r.blockers)
      blockers.push_back({{"pid", b.pid}, {"user", b.user}, {"application", b.application}, {"state", b.state}, {"query", b.query},
                          {"transaction_age_s", b.transaction_age_s}});
    retries.push_back({{"at", r.at}, {"attempt", r.attempt}, {"wait_ms", r.wait_ms}, {"cancelled_blockers", r.cancelled_blockers},
                       {"error", r.error}, {"blockers", blockers}});
  }
  json backfill = nullptr;
  if (s.backfill)
    backfill = {{"scanned", s.backfill->scanned}, {"updated", s.backfill->updated}, {"batches", s.backfill->batches},
                {"rows_per_s", s.backfill->rows_per_s ? json(*s.backfill->rows_per_s) : json(nullptr)}};
  return {{"name", s.name}, {"phase", s.phase}, {"outcome", s.outcome}, {"attempts", s.attempts}, {"started_at", s.started_at},
          {"finished_at", s.finished_at}, {"duration_ms", opt(s.duration_ms)}, {"lock_retries", retries}, {"waits", s.waits},
          {"error", s.error}, {"sqlstate", s.sqlstate}, {"backfill", backfill}, {"undo", s.undo}};
}

json rollback_json(const Rollback& rb) {
  json actions = json::array();
  for (const auto& a : rb.actions)
    actions.push_back({{"at", a.at}, {"action", a.action}, {"target", a.target}, {"ok", a.ok}, {"skipped", a.skipped}, {"detail", a.detail},
                       {"duration_ms", opt(a.duration_ms)}, {"revert_commit", a.revert_commit}});
  return {{"started_at", rb.started_at}, {"finished_at", rb.finished_at}, {"reason", rb.reason}, {"outcome", rb.outcome},
          {"resumed", rb.resumed}, {"actions", actions}, {"undone", rb.undone}, {"notes", rb.notes}, {"left", rb.left}};
}
}  // namespace

std::string render_json(const Postmortem& pm) {
  json approvals = json::array();
  for (const auto& a : pm.approvals)
    approvals.push_back({{"id", a.id}, {"principal", a.principal}, {"recorded_at", a.recorded_at}, {"comment", a.comment},
                         {"counted", a.counted}, {"revoked", a.revoked}});
  json timeline = json::array();
  for (const auto& e : pm.timeline)
    timeline.push_back({{"event_id", e.event_id}, {"at", e.at}, {"offset_ms", e.offset_ms}, {"kind", e.kind}, {"phase", e.phase},
                        {"step", e.step}, {"actor", e.actor}, {"text", e.text}, {"tone", tone_name(e.tone)}});
  json steps = json::array();
  for (const auto& s : pm.steps) steps.push_back(step_json(s));
  json waits = json::array();
  for (const auto& w : pm.guard_waits)
    waits.push_back({{"guard", w.guard}, {"reason", w.reason}, {"phase", w.phase}, {"at", w.at}, {"ended_at", w.ended_at},
                     {"waited_ms", opt(w.waited_ms)}, {"outcome", w.outcome}});
  json restarts = json::array();
  for (const auto& r : pm.restarts)
    restarts.push_back({{"service", r.service}, {"phase", r.phase}, {"at", r.at}, {"during_rollback", r.during_rollback},
                        {"healthy", r.healthy}, {"restart_ms", opt(r.restart_ms)}, {"health_ms", opt(r.health_ms)},
                        {"total_ms", opt(r.total_ms)}, {"pid_before", opt(r.pid_before)}, {"pid_after", opt(r.pid_after)}, {"checks", r.checks}, {"said", r.said}, {"reason", r.reason}});
  json smoke = json::array();
  for (const auto& s : pm.smoke)
    smoke.push_back({{"name", s.name}, {"phase", s.phase}, {"at", s.at}, {"passed", s.passed}, {"passes", s.passes},
                     {"failures", s.failures}, {"failure_limit", s.failure_limit}, {"reason", s.reason}});
  json failure = nullptr;
  if (pm.failure)
    failure = {{"at", pm.failure->at}, {"kind", pm.failure->kind}, {"phase", pm.failure->phase}, {"step", pm.failure->step},
               {"sqlstate", pm.failure->sqlstate}, {"message", pm.failure->message}, {"aborted_by", pm.failure->aborted_by},
               {"started_at", pm.failure->started_at}};
  const Times& t = pm.times;
  json doc{{"$schema", kSchemaId},
           {"ok", pm.log_verified},
           {"exit", pm.log_verified ? 0 : 5},
           {"run", {{"id", pm.run_id}, {"plan", pm.plan}, {"description", pm.description}, {"digest", pm.digest},
                    {"release_commit", pm.release_commit}, {"state", pm.state}, {"cause", pm.cause}, {"created_at", pm.created_at},
                    {"finished_at", pm.finished_at}, {"started_by", pm.started_by}}},
           {"title", pm.title},
           {"outcome", pm.outcome},
           {"approvals", {{"recorded_by_run", pm.approvals_known}, {"list", approvals}}},
           {"times", {{"run_ms", opt(t.run_ms)}, {"detect_ms", opt(t.detect_ms)}, {"undo_ms", opt(t.undo_ms)}, {"revert_ms", opt(t.revert_ms)},
                      {"restart_ms", opt(t.restart_ms)}, {"recover_ms", opt(t.recover_ms)}}},
           {"failure", failure},
           {"timeline", timeline},
           {"steps", steps},
           {"guard_waits", waits},
           {"restarts", restarts},
           {"smoke", smoke},
           {"rollback", pm.rollback ? rollback_json(*pm.rollback) : json(nullptr)},
           {"interruptions", pm.interruptions},
           {"open_items", pm.open_items},
           {"what_we_expected", json::array()},
           {"what_we_will_change", json::array()},
           {"event_log", {{"verified", pm.log_verified}, {"problems", pm.log_problems}}}};
  return doc.dump(2) + "\n";
}

}  // namespace phasegate::report
