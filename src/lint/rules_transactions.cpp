// Rules over the transaction a statement runs in (issue #13): registry.cpp decides the transactions once
// (transactions_of) and keeps what the current one did in History::tx; these rules run once per statement.
#include <algorithm>
#include <cctype>

#include "lint/context.hpp"

namespace phasegate::lint {

namespace {

// The statement's leading keywords, for messages: "VACUUM", "REINDEX SCHEMA", "CREATE DATABASE".
std::string leading_words(const std::string& text, int words) {
  std::string out;
  for (size_t i = 0; i < text.size() && words > 0;) {
    size_t end = i;
    while (end < text.size() && std::isalpha(static_cast<unsigned char>(text[end]))) ++end;
    if (end == i) break;
    if (!out.empty()) out += ' ';
    for (size_t k = i; k < end; ++k) out += static_cast<char>(std::toupper(static_cast<unsigned char>(text[k])));
    --words;
    i = end;
    while (i < text.size() && text[i] == ' ') ++i;
  }
  return out;
}

// A string literal of the statement equal to a value added by ADD VALUE earlier in the transaction.
const std::pair<const std::string, std::string>* uses_new_value(const sql::Statement& st, const std::map<std::string, std::string>& values) {
  auto tokens = sql::scan(st.text);
  if (!tokens) return nullptr;
  for (const auto& t : *tokens) {
    if (t.kind != sql::Token::Kind::other || t.end - t.start < 2 || st.text[t.start] != '\'') continue;
    std::string literal;
    for (size_t i = t.start + 1; i + 1 < t.end; ++i) {
      literal += st.text[i];
      if (st.text[i] == '\'') ++i;  // '' is one quote
    }
    if (auto it = values.find(literal); it != values.end()) return &*it;
  }
  return nullptr;
}

bool is_dml(const sql::Action& a) { return a.kind == "update" || a.kind == "delete" || a.kind == "insert"; }

// Catalog-only changes of the table whose ACCESS EXCLUSIVE the transaction already holds (renaming or dropping
// a column, dropping a trigger of it) and drops of objects that are no relation (a function): they take no
// other relation lock and do no work, so the table's queries wait no longer for them. Swapping two column names
// needs two RENAMEs in one transaction (plans/change-column-type.toml).
bool instant_under_held_lock(const sql::Statement& st, const std::string& held) {
  if (st.actions.empty()) return false;
  return std::all_of(st.actions.begin(), st.actions.end(), [&](const sql::Action& a) {
    if (a.cascade) return false;
    if (a.kind == "drop_other") return a.lock == sql::Lock::none && a.table.empty();
    const bool catalog_only = a.kind == "rename_column" || a.kind == "drop_column" || a.kind == "drop_trigger";
    return catalog_only && a.rewrite == sql::Rewrite::no && target_of(a) == held;
  });
}

}  // namespace

void transactions_rules(const Context& cx) {
  const auto& st = cx.statement;
  const auto& x = cx.history.tx;
  if (st.tx == sql::TxKind::begin && cx.tx.nested)
    cx.report("transaction-nesting",
              "BEGIN inside a transaction that is already open: PostgreSQL ignores it (WARNING: there is already a "
              "transaction in progress), so the first COMMIT or ROLLBACK ends the outer transaction too",
              "remove the inner BEGIN (use SAVEPOINT for a part that may roll back alone), or COMMIT before it");
  if (st.tx == sql::TxKind::begin && cx.tx.unterminated)
    cx.report("uncommitted-transaction",
              "this BEGIN has no COMMIT or ROLLBACK before the end of the file: when the session ends everything after "
              "it is rolled back, and a session that stays open keeps every lock it took",
              "end the block with COMMIT;");
  if (!st.allowed_in_transaction && !st.transaction_control && !st.concurrently && cx.tx.block)
    cx.report("concurrent-in-transaction",
              leading_words(st.text, st.node == "VacuumStmt" || st.node == "ClusterStmt" ? 1 : 2) +
                  " cannot run inside a transaction block: it fails at run time",
              cx.unit.sql_file ? "run it outside BEGIN ... COMMIT" : "put it in a step of its own with transaction = false");
  if (!x.new_enum_values.empty() && !std::any_of(st.actions.begin(), st.actions.end(), [](const sql::Action& a) { return a.kind == "add_enum_value"; }))
    if (const auto* v = uses_new_value(st, x.new_enum_values))
      cx.report("enum-value-used-in-transaction",
                "'" + v->first + "' was added to type \"" + v->second + "\" by ALTER TYPE ... ADD VALUE in this transaction: "
                "using it before that transaction commits fails (unsafe use of new value \"" + v->first + "\")",
                "commit the ADD VALUE first: a step (or a transaction) of its own before the statements that use the value");
  if (x.access_exclusive.empty() || st.transaction_control || st.setting || st.node == "VariableShowStmt") return;
  const auto dml = std::find_if(st.actions.begin(), st.actions.end(), is_dml);
  if (dml != st.actions.end() && x.ddl) {
    const bool values_only = dml->kind == "insert" && !dml->has_select;
    const std::string verb = dml->kind == "update" ? "UPDATE" : dml->kind == "delete" ? "DELETE" : "INSERT";
    cx.report_as(values_only ? "warning" : "error", "ddl-then-dml",
                 verb + " of \"" + dml->table + "\" runs while this transaction holds ACCESS EXCLUSIVE on " + x.access_exclusive +
                     " (taken by DDL earlier in it): every query of that table waits until COMMIT, for as long as the " +
                     verb + (values_only ? " takes" : " takes over all its rows"),
                 "commit the DDL first (a step of its own), then change the data in the migrate phase, in batches (a "
                 "backfill step)");
    return;
  }
  if (instant_under_held_lock(st, x.access_exclusive)) return;
  cx.report("statements-after-access-exclusive",
            "this statement runs while the transaction holds ACCESS EXCLUSIVE on " + x.access_exclusive +
                ": every query of that table waits for it too, and for any lock it waits for",
            "take ACCESS EXCLUSIVE last in its transaction: move this statement before it or into a transaction (step) of "
            "its own; several changes to one table fit in one ALTER TABLE");
}

}  // namespace phasegate::lint
