#include "lint/context.hpp"

namespace phasegate::lint {

void constraints_rules(const Context& cx) {
  const auto& a = cx.action;
  if (a.kind == "validate_constraint" && cx.not_valid_in_unit.count(a.table + "." + a.name) &&
      cx.unit.transaction.value_or(true))
    cx.report("constraint-missing-not-valid",
              "constraint \"" + a.name + "\" is added NOT VALID and validated in the same transaction, so the "
              "validation scan runs while the ADD's lock is still held",
              "move VALIDATE CONSTRAINT to a later step (the migrate phase)");
  if (a.kind == "add_column" && !a.inline_unique.empty() && !cx.table_is_new())
    cx.report("add-unique-constraint",
              "adding column \"" + a.column + "\" with " + (a.inline_unique == "primary" ? "PRIMARY KEY" : "UNIQUE") +
                  " builds its index on \"" + a.table + "\" under ACCESS EXCLUSIVE",
              "add the column plain, CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX");
  if (a.kind != "add_constraint" || cx.table_is_new()) return;
  if ((a.constraint == "foreign" || a.constraint == "check") && !a.not_valid)
    cx.report("constraint-missing-not-valid",
              "adding " + std::string(a.constraint == "foreign" ? "FOREIGN KEY" : "CHECK") + " constraint" +
                  (a.name.empty() ? "" : " \"" + a.name + "\"") + " to \"" + a.table +
                  "\" validates every row while holding its lock",
              "add it with NOT VALID (fast), then VALIDATE CONSTRAINT in a later step (SHARE UPDATE EXCLUSIVE only)");
  if (a.constraint == "unique" || a.constraint == "primary" || a.constraint == "exclusion") {
    if (a.using_index) return;
    cx.report("add-unique-constraint",
              "adding a " + std::string(a.constraint == "primary" ? "PRIMARY KEY" : a.constraint == "unique" ? "UNIQUE" : "EXCLUDE") +
                  " constraint builds its index on \"" + a.table + "\" under ACCESS EXCLUSIVE",
              "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... " +
                  std::string(a.constraint == "primary" ? "PRIMARY KEY" : "UNIQUE") + " USING INDEX");
  }
}

}  // namespace phasegate::lint
