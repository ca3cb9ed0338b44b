#include "lint/context.hpp"

namespace phasegate::lint {

void phases_rules(const Context& cx) {
  const auto& a = cx.action;
  if (cx.phase_is(Phase::contract)) return;
  if ((a.kind == "rename_column" || a.kind == "rename_table") && !cx.table_is_new())
    cx.report("rename",
              std::string("renaming ") + (a.kind == "rename_column" ? "column \"" + a.table + "." + a.column + "\""
                                                                     : "table \"" + a.table + "\"") +
                  " in the " + phase_name(cx.unit.phase) + " phase breaks the code that is still running",
              "add the new name (a new column written by both versions, or a view), switch the code, and drop the "
              "old name in the contract phase");
  if (a.kind == "rename_schema" || a.kind == "rename_enum_value")
    cx.report("rename",
              std::string("renaming ") + (a.kind == "rename_schema" ? "schema \"" + a.name + "\"" : "value '" + a.column + "' of type \"" + a.name + "\"") +
                  " in the " + phase_name(cx.unit.phase) + " phase breaks the code that is still running",
              a.kind == "rename_schema" ? "keep the old name working (search_path, or a schema of views) until the code has switched; rename in contract"
                                        : "add the new value (ADD VALUE), switch the code to write it, UPDATE the rows in batches, and stop using the "
                                          "old value; enum values cannot be dropped, so rename only in the contract phase if at all");
  bool drop = a.kind == "drop_column" || a.kind == "drop_table" || a.kind == "drop_constraint" || a.kind == "drop_not_null";
  if (drop && !cx.table_is_new()) {
    std::string what = a.kind == "drop_column"       ? "DROP COLUMN \"" + a.column + "\""
                       : a.kind == "drop_table"      ? "DROP TABLE \"" + a.table + "\""
                       : a.kind == "drop_constraint" ? "DROP CONSTRAINT \"" + a.name + "\""
                                                     : "DROP NOT NULL on \"" + a.column + "\"";
    cx.report("drop-in-expand",
              what + " in the " + phase_name(cx.unit.phase) + " phase: the old code still running may depend on it",
              "move it to the contract phase, after every instance runs code that no longer uses it");
  }
}

}  // namespace phasegate::lint
