#include "lint/context.hpp"

namespace phasegate::lint {

namespace {

// Whether an index known to lint (the catalog's, or one created earlier in the run) covers the column.
bool column_indexed(const Context& cx) {
  const auto& a = cx.action;
  auto covers = [&](const std::map<std::string, std::vector<std::vector<std::string>>>& m, const std::string& key) {
    auto it = m.find(key);
    if (it == m.end()) return false;
    for (const auto& cols : it->second)
      for (const auto& c : cols)
        if (c == a.column || c.empty()) return true;  // an expression may use it
    return false;
  };
  const std::string key = a.schema.empty() ? a.table : a.schema + "." + a.table;
  return covers(cx.history.created_index_columns, a.table) || (cx.catalog && covers(cx.catalog->index_columns, key));
}

// ALTER COLUMN ... TYPE: the old type, when this run knows it (registry.cpp resolved a.rewrite with
// sql::type_change), decides; without it `maybe` stays a warning.
void change_column_type(const Context& cx) {
  const auto& a = cx.action;
  const std::string col = "\"" + a.table + "." + a.column + "\"";
  const std::string help = "add a new column of the new type, write both from the application, backfill in batches, "
                           "then switch reads and drop the old column in the contract phase";
  if (a.rewrite == sql::Rewrite::no) {
    // Binary compatible. citext's own operator class still rebuilds the column's indexes under the lock.
    auto change = sql::type_change(a.old_type, a.type_name);
    if (change.reindexes && (!cx.catalog || column_indexed(cx)))
      cx.report_as("warning", "change-column-type",
                   "changing the type of " + col + ": " + change.why + ", under ACCESS EXCLUSIVE",
                   "build the new index CONCURRENTLY on a new column instead, or accept the rebuild in an off-peak window");
    return;
  }
  if (a.rewrite == sql::Rewrite::maybe) {
    cx.report_as("warning", "change-column-type",
                 "changing the type of " + col + " to " + a.type_name + " may rewrite the table under ACCESS EXCLUSIVE: " +
                     (a.old_type.empty() ? "it depends on the old type, which this run does not know (an earlier CREATE TABLE "
                                           "or ADD COLUMN, or lint --db, tells)"
                                         : a.rewrite_why),
                 help);
    return;
  }
  cx.report("change-column-type",
            "changing the type of " + col + " to " + a.type_name + " rewrites the table and its indexes under ACCESS EXCLUSIVE" +
                (a.old_type.empty() ? "" : " (" + a.rewrite_why + ")"),
            help);
}

}  // namespace

void columns_rules(const Context& cx) {
  const auto& a = cx.action;
  if (a.kind == "add_column" && !cx.table_is_new()) {
    std::string volatile_fn = a.volatile_function;
    if (volatile_fn.empty() && cx.catalog)  // lint --db: pg_proc's provolatile for the functions the default calls
      for (const auto& f : a.default_functions)
        if (cx.catalog->volatile_functions.count(f) || (!cx.catalog->known_functions.count(f) && f == a.unknown_function))
          volatile_fn = f;
    // Without --db a function phasegate does not know is assumed volatile: the safe guess (issue #13).
    const bool assumed = volatile_fn.empty() && !cx.catalog && !a.unknown_function.empty();
    if (assumed) volatile_fn = a.unknown_function;
    if (!volatile_fn.empty() || a.serial || a.identity || a.generated_stored) {
      std::string why = assumed ? "a default calling " + volatile_fn + "(), which phasegate does not know and assumes volatile"
                                  " (lint --db asks pg_proc)"
                        : !volatile_fn.empty() ? "a volatile default (" + volatile_fn + "())"
                        : a.serial         ? "a " + a.type_name + " column"
                        : a.identity       ? "an identity column"
                                           : "a GENERATED ... STORED column";
      cx.report("add-column-volatile-default",
                "adding column \"" + a.column + "\" with " + why + " rewrites table \"" + a.table +
                    "\" and all its indexes under ACCESS EXCLUSIVE",
                "add the column without the default (or as a plain int), set the default afterwards, and backfill in "
                "batches in the migrate phase");
    }
    if (a.not_null && !a.has_default && !a.identity && !a.serial && !a.generated_stored)
      cx.report("add-column-required",
                "adding NOT NULL column \"" + a.column + "\" without a default fails on a non-empty table \"" + a.table + "\"",
                "add it nullable (or with a constant default), backfill, then add a CHECK (" + a.column +
                    " IS NOT NULL) NOT VALID, VALIDATE it, and SET NOT NULL");
  }
  if (a.kind == "alter_type" && !cx.table_is_new()) change_column_type(cx);
  if (a.kind == "set_not_null" && !cx.table_is_new() &&
      !cx.history.validated_checks.count(a.table + "." + a.column))
    cx.report("set-not-null",
              "SET NOT NULL on \"" + a.table + "." + a.column + "\" scans the whole table under ACCESS EXCLUSIVE",
              "first ADD CONSTRAINT ... CHECK (" + a.column + " IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT in a "
              "later step; SET NOT NULL then skips the scan (PostgreSQL 12+)");
}

}  // namespace phasegate::lint
