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
              std::string(what) + " rewrites (or empties) " + target_of(a) + " under ACCESS EXCLUSIVE",
              a.kind == "truncate" ? "delete in batches, or swap in a new table behind a view"
                                   : "use pg_repack or a batched copy into a new table instead");
  }
  if (!cx.unit.sql_file || !existed_before(a, cx.history) || cx.table_is_new()) return;
  bool strong = a.lock == sql::Lock::access_exclusive || a.lock == sql::Lock::share ||
                a.lock == sql::Lock::share_row_exclusive;
  // SET LOCAL counts in its own transaction only (registry.cpp's apply_setting).
  const bool lock_timeout = cx.history.tx.lock_timeout.value_or(cx.history.lock_timeout_set);
  const bool statement_timeout = cx.history.tx.statement_timeout.value_or(cx.history.statement_timeout_set);
  if (strong && !lock_timeout)
    cx.report("missing-lock-timeout",
              std::string("this statement takes ") + sql::lock_name(a.lock) + " on " + target_of(a) +
                  " with no lock_timeout: while it waits, every query on the table queues behind it",
              "SET lock_timeout = '2s'; before it (and retry on timeout), or run it through phasegate, which does both");
  // statement_timeout matters where the lock is held for work proportional to the table; an instant statement
  // is bounded by lock_timeout alone.
  const char* work = a.rewrite == sql::Rewrite::maybe ? nullptr : heavy_work(a, cx.history);  // only what surely works
  if (strong && work && !statement_timeout)
    cx.report("missing-statement-timeout",
              std::string("this statement ") + work + " " + target_of(a) + " while holding " + sql::lock_name(a.lock) +
                  " (" + sql::lock_blocks(a.lock) + " wait) with no statement_timeout: nothing bounds how long it holds it",
              "SET statement_timeout = '...'; before it (the longest lock your application can wait out), or run it "
              "through phasegate, which sets it per step");
}

}  // namespace phasegate::lint
