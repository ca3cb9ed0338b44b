// Notifications: routing, bodies, signatures, the retry policy and one dispatch pass (docs/notify.md).
#include "phasegate/notify.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "phasegate/config.hpp"
#include "phasegate/secrets.hpp"
#include "phasegate/text.hpp"

namespace phasegate::notify {

using nlohmann::json;

const std::vector<std::string>& event_kinds() {
  // SPEC §6, then the kinds phasegate added (docs/state.md). tests/unit/test_notify.cpp checks that every kind
  // the sources record is here.
  static const std::vector<std::string> kinds = {
      "run.created", "run.started", "run.blocked", "run.resumed", "run.completed", "run.failed", "run.aborted",
      "phase.started", "phase.completed", "phase.failed",
      "step.started", "step.retrying", "step.completed", "step.failed", "step.skipped",
      "guard.wait", "guard.go",
      "approval.recorded", "approval.revoked", "approval.requested",
      "service.restarting", "service.healthy", "service.unhealthy",
      "smoke.passed", "smoke.failed",
      "rollback.started", "rollback.step", "rollback.completed", "rollback.failed",
      "backfill.progress", "status.announced", "notify.failed",
      "run.interrupted", "run.disconnected", "run.reconnected", "run.abort_requested",
      "step.waited", "step.marked", "rollback.resumed", "rollback.master", "service.restart", "service.health",
      "smoke.recovered", "notify.test"};
  return kinds;
}

bool glob_match(std::string_view glob, std::string_view kind) {
  // Iterative wildcard match: on a mismatch, let the latest `*` swallow one more character.
  size_t g = 0, k = 0, star = std::string_view::npos, mark = 0;
  while (k < kind.size()) {
    if (g < glob.size() && glob[g] == '*') {
      star = g++;
      mark = k;
    } else if (g < glob.size() && glob[g] == kind[k]) {
      ++g;
      ++k;
    } else if (star != std::string_view::npos) {
      g = star + 1;
      k = ++mark;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

std::string glob_problem(const std::string& glob) {
  const auto& kinds = event_kinds();
  if (std::any_of(kinds.begin(), kinds.end(), [&](const std::string& k) { return glob_match(glob, k); })) return "";
  std::string msg = "\"" + glob + "\" matches no event kind";
  auto hint = did_you_mean(glob, kinds);
  if (!hint.empty()) msg += " (did you mean \"" + hint + "\"?)";
  return msg + "; the kinds are listed in docs/notify.md";
}

std::vector<Route> routes(const Project& project) {
  std::vector<Route> out;
  for (const auto& [name, n] : project.notify) out.push_back(Route{name, n.events});
  return out;
}

std::vector<std::string> sinks_for(const std::vector<Route>& routes, std::string_view kind, std::string_view failed_sink) {
  std::vector<std::string> out;
  for (const auto& r : routes) {
    if (kind == "notify.failed" && r.sink == failed_sink) continue;
    if (std::any_of(r.globs.begin(), r.globs.end(), [&](const std::string& g) { return glob_match(g, kind); })) out.push_back(r.sink);
  }
  return out;
}

std::map<std::string, SinkSettings> sink_settings(const Project& project) {
  std::map<std::string, SinkSettings> out;
  for (const auto& [name, n] : project.notify) out[name] = SinkSettings{n.attempts, n.timeout};
  return out;
}

namespace {
json payload_of(const Delivery& d) {
  auto p = json::parse(d.payload.empty() ? "{}" : d.payload, nullptr, false);
  return p.is_discarded() ? json::object() : p;
}

std::string actor_label(const Delivery& d) {
  std::string who = d.os_user + "@" + d.host;
  return d.principal.empty() ? who : d.principal + " (" + who + ")";
}

// Slack's mrkdwn: &, < and > are control characters.
std::string slack_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

std::string what_happened(const Delivery& d, const json& p) {
  for (const char* key : {"error", "reason", "message"})
    if (p.contains(key) && p[key].is_string() && !p[key].get<std::string>().empty()) return p[key].get<std::string>();
  std::string what = d.kind;
  std::replace(what.begin(), what.end(), '.', ' ');
  return what;
}

std::string run_ref(const Delivery& d) { return d.run_id ? std::to_string(d.run_id) : std::string("RUN"); }

// The next step for whoever reads the alert, by kind.
std::string what_to_do(const Delivery& d) {
  const std::string run = run_ref(d), plan = d.plan_id.empty() ? std::string("PLAN") : d.plan_id;
  const std::string& k = d.kind;
  if (k == "run.failed" || k == "phase.failed" || k == "step.failed")
    return "The run stopped; phasegate rolls back per [rollback]. `phasegate log " + run + "` shows the timeline, `phasegate report " + run +
           "` drafts the postmortem.";
  if (k == "rollback.failed")
    return "The rollback is incomplete: a human must act. `phasegate status " + plan + "` shows what is left; fix it, then `phasegate rollback " +
           plan + "` or `phasegate mark`.";
  if (k == "rollback.completed") return "The database is back where it was; the plan is pending again. `phasegate report " + run + "` for the postmortem.";
  if (k == "run.blocked" || k == "guard.wait")
    return "A guard holds the run; it goes on when the guard allows. `phasegate plan " + plan + "` shows each guard's verdict.";
  if (k == "approval.requested") return "Two operators must sign: `phasegate approve " + plan + " --key ~/.ssh/id_ed25519`.";
  if (k == "run.aborted") return "An operator stopped the run; it rolls back per [rollback].";
  if (k == "smoke.failed") return "A smoke check failed: check the application now.";
  if (k == "service.unhealthy") return "A service did not become healthy after its restart: check it now.";
  if (k == "notify.failed") return "A notification could not be delivered: check the sink's URL or command.";
  if (k == "run.completed" || k == "smoke.recovered" || k == "smoke.passed") return "Nothing.";
  return "`phasegate log " + run + "` shows the timeline.";
}
}  // namespace

std::string json_body(const Delivery& d, const std::string& project) {
  json j = {{"id", d.event_id},       {"kind", d.kind},   {"at", d.at},       {"project", project},
            {"run_id", d.run_id},     {"plan_id", d.plan_id}, {"phase", d.phase}, {"step", d.step},
            {"actor", {{"principal", d.principal}, {"os_user", d.os_user}, {"host", d.host}}},
            {"payload", payload_of(d)}, {"hash", d.hash}, {"sink", d.sink}};
  return secrets::redact_json(j.dump());
}

std::string slack_body(const Delivery& d, const std::string& project) {
  const json p = payload_of(d);
  const std::string happened = what_happened(d, p);
  std::string title = "phasegate: " + d.kind + (d.plan_id.empty() ? "" : " — " + d.plan_id);
  json fields = json::array();
  auto field = [&](const char* name, const std::string& value) {
    if (!value.empty()) fields.push_back({{"type", "mrkdwn"}, {"text", std::string("*") + name + "*\n" + slack_escape(value)}});
  };
  field("Plan", d.plan_id);
  field("Run", d.run_id ? std::to_string(d.run_id) : "");
  field("Phase", d.phase);
  field("Step", d.step);
  field("By", actor_label(d));
  field("Project", project);
  json blocks = json::array();
  blocks.push_back({{"type", "header"}, {"text", {{"type", "plain_text"}, {"text", truncate_utf8(title, 150)}}}});
  if (!fields.empty()) blocks.push_back({{"type", "section"}, {"fields", fields}});
  blocks.push_back({{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", "*What happened:* " + slack_escape(truncate_utf8(happened, 2500))}}}});
  blocks.push_back({{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", "*What to do:* " + slack_escape(what_to_do(d))}}}});
  blocks.push_back({{"type", "context"},
                    {"elements", json::array({{{"type", "mrkdwn"}, {"text", "event #" + std::to_string(d.event_id) + " at " + d.at}}})}});
  std::string text = title + ": " + truncate_utf8(happened, 300);
  if (d.run_id) text += " (run " + std::to_string(d.run_id) + ")";
  return secrets::redact_json(json{{"text", slack_escape(text)}, {"blocks", blocks}}.dump());
}

std::string idempotency_key(const Delivery& d) { return std::to_string(d.event_id) + "." + d.hash.substr(0, 16); }

std::string hmac_sha256_hex(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < len; ++i) {
    s += hex[out[i] >> 4];
    s += hex[out[i] & 15];
  }
  return s;
}

Millis retry_delay(int attempt) {
  long long ms = 1000LL << std::clamp(attempt - 1, 0, 8);
  return Millis(std::min(ms, 5000LL));
}

Event failed_event(const Delivery& d, int attempts, const std::string& error, TimePoint at) {
  json p = {{"sink", d.sink}, {"event_id", d.event_id}, {"event_kind", d.kind}, {"attempts", attempts}, {"error", error}};
  return Event{"notify.failed", d.run_id, d.plan_id, d.phase, d.step, p.dump(), at};
}

Result<int> dispatch_due(Outbox& outbox, Sender& sender, const std::map<std::string, SinkSettings>& sinks, Clock& clock) {
  Millis lease{30'000};
  for (const auto& [_, s] : sinks) lease = std::max(lease, s.timeout + Millis(30'000));
  auto due = outbox.claim(16, lease);
  if (!due) return std::unexpected(due.error());
  for (const auto& d : *due) {
    auto it = sinks.find(d.sink);
    Result<void> r;
    if (it == sinks.end()) {
      // The sink was removed from phasegate.toml after the event was queued.
      r = outbox.give_up(d, "no [notify." + d.sink + "] in phasegate.toml any more", failed_event(d, d.attempts, "sink removed", clock.now()));
    } else {
      Outcome o = sender.send(d);
      int tries = d.attempts + 1;
      if (o.delivered) r = outbox.delivered(d);
      else if (o.permanent || tries >= it->second.attempts) r = outbox.give_up(d, o.error, failed_event(d, tries, o.error, clock.now()));
      else r = outbox.retry(d, retry_delay(tries), o.error);
    }
    if (!r) return std::unexpected(r.error());
  }
  return static_cast<int>(due->size());
}

}  // namespace phasegate::notify
