// trace's scratch database: a copy of it (CREATE DATABASE ... TEMPLATE) on which each statement runs and is
// committed, with what pg_locks and pg_class say about every user relation before and after (libpqxx).
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
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

// Every user relation (FirstNormalObjectId = 16384: system catalogs are below it), its relfilenode and the
// relation it belongs to: an index's table, a TOAST table's table, an owned (serial/identity) sequence's table,
// a partition's (or inheritance child's) parent.
constexpr const char* kRelations =
    "SELECT c.oid::bigint, c.relname, c.relkind::text, c.relfilenode::bigint,"
    " coalesce(i.indrelid, tt.oid, d.refobjid, inh.inhparent, 0)::bigint"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_index i ON i.indexrelid = c.oid"
    " LEFT JOIN pg_class tt ON tt.reltoastrelid = c.oid"
    " LEFT JOIN pg_depend d ON c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid"
    "   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')"
    " LEFT JOIN pg_inherits inh ON inh.inhrelid = c.oid"
    " WHERE c.oid >= 16384 AND n.nspname <> 'information_schema'";
constexpr const char* kForeignKeys =
    "SELECT k.conname, r.relname, f.relname FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid"
    " JOIN pg_class f ON f.oid = k.confrelid WHERE k.contype = 'f' AND k.oid >= 16384";
constexpr const char* kStatistics =
    "SELECT x.stxname, r.relname FROM pg_statistic_ext x JOIN pg_class r ON r.oid = x.stxrelid WHERE x.oid >= 16384";
// Relation locks our backend holds on user relations of this database (granted: ours are never waiting here).
constexpr const char* kLocks =
    "SELECT relation::bigint, mode FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted"
    " AND relation >= 16384 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";

struct Row {
  std::string relname;
  char kind = 'r';
  long long filenode = 0, owner = 0;
};
using Rows = std::map<long long, Row>;  // oid -> row

// oid -> the relation as trace names it: TOAST tables after their table.
std::map<long long, Relation> named(const Rows& rows) {
  std::map<long long, Relation> out;
  auto name_of = [&](long long oid) -> std::string {
    auto it = rows.find(oid);
    if (it == rows.end()) return "";
    if (it->second.kind == 't') {
      auto t = rows.find(it->second.owner);
      return "pg_toast(" + (t == rows.end() ? it->second.relname : t->second.relname) + ")";
    }
    return it->second.relname;
  };
  for (const auto& [oid, r] : rows) {
    Relation rel{name_of(oid), r.kind, name_of(r.owner)};
    auto owner = rows.find(r.owner);
    if (owner != rows.end() && owner->second.kind == 't') {  // the TOAST table's index: belongs to the table
      rel.name = name_of(r.owner) + " index";
      rel.owner = name_of(owner->second.owner);
    }
    out[oid] = rel;
  }
  return out;
}

// A libpq conninfo for the same server with another database name (URI or key=value input).
std::string with_dbname(const std::string& url, const std::string& dbname) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (!opts) {
    if (err) PQfreemem(err);
    return url + " dbname=" + dbname;
  }
  auto quote = [](const std::string& v) {
    std::string q = "'";
    for (char c : v) {
      if (c == '\'' || c == '\\') q += '\\';
      q += c;
    }
    return q + "'";
  };
  std::string out;
  for (auto* o = opts; o->keyword; ++o) {
    std::string key = o->keyword;
    if (key == "dbname" || !o->val) continue;
    out += key + "=" + quote(o->val) + " ";
  }
  PQconninfoFree(opts);
  return out + "dbname=" + quote(dbname);
}

class PgScratch final : public Scratch {
 public:
  PgScratch(const std::string& url) : url_(url), conn_(url) {}
  ~PgScratch() override {
    copy_conn_.reset();
    if (copy_name_.empty()) return;
    try {
      pqxx::nontransaction n(conn_);
      n.exec("DROP DATABASE IF EXISTS " + conn_.quote_name(copy_name_) + " WITH (FORCE)");
    } catch (...) {
    }
  }

  Result<std::string> identity() override {
    return guarded([&]() -> Result<std::string> {
      pqxx::nontransaction n(conn_);
      auto r = n.exec("SELECT system_identifier::text || '/' || current_database() FROM pg_control_system()");
      return r[0][0].as<std::string>();
    });
  }

  Result<void> copy() override {
    std::string source;
    auto made = pg::guarded(
        [&]() -> Result<void> {
          pqxx::nontransaction n(conn_);
          source = n.exec("SELECT current_database()")[0][0].as<std::string>();
          std::string name = source.substr(0, 40) + "_trace_" + std::to_string(::getpid());
          n.exec("DROP DATABASE IF EXISTS " + conn_.quote_name(name) + " WITH (FORCE)");
          n.exec("CREATE DATABASE " + conn_.quote_name(name) + " TEMPLATE " + conn_.quote_name(source));
          copy_name_ = name;
          return {};
        },
        Exit::invalid);
    if (!made)
      return fail(Exit::invalid, "trace runs on a copy of the scratch database (CREATE DATABASE ... TEMPLATE " + source +
                                     "), which needs CREATEDB and no other session connected to it: " + made.error().message);
    return guarded([&]() -> Result<void> {
      copy_conn_ = std::make_unique<pqxx::connection>(with_dbname(url_, copy_name_));
      return {};
    });
  }

  Result<Observation> observe(const std::string& statement, bool in_transaction) override {
    return guarded([&]() -> Result<Observation> {
      Observation o;
      if (!in_transaction) {
        o.observable = false;
        pqxx::nontransaction n(*copy_conn_);
        auto t0 = std::chrono::steady_clock::now();
        n.exec(statement);
        o.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        return o;
      }
      pqxx::work w(*copy_conn_);
      Rows before = rows(w);
      for (const auto& r : w.exec(kForeignKeys))
        o.before.foreign_keys.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>()});
      for (const auto& r : w.exec(kStatistics)) o.before.statistics[r[0].as<std::string>()] = r[1].as<std::string>();
      auto t0 = std::chrono::steady_clock::now();
      w.exec(statement);
      o.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      Rows after = rows(w);
      auto locks = w.exec(kLocks);
      w.commit();
      auto names_before = named(before), names_after = named(after);
      for (const auto& [oid, rel] : names_before) o.before.relations[rel.name] = rel;
      // A relation is named as it was before the statement (a renamed one keeps its old name here); a new one
      // that took the name of an old one (an index rebuilt by ALTER COLUMN TYPE, a rewrite's TOAST table) is
      // "NAME (new)".
      auto new_name = [&](long long oid) {
        const std::string& n = names_after.at(oid).name;
        return o.before.find(n) ? n + " (new)" : n;
      };
      for (const auto& [oid, rel] : names_after) {
        auto was = before.find(oid);
        o.after.relations[was == before.end() ? new_name(oid) : names_before.at(oid).name] = rel;
        if (was == before.end()) o.created.insert(new_name(oid));
        else if (was->second.filenode != after.at(oid).filenode) o.rewritten.insert(names_before.at(oid).name);
      }
      for (const auto& row : locks) {
        long long oid = row[0].as<long long>();
        if (!names_before.count(oid) && !names_after.count(oid)) continue;  // transient: created and dropped again
        std::string rel = names_before.count(oid) ? names_before.at(oid).name : new_name(oid);
        auto& strongest = o.locks[rel];
        strongest = std::max(strongest, lock_from_pg(row[1].as<std::string>()));
      }
      return o;
    });
  }

 private:
  static Rows rows(pqxx::work& w) {
    Rows out;
    for (const auto& r : w.exec(kRelations))
      out[r[0].as<long long>()] = Row{r[1].as<std::string>(), r[2].as<std::string>()[0], r[3].as<long long>(), r[4].as<long long>()};
    return out;
  }

  std::string url_;
  pqxx::connection conn_;
  std::string copy_name_;
  std::unique_ptr<pqxx::connection> copy_conn_;
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
