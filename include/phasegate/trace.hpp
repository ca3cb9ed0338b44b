#pragma once
// `trace`: what a statement actually did on a scratch database, next to what the analyzer predicted.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "phasegate/error.hpp"
#include "phasegate/sql.hpp"

namespace phasegate::trace {

struct Observation {
  bool observable = true;                  // false for statements run outside a transaction (CONCURRENTLY)
  std::map<std::string, sql::Lock> locks;  // relation -> strongest lock our backend newly held after it
  std::set<std::string> rewritten;         // relations whose relfilenode changed
  double ms = 0;
};

struct Prediction {
  std::map<std::string, sql::Lock> locks;  // table -> strongest predicted lock
  std::set<std::string> rewrites;          // tables predicted to be rewritten
  std::set<std::string> maybe_rewrites;    // depends on the old type (varchar/text changes): not compared
};
Prediction predict(const sql::Statement& st);
// Every disagreement between prediction and observation, as a sentence.
std::vector<std::string> disagreements(const Prediction& p, const Observation& o);
sql::Lock lock_from_pg(const std::string& mode);  // "AccessExclusiveLock" -> Lock::access_exclusive

// The scratch database (adapter: src/adapters/pg/scratch.cpp).
class Scratch {
 public:
  static Result<std::unique_ptr<Scratch>> connect(const std::string& url);
  virtual ~Scratch() = default;
  // "system_identifier/dbname" of this database, to refuse tracing the target itself.
  virtual Result<std::string> identity() = 0;
  virtual Result<void> begin() = 0;
  virtual Result<Observation> observe(const std::string& statement, bool in_transaction) = 0;
  virtual Result<void> commit() = 0;
  virtual void rollback() = 0;
};
// The identity of any database URL (used for the target).
Result<std::string> database_identity(const std::string& url);

}  // namespace phasegate::trace
