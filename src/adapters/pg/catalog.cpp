// lint --db / plan: facts from the target database's catalog (libpqxx).
#include <pqxx/pqxx>

#include "adapters/pg/errors.hpp"
#include "phasegate/lint.hpp"

namespace phasegate::lint {

// lint --db: sizes from the catalog and sessions with old transactions on the plan's tables.
Result<Catalog> read_catalog(const std::string& url, const std::set<std::string>& tables,
                             const std::set<std::string>& functions) {
  secrets::remember_conninfo(url);
  try {
    pqxx::connection conn(url);
    pqxx::nontransaction n(conn);
    Catalog c;
    for (const auto& f : functions) {
      auto r = n.exec_params("SELECT bool_or(provolatile = 'v') FROM pg_proc WHERE proname = $1", f);
      if (!r.empty() && !r[0][0].is_null() && r[0][0].as<bool>()) c.volatile_functions.insert(f);
    }
    for (const auto& t : tables) {
      auto r = n.exec_params(
          "SELECT greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid) FROM pg_class c WHERE c.oid = to_regclass($1)", t);
      if (!r.empty()) c.tables[t] = TableFacts{r[0][0].as<long long>(), r[0][1].as<long long>()};
      auto old = n.exec_params(
          "SELECT DISTINCT a.pid, coalesce(a.usename::text, ''), coalesce(a.application_name, ''), coalesce(a.state, ''),"
          " left(coalesce(a.query, ''), 200), extract(epoch FROM now() - a.xact_start)::float8"
          " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.relation = to_regclass($1)"
          " AND a.xact_start < now() - interval '1 minute' AND a.pid <> pg_backend_pid()",
          t);
      for (const auto& row : old)
        c.old_transactions.push_back(OldTransaction{t, row[0].as<int>(), row[1].as<std::string>(), row[2].as<std::string>(),
                                                    row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<double>()});
    }
    return c;
  } catch (const std::exception& e) {
    return fail(Exit::invalid, "lint --db: " + pg::clean_message(e.what()));
  }
}

}  // namespace phasegate::lint
