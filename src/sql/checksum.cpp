// Step checksums over the PostgreSQL scanner's tokens (SPEC §5): reformatting is not drift.
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <cctype>

#include "phasegate/sql.hpp"
#include "phasegate/text.hpp"

namespace phasegate::sql {

std::optional<std::string> canonical_tokens(std::string_view text, SyntaxError* error) {
  std::string input(text);
  PgQueryScanResult result = pg_query_scan(input.c_str());
  if (result.error) {
    if (error) *error = SyntaxError{static_cast<size_t>(std::max(0, result.error->cursorpos - 1)), result.error->message};
    pg_query_free_scan_result(result);
    return std::nullopt;
  }
  auto* scan = pg_query__scan_result__unpack(nullptr, result.pbuf.len, reinterpret_cast<const uint8_t*>(result.pbuf.data));
  std::vector<std::string> tokens;
  for (size_t i = 0; scan && i < scan->n_tokens; ++i) {
    const auto* t = scan->tokens[i];
    if (t->token == PG_QUERY__TOKEN__SQL_COMMENT || t->token == PG_QUERY__TOKEN__C_COMMENT) continue;
    std::string tok = input.substr(static_cast<size_t>(t->start), static_cast<size_t>(t->end - t->start));
    bool fold = t->keyword_kind != PG_QUERY__KEYWORD_KIND__NO_KEYWORD || (t->token == PG_QUERY__TOKEN__IDENT && tok[0] != '"');
    if (fold)
      for (auto& c : tok) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    tokens.push_back(std::move(tok));
  }
  if (scan) pg_query__scan_result__free_unpacked(scan, nullptr);
  pg_query_free_scan_result(result);
  // Drop trailing semicolons and collapse runs of them: `a;;` and `a` mean the same.
  while (!tokens.empty() && tokens.back() == ";") tokens.pop_back();
  return join(tokens, " ");
}

std::string checksum(std::string_view text) {
  auto canon = canonical_tokens(text);
  return sha256_hex(canon ? *canon : std::string(text));
}

}  // namespace phasegate::sql
