#pragma once
// `trace`: what a statement actually did on a scratch database, next to what the analyzer predicted.
// Every user relation the statement locked is compared (docs/commands.md#phasegate-trace-plan---scratch-url-url).
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "phasegate/error.hpp"
#include "phasegate/sql.hpp"

namespace phasegate::trace {

// A user relation of the scratch database (oid >= 16384, not information_schema).
struct Relation {
  std::string name;   // relname; a TOAST table is "pg_toast(T)", its index "pg_toast(T) index"
  char kind = 'r';    // pg_class.relkind: r p m v f i I S t c
  std::string owner;  // an index's table, a TOAST table's (or its index's) table, an owned sequence's table
};
const char* kind_name(char relkind);  // 'i' -> "index"
struct ForeignKey {
  std::string name, table, referenced;
};
struct Catalog {
  std::map<std::string, Relation> relations;  // name -> relation
  std::vector<ForeignKey> foreign_keys;
  std::map<std::string, std::string> statistics;  // extended statistics object -> its table
  const Relation* find(const std::string& name) const {
    auto it = relations.find(name);
    return it == relations.end() ? nullptr : &it->second;
  }
};

struct Observation {
  bool observable = true;                  // false for statements run outside a transaction (CONCURRENTLY)
  std::map<std::string, sql::Lock> locks;  // relation -> strongest lock our backend newly held after it
  std::set<std::string> rewritten;         // relations whose relfilenode changed
  std::set<std::string> created;           // relations that did not exist before the statement
  Catalog before;                          // the user relations before the statement (and the dropped ones)
  Catalog after;                           // ... after it (a created relation's kind and owner)
  double ms = 0;
};

struct Prediction {
  std::map<std::string, sql::Lock> locks;    // relation -> the strongest lock it must take (exactly)
  std::map<std::string, sql::Lock> at_most;  // an index/TOAST/owned sequence of a locked table: no stronger
  std::set<std::string> rewrites;            // tables predicted to be rewritten
  std::set<std::string> maybe_rewrites;      // depends on the old type (varchar/text changes): not compared
};
// The analyzer's facts for the statement, completed for the relations `catalog` says depend on its tables.
Prediction predict(const sql::Statement& st, const Catalog& catalog);
struct Comparison {
  std::vector<std::string> disagreements;  // each a sentence
  std::vector<std::string> reads;          // unpredicted ACCESS SHARE locks (conflict only with ACCESS EXCLUSIVE)
};
Comparison compare(const Prediction& p, const Observation& o);
sql::Lock lock_from_pg(const std::string& mode);  // "AccessExclusiveLock" -> Lock::access_exclusive

// The scratch database (adapter: src/adapters/pg/scratch.cpp). Statements run on a copy of it
// (CREATE DATABASE ... TEMPLATE), dropped again when the Scratch goes: the scratch itself is never changed.
class Scratch {
 public:
  static Result<std::unique_ptr<Scratch>> connect(const std::string& url);
  virtual ~Scratch() = default;
  // "system_identifier/dbname" of this database, to refuse tracing the target itself.
  virtual Result<std::string> identity() = 0;
  // Creates the copy the statements run on (needs CREATEDB and no other session on the scratch database).
  virtual Result<void> copy() = 0;
  // Runs one statement on the copy and commits it: in its own transaction with the observation, or on its own
  // outside one (observable = false).
  virtual Result<Observation> observe(const std::string& statement, bool in_transaction) = 0;
};
// The identity of any database URL (used for the target).
Result<std::string> database_identity(const std::string& url);

}  // namespace phasegate::trace
