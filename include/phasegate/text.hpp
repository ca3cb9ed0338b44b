#pragma once
// Small pure helpers: hashing, edit distance, string utilities.
#include <string>
#include <string_view>
#include <vector>

namespace phasegate {

std::string sha256_hex(std::string_view data);
size_t edit_distance(std::string_view a, std::string_view b);
// The closest candidate within a small edit distance, or "" when none is close.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);
std::string trim(std::string_view s);
// At most `max` bytes of s, cut at a UTF-8 character boundary, with "..." when cut (messages quote long values;
// a cut inside a character would make --json output invalid).
std::string truncate_utf8(std::string_view s, size_t max);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
// Text safe for JSON and PostgreSQL text: invalid UTF-8 (a program's Latin-1 or binary output, a cut through
// a multi-byte character) and NUL bytes each become U+FFFD.
std::string valid_utf8(std::string_view s);

}  // namespace phasegate
