// lint --db / plan: facts from the target database's catalog (libpqxx).
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "adapters/pg/errors.hpp"
#include "phasegate/lint.hpp"

namespace phasegate::lint {

// lint --db: sizes, column types and indexes from the catalog, and sessions with old transactions on the plan's tables.
Result<Catalog> read_catalog(const std::string& url, const std::set<std::string>& tables,
                             const std::set<std::string>& functions, const std::set<std::string>& dml) {
  secrets::remember_conninfo(url);
  try {
    pqxx::connection conn(url);
    pqxx::nontransaction n(conn);
    Catalog c;
    for (const auto& f : functions) {
      // By name (the parse tree has no argument types): volatile when any overload is.
      auto r = n.exec_params("SELECT bool_or(provolatile = 'v'), count(*) FROM pg_proc WHERE proname = $1", f);
      if (r.empty() || r[0][1].as<long long>() == 0) continue;  // pg_proc does not know it: still assumed volatile
      c.known_functions.insert(f);
      if (r[0][0].as<bool>()) c.volatile_functions.insert(f);
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
      // Each column's type as format_type spells it: ALTER COLUMN ... TYPE compares it with the new one
      // (sql::normalize_type, sql::type_change).
      auto cols = n.exec_params(
          "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
          " WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
          t);
      for (const auto& row : cols) c.column_types[t + "." + row[0].as<std::string>()] = row[1].as<std::string>();
      // The columns of every index of the table, in order (expressions as ""): foreign-key-without-index.
      auto idx = n.exec_params(
          "SELECT array_to_string(array_agg(coalesce(a.attname::text, '') ORDER BY k.ord), ',')"
          " FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)"
          " LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
          " WHERE i.indrelid = to_regclass($1) GROUP BY i.indexrelid",
          t);
      for (const auto& row : idx) {
        std::vector<std::string> cols;
        std::string all = row[0].c_str();
        for (size_t at = 0;; ) {
          size_t comma = all.find(',', at);
          cols.push_back(all.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
          if (comma == std::string::npos) break;
          at = comma + 1;
        }
        c.index_columns[t].push_back(cols);
      }
    }
    // How many rows each UPDATE/DELETE would change, by the planner's estimate: EXPLAIN plans it and runs
    // nothing (in a transaction rolled back, with a short lock_timeout: planning takes ROW EXCLUSIVE). A
    // statement that does not plan here (a column the plan adds earlier) is skipped.
    for (const auto& text : dml) {
      try {  // our own transaction block on the nontransaction (a pqxx::work cannot open next to it)
        n.exec("BEGIN; SET LOCAL lock_timeout = '1s'; SET LOCAL statement_timeout = '10s'");
        auto r = n.exec("EXPLAIN (FORMAT JSON) " + text);
        // The ModifyTable node's input carries the estimate of the rows it changes.
        auto plan = nlohmann::json::parse(r[0][0].c_str())[0]["Plan"];
        if (plan.contains("Plans") && !plan["Plans"].empty()) c.dml_rows[text] = plan["Plans"][0].value("Plan Rows", 0LL);
      } catch (const std::exception&) {
      }
      n.exec("ROLLBACK");
    }
    return c;
  } catch (const std::exception& e) {
    return fail(Exit::invalid, "lint --db: " + pg::clean_message(e.what()));
  }
}

}  // namespace phasegate::lint
