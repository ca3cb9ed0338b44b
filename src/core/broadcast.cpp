// The broadcast status: levels, --until, and the announcements a run makes by itself (broadcast.hpp).
#include "phasegate/broadcast.hpp"

#include <iterator>

#include "phasegate/guards.hpp"
#include "phasegate/text.hpp"

namespace phasegate {

int broadcast_level_index(std::string_view level) {
  for (size_t i = 0; i < std::size(kBroadcastLevels); ++i)
    if (level == kBroadcastLevels[i]) return static_cast<int>(i);
  return -1;
}

std::optional<std::string> broadcast_level_problem(std::string_view level) {
  if (broadcast_level_index(level) >= 0) return std::nullopt;
  std::vector<std::string> all(std::begin(kBroadcastLevels), std::end(kBroadcastLevels));
  std::string near = did_you_mean(level, all);
  // Appended, not "\"" + temporary: GCC 12 at -O3 warns (-Wrestrict, GCC bug 105329) on a one-character literal
  // in front of a temporary string.
  std::string msg(1, '"');
  msg.append(truncate_utf8(level, 40)).append("\" is not a broadcast level (ok, maintenance, degraded or down)");
  if (!near.empty()) msg.append("; did you mean \"").append(near).append("\"?");
  return msg;
}

std::optional<std::string> broadcast_message_problem(std::string_view message) {
  constexpr size_t kMax = 500;  // a banner, not a postmortem
  if (message.size() > kMax) return "the message is " + std::to_string(message.size()) + " bytes; a banner takes at most 500";
  for (unsigned char c : message)
    if (c < 0x20 || c == 0x7f) return std::string("the message holds a control character (newline, tab, ...); write one line of text");
  if (valid_utf8(message) != message) return std::string("the message is not valid UTF-8");
  return std::nullopt;
}

Result<TimePoint> parse_until(const std::string& text, TimePoint now) {
  std::optional<TimePoint> at = guards::parse_rfc3339(text);
  if (!at)
    if (auto d = parse_duration(text)) at = now + *d;
  if (!at)
    return fail(Exit::invalid, "--until: \"" + truncate_utf8(text, 60) +
                                   "\" is neither an RFC 3339 instant (2026-11-22T04:00:00Z) nor a duration from now (90m, 2h)");
  if (*at <= now) return fail(Exit::invalid, "--until: " + guards::rfc3339(*at) + " is not in the future");
  return *at;
}

Broadcast effective_broadcast(const Broadcast& stored, TimePoint now) {
  if (!stored.until || *stored.until > now) return stored;
  Broadcast over;
  over.since = stored.until;  // the level changed back to ok when the announcement ended
  over.by = stored.by;
  return over;
}

namespace {
bool is_ok(const Broadcast& b) { return b.level == "ok"; }
}  // namespace

std::optional<Broadcast> run_announcement(const AnnounceSettings& settings, const Broadcast& stored_raw, TimePoint now,
                                          RunMoment moment, const std::string& plan_id, const std::string& phase,
                                          int64_t run_id) {
  if (!settings.enabled() || run_id == 0) return std::nullopt;
  const Broadcast stored = effective_broadcast(stored_raw, now);
  if (stored.run_id == 0 && !is_ok(stored)) return std::nullopt;  // an operator's announcement stands
  Broadcast next;
  next.run_id = run_id;
  next.by = "run " + std::to_string(run_id);
  auto back_to_ok = [&](bool only_ours) -> std::optional<Broadcast> {
    if (is_ok(stored) || stored.run_id == 0 || (only_ours && stored.run_id != run_id)) return std::nullopt;
    return next;  // level ok, no message
  };
  switch (moment) {
    case RunMoment::phase_started:
      if (settings.during.empty() || (stored.run_id == run_id && stored.level == settings.during)) return std::nullopt;
      next.level = settings.during;
      next.message = settings.during_message.empty() ? "Maintenance in progress (plan " + plan_id + ", phase " + phase + ")"
                                                     : settings.during_message;
      return next;
    case RunMoment::succeeded:
      return back_to_ok(false);  // whichever run left its level (an earlier failure's "degraded" too)
    case RunMoment::failed:
      if (settings.on_failure.empty()) return back_to_ok(true);
      if (stored.run_id == run_id && stored.level == settings.on_failure) return std::nullopt;
      next.level = settings.on_failure;
      next.message = settings.on_failure_message.empty() ? "A database change did not go as planned (plan " + plan_id +
                                                               "); the team has been alerted"
                                                         : settings.on_failure_message;
      return next;
    case RunMoment::stopped:
      return back_to_ok(true);
  }
  return std::nullopt;
}

}  // namespace phasegate
