#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace phasegate {

using Millis = std::chrono::milliseconds;

// The longest duration phasegate accepts anywhere (10 years): far beyond any real timeout or gate, and far
// from overflowing a clock's time_point when added to now.
inline constexpr Millis kMaxDuration{3650LL * 86'400'000};
// PostgreSQL's limit for lock_timeout / statement_timeout (an int of milliseconds, about 24.8 days).
inline constexpr Millis kMaxPgTimeout{2'147'483'647};

// Parses "250ms", "2s", "30m", "2h", "7d" and sums like "1h30m". Returns nullopt on bad input and on totals
// above kMaxDuration.
std::optional<Millis> parse_duration(std::string_view text);
// Formats the shortest exact form: 90000ms -> "1m30s".
std::string format_duration(Millis d);
// A lock_timeout as the user wrote it: 0 is "none" (PostgreSQL's 0 disables the timeout), else format_duration.
std::string format_timeout(Millis d);

}  // namespace phasegate
