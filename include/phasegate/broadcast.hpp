#pragma once
// The broadcast status (SPEC §2 announce, §1.1 [announce]; docs/serve.md): the levels, `--until`, and what a run
// announces by itself. Pure: the caller reads and writes the Broadcast through the StateStore.
#include <optional>
#include <string>
#include <string_view>

#include "phasegate/config.hpp"
#include "phasegate/ports.hpp"

namespace phasegate {

// ok < maintenance < degraded < down, in this order (the /metrics gauge phasegate_broadcast_level uses the index).
inline constexpr const char* kBroadcastLevels[] = {"ok", "maintenance", "degraded", "down"};
int broadcast_level_index(std::string_view level);  // -1: not a level
// Why `level` is not a broadcast level (with a did-you-mean), or nullopt.
std::optional<std::string> broadcast_level_problem(std::string_view level);
// Why a banner text is refused (too long, control characters), or nullopt.
std::optional<std::string> broadcast_message_problem(std::string_view message);
// `--until`: an RFC 3339 instant ("2026-11-22T04:00:00Z", "...+10:00") or a duration from `now` ("90m").
// Exit::invalid when it is neither, or not after `now`.
Result<TimePoint> parse_until(const std::string& text, TimePoint now);
// The broadcast as readers must see it at `now`: past its `until`, the announcement is over (level ok, no message).
Broadcast effective_broadcast(const Broadcast& stored, TimePoint now);

// The moments a run announces at (Executor, executor_announce.cpp).
enum class RunMoment {
  phase_started,  // a phase with SQL or backfill steps starts: [announce] during
  succeeded,      // the run ended with exit 0 (completed, or waiting for its contract start): back to ok
  failed,         // it failed (exit 1 or 5): [announce] on_failure
  stopped,        // it stopped resumable or was aborted (75, 130/143, 6): back to ok if this run announced
};
// What the run announces at `moment`, given the stored broadcast; nullopt: leave it as it is. An announcement
// made by hand (run_id 0) that is not over is never replaced by a run.
std::optional<Broadcast> run_announcement(const AnnounceSettings& settings, const Broadcast& stored, TimePoint now,
                                          RunMoment moment, const std::string& plan_id, const std::string& phase,
                                          int64_t run_id);

}  // namespace phasegate
