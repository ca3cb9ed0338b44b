#pragma once
// A thin wrapper over libpg_query (the PostgreSQL 15 parser): split, parse, scan.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace phasegate::sql {

struct SyntaxError {
  size_t offset = 0;  // byte offset into the text handed to the parser
  std::string message;
};

struct Statement {
  std::string text;          // the statement without leading comments/whitespace or trailing ';'
  size_t offset = 0;         // byte offset of text in the script
  std::string node;          // parse-tree node type, e.g. "AlterTableStmt", "IndexStmt"
  bool concurrently = false;
  bool transaction_control = false;  // BEGIN / COMMIT / ROLLBACK / SAVEPOINT ...
  bool allowed_in_transaction = true;
  std::string index_schema, index_name;  // CREATE INDEX [CONCURRENTLY] name
};

struct Script {
  std::vector<Statement> statements;
  bool allowed_in_transaction() const;
};

// Parses a script of one or more statements. On a syntax error returns it with its offset.
struct ParseOutcome {
  std::optional<Script> script;
  std::optional<SyntaxError> error;
};
ParseOutcome parse(std::string_view text);

// The canonical token stream: comments and whitespace dropped, keywords and unquoted identifiers
// lowercased, trailing semicolons dropped, tokens joined by a single space.
std::optional<std::string> canonical_tokens(std::string_view text, SyntaxError* error = nullptr);
// SHA-256 hex of canonical_tokens (of the raw text when it does not scan).
std::string checksum(std::string_view text);

// Wraps an identifier in double quotes when it needs them.
std::string quote_ident(std::string_view ident);

}  // namespace phasegate::sql
