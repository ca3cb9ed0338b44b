#include "lint/context.hpp"

namespace phasegate::lint {

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
  if (a.kind == "alter_type" && !cx.table_is_new()) {
    bool maybe = a.rewrite == sql::Rewrite::maybe;
    cx.report_as(maybe ? "warning" : "error", "change-column-type",
              std::string("changing the type of \"") + a.table + "." + a.column + "\" to " + a.type_name +
                  (maybe ? " may rewrite the table" : " rewrites the table and its indexes") +
                  " under ACCESS EXCLUSIVE",
              "add a new column of the new type, write both from the application, backfill in batches, then switch "
              "reads and drop the old column in the contract phase");
  }
  if (a.kind == "set_not_null" && !cx.table_is_new() &&
      !cx.history.validated_checks.count(a.table + "." + a.column))
    cx.report("set-not-null",
              "SET NOT NULL on \"" + a.table + "." + a.column + "\" scans the whole table under ACCESS EXCLUSIVE",
              "first ADD CONSTRAINT ... CHECK (" + a.column + " IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT in a "
              "later step; SET NOT NULL then skips the scan (PostgreSQL 12+)");
}

}  // namespace phasegate::lint
