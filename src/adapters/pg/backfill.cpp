// Backfill batches on the target (issue #5): the table's primary key from the catalog, and one batch
// committed together with the step's cursor, so a kill at any instant resumes where the last batch ended.
#include <nlohmann/json.hpp>
#include <regex>

#include "adapters/pg/errors.hpp"
#include "adapters/pg/impl.hpp"

namespace phasegate {

using pg::guarded;

Result<BackfillTable> PgDatabase::backfill_table(const std::string& table) {
  return guarded([&]() -> Result<BackfillTable> {
    pqxx::nontransaction n(*impl_->conn);
    // As written in SQL (`public."Order Items"`, `books`), else as one name taken literally (`Order Items`).
    // to_regclass raises on text that is not a name at all, so only SQL-looking names go to it as written.
    static const std::regex sql_name(R"re(^("[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)(\.("[^"]+"|[A-Za-z_][A-Za-z0-9_$]*))?$)re");
    bool as_written = std::regex_match(table, sql_name);
    auto r = n.exec_params(
        "SELECT c.oid::bigint, quote_ident(ns.nspname) || '.' || quote_ident(c.relname), greatest(c.reltuples, 0)::bigint"
        " FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace"
        " WHERE c.oid = coalesce(CASE WHEN $2 THEN to_regclass($1) END, to_regclass(quote_ident($1)))",
        table, as_written);
    if (r.empty()) return fail(Exit::failed, "backfill table " + table + " does not exist");
    BackfillTable t;
    auto oid = r[0][0].as<long long>();
    t.qualified = r[0][1].as<std::string>();
    t.estimated_rows = r[0][2].as<long long>();
    auto k = n.exec_params(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_index i"
        " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
        " WHERE i.indrelid = $1::bigint::oid AND i.indisprimary ORDER BY k.ord",
        oid);
    for (const auto& row : k) t.key.push_back({row[0].as<std::string>(), row[1].as<std::string>()});
    if (t.key.empty())
      return fail(Exit::failed, "backfill table " + t.qualified +
                                    " has no primary key: batches walk the primary key (add one, e.g. with a unique index "
                                    "built CONCURRENTLY and ALTER TABLE ... ADD PRIMARY KEY USING INDEX)");
    return t;
  });
}

Result<BatchResult> PgDatabase::backfill_batch(const BatchSql& sql, const std::vector<std::string>& cursor, int limit, int64_t abort_of_run,
                                               const Timeouts& t, const std::function<StateChange(const BatchResult&)>& record) {
  auto watch = impl_->watch_blockers(t);
  return guarded([&]() -> Result<BatchResult> {
    auto with = [&](std::vector<std::string> extra) {
      std::vector<std::string> p = cursor;
      p.insert(p.end(), extra.begin(), extra.end());
      return p;
    };
    auto texts = [](const pqxx::row& row, pqxx::row::size_type from) {
      std::vector<std::string> v;
      for (auto i = from; i < row.size(); ++i) v.push_back(row[i].as<std::string>());
      return v;
    };
    // The transaction block is ours (not a pqxx::work): BEGIN, its SET LOCALs and the abort check go in one
    // round trip (a batch is a handful of round trips; at 1000-row batches each is ~2% of the batch). Any
    // exception rolls back; a lost connection leaves nothing to roll back.
    pqxx::nontransaction w(*impl_->conn);
    struct Block {
      pqxx::nontransaction& w;
      bool open = true;
      ~Block() {
        if (open) try { w.exec("ROLLBACK"); } catch (const std::exception&) {}
      }
    } block{w};
    std::string begin = "BEGIN; " + timeouts_sql(t, true) + "; " + sql.settings;
    if (abort_of_run != 0)
      begin += "; SELECT coalesce(abort_requested_by, '?') FROM " + impl_->t("runs") + " WHERE run_id = " + std::to_string(abort_of_run) +
               " AND abort_requested_at IS NOT NULL";
    BatchResult b;
    if (auto asked = w.exec(begin); abort_of_run != 0 && !asked.empty()) {
      b.aborted_by = asked[0][0].as<std::string>();
      return b;  // the block rolls back: nothing was done
    }
    limit = std::max(limit, 1);
    auto bound = w.exec_params(sql.bound, pqxx::prepare::make_dynamic_params(with({std::to_string(limit - 1)})));
    if (!bound.empty()) {
      b.scanned = limit;
      b.last = texts(bound[0], 0);
    } else if (auto tail = w.exec_params(sql.tail, pqxx::prepare::make_dynamic_params(with({std::to_string(limit)}))); !tail.empty()) {
      b.scanned = tail[0][0].as<long long>();
      b.last = texts(tail[0], 1);
    }
    if (!b.last.empty()) b.updated = w.exec_params(sql.update, pqxx::prepare::make_dynamic_params(with(b.last))).affected_rows();
    // The cursor's row is written under the same SET LOCAL timeouts: one row of our schema nobody else locks.
    StateChange c = record(b);
    impl_->commit_in(w, c);
    if (impl_->crash && !c.steps.empty()) impl_->crash("before-commit:" + c.steps.front().step);
    w.exec("COMMIT");
    block.open = false;
    return b;
  });
}

Result<std::string> PgDatabase::abort_requested(int64_t run_id) {
  return guarded([&]() -> Result<std::string> {
    pqxx::nontransaction n(*impl_->conn);
    auto r = n.exec_params("SELECT coalesce(abort_requested_by, '?') FROM " + impl_->t("runs") +
                               " WHERE run_id = $1 AND abort_requested_at IS NOT NULL",
                           run_id);
    return r.empty() ? std::string() : r[0][0].as<std::string>();
  });
}

Result<int> PgDatabase::request_abort(int64_t run_id, const std::string& by) {
  return guarded([&]() -> Result<int> {
    pqxx::work w(*impl_->conn);  // the request and its event in one transaction
    auto u = w.exec_params("UPDATE " + impl_->t("runs") + " SET abort_requested_at = now(), abort_requested_by = $2"
                           " WHERE run_id = $1 RETURNING plan_id, phase",
                           run_id, by);
    if (!u.empty())
      impl_->append_event_in(w, Event{"run.abort_requested", run_id, u[0][0].as<std::string>(), u[0][1].as<std::string>(), "",
                                      nlohmann::json{{"by", by}}.dump(), std::chrono::system_clock::now()});
    w.commit();
    pqxx::nontransaction n(*impl_->conn);
    // Only the backend that drives this run, and only while it holds the run lock of this database: a runner
    // busy with another plan (or in another database) is never cancelled.
    auto h = n.exec_params(
        "SELECT l.pid FROM pg_locks l WHERE " + std::string(kRunLockHolder) + " AND l.pid <> pg_backend_pid()"
        " AND l.pid = (SELECT runner_pid FROM " + impl_->t("runs") + " WHERE run_id = $3::bigint AND status = 'running')",
        kRunLockClass, impl_->schema, run_id);
    if (h.empty()) return 0;
    int pid = h[0][0].as<int>();
    n.exec_params("SELECT pg_cancel_backend($1)", pid);
    return pid;
  });
}

}  // namespace phasegate
