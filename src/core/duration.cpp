#include "phasegate/duration.hpp"

#include <cctype>

namespace phasegate {

namespace {
std::optional<long long> unit_millis(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m" || unit == "min") return 60'000;
  if (unit == "h") return 3'600'000;
  if (unit == "d") return 86'400'000;
  return std::nullopt;
}
}  // namespace

std::optional<Millis> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  long long total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t digits_begin = i;
    long long value = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      value = value * 10 + (text[i] - '0');
      if (value > 1'000'000'000LL) return std::nullopt;
      ++i;
    }
    if (i == digits_begin) return std::nullopt;
    size_t unit_begin = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    auto per = unit_millis(text.substr(unit_begin, i - unit_begin));
    if (!per) return std::nullopt;
    total += value * *per;  // each term is at most 1e9 days, so this cannot overflow before the check
    if (total > kMaxDuration.count()) return std::nullopt;
  }
  return Millis(total);
}

std::string format_duration(Millis d) {
  long long ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  struct Unit { const char* name; long long size; };
  static constexpr Unit units[] = {{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}, {"ms", 1}};
  for (const auto& u : units) {
    if (ms >= u.size) {
      out += std::to_string(ms / u.size) + u.name;
      ms %= u.size;
    }
  }
  return out;
}

std::string format_timeout(Millis d) { return d.count() == 0 ? "none" : format_duration(d); }

}  // namespace phasegate
