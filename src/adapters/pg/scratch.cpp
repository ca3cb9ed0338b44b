// trace's scratch database: runs statements and reads back pg_locks and relfilenodes (libpqxx).
#include <chrono>
#include <pqxx/pqxx>

#include "phasegate/lint.hpp"
#include "phasegate/trace.hpp"

namespace phasegate::trace {

namespace {

std::string clean(std::string m) {
  if (m.rfind("ERROR:  ", 0) == 0) m = m.substr(8);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

template <class Fn>
auto guarded(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const pqxx::sql_error& e) {
    return std::unexpected(Error{Exit::failed, clean(e.what()), e.sqlstate()});
  } catch (const std::exception& e) {
    return std::unexpected(Error{Exit::failed, clean(e.what())});
  }
}

// User relations (tables, indexes, matviews) and their relfilenodes.
constexpr const char* kRelfilenodes =
    "SELECT c.relname, c.relfilenode FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg_toast%'";
constexpr const char* kLocks =
    "SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' "
    "AND l.granted AND c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')";

class PgScratch final : public Scratch {
 public:
  explicit PgScratch(const std::string& url) : conn_(url) {}

  Result<std::string> identity() override {
    return guarded([&]() -> Result<std::string> {
      pqxx::nontransaction n(conn_);
      auto r = n.exec("SELECT system_identifier::text || '/' || current_database() FROM pg_control_system()");
      return r[0][0].as<std::string>();
    });
  }
  Result<void> begin() override {
    return guarded([&]() -> Result<void> {
      work_ = std::make_unique<pqxx::work>(conn_);
      return {};
    });
  }
  Result<Observation> observe(const std::string& statement, bool in_transaction) override {
    return guarded([&]() -> Result<Observation> {
      Observation o;
      if (!in_transaction) {
        o.observable = false;
        pqxx::nontransaction n(conn_);
        auto t0 = std::chrono::steady_clock::now();
        n.exec(statement);
        o.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        return o;
      }
      auto before_files = snapshot(kRelfilenodes);
      auto before_locks = snapshot(kLocks, true);
      auto t0 = std::chrono::steady_clock::now();
      work_->exec(statement);
      o.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      for (const auto& [rel, file] : snapshot(kRelfilenodes)) {
        auto it = before_files.find(rel);
        if (it != before_files.end() && it->second != file) o.rewritten.insert(rel);
      }
      for (const auto& row : work_->exec(kLocks)) {
        std::string rel = row[0].as<std::string>();
        sql::Lock l = lock_from_pg(row[1].as<std::string>());
        auto prior = before_locks.find(rel + "\x1f" + row[1].as<std::string>());
        if (prior != before_locks.end()) continue;  // held before this statement
        auto& strongest = o.locks[rel];
        if (l > strongest) strongest = l;
      }
      return o;
    });
  }
  Result<void> commit() override {
    return guarded([&]() -> Result<void> {
      if (work_) work_->commit();
      work_.reset();
      return {};
    });
  }
  void rollback() override {
    try {
      if (work_) work_->abort();
    } catch (...) {
    }
    work_.reset();
  }

 private:
  // name -> value (or "name\x1fvalue" -> "" when keyed on both columns).
  std::map<std::string, std::string> snapshot(const char* query, bool both = false) {
    std::map<std::string, std::string> out;
    for (const auto& row : work_->exec(query)) {
      if (both) out[row[0].as<std::string>() + "\x1f" + row[1].as<std::string>()] = "";
      else out[row[0].as<std::string>()] = row[1].as<std::string>();
    }
    return out;
  }

  pqxx::connection conn_;
  std::unique_ptr<pqxx::work> work_;
};

}  // namespace

Result<std::unique_ptr<Scratch>> Scratch::connect(const std::string& url) {
  try {
    return std::unique_ptr<Scratch>(new PgScratch(url));
  } catch (const std::exception& e) {
    return fail(Exit::invalid, "cannot connect to the scratch database: " + clean(e.what()));
  }
}

Result<std::string> database_identity(const std::string& url) {
  auto s = Scratch::connect(url);
  if (!s) return std::unexpected(s.error());
  return (*s)->identity();
}

}  // namespace phasegate::trace

namespace phasegate::lint {

namespace {
std::string clean_message_for_catalog(std::string m) {
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}
}  // namespace

// lint --db: sizes from the catalog and sessions with old transactions on the plan's tables.
Result<Catalog> read_catalog(const std::string& url, const std::set<std::string>& tables,
                             const std::set<std::string>& functions) {
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
    return fail(Exit::invalid, "lint --db: " + clean_message_for_catalog(e.what()));
  }
}

}  // namespace phasegate::lint
