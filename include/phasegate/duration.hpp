#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace phasegate {

using Millis = std::chrono::milliseconds;

// Parses "250ms", "2s", "30m", "2h", "7d" and sums like "1h30m". Returns nullopt on bad input.
std::optional<Millis> parse_duration(std::string_view text);
// Formats the shortest exact form: 90000ms -> "1m30s".
std::string format_duration(Millis d);

}  // namespace phasegate
