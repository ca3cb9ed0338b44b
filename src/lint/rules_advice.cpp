// Schema-design advice (issue #13), opt-in like squawk's prefer-* rules: column types of CREATE TABLE, ADD COLUMN
// and ALTER COLUMN TYPE, enum values without a position, statements that fail when run twice. Plus
// identifier-too-long, on by default: PostgreSQL changes such a name without an error. docs/rules/ has a page each.
#include <algorithm>
#include <cctype>

#include "lint/context.hpp"
#include "phasegate/text.hpp"

namespace phasegate::lint {

namespace {

std::string base_type(const std::string& type_name) { return type_name.substr(0, type_name.find('(')); }

// How a type reads in SQL: "int4" -> "integer", "bpchar(5)" -> "char(5)".
std::string sql_type(const std::string& type_name) {
  const std::string base = base_type(type_name), mods = type_name.substr(base.size());
  if (base == "int4") return "integer";
  if (base == "int2") return "smallint";
  if (base == "bpchar") return "char" + mods;
  return type_name;
}

std::string column_of(const sql::Action& a) { return "\"" + (a.table.empty() ? a.column : a.table + "." + a.column) + "\""; }

void column_types(const Context& cx) {
  const auto& a = cx.action;
  const std::string base = base_type(a.type_name);
  const bool altered = a.kind == "alter_type";
  // "column "t.c" is varchar(20)" / "changing "t.c" to varchar(20)"
  const std::string what = altered ? "changing " + column_of(a) + " to " + sql_type(a.type_name)
                                   : "column " + column_of(a) + " is " + sql_type(a.type_name);
  if (base == "varchar" && a.type_name != base && cx.enabled_rule("prefer-text"))
    cx.report("prefer-text",
              what + ": raising the limit later takes ACCESS EXCLUSIVE, lowering it rewrites the table, and the limit "
                     "makes it no smaller or faster than text",
              "use text, with CHECK (char_length(" + a.column + ") <= n) if the limit is a rule of the data (a CHECK "
              "can be replaced NOT VALID and validated without blocking)");
  static const char* const kSmallKeys[] = {"int4", "int2", "serial", "serial4", "smallserial", "serial2"};
  const bool small = std::find(std::begin(kSmallKeys), std::end(kSmallKeys), base) != std::end(kSmallKeys);
  if (small && (a.primary_key || a.foreign_key) && cx.enabled_rule("prefer-bigint")) {
    const bool two = base == "int2" || base == "smallserial" || base == "serial2";
    cx.report("prefer-bigint",
              std::string(a.primary_key ? "primary key " : "foreign-key column ") + column_of(a) + " is " +
                  sql_type(a.type_name) + ": it runs out at " + (two ? "32,767" : "2,147,483,647") +
                  ", and widening it then rewrites the table (and every table referencing it) under ACCESS EXCLUSIVE",
              a.primary_key ? "use bigint (bigint GENERATED ALWAYS AS IDENTITY for a key the database generates)"
                            : "use bigint, the type of the key it references (or will, once that key is widened)");
  }
  if (a.serial && !altered && cx.enabled_rule("prefer-identity"))
    cx.report("prefer-identity",
              what + ": its sequence is a separate object with its own grants and owner, CREATE TABLE ... LIKE copies "
                     "the default but not the sequence, and explicit ids inserted past it collide later",
              "use bigint GENERATED ALWAYS AS IDENTITY (BY DEFAULT to allow explicit values): the sequence belongs to "
              "the column and follows it");
  if (base == "timestamp" && cx.enabled_rule("prefer-timestamptz"))
    cx.report("prefer-timestamptz",
              what + " (without time zone): it stores a wall-clock time with no zone, so what it means depends on the "
                     "TimeZone of the session that wrote it, and arithmetic across a DST change is off by an hour",
              "use timestamptz: it stores an instant and shows it in the reader's zone (converting a column in use "
              "later is a rewrite)");
  if (base == "bpchar" && cx.enabled_rule("ban-char"))
    cx.report("ban-char",
              what + ": values are blank-padded to the length, trailing spaces are ignored when compared but kept "
                     "elsewhere, and it is no smaller or faster than text",
              "use text (with CHECK (char_length(" + a.column + ") = n) if the length is fixed)");
  if (base == "json" && cx.enabled_rule("prefer-jsonb"))
    cx.report("prefer-jsonb",
              what + ": json keeps the text as written and parses it again on every access; it has no equality, so "
                     "no GIN index, DISTINCT or GROUP BY on it",
              "use jsonb (json only if the exact text, key order or duplicate keys must be kept)");
}

// What makes the statement safe to run again: "CREATE TABLE" -> "IF NOT EXISTS".
const char* missing_clause(const std::string& what) {
  if (what.starts_with("DROP")) return "IF EXISTS";
  if (what == "CREATE VIEW" || what == "CREATE FUNCTION" || what == "CREATE PROCEDURE" || what == "CREATE TRIGGER")
    return "OR REPLACE";
  return "IF NOT EXISTS";
}

void require_idempotent(const Context& cx) {
  const auto& items = cx.statement.not_idempotent;
  if (items.empty() || !cx.enabled_rule("require-idempotent")) return;
  std::vector<std::string> parts;
  for (const auto& w : items) {
    if (w == "CREATE INDEX (unnamed)") parts.push_back("CREATE INDEX without a name");
    else parts.push_back(w + " without " + missing_clause(w));
    if (std::find(parts.begin(), parts.end() - 1, parts.back()) != parts.end() - 1) parts.pop_back();
  }
  const std::string& first = items.front();
  const bool unnamed = first == "CREATE INDEX (unnamed)";
  const std::string clause = missing_clause(first);
  std::string help = unnamed ? "name the index and write CREATE INDEX IF NOT EXISTS name ON ..."
                     : clause == "OR REPLACE" ? "write CREATE OR REPLACE " + first.substr(7) + " ..."
                     : first.starts_with("DROP") ? "write " + first + " IF EXISTS ..."
                     : first == "ADD COLUMN" ? "write ADD COLUMN IF NOT EXISTS ..."
                     : first == "ADD VALUE" ? "write ADD VALUE IF NOT EXISTS ..."
                                            : "write " + first + " IF NOT EXISTS ...";
  cx.report("require-idempotent",
            join(parts, ", ") + (unnamed && parts.size() == 1 ? ": run again, it builds a second index under another name"
                                                              : ": run again (a re-run after a failure half-way, by hand or by another tool) it fails"),
            help);
}

// Whether a statement might hold an identifier over 63 bytes: a run of 64 identifier bytes, or 64 bytes between
// two double quotes. Cheap, so the scanner runs only on the few statements that pass.
bool maybe_long_identifier(std::string_view t) {
  size_t run = 0, last_quote = std::string_view::npos;
  for (size_t i = 0; i < t.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(t[i]);
    if (std::isalnum(c) || c == '_' || c == '$' || c >= 0x80) {
      if (++run > 63) return true;
      continue;
    }
    run = 0;
    if (c != '"') continue;
    if (i + 1 < t.size() && t[i + 1] == '"') {  // "" inside a quoted identifier
      ++i;
      continue;
    }
    if (last_quote != std::string_view::npos && i - last_quote > 64) return true;
    last_quote = i;
  }
  return false;
}

// The identifier as PostgreSQL stores it: quotes removed ("" -> "), unquoted ones lowercased (ASCII).
std::string identifier_value(std::string_view token) {
  std::string out;
  if (!token.empty() && token.front() == '"') {
    for (size_t i = 1; i + 1 < token.size(); ++i) {
      out += token[i];
      if (token[i] == '"' && token[i + 1] == '"') ++i;
    }
    return out;
  }
  for (char c : token) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void identifier_too_long(const Context& cx) {
  const std::string& text = cx.statement.text;
  if (text.size() < 64 || !maybe_long_identifier(text)) return;
  auto tokens = sql::scan(text);
  if (!tokens) return;
  std::vector<std::string> seen;
  for (const auto& t : *tokens) {
    if (t.kind != sql::Token::Kind::identifier) continue;
    std::string name = identifier_value(std::string_view(text).substr(t.start, t.end - t.start));
    if (name.size() <= 63 || std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
    seen.push_back(name);
    size_t cut = 63;  // PostgreSQL cuts at a character boundary (pg_mbcliplen)
    while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
    cx.report("identifier-too-long",
              "identifier \"" + truncate_utf8(name, 120) + "\" is " + std::to_string(name.size()) +
                  " bytes: PostgreSQL silently truncates it to 63 (\"" + name.substr(0, cut) +
                  "\"), so the object is not named as the migration says, and two names alike in their first 63 bytes "
                  "are the same name (IF NOT EXISTS then skips the second without an error)",
              "shorten it to at most 63 bytes");
  }
}

}  // namespace

void advice_rules(const Context& cx) {
  const auto& a = cx.action;
  if (a.kind == "create_column" || a.kind == "add_column" || a.kind == "alter_type") column_types(cx);
  if (a.kind == "add_enum_value" && !a.positioned && cx.enabled_rule("enum-value-position"))
    cx.report("enum-value-position",
              "ADD VALUE '" + a.column + "' to \"" + a.name + "\" without BEFORE or AFTER puts it last, so the type's "
              "order (ORDER BY, <, >, min, max on the column) follows the order values were added, not their meaning",
              "say where it belongs: ALTER TYPE " + a.name + " ADD VALUE '" + a.column +
                  "' BEFORE '...' (or AFTER '...'); if order has no meaning for this type, silence the rule");
}

void advice_statement_rules(const Context& cx) {
  require_idempotent(cx);
  identifier_too_long(cx);
}

}  // namespace phasegate::lint
