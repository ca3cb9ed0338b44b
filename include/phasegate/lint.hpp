#pragma once
// SQL safety analysis (SPEC §4) over the parser's statement facts. Pure: no database, no files.
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "phasegate/config.hpp"
#include "phasegate/sql.hpp"

namespace phasegate::lint {

struct Finding {
  std::string rule;
  std::string step;   // the plan step, empty for a .sql file
  std::string level;  // error | warning | info
  SourcePos pos;
  std::string statement;
  std::string lock, blocks;
  std::string message, help;
};

// One piece of SQL to lint: a plan step's `sql`, or a whole plain .sql file (linted as one expand step).
struct Unit {
  std::string file;
  std::string step;                 // empty for a .sql file
  Phase phase = Phase::expand;
  bool sql_file = false;            // plain .sql: missing-lock-timeout applies, BEGIN/COMMIT are allowed
  bool has_down = false, irreversible = false;
  std::optional<bool> transaction;  // the step's `transaction` key
  std::string text;
  std::function<SourcePos(size_t offset)> locate;  // offset in text -> file:line:col
};

// What earlier statements of the same plan (or file) did: tables created there are new.
struct History {
  std::set<std::string> created_tables;
  std::set<std::string> created_indexes;
  std::map<std::string, std::string> pending_not_null_checks;  // "table.constraint" -> column, added NOT VALID
  std::set<std::string> validated_checks;  // "table.column" with a validated CHECK (column IS NOT NULL)
  bool lock_timeout_set = false;              // plain .sql: a SET lock_timeout seen
  std::map<std::string, std::vector<std::vector<std::string>>> created_index_columns;  // table -> columns of each index
};

// Facts from the target database (lint --db), gathered by an adapter; the rules stay pure.
struct TableFacts {
  long long rows = 0;   // pg_class.reltuples (an estimate kept by ANALYZE/VACUUM)
  long long bytes = 0;  // pg_total_relation_size: heap + indexes + TOAST
};
struct OldTransaction {
  std::string table;
  int pid = 0;
  std::string user, application, state, query;
  double age_seconds = 0;
};
struct Catalog {
  std::map<std::string, TableFacts> tables;  // by table name as written in the plan
  std::vector<OldTransaction> old_transactions;
  std::set<std::string> volatile_functions;  // of the functions defaults call, those pg_proc says are volatile
  std::set<std::string> known_functions;     // of the functions defaults call, those pg_proc has at all
  std::map<std::string, std::vector<std::vector<std::string>>> index_columns;  // table -> the columns of each index
  std::map<std::string, long long> dml_rows;  // UPDATE/DELETE statement text -> rows EXPLAIN estimates it changes
};

struct RuleInfo {
  const char* id;
  const char* level;
  const char* summary;
  bool opt_in = false;  // schema-design advice: reports only when enabled ([lint] enable, lint --enable)
  RuleInfo(const char* i, const char* l, const char* s, bool o = false) : id(i), level(l), summary(s), opt_in(o) {}
};
const std::vector<RuleInfo>& rules();  // every rule id, for docs and validation of ignore comments
// Why `id` cannot be enabled (unknown, with a did-you-mean; or on by default), nullopt when it is an opt-in rule.
std::optional<std::string> enable_problem(const std::string& id);
std::vector<std::string> opt_in_rules();

struct Summary {
  int errors = 0, warnings = 0, infos = 0, statements = 0, files = 0;
};

// Lints units in order, sharing one History (a plan's steps, or one file). A unit that does not parse
// yields a finding with rule "syntax-error" (the caller maps that to exit 2).
// `enable`: the opt-in rules to apply as well; the others never report.
std::vector<Finding> lint_units(const std::vector<Unit>& units, Summary& summary, const Catalog* catalog = nullptr,
                                const std::set<std::string>& enable = {});
// Tables a set of units touches (for gathering Catalog facts).
std::set<std::string> tables_of(const std::vector<Unit>& units);
std::set<std::string> default_functions_of(const std::vector<Unit>& units);
std::set<std::string> dml_statements_of(const std::vector<Unit>& units);  // UPDATE / DELETE texts, for EXPLAIN
// What an action does to the whole table under its lock: "rewrites", "scans", "indexes", or nullptr (catalog only).
const char* heavy_work(const sql::Action& a, const History& h);
// Time estimate for work over `bytes`, as said in big-table messages.
std::string estimate(long long bytes, bool rewrite);
std::vector<Unit> units_of_plan(const Plan& plan);

// Undo analysis (undo.cpp), shared by rollback and lint. Statements whose effect needs no undo: VALIDATE
// CONSTRAINT (the constraint's own down drops it), ANALYZE, plain VACUUM.
bool needs_no_undo(const sql::Script& script);
// Whether running the statements again over their own effect is harmless: they need no undo, or every one
// says IF NOT EXISTS / IF EXISTS / OR REPLACE. A rollback passes irreversible steps; the next run re-applies them.
bool rerun_safe(const sql::Script& script);
// Why a rollback need not run `step`'s down (or may pass a step without one): its statements need no undo,
// or it is a backfill of a column (or table) that the down of an `older` step drops. nullopt: it needs one.
std::optional<std::string> why_no_undo(const Step& step, const std::vector<const Step*>& older);
// Adapter (src/adapters/pg/catalog.cpp): Catalog facts for `tables` from the database at `url`.
Result<Catalog> read_catalog(const std::string& url, const std::set<std::string>& tables,
                             const std::set<std::string>& functions = {}, const std::set<std::string>& dml = {});
Unit unit_of_sql_file(const std::string& file, const std::string& text);

}  // namespace phasegate::lint
