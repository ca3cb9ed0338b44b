// Statements on objects other than columns and indexes (issue #13): partitions, triggers, explicit locks,
// materialized views, domains, tablespaces, CASCADE, dropping the database. One rule each; docs/rules/.
#include <algorithm>

#include "lint/context.hpp"

namespace phasegate::lint {

void objects_rules(const Context& cx) {
  const auto& a = cx.action;
  const bool existing = !a.table.empty() && !cx.table_is_new();
  if (a.kind == "detach_partition" && !a.concurrently && existing)
    cx.report("detach-partition",
              "DETACH PARTITION without CONCURRENTLY takes ACCESS EXCLUSIVE on \"" + a.table +
                  "\" and on the partition: every query of the partitioned table waits",
              "ALTER TABLE " + a.table + " DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+; not in a transaction: a step "
              "of its own), and FINALIZE if it is interrupted");
  if (a.kind == "detach_partition" && a.concurrently) {
    bool combined = cx.statements_in_unit > 1 && !cx.unit.sql_file;
    if (cx.tx.block || combined)
      cx.report("concurrent-in-transaction",
                combined ? "DETACH PARTITION CONCURRENTLY combined with other statements in step \"" + cx.unit.step + "\""
                         : "DETACH PARTITION CONCURRENTLY inside a transaction block fails at run time",
                "put it in a step of its own (phasegate runs it outside a transaction)");
  }
  // In a plan step the lock wait is bounded (lock_timeout, retries): what the rule asks for is met by a
  // CREATE OR REPLACE TRIGGER alone in its step, and a DROP TRIGGER in the contract phase, once the old code that
  // needed the trigger is gone (the sync triggers of plans/change-column-type.toml and rename-column.toml).
  const bool safe_in_plan =
      !cx.unit.sql_file &&
      ((a.kind == "create_trigger" && cx.statements_in_unit == 1 &&
        std::find(cx.statement.not_idempotent.begin(), cx.statement.not_idempotent.end(), "CREATE TRIGGER") == cx.statement.not_idempotent.end()) ||
       (a.kind == "drop_trigger" && cx.phase_is(Phase::contract)));
  if ((a.kind == "create_trigger" || a.kind == "drop_trigger" || a.kind == "enable_trigger") && existing && !safe_in_plan) {
    const char* verb = a.kind == "create_trigger" ? "CREATE TRIGGER" : a.kind == "drop_trigger" ? "DROP TRIGGER" : "ENABLE/DISABLE TRIGGER";
    cx.report("trigger-ddl",
              std::string(verb) + " takes " + sql::lock_name(a.lock) + " on \"" + a.table + "\" (" + sql::lock_blocks(a.lock) +
                  "), and every write to it runs the trigger from then on",
              "give it a short lock_timeout with retries (a phasegate step has both) in a step of its own; create "
              "triggers with CREATE OR REPLACE TRIGGER so a re-run after a rollback is safe");
  }
  if (a.kind == "lock_table" && !cx.table_is_new()) {
    const bool blocking = a.lock >= sql::Lock::share;
    cx.report_as(blocking ? "error" : "warning", "lock-table",
                 std::string("LOCK TABLE \"") + a.table + "\" IN " + sql::lock_name(a.lock) + " MODE holds it until the transaction ends (" +
                     sql::lock_blocks(a.lock) + ")",
                 "do not lock explicitly: each statement takes the lock it needs, bounded by lock_timeout; if you need "
                 "a consistent copy, use a snapshot or a batched backfill instead");
  }
  if (a.kind == "refresh_matview" && !a.concurrently && existing)
    cx.report("refresh-materialized-view",
              "REFRESH MATERIALIZED VIEW without CONCURRENTLY takes ACCESS EXCLUSIVE on \"" + a.table +
                  "\" for the whole refresh: every read of it waits",
              "REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index on the view; not in a transaction)");
  if (a.kind == "alter_domain_constraint" && !a.not_valid)
    cx.report("domain-constraint",
              "ALTER DOMAIN \"" + a.name + "\" ADD CONSTRAINT checks every column of that type in every table, holding "
              "their locks while it scans",
              "ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in a later step; or use a CHECK on the table");
  if (a.kind == "create_domain_check")
    cx.report_as("warning", "domain-constraint",
                 "CREATE DOMAIN \"" + a.name + "\" with a CHECK: changing that check later scans every column of the type "
                 "in every table under their locks, and a failing value is hard to find",
                 "prefer a CHECK constraint on the table's column (ADD ... NOT VALID, then VALIDATE)");
  if (a.cascade)
    cx.report("drop-cascade",
              "DROP ... CASCADE also drops every object that depends on " +
                  (a.kind == "drop_column" ? "column \"" + a.table + "." + a.column + "\""
                   : !a.name.empty() ? "\"" + a.name + "\""
                                     : "\"" + a.table + "\"") +
                  " (views, foreign keys, functions ...), which nobody listed or reviewed",
              "drop the dependents by name first, then drop it without CASCADE (RESTRICT fails if anything was missed)");
  if (a.kind == "drop_database")
    cx.report("drop-database", "DROP DATABASE \"" + a.name + "\" in a migration destroys every table in it, for every application",
              "never in a migration: do it by hand, after a backup, with the applications stopped");
}

}  // namespace phasegate::lint
