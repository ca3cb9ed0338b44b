// trace's scratch database: runs statements and reads back pg_locks and relfilenodes (libpqxx).
#include <chrono>
#include <pqxx/pqxx>

#include "adapters/pg/errors.hpp"
#include "phasegate/trace.hpp"

namespace phasegate::trace {

namespace {

// On a scratch database any failure is the traced statement's, not a bug in phasegate.
template <class Fn>
auto guarded(Fn&& fn) {
  return pg::guarded(std::forward<Fn>(fn), Exit::failed);
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
  secrets::remember_conninfo(url);
  try {
    return std::unique_ptr<Scratch>(new PgScratch(url));
  } catch (const std::exception& e) {
    return fail(Exit::invalid, "cannot connect to the scratch database: " + pg::clean_message(e.what()));
  }
}

Result<std::string> database_identity(const std::string& url) {
  auto s = Scratch::connect(url);
  if (!s) return std::unexpected(s.error());
  return (*s)->identity();
}

}  // namespace phasegate::trace
