#include "lint/context.hpp"

namespace phasegate::lint {

void constraints_rules(const Context& cx) {
  const auto& a = cx.action;
  // The same transaction as registry.cpp decides it: not across autocommitted statements or separate blocks.
  if (a.kind == "validate_constraint" && cx.history.tx.not_valid.count(a.table + "." + a.name))
    cx.report("constraint-missing-not-valid",
              "constraint \"" + a.name + "\" is added NOT VALID and validated in the same transaction, so the "
              "validation scan runs while the ADD's lock is still held",
              "move VALIDATE CONSTRAINT to a later step (the migrate phase)");
  if (a.kind != "add_constraint" || cx.table_is_new()) return;
  // A constraint declared on the column of an ADD COLUMN is the same fact as ADD CONSTRAINT (facts.cpp).
  const std::string on_column = a.inline_on_column ? " (declared on new column \"" + a.column + "\")" : "";
  const std::string kind_name = a.constraint == "foreign" ? "FOREIGN KEY" : a.constraint == "check" ? "CHECK"
                                : a.constraint == "primary" ? "PRIMARY KEY" : a.constraint == "unique" ? "UNIQUE" : "EXCLUDE";
  if ((a.constraint == "foreign" || a.constraint == "check") && !a.not_valid)
    cx.report("constraint-missing-not-valid",
              "adding " + kind_name + " constraint" + (a.name.empty() ? "" : " \"" + a.name + "\"") + on_column + " to \"" +
                  a.table + "\" validates every row while holding its lock" +
                  (a.constraint == "foreign" ? " (and SHARE ROW EXCLUSIVE on the referenced table, which blocks its writers)" : ""),
              a.inline_on_column
                  ? "add the column without it, then ADD CONSTRAINT ... " + kind_name + " ... NOT VALID, and VALIDATE CONSTRAINT in a later step"
                  : "add it with NOT VALID (fast), then VALIDATE CONSTRAINT in a later step (SHARE UPDATE EXCLUSIVE only)");
  if (a.constraint == "unique" || a.constraint == "primary" || a.constraint == "exclusion") {
    if (a.using_index) return;
    cx.report("add-unique-constraint",
              "adding a " + kind_name + " constraint" + on_column + " builds its index on \"" + a.table + "\" under ACCESS EXCLUSIVE",
              std::string(a.inline_on_column ? "add the column plain, then " : "") + "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... " +
                  (a.constraint == "primary" ? "PRIMARY KEY" : "UNIQUE") + " USING INDEX");
  }
}

}  // namespace phasegate::lint
