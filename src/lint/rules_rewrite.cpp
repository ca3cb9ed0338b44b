#include "lint/context.hpp"

namespace phasegate::lint {

void rewrite_rules(const Context& cx) {
  const auto& a = cx.action;
  bool rewrite = a.kind == "vacuum_full" || a.kind == "cluster" || a.kind == "set_logged" || a.kind == "truncate" ||
                 a.kind == "set_tablespace";
  if (rewrite && !cx.table_is_new()) {
    const char* what = a.kind == "vacuum_full" ? "VACUUM FULL" : a.kind == "cluster" ? "CLUSTER"
                       : a.kind == "set_logged" ? "SET LOGGED/UNLOGGED" : a.kind == "set_tablespace" ? "SET TABLESPACE" : "TRUNCATE";
    cx.report("table-rewrite",
              std::string(what) + " rewrites (or empties) \"" + a.table + "\" under ACCESS EXCLUSIVE",
              a.kind == "truncate" ? "delete in batches, or swap in a new table behind a view"
                                   : "use pg_repack or a batched copy into a new table instead");
  }
  bool strong = a.lock == sql::Lock::access_exclusive || a.lock == sql::Lock::share ||
                a.lock == sql::Lock::share_row_exclusive;
  if (cx.unit.sql_file && strong && !cx.history.lock_timeout_set && !cx.table_is_new())
    cx.report("missing-lock-timeout",
              std::string("this statement takes ") + sql::lock_name(a.lock) + " on \"" + a.table +
                  "\" with no lock_timeout: while it waits, every query on the table queues behind it",
              "SET lock_timeout = '2s'; before it (and retry on timeout), or run it through phasegate, which does both");
}

}  // namespace phasegate::lint
