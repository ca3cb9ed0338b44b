// The postmortem's timeline: one sentence per event kind of SPEC §6 (a table, like the lint rules), with its tone.
#include <chrono>
#include <cstdio>

#include "phasegate/secrets.hpp"
#include "phasegate/text.hpp"
#include "report/events.hpp"

namespace phasegate::report::detail {

std::optional<long long> epoch_ms(const std::string& s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6) return std::nullopt;
  long long ms = 0;
  size_t i = static_cast<size_t>(n);
  if (i < s.size() && s[i] == '.') {
    int digits = 0;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i)
      if (digits++ < 3) ms = ms * 10 + (s[i] - '0');
    for (; digits < 3; ++digits) ms *= 10;
  }
  if (i >= s.size() || s[i] != 'Z') return std::nullopt;  // the state schema stores UTC only
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  const long long days = sys_days{ymd}.time_since_epoch().count();
  return ((days * 24 + h) * 60 + mi) * 60'000LL + sec * 1000LL + ms;
}

std::string clean(const std::string& s) { return secrets::redact(valid_utf8(s)); }

std::string text_of(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return "";
  const json& v = j[key];
  return clean(v.is_string() ? v.get<std::string>() : v.dump());
}

bool flag_of(const json& j, const char* key) { return j.is_object() && j.contains(key) && j[key] == true; }

std::optional<long long> int_of(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return std::nullopt;
  return j[key].get<long long>();
}

json parse_payload(const std::string& payload) {
  json j = json::parse(payload, nullptr, false);
  return j.is_object() ? j : json::object();
}

std::string actor_of(const EventRow& e) {
  std::string where = e.os_user + "@" + e.host;
  return clean(e.principal.empty() ? where : e.principal + " (" + where + ")");
}

std::vector<Blocker> blockers_of(const json& payload) {
  std::vector<Blocker> out;
  if (!payload.contains("blockers") || !payload["blockers"].is_array()) return out;
  for (const auto& b : payload["blockers"]) {
    Blocker x;
    x.pid = static_cast<int>(int_of(b, "pid").value_or(0));
    x.user = text_of(b, "user");
    x.application = text_of(b, "application");
    x.state = text_of(b, "state");
    x.query = text_of(b, "query");
    x.transaction_age_s = b.contains("transaction_age_s") && b["transaction_age_s"].is_number() ? b["transaction_age_s"].get<double>() : 0;
    out.push_back(x);
  }
  return out;
}

namespace {

struct Said {
  std::string text;
  Tone tone = Tone::info;
};
using Say = Said (*)(const EventRow&, const json&);

std::string q(const std::string& s) { return "\"" + clean(s) + "\""; }
std::string sqlstate_of(const json& p) {
  std::string s = text_of(p, "sqlstate");
  return s.empty() ? "" : " [SQLSTATE " + s + "]";
}
std::string ms_text(const json& p, const char* key) {
  auto ms = int_of(p, key);
  return ms ? human_ms(*ms) : "?";
}
std::string list_of(const json& p, const char* key) {
  std::vector<std::string> parts;
  if (p.contains(key) && p[key].is_array())
    for (const auto& v : p[key]) parts.push_back(clean(v.is_string() ? v.get<std::string>() : v.dump()));
  return join(parts, ", ");
}
std::string blocker_words(const json& p) {
  std::vector<std::string> who;
  for (const auto& b : blockers_of(p))
    who.push_back("pid " + std::to_string(b.pid) + " (" + b.user + (b.application.empty() ? "" : ", " + b.application) +
                  (b.state.empty() ? "" : ", " + b.state) + ")");
  return who.empty() ? "" : "; blocked by " + join(who, ", ");
}

Said run_created(const EventRow& e, const json& p) {
  if (text_of(p, "for") == "rollback") return {"run " + std::to_string(e.run_id) + " created to roll plan " + clean(e.plan_id) + " back by hand"};
  std::string commit = text_of(p, "release_commit");
  return {"run " + std::to_string(e.run_id) + " created for plan " + clean(e.plan_id) + " (digest " + text_of(p, "digest") + ")" +
          (commit.empty() ? "; no release commit known" : "; release commit " + commit.substr(0, 12))};
}
Said run_started(const EventRow&, const json& p) {
  std::vector<std::string> who;
  if (p.contains("approved_by") && p["approved_by"].is_array())
    for (const auto& a : p["approved_by"]) who.push_back(text_of(a, "principal"));
  return {"run started" + (who.empty() ? std::string() : ", approved by " + join(who, ", "))};
}
Said run_resumed(const EventRow&, const json&) {
  return {"run resumed from what the database recorded (its runner had stopped: a crash, a signal, a guard or a lost session)", Tone::warn};
}
Said run_blocked(const EventRow&, const json& p) {
  // With an error: a guard or the lock retries stopped it (blocked, exit 75); without: it waits for its next
  // phase by design (--phase, the contract's start), exit 0.
  if (text_of(p, "error").empty()) return {"run waits: " + text_of(p, "reason")};
  return {"run stopped, resumable (exit 75): " + text_of(p, "error"), Tone::warn};
}
Said run_completed(const EventRow&, const json& p) {
  return {"run completed; " + (text_of(p, "steps_applied").empty() ? "?" : text_of(p, "steps_applied")) + " step(s) applied in this run", Tone::good};
}
Said run_failed(const EventRow&, const json& p) {
  bool rb = !p.contains("rollback") || p["rollback"] == true;
  return {"run failed" + sqlstate_of(p) + ": " + text_of(p, "error") +
              (rb ? "; rolling back" : "; nothing rolled back (on_failure = \"pause\" or past the point of no return)"),
          Tone::bad};
}
Said run_aborted(const EventRow&, const json& p) {
  bool rb = !p.contains("rollback") || p["rollback"] == true;
  return {"run aborted: " + text_of(p, "error") + (rb ? "; rolling back" : "; nothing rolled back"), Tone::bad};
}
Said run_abort_requested(const EventRow&, const json& p) { return {"abort requested by " + text_of(p, "by"), Tone::warn}; }
Said run_interrupted(const EventRow&, const json& p) { return {"phasegate was interrupted by a signal: " + text_of(p, "error"), Tone::warn}; }
Said run_reconnected(const EventRow&, const json& p) {
  return {"the database session broke (" + text_of(p, "error") + "); reconnected after " + ms_text(p, "reconnect_ms"), Tone::warn};
}
Said phase_started(const EventRow& e, const json& p) {
  return {"phase " + clean(e.phase) + " started (" + (text_of(p, "steps").empty() ? "?" : text_of(p, "steps")) + " steps)"};
}
Said phase_completed(const EventRow& e, const json&) { return {"phase " + clean(e.phase) + " completed", Tone::good}; }
Said phase_failed(const EventRow& e, const json& p) { return {"phase " + clean(e.phase) + " failed: " + text_of(p, "error"), Tone::bad}; }
Said step_started(const EventRow& e, const json& p) {
  std::string attempt = text_of(p, "attempt");
  return {"step " + q(e.step) + " started" + (attempt.empty() || attempt == "1" ? "" : " (attempt " + attempt + ")")};
}
Said step_completed(const EventRow& e, const json& p) {
  std::string s = "step " + q(e.step) + " completed in " + ms_text(p, "duration_ms");
  if (p.contains("backfill")) {
    const json& b = p["backfill"];
    s += " (" + text_of(b, "updated") + " rows updated, " + text_of(b, "scanned") + " walked, " + text_of(b, "batches") + " batches)";
  }
  return {s, Tone::good};
}
Said step_failed(const EventRow& e, const json& p) {
  std::string reason = text_of(p, "reason");
  return {"step " + q(e.step) + (reason == "check" ? " refused by its check" : " failed") + sqlstate_of(p) + ": " + text_of(p, "error"), Tone::bad};
}
Said step_retrying(const EventRow& e, const json& p) {
  std::string reason = text_of(p, "reason");
  if (reason == "cancel_blockers")
    return {"step " + q(e.step) + ": lock retries used up; cancelled " + text_of(p, "cancelled") + " blocking session(s)" + blocker_words(p), Tone::warn};
  if (!reason.empty()) return {"step " + q(e.step) + ": " + reason, Tone::warn};
  return {"step " + q(e.step) + ": lock timeout (attempt " + text_of(p, "attempt") + ")" + blocker_words(p) + "; retrying in " + ms_text(p, "wait_ms"),
          Tone::warn};
}
Said step_waited(const EventRow& e, const json& p) { return {"step " + q(e.step) + " " + text_of(p, "reason"), Tone::warn}; }
Said step_skipped(const EventRow& e, const json& p) {
  std::string why = text_of(p, "reason");
  return {"step " + q(e.step) + " skipped" + (why.empty() ? "" : ": " + why)};
}
Said step_marked(const EventRow& e, const json& p) {
  std::string why = text_of(p, "reason");
  return {"step " + q(e.step) + " marked by hand " + text_of(p, "was") + " -> " + text_of(p, "now") + " by " + text_of(p, "by") +
              (why.empty() ? "" : ": " + why),
          Tone::warn};
}
Said guard_wait(const EventRow&, const json& p) {
  bool waiting = flag_of(p, "waiting");
  return {"guard " + text_of(p, "guard") + " said wait: " + text_of(p, "reason") + (waiting ? "" : " (not waiting: --wait not given)"), Tone::warn};
}
Said guard_go(const EventRow&, const json& p) { return {"guard " + text_of(p, "guard") + " said go after " + ms_text(p, "waited_ms"), Tone::good}; }
Said approval_requested(const EventRow&, const json& p) {
  return {"approvals requested (" + text_of(p, "needed") + " needed): " + text_of(p, "reason"), Tone::warn};
}
Said service_restarting(const EventRow&, const json& p) { return {"restarting service " + text_of(p, "service") + ": " + list_of(p, "argv")}; }
Said service_healthy(const EventRow&, const json& p) {
  std::string checks = text_of(p, "checks");
  return {"service " + text_of(p, "service") + " healthy " + ms_text(p, "elapsed_ms") + " after its restart began" +
              (checks.empty() || checks == "0" ? "" : " (" + checks + " health check(s))"),
          Tone::good};
}
Said service_unhealthy(const EventRow&, const json& p) {
  return {"service " + text_of(p, "service") + " NOT healthy after " + ms_text(p, "elapsed_ms") + ": " + text_of(p, "reason"), Tone::bad};
}
Said smoke_passed(const EventRow&, const json& p) {
  return {"smoke check " + text_of(p, "smoke") + " passed (" + text_of(p, "passes") + " passes, " + text_of(p, "failures") + " failures)", Tone::good};
}
Said smoke_failed(const EventRow&, const json& p) {
  return {"smoke check " + text_of(p, "smoke") + " FAILED (" + text_of(p, "failures") + " failure(s), limit " + text_of(p, "failure_limit") +
              "): " + text_of(p, "reason"),
          Tone::bad};
}
Said rollback_started(const EventRow&, const json& p) {
  std::string steps = list_of(p, "steps"), services = list_of(p, "services"), master = text_of(p, "master");
  return {"rollback started; to undo: " + (steps.empty() ? "no steps" : steps) + (master.empty() ? "" : "; master (" + master + ")") +
              (services.empty() ? "" : "; then restart " + services),
          Tone::warn};
}
Said rollback_resumed(const EventRow&, const json&) { return {"rollback resumed: it had been cut short (a crash or a server restart)", Tone::warn}; }
Said rollback_step(const EventRow& e, const json& p) {
  const std::string action = text_of(p, "action");
  const bool ok = flag_of(p, "ok"), skipped = flag_of(p, "skipped");
  if (action == "down") {
    if (flag_of(p, "begin")) return {"undoing step " + q(e.step) + " (outside a transaction)"};
    if (ok && skipped) return {"step " + q(e.step) + ": nothing to undo (" + text_of(p, "reason") + ")", Tone::good};
    if (ok) return {"undid step " + q(e.step) + " in " + ms_text(p, "duration_ms"), Tone::good};
    return {"could not undo step " + q(e.step) + sqlstate_of(p) + ": " + (skipped ? text_of(p, "reason") : text_of(p, "error")), Tone::bad};
  }
  if (action == "master") {
    if (skipped) return {"master left alone: " + text_of(p, "reason"), Tone::warn};
    std::string revert = text_of(p, "revert_commit");
    if (ok) return {"master: " + text_of(p, "result") + (revert.empty() ? "" : " (revert commit " + revert.substr(0, 12) + ")"), Tone::good};
    return {"master NOT reverted: " + text_of(p, "error"), Tone::bad};
  }
  if (action == "restart")
    return ok ? Said{"restarted " + text_of(p, "service") + " after the rollback", Tone::good}
              : Said{"restart of " + text_of(p, "service") + " after the rollback failed: " + text_of(p, "error"), Tone::bad};
  if (action == "drop_invalid_index") return {"dropped the invalid index " + text_of(p, "index") + " an unfinished build left", Tone::good};
  return {"rollback: " + action};
}
Said rollback_completed(const EventRow&, const json& p) { return {"rollback completed " + ms_text(p, "total_ms") + " after the failure", Tone::good}; }
Said rollback_failed(const EventRow&, const json& p) { return {"ROLLBACK INCOMPLETE; left: " + list_of(p, "left"), Tone::bad}; }
Said backfill_progress(const EventRow& e, const json& p) {
  if (flag_of(p, "resumed"))
    return {"backfill " + q(e.step) + " resumed after " + text_of(p, "scanned") + " rows walked (" + text_of(p, "updated") + " updated)"};
  return {"backfill " + q(e.step) + ": " + text_of(p, "scanned") + " of ~" + text_of(p, "estimated_total") + " rows walked, " + text_of(p, "updated") +
          " updated, " + text_of(p, "rows_per_s") + " rows/s"};
}
Said status_announced(const EventRow&, const json& p) { return {"status announced: " + text_of(p, "level") + " " + text_of(p, "message")}; }
Said notify_failed(const EventRow&, const json& p) {
  return {"the notification of " + text_of(p, "event_kind") + " to sink " + text_of(p, "sink") + " was given up after " + text_of(p, "attempts") +
              " attempt(s): " + text_of(p, "error"),
          Tone::warn};
}

struct KindRow {
  const char* kind;
  Say say;
};
// Every event kind phasegate writes about a run (SPEC §6, plus run.abort_requested, run.reconnected,
// step.waited and step.marked).
constexpr KindRow kKinds[] = {
    {"run.created", run_created},         {"run.started", run_started},
    {"run.resumed", run_resumed},         {"run.blocked", run_blocked},
    {"run.completed", run_completed},     {"run.failed", run_failed},
    {"run.aborted", run_aborted},         {"run.abort_requested", run_abort_requested},
    {"run.interrupted", run_interrupted}, {"run.reconnected", run_reconnected},
    {"phase.started", phase_started},     {"phase.completed", phase_completed},
    {"phase.failed", phase_failed},       {"step.started", step_started},
    {"step.completed", step_completed},   {"step.failed", step_failed},
    {"step.retrying", step_retrying},     {"step.waited", step_waited},
    {"step.skipped", step_skipped},       {"step.marked", step_marked},
    {"guard.wait", guard_wait},           {"guard.go", guard_go},
    {"approval.requested", approval_requested},
    {"service.restarting", service_restarting},
    {"service.healthy", service_healthy}, {"service.unhealthy", service_unhealthy},
    {"smoke.passed", smoke_passed},       {"smoke.failed", smoke_failed},
    {"rollback.started", rollback_started},
    {"rollback.resumed", rollback_resumed},
    {"rollback.step", rollback_step},     {"rollback.completed", rollback_completed},
    {"rollback.failed", rollback_failed}, {"backfill.progress", backfill_progress},
    {"status.announced", status_announced},
    {"notify.failed", notify_failed},
};
}  // namespace

Entry describe(const EventRow& e, const json& payload, long long origin_ms) {
  Entry out;
  out.event_id = e.id;
  out.at = clean(e.at);
  out.offset_ms = epoch_ms(e.at).value_or(origin_ms) - origin_ms;
  out.kind = clean(e.kind);
  out.phase = clean(e.phase);
  out.step = clean(e.step);
  out.actor = actor_of(e);
  for (const auto& row : kKinds)
    if (e.kind == row.kind) {
      Said s = row.say(e, payload);
      out.text = s.text;
      out.tone = s.tone;
      return out;
    }
  out.text = clean(e.kind + (payload.empty() ? "" : " " + payload.dump()));
  return out;
}

}  // namespace phasegate::report::detail
