// Parsing with libpg_query's JSON output. Quirks: zero/false fields are omitted from the JSON, and a
// statement's range (stmt_location, stmt_len) includes the comments before it; stmt_len 0 = to the end.
#include <pg_query.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "phasegate/sql.hpp"
#include "sql/facts.hpp"

namespace phasegate::sql {

namespace {

using json = nlohmann::json;

struct ParseResultGuard {
  PgQueryParseResult r;
  ~ParseResultGuard() { pg_query_free_parse_result(r); }
};

bool flag(const json& node, const char* key) { return node.contains(key) && node[key].is_boolean() && node[key].get<bool>(); }

// Node types PostgreSQL refuses inside a transaction block.
bool never_in_transaction(const std::string& type, const json& body) {
  if (type == "IndexStmt" || type == "DropStmt") return flag(body, "concurrent");
  if (type == "ReindexStmt") {
    if (body.contains("params"))
      for (const auto& p : body["params"])
        if (p.contains("DefElem") && p["DefElem"].value("defname", "") == "concurrently") return true;
    return body.value("kind", "") == "REINDEX_OBJECT_SYSTEM" || body.value("kind", "") == "REINDEX_OBJECT_DATABASE";
  }
  if (type == "VacuumStmt") return flag(body, "is_vacuumcmd");
  if (type == "CreatedbStmt" || type == "DropdbStmt" || type == "CreateTableSpaceStmt" ||
      type == "DropTableSpaceStmt" || type == "AlterSystemStmt" || type == "CreateSubscriptionStmt" ||
      type == "DropSubscriptionStmt")
    return true;
  return false;
}

Statement describe(std::string_view script, const json& raw) {
  Statement st;
  size_t loc = raw.value("stmt_location", 0);
  size_t len = raw.value("stmt_len", 0);
  if (len == 0) len = script.size() - loc;
  std::string_view range = script.substr(loc, len);
  // Skip leading whitespace and comments that the range includes.
  size_t i = 0;
  while (i < range.size()) {
    if (std::isspace(static_cast<unsigned char>(range[i]))) { ++i; continue; }
    if (range.compare(i, 2, "--") == 0) { while (i < range.size() && range[i] != '\n') ++i; continue; }
    if (range.compare(i, 2, "/*") == 0) {
      auto end = range.find("*/", i + 2);
      i = end == std::string_view::npos ? range.size() : end + 2;
      continue;
    }
    break;
  }
  size_t e = range.size();
  while (e > i && (std::isspace(static_cast<unsigned char>(range[e - 1])) || range[e - 1] == ';')) --e;
  st.text = std::string(range.substr(i, e - i));
  st.offset = loc + i;
  const json& stmt = raw["stmt"];
  if (!stmt.is_object() || stmt.empty()) return st;
  st.node = stmt.begin().key();
  const json& body = stmt.begin().value();
  st.concurrently = flag(body, "concurrent");
  st.transaction_control = st.node == "TransactionStmt";
  st.allowed_in_transaction = !never_in_transaction(st.node, body) && !st.transaction_control;
  if (st.node == "ReindexStmt") st.concurrently = !st.allowed_in_transaction;
  st.actions = derive_actions(st.node, body);
  if (st.node == "IndexStmt") {
    st.index_name = body.value("idxname", "");
    if (body.contains("relation")) st.index_schema = body["relation"].value("schemaname", "");
  }
  return st;
}

}  // namespace

bool Script::allowed_in_transaction() const {
  for (const auto& s : statements)
    if (!s.allowed_in_transaction) return false;
  return true;
}

ParseOutcome parse(std::string_view text) {
  std::string input(text);
  ParseResultGuard g{pg_query_parse(input.c_str())};
  ParseOutcome out;
  if (g.r.error) {
    size_t pos = g.r.error->cursorpos > 0 ? static_cast<size_t>(g.r.error->cursorpos - 1) : 0;
    out.error = SyntaxError{pos, g.r.error->message ? g.r.error->message : "syntax error"};
    return out;
  }
  json tree = json::parse(g.r.parse_tree);
  Script script;
  if (tree.contains("stmts"))
    for (const auto& raw : tree["stmts"]) script.statements.push_back(describe(input, raw));
  out.script = std::move(script);
  return out;
}

std::string quote_ident(std::string_view ident) {
  bool plain = !ident.empty() && (std::islower(static_cast<unsigned char>(ident[0])) || ident[0] == '_');
  for (char c : ident)
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_')) plain = false;
  if (plain) return std::string(ident);
  std::string out = "\"";
  for (char c : ident) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace phasegate::sql
