// Which steps a rollback need not undo (SPEC §5.1): decided from the statement facts, never from names.
#include <algorithm>
#include <cctype>

#include "phasegate/lint.hpp"
#include "phasegate/text.hpp"

namespace phasegate::lint {

namespace {
std::string lower_unquoted(std::string s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// "public.books" / "books" / "\"Books\"" -> the bare table name as the catalog spells it.
std::string bare_table(const std::string& table) {
  auto dot = table.rfind('.');
  return lower_unquoted(dot == std::string::npos ? table : table.substr(dot + 1));
}

// The columns a backfill's `set` assigns: "a = x, b = f(y, z)" -> {a, b} (commas inside parentheses skipped).
std::vector<std::string> assigned_columns(const std::string& set) {
  std::vector<std::string> out;
  int depth = 0;
  bool quoted = false, want = true;
  std::string current;
  for (char c : set) {
    if (c == '\'') quoted = !quoted;
    if (quoted) continue;
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      want = true;
      current.clear();
      continue;
    }
    if (want && c == '=') {
      out.push_back(lower_unquoted(current));
      want = false;
      continue;
    }
    if (want) current += c;
  }
  return out;
}
}  // namespace

bool needs_no_undo(const sql::Script& script) {
  if (script.statements.empty()) return false;
  return std::all_of(script.statements.begin(), script.statements.end(), [](const sql::Statement& st) {
    if (st.node == "VacuumStmt")
      return std::none_of(st.actions.begin(), st.actions.end(), [](const sql::Action& a) { return a.kind == "vacuum_full"; });
    return st.node == "AlterTableStmt" && !st.actions.empty() &&
           std::all_of(st.actions.begin(), st.actions.end(), [](const sql::Action& a) { return a.kind == "validate_constraint"; });
  });
}

bool rerun_safe(const sql::Script& script) {
  if (needs_no_undo(script)) return true;
  return std::all_of(script.statements.begin(), script.statements.end(), [](const sql::Statement& st) {
    auto tokens = sql::canonical_tokens(st.text).value_or("");
    return tokens.find("if not exists") != std::string::npos || tokens.find("or replace") != std::string::npos ||
           tokens.find("if exists") != std::string::npos;
  });
}

std::optional<std::string> why_no_undo(const Step& step, const std::vector<const Step*>& older) {
  if (!step.sql.empty()) {
    auto parsed = sql::parse(step.sql);
    if (parsed.script && needs_no_undo(*parsed.script))
      return "VALIDATE CONSTRAINT / ANALYZE leave nothing to undo";
    return std::nullopt;
  }
  if (!step.backfill) return std::nullopt;
  const std::string table = bare_table(step.backfill->table);
  const auto columns = assigned_columns(step.backfill->set);
  for (const Step* o : older) {
    if (o->down.empty()) continue;
    auto parsed = sql::parse(o->down);
    if (!parsed.script) continue;
    for (const auto& st : parsed.script->statements)
      for (const auto& a : st.actions) {
        // The parser's names are spelt as the catalog spells them ("Order Items"): compared as they are.
        if (a.table != table) continue;
        if (a.kind == "drop_table") return "the down of step \"" + o->name + "\" drops table " + table;
        if (a.kind == "drop_column" && std::find(columns.begin(), columns.end(), a.column) != columns.end())
          return "the down of step \"" + o->name + "\" drops column " + table + "." + a.column;
      }
  }
  return std::nullopt;
}

}  // namespace phasegate::lint
