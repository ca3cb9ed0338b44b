// Where a big script may be cut into chunks that parse on their own: after a line that ends in a top-level ';'.
// A light lexer of PostgreSQL's top-level states (standard_conforming_strings on, as libpg_query parses): quoted
// strings ('' doubled, E'' with backslash escapes), quoted identifiers, dollar quotes, nested block comments and
// line comments. It replaced libpg_query's pg_query_split_with_scanner here, which ran the full scanner over the
// text once more (as many instructions as the parse itself; bench/README.md).
//
// Why a wrong cut cannot go unnoticed: a cut is made only after the newline of a line whose last byte outside
// blanks is a ';' this lexer sees at top level. If the real lexer was inside a quoted string, a quoted identifier,
// a dollar quote or a block comment there, the chunk before the cut ends inside it and fails to parse, and
// parse() then parses the whole text at once. If the real lexer was inside a line comment, that comment ends at
// the same newline, so the next chunk starts where the real lexer is at top level again.
#include <array>

#include "sql/facts.hpp"

namespace phasegate::sql {

namespace {

// ASCII tests, not <cctype>'s (a locale lookup per call: most of this file's time, per callgrind).
bool ident_start(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80; }
bool ident_char(unsigned char c) { return ident_start(c) || (c >= '0' && c <= '9') || c == '$'; }
bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// The bytes that may start or end something the lexer tracks; the rest are skipped in a tight loop.
constexpr auto kSpecial = [] {
  std::array<bool, 256> special{};
  for (unsigned char c : std::string_view("-/'\"$;")) special[c] = true;
  return special;
}();

// The end of the token starting at `i` (a quote, a comment or a dollar quote), or npos when the text ends inside it.
size_t skip_quoted(std::string_view t, size_t i, bool escapes) {
  const char q = t[i];
  for (size_t k = i + 1; k < t.size(); ++k) {
    if (escapes && t[k] == '\\') {
      ++k;
      continue;
    }
    if (t[k] != q) continue;
    if (k + 1 < t.size() && t[k + 1] == q) {  // '' or "": the quote itself
      ++k;
      continue;
    }
    return k + 1;
  }
  return std::string_view::npos;
}

size_t skip_block_comment(std::string_view t, size_t i) {
  int depth = 0;
  for (size_t k = i; k + 1 < t.size(); ++k) {
    if (t[k] == '/' && t[k + 1] == '*') {
      ++depth;
      ++k;
    } else if (t[k] == '*' && t[k + 1] == '/') {
      ++k;
      if (--depth == 0) return k + 1;
    }
  }
  return std::string_view::npos;
}

// $tag$ ... $tag$ starting at `i` ('$'); i itself when it is not a dollar quote ($1, a lone $).
size_t skip_dollar_quote(std::string_view t, size_t i) {
  size_t k = i + 1;
  if (k < t.size() && ident_start(static_cast<unsigned char>(t[k])))
    while (k < t.size() && ident_char(static_cast<unsigned char>(t[k])) && t[k] != '$') ++k;
  if (k >= t.size() || t[k] != '$') return i;
  const std::string_view delimiter = t.substr(i, k - i + 1);
  const size_t end = t.find(delimiter, k + 1);
  return end == std::string_view::npos ? std::string_view::npos : end + delimiter.size();
}

}  // namespace

ChunkPlan plan_chunks(std::string_view t, size_t chunk_bytes) {
  ChunkPlan plan;
  plan.starts.push_back(0);
  size_t i = 0, after_last = 0;  // after_last: just past the last top-level ';'
  while (i < t.size()) {
    while (i < t.size() && !kSpecial[static_cast<unsigned char>(t[i])]) ++i;
    if (i >= t.size()) break;
    const char c = t[i];
    size_t next = i + 1;
    if (c == '-' && i + 1 < t.size() && t[i + 1] == '-') {
      next = t.find('\n', i);
    } else if (c == '/' && i + 1 < t.size() && t[i + 1] == '*') {
      next = skip_block_comment(t, i);
    } else if (c == '\'') {
      const bool e_string = i > 0 && (t[i - 1] == 'E' || t[i - 1] == 'e') &&
                            (i == 1 || !ident_char(static_cast<unsigned char>(t[i - 2])));
      next = skip_quoted(t, i, e_string);
    } else if (c == '"') {
      next = skip_quoted(t, i, false);
    } else if (c == '$' && (i == 0 || !ident_char(static_cast<unsigned char>(t[i - 1])))) {
      next = skip_dollar_quote(t, i);
      if (next == i) next = i + 1;
    } else if (c == ';') {
      ++plan.statements;
      after_last = i + 1;
      size_t k = i + 1;
      while (k < t.size() && (t[k] == ' ' || t[k] == '\t' || t[k] == '\r')) ++k;
      if (k < t.size() && t[k] == '\n' && k + 1 < t.size() && k + 1 - plan.starts.back() >= chunk_bytes)
        plan.starts.push_back(k + 1);
    }
    if (next == std::string_view::npos) break;  // the text ends inside a token: the parser will say so
    i = next;
  }
  // The last statement needs no ';' (a comment after the last one counts too: this is a reserve hint).
  if (std::any_of(t.begin() + static_cast<std::ptrdiff_t>(after_last), t.end(), [](char c) { return !blank(c); }))
    ++plan.statements;
  return plan;
}

}  // namespace phasegate::sql
