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
#include "sql/facts.hpp"

namespace phasegate::sql {

namespace {

bool ident_char(unsigned char c) { return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80; }
bool ident_start(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }

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
  size_t i = 0;
  bool pending = false;  // something other than blanks and comments since the last ';'
  while (i < t.size()) {
    const char c = t[i];
    const bool token_start = i == 0 || !ident_char(static_cast<unsigned char>(t[i - 1]));
    size_t next = i + 1;
    if (c == '-' && i + 1 < t.size() && t[i + 1] == '-') {
      next = t.find('\n', i);
    } else if (c == '/' && i + 1 < t.size() && t[i + 1] == '*') {
      next = skip_block_comment(t, i);
    } else if (c == ';') {
      ++plan.statements;
      pending = false;
      size_t k = i + 1;
      while (k < t.size() && (t[k] == ' ' || t[k] == '\t' || t[k] == '\r')) ++k;
      if (k < t.size() && t[k] == '\n' && k + 1 < t.size() && k + 1 - plan.starts.back() >= chunk_bytes)
        plan.starts.push_back(k + 1);
    } else if (!std::isspace(static_cast<unsigned char>(c))) {
      pending = true;
      if (c == '\'') {
        const bool e_string = i > 0 && (t[i - 1] == 'E' || t[i - 1] == 'e') &&
                              (i == 1 || !ident_char(static_cast<unsigned char>(t[i - 2])));
        next = skip_quoted(t, i, e_string);
      } else if (c == '"') {
        next = skip_quoted(t, i, false);
      } else if (c == '$' && token_start) {
        next = skip_dollar_quote(t, i);
        if (next == i) next = i + 1;
      }
    }
    if (next == std::string_view::npos) break;  // the text ends inside a token: the parser will say so
    i = next;
  }
  if (pending) ++plan.statements;  // the last statement needs no ';'
  return plan;
}

}  // namespace phasegate::sql
