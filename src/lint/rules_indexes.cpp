#include "lint/context.hpp"

namespace phasegate::lint {

void indexes_rules(const Context& cx) {
  const auto& a = cx.action;
  bool index_kind = a.kind == "create_index" || a.kind == "drop_index" || a.kind == "reindex";
  if (!index_kind) return;
  bool new_object = a.kind == "drop_index" ? cx.history.created_indexes.count(a.name) > 0 : cx.table_is_new();
  if (a.kind == "reindex" && a.object == "system") {  // never CONCURRENTLY: PostgreSQL refuses it
    cx.report("require-concurrent-index",
              (a.fails.empty() ? std::string("REINDEX SYSTEM") : a.fails + ": it fails;") +
                  " REINDEX SYSTEM locks the system catalogs while it rebuilds their indexes, so every session's "
                  "catalog lookups and DDL wait, and it has no CONCURRENTLY form",
              "do not reindex the system catalogs in a migration: run it by hand in a maintenance window");
    return;
  }
  if (!a.concurrently && !new_object) {
    const char* verb = a.kind == "create_index" ? "CREATE INDEX" : a.kind == "drop_index" ? "DROP INDEX" : "REINDEX";
    cx.report("require-concurrent-index",
              std::string(verb) + " without CONCURRENTLY " +
                  (a.kind == "drop_index" ? "takes ACCESS EXCLUSIVE on " + target_of(a) + " (reads and writes wait)"
                                          : "blocks writes to " + target_of(a) + " for the whole build"),
              std::string(verb) + " CONCURRENTLY (it cannot run inside a transaction; phasegate runs it on its own)");
  }
  if (a.concurrently && a.kind == "create_index" && a.name.empty())
    cx.report("unnamed-concurrent-index",
              "CREATE INDEX CONCURRENTLY without a name: a build cut short (kill, server restart) leaves an invalid index "
              "under a generated name, and the retry builds a second one next to it",
              "name it: CREATE INDEX CONCURRENTLY " + (a.table.empty() ? std::string("t") : a.table) + "_..._idx ON ... "
              "(phasegate drops an invalid index of that name and rebuilds it when it resumes)");
  if (a.concurrently) {
    bool combined = cx.statements_in_unit > 1 && !cx.unit.sql_file;
    if (cx.tx.block || combined)
      cx.report("concurrent-in-transaction",
                combined ? "CONCURRENTLY combined with other statements in step \"" + cx.unit.step +
                               "\": they cannot share a transaction, and a failure half-way is harder to resume"
                         : "CONCURRENTLY inside a transaction block fails at run time",
                "put each CONCURRENTLY statement in a step of its own (phasegate runs it outside a transaction)");
  }
}

}  // namespace phasegate::lint
