// The real notification sinks: a webhook (Slack-compatible or generic JSON, signed, with an idempotency key)
// and a command (the event JSON on stdin). Neither the URL nor the secret ever reaches an error message.
#include <algorithm>
#include <cstdlib>

#include "phasegate/config.hpp"
#include "phasegate/notify.hpp"
#include "phasegate/secrets.hpp"
#include "phasegate/text.hpp"

namespace phasegate::notify {

namespace {
std::string env(const std::string& name) {
  const char* v = name.empty() ? nullptr : std::getenv(name.c_str());
  return v ? v : "";
}

class RealSender final : public Sender {
 public:
  RealSender(const Project& project, HttpClient& http, ProcessRunner& runner) : project_(project), http_(http), runner_(runner) {}

  Outcome send(const Delivery& d) override {
    auto it = project_.notify.find(d.sink);
    if (it == project_.notify.end()) return Outcome{false, true, "no [notify." + d.sink + "]"};
    const Notifier& n = it->second;
    return n.command.empty() ? webhook(n, d) : command(n, d);
  }

 private:
  Outcome webhook(const Notifier& n, const Delivery& d) {
    const std::string url = env(n.webhook_url_env);
    if (url.empty()) return Outcome{false, true, n.webhook_url_env + " is not set in phasegate's environment"};
    secrets::remember(url);  // a URL carries its token (Slack's hooks.slack.com/services/T/B/XXX): never echoed
    const std::string body = n.format == "json" ? json_body(d, project_.name) : slack_body(d, project_.name);
    HttpClient::Headers headers = {{"User-Agent", "phasegate"},
                                   {"Idempotency-Key", idempotency_key(d)},
                                   {"X-Phasegate-Event", d.kind},
                                   {"X-Phasegate-Delivery", idempotency_key(d) + "." + d.sink}};
    if (!n.secret_env.empty()) {
      const std::string secret = env(n.secret_env);
      if (secret.empty()) return Outcome{false, true, n.secret_env + " (secret_env) is not set in phasegate's environment"};
      secrets::remember(secret);
      headers.emplace_back("X-Phasegate-Signature-256", "sha256=" + hmac_sha256_hex(secret, body));
    }
    auto r = http_.post(url, body, n.timeout, headers);
    if (!r) return Outcome{false, r.error().code == Exit::invalid, "webhook: " + secrets::redact(r.error().message)};
    int s = r->status;
    if (s >= 200 && s < 300) return Outcome{true, false, ""};
    bool retry = s >= 500 || s == 408 || s == 429;
    return Outcome{false, !retry, "webhook answered HTTP " + std::to_string(s) +
                                      (r->body.empty() ? "" : ": " + secrets::redact(truncate_utf8(trim(r->body), 200)))};
  }

  Outcome command(const Notifier& n, const Delivery& d) {
    ProcessSpec spec;
    spec.argv = n.command;
    spec.cwd = project_.root;
    spec.timeout = n.timeout;
    spec.foreground = false;
    spec.stdin_data = json_body(d, project_.name);
    spec.env = {{"PHASEGATE_EVENT", d.kind}, {"PHASEGATE_RUN_ID", std::to_string(d.run_id)}, {"PHASEGATE_PLAN", d.plan_id},
                {"PHASEGATE_NOTIFY_SINK", d.sink}, {"PHASEGATE_IDEMPOTENCY_KEY", idempotency_key(d)}, {"PHASEGATE_PROJECT_ROOT", project_.root}};
    for (const std::string& var : {project_.url_env, std::string("PGPASSWORD")})
      if (std::find(project_.hook_pass_env.begin(), project_.hook_pass_env.end(), var) == project_.hook_pass_env.end())
        spec.unset_env.push_back(var);
    auto r = runner_.run(spec);
    if (!r) return Outcome{false, true, "command: " + secrets::redact(r.error().message)};
    if (r->ok()) return Outcome{true, false, ""};
    std::string err = trim(r->err);
    if (auto nl = err.rfind('\n'); nl != std::string::npos) err = err.substr(nl + 1);
    return Outcome{false, false, "command " + r->describe() + (err.empty() ? "" : ": " + secrets::redact(truncate_utf8(err, 200)))};
  }

  const Project& project_;
  HttpClient& http_;
  ProcessRunner& runner_;
};
}  // namespace

std::unique_ptr<Sender> make_sender(const Project& project, HttpClient& http, ProcessRunner& runner) {
  return std::make_unique<RealSender>(project, http, runner);
}

}  // namespace phasegate::notify
