#pragma once
// What a rule sees: the unit, the statement, the action, the plan history, and how to report.
#include "phasegate/lint.hpp"

namespace phasegate::lint {

struct Context {
  const Unit& unit;
  const sql::Statement& statement;
  const sql::Action& action;  // statement-level rules (transactions_rules) see an empty action
  const History& history;     // history.tx: what the statement's transaction did before it
  size_t statements_in_unit = 1;
  const Transaction& tx;      // the statement's transaction (registry.cpp, transactions_of)
  const Catalog* catalog = nullptr;  // set with lint --db
  std::function<void(const char* rule, std::string message, std::string help, const char* level)> sink;
  const std::set<std::string>* enabled = nullptr;  // opt-in rules switched on for this lint

  bool enabled_rule(const char* rule) const { return enabled && enabled->count(rule); }

  void report(const char* rule, std::string message, std::string help) const { sink(rule, std::move(message), std::move(help), nullptr); }
  void report_as(const char* level, const char* rule, std::string message, std::string help) const {
    sink(rule, std::move(message), std::move(help), level);
  }

  std::string table_key() const { return action.table; }
  bool table_is_new() const { return history.created_tables.count(action.table) > 0; }
  bool phase_is(Phase p) const { return unit.phase == p; }
};

// Whether the action's relation existed before the plan or file (DROP INDEX: the index).
inline bool existed_before(const sql::Action& a, const History& h) {
  if (a.kind == "drop_index") return !h.created_indexes.count(a.name);
  return a.table.empty() || !h.created_tables.count(a.table);
}

// The relation an action's lock falls on, for messages: "\"t\"", "the table of index \"i\"", "every table of
// schema \"s\"", "every table" (CLUSTER / VACUUM FULL without one), never `""`.
inline std::string target_of(const sql::Action& a) {
  auto q = [](const std::string& s) { return "\"" + s + "\""; };
  if (a.kind == "drop_index") return "the table of index " + q(a.name);
  if (a.kind == "reindex") {
    if (a.object == "index") return "the table of index " + q(a.table);
    if (a.object == "schema") return "every table of schema " + q(a.name);
    if (a.object == "database") return "every table of database " + q(a.name);
    if (a.object == "system") return "the system catalogs";
  }
  if (a.object == "all" && a.kind == "cluster") return "every table clustered before";
  if (a.object == "all") return "every table of the database";
  return a.table.empty() ? (a.name.empty() ? "the table" : q(a.name)) : q(a.table);
}

using RuleFn = void (*)(const Context&);

// Rule families, one file each; registry.cpp lists them.
void columns_rules(const Context& cx);      // add-column-*, change-column-type, set-not-null
void constraints_rules(const Context& cx);  // constraint-missing-not-valid, add-unique-constraint
void indexes_rules(const Context& cx);      // require-concurrent-index, concurrent-in-transaction
void phases_rules(const Context& cx);       // rename, drop-in-expand
void rewrite_rules(const Context& cx);      // table-rewrite, missing-lock-timeout, missing-statement-timeout
void database_rules(const Context& cx);     // big-table, long-transactions (lint --db)
void objects_rules(const Context& cx);      // detach-partition, trigger-ddl, lock-table, refresh-materialized-view,
                                            // domain-constraint, drop-cascade, drop-database
void advice_rules(const Context& cx);       // opt-in schema advice on column types, enum-value-position
// Once per statement (cx.action is empty): require-idempotent, identifier-too-long.
void advice_statement_rules(const Context& cx);
// Once per statement, with an empty action (rules_transactions.cpp): ddl-then-dml, statements-after-access-exclusive,
// enum-value-used-in-transaction, uncommitted-transaction, transaction-nesting, concurrent-in-transaction for
// statements that cannot run in a transaction block.
void transactions_rules(const Context& cx);

}  // namespace phasegate::lint
