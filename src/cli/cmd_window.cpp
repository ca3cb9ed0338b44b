// window [NAME] [--at TIME] [--next]: is the window open now (or at TIME), and when it next opens and closes.
// Exit 0 when open, 75 when closed (so `phasegate window offpeak && ...` works in cron).
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "phasegate/adapters.hpp"
#include "phasegate/guards.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

namespace {
nlohmann::json state_json(const guards::WindowState& st) {
  auto opt = [](const std::optional<TimePoint>& t) { return t ? nlohmann::json(guards::rfc3339(*t)) : nlohmann::json(nullptr); };
  return {{"window", st.window}, {"timezone", st.timezone}, {"at", guards::rfc3339(st.at)}, {"open", st.open},
          {"reason", st.reason}, {"next_open", opt(st.next_open)}, {"next_close", opt(st.next_close)}};
}
std::string both(const std::string& tz, TimePoint t) { return guards::rfc3339(t) + " (" + guards::local_time(tz, t) + ")"; }
}  // namespace

int cmd_window(const Global& g, const std::string& name, const std::string& at_text, bool next) {
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  const auto& windows = loaded->project.windows;
  std::vector<const Window*> chosen;
  if (!name.empty()) {
    auto it = windows.find(name);
    if (it == windows.end()) {
      std::vector<std::string> names;
      for (const auto& [k, v] : windows) names.push_back(k);
      auto hint = did_you_mean(name, names);
      return report(g, Error{Exit::invalid, "no window \"" + name + "\" in phasegate.toml" + (hint.empty() ? "" : " (did you mean \"" + hint + "\"?)")});
    }
    chosen.push_back(&it->second);
  } else {
    for (const auto& [k, v] : windows) chosen.push_back(&v);
  }
  if (chosen.empty()) return report(g, Error{Exit::invalid, "no [windows.*] in phasegate.toml"});
  TimePoint at = SystemClock().now();
  if (!at_text.empty()) {
    auto parsed = guards::parse_rfc3339(at_text);
    if (!parsed) return report(g, Error{Exit::invalid, "--at must be an RFC 3339 time like 2026-11-22T04:00:00Z, got \"" + at_text + "\""});
    at = *parsed;
  }
  bool all_open = true;
  nlohmann::json list = nlohmann::json::array();
  for (const Window* w : chosen) {
    auto st = guards::evaluate(*w, at);
    if (!st) return report(g, st.error());
    // --next on an open window: also when it opens again after this close.
    std::optional<TimePoint> reopen;
    if (next && st->open && st->next_close)
      if (auto after = guards::evaluate(*w, *st->next_close); after && after->next_open) reopen = after->next_open;
    std::optional<TimePoint> reclose;
    if (next && !st->open && st->next_open)
      if (auto then = guards::evaluate(*w, *st->next_open); then && then->next_close) reclose = then->next_close;
    all_open = all_open && st->open;
    auto j = state_json(*st);
    if (next) j["following"] = reopen ? nlohmann::json(guards::rfc3339(*reopen)) : reclose ? nlohmann::json(guards::rfc3339(*reclose)) : nlohmann::json(nullptr);
    list.push_back(j);
    if (g.json) continue;
    std::cout << paint(g, "1", w->name) << " (" << w->timezone << ") at " << both(w->timezone, at) << ": "
              << paint(g, st->open ? "32" : "33", st->open ? "open" : "closed") << ", " << st->reason << "\n";
    if (st->next_close) std::cout << "  closes " << both(w->timezone, *st->next_close) << "\n";
    if (st->next_open) std::cout << "  opens  " << both(w->timezone, *st->next_open) << "\n";
    if (!st->open && !st->next_open) std::cout << "  does not open within a year\n";
    if (reopen) std::cout << "  then opens again " << both(w->timezone, *reopen) << "\n";
    if (reclose) std::cout << "  then closes " << both(w->timezone, *reclose) << "\n";
  }
  int exit = all_open ? 0 : static_cast<int>(Exit::blocked);
  if (g.json) {
    if (list.size() == 1) print_json(list[0]);
    else print_json({{"windows", list}});
  }
  return exit;
}

}  // namespace phasegate::cli
