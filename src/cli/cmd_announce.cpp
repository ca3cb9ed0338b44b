// announce: set the broadcast status apps show as a banner (SPEC §2; docs/serve.md), with its status.announced
// event in the same transaction.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "phasegate/broadcast.hpp"
#include "phasegate/guards.hpp"

namespace phasegate::cli {

int cmd_announce(const Global& g, const AnnounceArgs& a) {
  // Usage first: nothing is loaded or touched for a level that does not exist.
  if (auto why = broadcast_level_problem(a.level)) return report(g, Error{Exit::invalid, "--level: " + *why});
  if (auto why = broadcast_message_problem(a.message)) return report(g, Error{Exit::invalid, "--message: " + *why});
  if (a.level != "ok" && a.message.empty())
    return report(g, Error{Exit::invalid, "--message is required with --level " + a.level + ": it is the banner text apps show"});
  const TimePoint now = std::chrono::system_clock::now();
  std::optional<TimePoint> until;
  if (!a.until.empty()) {
    auto t = parse_until(a.until, now);
    if (!t) return report(g, t.error());
    until = *t;
  }
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  auto db = open_database(loaded->project, "announce");
  if (!db) return report(g, db.error());
  auto& pg = **db;
  if (auto r = pg.ensure_schema(); !r) return report(g, r.error());
  auto was = pg.broadcast();
  if (!was) return report(g, was.error());
  const Actor actor = current_actor("");
  Broadcast b;
  b.level = a.level;
  b.message = a.message;
  b.until = until;
  b.by = actor.label();
  StateChange c;
  c.broadcast = b;
  nlohmann::json payload{{"level", b.level}, {"message", b.message}, {"until", until ? nlohmann::json(guards::rfc3339(*until)) : nlohmann::json(nullptr)},
                         {"automatic", false}, {"was", effective_broadcast(*was, now).level}};
  c.add(Event{"status.announced", 0, "", "", "", payload.dump(), now});
  if (auto r = pg.commit(c); !r) return report(g, r.error());
  if (g.json) {
    payload["ok"] = true;
    payload["exit"] = 0;
    print_json(payload);
  } else {
    std::cout << "announced " << b.level << (b.message.empty() ? "" : ": " + b.message)
              << (until ? " (until " + guards::rfc3339(*until) + ")" : "") << "\n";
  }
  return 0;
}

}  // namespace phasegate::cli
