// notify test [NAME]: sends a sample event to one sink or to every [notify.*] sink, now, and says what each
// answered (docs/notify.md). Touches no database: it checks the sinks, not the outbox.
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "phasegate/notify.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

namespace {
std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
}  // namespace

int cmd_notify_test(const Global& g, const std::string& name) {
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  const Project& project = loaded->project;
  if (project.notify.empty()) return report(g, Error{Exit::invalid, "no [notify.NAME] sink in " + project.file});
  std::vector<std::string> names;
  for (const auto& [n, _] : project.notify) names.push_back(n);
  if (!name.empty() && !project.notify.contains(name)) {
    std::string msg = "no [notify." + name + "] in " + project.file;
    if (auto hint = did_you_mean(name, names); !hint.empty()) msg += " (did you mean \"" + hint + "\"?)";
    return report(g, Error{Exit::invalid, msg});
  }
  if (!name.empty()) names = {name};
  Machinery m;
  auto sender = notify::make_sender(project, m.http, m.runner);
  Actor actor = current_actor("");
  nlohmann::json results = nlohmann::json::array();
  bool all = true;
  for (const auto& sink : names) {
    notify::Delivery d;
    d.sink = sink;
    d.kind = "notify.test";
    d.at = utc_now();
    d.principal = actor.principal;
    d.os_user = actor.os_user;
    d.host = actor.host;
    d.payload = nlohmann::json{{"message", "a test notification from `phasegate notify test`: this sink works"}}.dump();
    d.hash = sha256_hex(sink + d.at + d.payload);
    auto o = sender->send(d);
    all = all && o.delivered;
    results.push_back({{"sink", sink}, {"delivered", o.delivered}, {"error", o.error}});
    if (!g.json) std::cout << sink << ": " << (o.delivered ? paint(g, "32", "delivered") : paint(g, "31", "failed: " + o.error)) << "\n";
  }
  int code = all ? 0 : static_cast<int>(Exit::failed);
  if (g.json) print_json({{"ok", all}, {"exit", code}, {"sinks", results}});
  return code;
}

}  // namespace phasegate::cli
