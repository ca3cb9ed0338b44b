// Step checksums over the PostgreSQL scanner's tokens (SPEC §5): reformatting is not drift.
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <cctype>

#include "phasegate/sql.hpp"
#include "phasegate/text.hpp"

namespace phasegate::sql {

std::optional<std::vector<Token>> scan(std::string_view text, SyntaxError* error) {
  std::string input(text);
  PgQueryScanResult result = pg_query_scan(input.c_str());
  if (result.error) {
    if (error) *error = SyntaxError{static_cast<size_t>(std::max(0, result.error->cursorpos - 1)), result.error->message};
    pg_query_free_scan_result(result);
    return std::nullopt;
  }
  auto* scanned = pg_query__scan_result__unpack(nullptr, result.pbuf.len, reinterpret_cast<const uint8_t*>(result.pbuf.data));
  std::vector<Token> tokens;
  for (size_t i = 0; scanned && i < scanned->n_tokens; ++i) {
    const auto* t = scanned->tokens[i];
    Token tok;
    tok.start = static_cast<size_t>(t->start);
    tok.end = static_cast<size_t>(t->end);
    tok.keyword = t->keyword_kind != PG_QUERY__KEYWORD_KIND__NO_KEYWORD;
    switch (t->token) {
      case PG_QUERY__TOKEN__SQL_COMMENT:
      case PG_QUERY__TOKEN__C_COMMENT: tok.kind = Token::Kind::comment; break;
      case PG_QUERY__TOKEN__PARAM: tok.kind = Token::Kind::param; break;
      case PG_QUERY__TOKEN__ASCII_59: tok.kind = Token::Kind::semicolon; break;
      case PG_QUERY__TOKEN__ASCII_40: tok.kind = Token::Kind::open_paren; break;
      case PG_QUERY__TOKEN__ASCII_41: tok.kind = Token::Kind::close_paren; break;
      case PG_QUERY__TOKEN__IDENT: tok.kind = Token::Kind::identifier; break;
      default: break;
    }
    tokens.push_back(tok);
  }
  if (scanned) pg_query__scan_result__free_unpacked(scanned, nullptr);
  pg_query_free_scan_result(result);
  return tokens;
}

std::optional<std::string> canonical_tokens(std::string_view text, SyntaxError* error) {
  auto scanned = scan(text, error);
  if (!scanned) return std::nullopt;
  std::vector<std::string> tokens;
  for (const auto& t : *scanned) {
    if (t.kind == Token::Kind::comment) continue;
    std::string tok(text.substr(t.start, t.end - t.start));
    bool fold = t.keyword || (t.kind == Token::Kind::identifier && tok[0] != '"');
    if (fold)
      for (auto& c : tok) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    tokens.push_back(std::move(tok));
  }
  // Drop trailing semicolons and collapse runs of them: `a;;` and `a` mean the same.
  while (!tokens.empty() && tokens.back() == ";") tokens.pop_back();
  return join(tokens, " ");
}

std::string checksum(std::string_view text) {
  auto canon = canonical_tokens(text);
  return sha256_hex(canon ? *canon : std::string(text));
}

}  // namespace phasegate::sql
