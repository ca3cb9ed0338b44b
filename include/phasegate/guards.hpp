#pragma once
// Guards (SPEC §3): pure decisions over a snapshot of facts. This file: the off-peak window (§3.1).
#include <optional>
#include <string>
#include <vector>

#include "phasegate/config.hpp"
#include "phasegate/ports.hpp"

namespace phasegate::guards {

struct WindowState {
  std::string window, timezone;
  TimePoint at{};
  bool open = false;
  std::string reason;                   // why it is open or closed, for humans
  std::optional<TimePoint> next_open;   // when closed: the next opening (nullopt: none within a year)
  std::optional<TimePoint> next_close;  // when open: when it closes
};

// Evaluates one window at `at` in its IANA time zone (system tz database). Error: unknown time zone.
Result<WindowState> evaluate(const Window& w, TimePoint at);
// Several windows (a plan's `windows`): open when any of them is open; next_open is the earliest.
Result<WindowState> evaluate_any(const std::vector<const Window*>& ws, TimePoint at);

// "2026-11-22 14:00:00 AEST" in the given zone (empty zone or unknown: UTC).
std::string local_time(const std::string& timezone, TimePoint t);
std::string rfc3339(TimePoint t);                        // "2026-11-22T04:00:00Z"
std::optional<TimePoint> parse_rfc3339(const std::string& s);  // accepts Z or ±hh:mm offsets

}  // namespace phasegate::guards
