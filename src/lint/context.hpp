#pragma once
// What a rule sees: the unit, the statement, the action, the plan history, and how to report.
#include "phasegate/lint.hpp"

namespace phasegate::lint {

struct Context {
  const Unit& unit;
  const sql::Statement& statement;
  const sql::Action& action;
  const History& history;
  size_t statements_in_unit = 1;
  bool in_explicit_transaction = false;  // plain .sql: between BEGIN and COMMIT
  const std::set<std::string>& not_valid_in_unit;
  const Catalog* catalog = nullptr;  // set with lint --db  // "table.constraint" added NOT VALID earlier in this unit
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

using RuleFn = void (*)(const Context&);

// Rule families, one file each; registry.cpp lists them.
void columns_rules(const Context& cx);      // add-column-*, change-column-type, set-not-null
void constraints_rules(const Context& cx);  // constraint-missing-not-valid, add-unique-constraint
void indexes_rules(const Context& cx);      // require-concurrent-index, concurrent-in-transaction
void phases_rules(const Context& cx);       // rename, drop-in-expand
void rewrite_rules(const Context& cx);      // table-rewrite, missing-lock-timeout
void database_rules(const Context& cx);     // big-table, long-transactions (lint --db)
void objects_rules(const Context& cx);      // detach-partition, trigger-ddl, lock-table, refresh-materialized-view,
                                            // domain-constraint, drop-cascade, drop-database
void advice_rules(const Context& cx);       // opt-in schema advice on column types, enum-value-position
// Once per statement (cx.action is empty): require-idempotent, identifier-too-long.
void advice_statement_rules(const Context& cx);

}  // namespace phasegate::lint
