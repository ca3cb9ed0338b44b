#include <doctest/doctest.h>

#include <algorithm>

#include "phasegate/lint.hpp"

using namespace phasegate;

namespace {
// `sql` as a plan step (expand by default, with a down).
lint::Unit step_unit(const std::string& sql, Phase phase = Phase::expand, bool has_down = true) {
  lint::Unit u;
  u.file = "p.toml";
  u.step = std::string(1, 's');  // not = "s": a one-letter literal trips GCC 12's -Wrestrict at -O3 (bug 105329)
  u.phase = phase;
  u.has_down = has_down;
  u.text = sql;
  u.locate = [](size_t off) { return SourcePos{"p.toml", 1, static_cast<int>(off) + 1}; };
  return u;
}

// Lints `sql` as one step (or a plain .sql file) and returns the rule ids found.
std::vector<std::string> rules_for(const std::string& sql, Phase phase = Phase::expand, bool sql_file = false,
                                   bool has_down = true) {
  lint::Unit u = sql_file ? lint::unit_of_sql_file("m.sql", sql) : step_unit(sql, phase, has_down);
  lint::Summary summary;
  std::vector<std::string> out;
  for (const auto& f : lint::lint_units({u}, summary)) out.push_back(f.rule);
  return out;
}
using V = std::vector<std::string>;
}  // namespace

TEST_SUITE("lint::rules") {
  TEST_CASE("trigger-ddl: not for the safe way in a plan step") {
    const std::string create = "CREATE OR REPLACE TRIGGER s BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()";
    CHECK(rules_for(create).empty());  // alone in its step, re-runnable: lock_timeout and retries bound the wait
    CHECK(rules_for("DROP TRIGGER IF EXISTS s ON t", Phase::contract).empty());  // the old code that needed it is gone
    // Still reported: without OR REPLACE, with other statements, a drop before contract, a plain .sql file.
    CHECK(rules_for("CREATE TRIGGER s BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()") == V{"trigger-ddl"});
    CHECK(rules_for(create + ";\nALTER TABLE t DISABLE TRIGGER s") == V{"trigger-ddl", "trigger-ddl"});
    CHECK(rules_for("DROP TRIGGER IF EXISTS s ON t", Phase::migrate) == V{"trigger-ddl"});
    CHECK(rules_for("SET lock_timeout = '1s';\n" + create + ";", Phase::expand, true) == V{"trigger-ddl"});
  }
  TEST_CASE("add-column-volatile-default") {
    CHECK(rules_for("ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid()") == V{"add-column-volatile-default"});
    CHECK(rules_for("ALTER TABLE t ADD COLUMN r float8 DEFAULT random() * 2") == V{"add-column-volatile-default"});
    CHECK(rules_for("ALTER TABLE t ADD COLUMN id2 bigserial") == V{"add-column-volatile-default"});
    CHECK(rules_for("ALTER TABLE t ADD COLUMN id2 int GENERATED ALWAYS AS IDENTITY") == V{"add-column-volatile-default"});
    CHECK(rules_for("ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a * 2) STORED") == V{"add-column-volatile-default"});
    CHECK(rules_for("ALTER TABLE t ADD COLUMN c int DEFAULT 0").empty());
    CHECK(rules_for("ALTER TABLE t ADD COLUMN ts timestamptz DEFAULT now()").empty());  // stable, no rewrite
  }
  TEST_CASE("unnamed-concurrent-index") {
    CHECK(rules_for("CREATE INDEX CONCURRENTLY ON t (x)") == V{"unnamed-concurrent-index"});
    CHECK(rules_for("CREATE UNIQUE INDEX CONCURRENTLY ON t (x)") == V{"unnamed-concurrent-index"});
    CHECK(rules_for("CREATE INDEX CONCURRENTLY t_x_idx ON t (x)").empty());
    CHECK(rules_for("CREATE INDEX CONCURRENTLY IF NOT EXISTS t_x_idx ON t (x)").empty());
  }
  TEST_CASE("add-column-required") {
    CHECK(rules_for("ALTER TABLE t ADD COLUMN c int NOT NULL") == V{"add-column-required"});
    CHECK(rules_for("ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0").empty());
    CHECK(rules_for("CREATE TABLE n (id int); ALTER TABLE n ADD COLUMN c int NOT NULL").empty());  // new table
  }
  TEST_CASE("change-column-type") {
    CHECK(rules_for("ALTER TABLE t ALTER COLUMN c TYPE bigint") == V{"change-column-type"});
    lint::Summary s;
    auto u = lint::unit_of_sql_file("m.sql", "SET lock_timeout = '1s'; ALTER TABLE t ALTER COLUMN s TYPE text");
    auto f = lint::lint_units({u}, s);
    REQUIRE(f.size() == 1);
    CHECK(f[0].level == "warning");  // to text may be binary compatible
    CHECK(f[0].message.find("which this run does not know") != std::string::npos);
  }
  TEST_CASE("change-column-type: the old type from earlier statements of the run, or from the catalog (--db)") {
    auto run = [](const std::vector<lint::Unit>& units, const lint::Catalog* catalog = nullptr) {
      lint::Summary s;
      std::vector<std::string> out;
      for (const auto& f : lint::lint_units(units, s, catalog)) out.push_back(f.level + " " + f.rule);
      return out;
    };
    auto add = step_unit("ALTER TABLE t ADD COLUMN s varchar(10)");
    CHECK(run({add, step_unit("ALTER TABLE t ALTER COLUMN s TYPE varchar(20)")}).empty());
    CHECK(run({add, step_unit("ALTER TABLE t ALTER COLUMN s TYPE text")}).empty());
    CHECK(run({add, step_unit("ALTER TABLE t ALTER COLUMN s TYPE varchar(5)")}) == V{"error change-column-type"});
    // The map follows the column: widened once, then shrunk below the new limit.
    CHECK(run({add, step_unit("ALTER TABLE t ALTER COLUMN s TYPE varchar(20)"), step_unit("ALTER TABLE t ALTER COLUMN s TYPE varchar(15)")}) ==
          V{"error change-column-type"});
    CHECK(run({add, step_unit("ALTER TABLE t RENAME COLUMN s TO s2", Phase::contract), step_unit("ALTER TABLE t ALTER COLUMN s2 TYPE text")}).empty());
    lint::Catalog catalog;
    catalog.column_types["t.s"] = "character varying(10)";
    catalog.column_types["t.ts"] = "timestamp without time zone";
    catalog.column_types["t.n"] = "numeric(10,2)";
    catalog.column_types["app.t.c"] = "integer";
    catalog.column_types["t.e"] = "text";
    CHECK(run({step_unit("ALTER TABLE t ALTER COLUMN s TYPE text")}, &catalog).empty());
    CHECK(run({step_unit("ALTER TABLE t ALTER COLUMN s TYPE varchar(5)")}, &catalog) == V{"error change-column-type"});
    CHECK(run({step_unit("ALTER TABLE t ALTER COLUMN n TYPE numeric(14,2)")}, &catalog).empty());
    CHECK(run({step_unit("ALTER TABLE t ALTER COLUMN n TYPE numeric(14,4)")}, &catalog) == V{"error change-column-type"});
    CHECK(run({step_unit("ALTER TABLE app.t ALTER COLUMN c TYPE int")}, &catalog).empty());  // same type: a no-op
    CHECK(run({step_unit("ALTER TABLE app.t ALTER COLUMN c TYPE bigint")}, &catalog) == V{"error change-column-type"});
    lint::Summary s;
    auto tz = lint::lint_units({step_unit("ALTER TABLE t ALTER COLUMN ts TYPE timestamptz")}, s, &catalog);
    REQUIRE(tz.size() == 1);
    CHECK(tz[0].level == "warning");
    CHECK(tz[0].message.find("unless the session TimeZone is UTC") != std::string::npos);
    // text -> citext: no rewrite, but an index on the column is rebuilt; without one (the catalog says) nothing.
    CHECK(run({step_unit("ALTER TABLE t ALTER COLUMN e TYPE citext")}, &catalog).empty());
    catalog.index_columns["t"] = {{"id"}, {"e"}};
    CHECK(run({step_unit("ALTER TABLE t ALTER COLUMN e TYPE citext")}, &catalog) == V{"warning change-column-type"});
    CHECK(run({step_unit("ALTER TABLE t ALTER COLUMN e TYPE citext")}) == V{"warning change-column-type"});  // old type unknown
    CHECK(run({step_unit("ALTER TABLE t ALTER COLUMN q TYPE text")}, &catalog) == V{"warning change-column-type"});  // a column the catalog lacks
  }
  TEST_CASE("set-not-null and the validated CHECK shortcut") {
    CHECK(rules_for("ALTER TABLE t ALTER COLUMN c SET NOT NULL") == V{"set-not-null"});
    // CHECK NOT VALID in one step, VALIDATE later, then SET NOT NULL is cheap.
    lint::Unit a = step_unit("ALTER TABLE t ADD CONSTRAINT c_nn CHECK (c IS NOT NULL) NOT VALID");
    lint::Unit b = step_unit("ALTER TABLE t VALIDATE CONSTRAINT c_nn", Phase::migrate);
    lint::Unit c = step_unit("ALTER TABLE t ALTER COLUMN c SET NOT NULL", Phase::migrate);
    lint::Summary s;
    CHECK(lint::lint_units({a, b, c}, s).empty());
    CHECK(lint::lint_units({a, c}, s).size() == 1);  // without the VALIDATE it still scans
  }
  TEST_CASE("constraint-missing-not-valid") {
    CHECK(rules_for("ALTER TABLE b ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES a (id)") == V{"constraint-missing-not-valid"});
    CHECK(rules_for("ALTER TABLE b ADD CONSTRAINT ck CHECK (x > 0)") == V{"constraint-missing-not-valid"});
    CHECK(rules_for("ALTER TABLE b ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES a (id) NOT VALID").empty());
    CHECK(rules_for("ALTER TABLE b ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES a (id) NOT VALID;"
                    "ALTER TABLE b VALIDATE CONSTRAINT fk") == V{"constraint-missing-not-valid"});
  }
  TEST_CASE("add-unique-constraint") {
    CHECK(rules_for("ALTER TABLE t ADD CONSTRAINT u UNIQUE (c)") == V{"add-unique-constraint"});
    CHECK(rules_for("ALTER TABLE t ADD PRIMARY KEY (id)") == V{"add-unique-constraint"});
    CHECK(rules_for("ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX t_c_uidx").empty());
  }
  TEST_CASE("require-concurrent-index") {
    CHECK(rules_for("CREATE INDEX i ON t (c)") == V{"require-concurrent-index"});
    CHECK(rules_for("DROP INDEX i") == V{"require-concurrent-index"});
    CHECK(rules_for("REINDEX INDEX i") == V{"require-concurrent-index"});
    CHECK(rules_for("CREATE INDEX CONCURRENTLY i ON t (c)").empty());
    CHECK(rules_for("CREATE TABLE n (c int); CREATE INDEX i ON n (c)").empty());
  }
  TEST_CASE("concurrent-in-transaction") {
    CHECK(rules_for("ALTER TABLE t ADD COLUMN c int; CREATE INDEX CONCURRENTLY i ON t (c)") == V{"concurrent-in-transaction"});
    CHECK(rules_for("BEGIN; CREATE INDEX CONCURRENTLY i ON t (c); COMMIT", Phase::expand, true) ==
          V{"concurrent-in-transaction"});
    CHECK(rules_for("CREATE INDEX CONCURRENTLY i ON t (c);", Phase::expand, true).empty());
  }
  TEST_CASE("rename and drop-in-expand belong to contract") {
    CHECK(rules_for("ALTER TABLE t RENAME COLUMN a TO b") == V{"rename"});
    CHECK(rules_for("ALTER TABLE t RENAME TO t2") == V{"rename"});
    CHECK(rules_for("ALTER TABLE t DROP COLUMN a") == V{"drop-in-expand"});
    CHECK(rules_for("DROP TABLE t") == V{"drop-in-expand"});
    CHECK(rules_for("ALTER TABLE t DROP CONSTRAINT c") == V{"drop-in-expand"});
    CHECK(rules_for("ALTER TABLE t ALTER COLUMN c DROP NOT NULL") == V{"drop-in-expand"});
    CHECK(rules_for("ALTER TABLE t DROP COLUMN a", Phase::contract).empty());
    CHECK(rules_for("ALTER TABLE t RENAME COLUMN a TO b", Phase::contract).empty());
  }
  TEST_CASE("missing-down and contract-irreversible") {
    CHECK(rules_for("ALTER TABLE t ADD COLUMN c int", Phase::expand, false, false) == V{"missing-down"});
    CHECK(rules_for("ALTER TABLE t DROP COLUMN c", Phase::contract, false, false) == V{"contract-irreversible"});
    CHECK(rules_for("UPDATE t SET c = 1", Phase::migrate, false, false) == V{"missing-down"});
    CHECK(rules_for("ALTER TABLE t VALIDATE CONSTRAINT c", Phase::migrate, false, false).empty());
  }
  TEST_CASE("table-rewrite") {
    CHECK(rules_for("VACUUM FULL t") == V{"table-rewrite"});
    CHECK(rules_for("CLUSTER t USING t_pkey") == V{"table-rewrite"});
    CHECK(rules_for("ALTER TABLE t SET UNLOGGED") == V{"table-rewrite"});
    CHECK(rules_for("TRUNCATE t") == V{"table-rewrite"});
    CHECK(rules_for("VACUUM t").empty());
  }
  TEST_CASE("missing-lock-timeout applies to plain .sql files only") {
    CHECK(rules_for("ALTER TABLE t ADD COLUMN c int", Phase::expand, true) == V{"missing-lock-timeout"});
    CHECK(rules_for("SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN c int", Phase::expand, true).empty());
    CHECK(rules_for("ALTER TABLE t ADD COLUMN c int").empty());
  }
  TEST_CASE("ignore comments and unused-ignore") {
    CHECK(rules_for("-- phasegate:ignore rename the column is unused\nALTER TABLE t RENAME COLUMN a TO b").empty());
    CHECK(rules_for("-- phasegate:ignore rename,drop-in-expand reason\nALTER TABLE t ADD COLUMN c int") ==
          V{"unused-ignore", "unused-ignore"});
    CHECK(rules_for("-- phasegate:ignore no-such-rule x\nALTER TABLE t ADD COLUMN c int") == V{"unused-ignore"});
    CHECK(rules_for("  --phasegate:ignore\trename\nALTER TABLE t RENAME COLUMN a TO b").empty());
    CHECK(rules_for("-- phasegate:ignorerename\nALTER TABLE t RENAME COLUMN a TO b") == V{"rename"});  // needs a space
    CHECK(rules_for("-- phasegate:ignore Rename\nALTER TABLE t RENAME COLUMN a TO b") == V{"rename"});  // lowercase ids
    // A long ignore line used to overflow the stack (std::regex recursion): now it is an unused ignore like any other.
    CHECK(rules_for("-- phasegate:ignore " + std::string(200'000, 'a') + "\nALTER TABLE t ADD COLUMN c int") == V{"unused-ignore"});
  }
  TEST_CASE("findings carry the lock, what it blocks and the position") {
    auto u = lint::unit_of_sql_file("m.sql", "SET lock_timeout = '1s'; SET statement_timeout = '1min';\n\n  CREATE INDEX i ON t (c);");
    lint::Summary s;
    auto f = lint::lint_units({u}, s);
    REQUIRE(f.size() == 1);
    CHECK(f[0].pos.str() == "m.sql:3:3");
    CHECK(f[0].lock == "SHARE");
    CHECK(f[0].blocks == "writes");
    CHECK(s.errors == 1);
    CHECK(s.statements == 3);
  }
  TEST_CASE("a syntax error is a finding of its own") {
    auto f = rules_for("ALTER TABLE t ADD COLUM c int int");
    CHECK(f == V{"syntax-error"});
  }

  TEST_CASE("big-table and long-transactions need catalog facts (lint --db)") {
    lint::Catalog catalog;
    catalog.tables["t"] = lint::TableFacts{2'000'000, 3LL << 30};
    catalog.tables["small"] = lint::TableFacts{10, 8192};
    catalog.old_transactions.push_back(lint::OldTransaction{"t", 4242, "report", "psql", "idle in transaction", "SELECT 1", 300});
    auto run = [&](const std::string& sql) {
      lint::Unit u = step_unit(sql);
      lint::Summary s;
      return lint::lint_units({u}, s, &catalog);
    };
    auto f = run("ALTER TABLE t ALTER COLUMN c TYPE bigint");
    REQUIRE(f.size() == 3);
    CHECK(f[0].rule == "change-column-type");
    CHECK(f[1].rule == "big-table");
    CHECK(f[1].message.find("2000000 rows, 3.0 GiB") != std::string::npos);
    CHECK(f[1].message.find("~31 s") != std::string::npos);  // 3 GiB at 100 MiB/s
    CHECK(f[2].rule == "long-transactions");
    CHECK(f[2].message.find("pid 4242") != std::string::npos);
    CHECK(run("ALTER TABLE small ALTER COLUMN c TYPE bigint").size() == 1);  // small: only the static rule
    CHECK(run("ALTER TABLE t ADD COLUMN c int").size() == 1);  // instant, but the old transaction still blocks it
    CHECK(run("CREATE INDEX CONCURRENTLY i ON t (c)").empty());  // SHARE UPDATE EXCLUSIVE waits but blocks no app query
  }

  TEST_CASE("a function the built-in lists do not know is assumed volatile; --db asks pg_proc") {
    lint::Unit u = step_unit("ALTER TABLE t ADD COLUMN code text DEFAULT next_code()");
    lint::Summary s;
    auto plain = lint::lint_units({u}, s);
    REQUIRE(plain.size() == 1);
    CHECK(plain[0].rule == "add-column-volatile-default");
    CHECK(plain[0].message.find("next_code(), which phasegate does not know and assumes volatile") != std::string::npos);
    CHECK(lint::default_functions_of({u}) == std::set<std::string>{"next_code"});
    lint::Catalog catalog;
    catalog.known_functions.insert("next_code");
    catalog.volatile_functions.insert("next_code");
    auto f = lint::lint_units({u}, s, &catalog);
    REQUIRE(f.size() == 1);
    CHECK(f[0].rule == "add-column-volatile-default");
    CHECK(f[0].message.find("a volatile default (next_code())") != std::string::npos);
    lint::Catalog stable;  // pg_proc has it, not volatile: no rewrite
    stable.known_functions.insert("next_code");
    CHECK(lint::lint_units({u}, s, &stable).empty());
    lint::Catalog unknown;  // pg_proc has no such function: still assumed volatile
    CHECK(lint::lint_units({u}, s, &unknown).size() == 1);
  }

  TEST_CASE("--db: an UPDATE estimated over 100k rows is unbatched-dml; a foreign key no index leads with") {
    lint::Catalog catalog;
    catalog.tables["t"] = lint::TableFacts{2'000'000, 1LL << 28};
    catalog.tables["b"] = lint::TableFacts{5'000, 1LL << 20};
    catalog.dml_rows["UPDATE t SET level = 1 WHERE level IS NULL"] = 1'900'000;
    catalog.dml_rows["UPDATE t SET level = 1 WHERE id = 7"] = 1;
    catalog.index_columns["b"] = {{"id"}, {"c", "a_id"}};
    auto run = [&](const std::string& sql) {
      lint::Unit u = step_unit(sql);
      lint::Summary s;
      std::vector<std::string> rules;
      for (const auto& f : lint::lint_units({u}, s, &catalog)) rules.push_back(f.rule + ": " + f.message);
      return rules;
    };
    auto big = run("UPDATE t SET level = 1 WHERE level IS NULL");
    REQUIRE(big.size() == 1);
    CHECK(big[0].find("unbatched-dml: this UPDATE is estimated (EXPLAIN) to change 1900000 rows of \"t\"") == 0);
    CHECK(run("UPDATE t SET level = 1 WHERE id = 7").empty());
    CHECK(lint::dml_statements_of({step_unit("UPDATE t SET a = 1; SELECT 1; DELETE FROM t WHERE a = 2")}) ==
          std::set<std::string>{"UPDATE t SET a = 1", "DELETE FROM t WHERE a = 2"});
    auto fk = run("ALTER TABLE b ADD CONSTRAINT b_a_fk FOREIGN KEY (a_id) REFERENCES a (id) NOT VALID");
    REQUIRE(fk.size() == 1);
    CHECK(fk[0].find("foreign-key-without-index: no index of \"b\" starts with the foreign key's columns (a_id)") == 0);
    catalog.index_columns["b"].push_back({"a_id", "c"});
    CHECK(run("ALTER TABLE b ADD CONSTRAINT b_a_fk FOREIGN KEY (a_id) REFERENCES a (id) NOT VALID").empty());
    catalog.index_columns["b"].pop_back();  // an index created earlier in the plan counts too
    auto both = run("CREATE INDEX CONCURRENTLY b_a_idx ON b (a_id);\nALTER TABLE b ADD CONSTRAINT b_a_fk FOREIGN KEY (a_id) REFERENCES a (id) NOT VALID");
    REQUIRE(both.size() == 1);  // combined in one step, but no foreign-key-without-index
    CHECK(both[0].find("concurrent-in-transaction") == 0);
  }
}

namespace {
// Lints `sql` as one expand step with the opt-in rules in `enable`.
std::vector<lint::Finding> advice(const std::string& sql, const std::set<std::string>& enable) {
  lint::Summary s;
  return lint::lint_units({step_unit(sql)}, s, nullptr, enable);
}
}  // namespace

TEST_SUITE("lint::advice") {
  TEST_CASE("enable_problem: opt-in ids pass, always-on and unknown ids are refused with a did-you-mean") {
    CHECK_FALSE(lint::enable_problem("prefer-text"));
    CHECK(lint::enable_problem("rename").value_or("").find("rule \"rename\" is always on") == 0);
    CHECK(lint::enable_problem("identifier-too-long").value_or("").find("is always on") != std::string::npos);
    CHECK(lint::enable_problem("prefer-jsnob").value_or("").find("unknown rule \"prefer-jsnob\" (did you mean \"prefer-jsonb\"?)") == 0);
    CHECK(lint::enable_problem(std::string(100'000, 'x')).value_or("").find("unknown rule") == 0);  // no quadratic did-you-mean
    auto ids = lint::opt_in_rules();
    CHECK(ids.size() == 8);
    CHECK(std::find(ids.begin(), ids.end(), "require-idempotent") != ids.end());
  }
  TEST_CASE("column types: messages name the column and the type as SQL spells it; levels from the table") {
    auto f = advice("CREATE TABLE o (id int PRIMARY KEY, code char(3), doc json)", {"prefer-bigint", "ban-char", "prefer-jsonb"});
    REQUIRE(f.size() == 3);
    CHECK(f[0].rule == "prefer-bigint");
    CHECK(f[0].message.find("primary key \"o.id\" is integer: it runs out at 2,147,483,647") == 0);
    CHECK(f[0].level == "warning");
    CHECK(f[1].message.find("column \"o.code\" is char(3)") == 0);
    CHECK(f[2].rule == "prefer-jsonb");
    CHECK(f[2].level == "info");
    CHECK(f[0].lock.empty());  // a new table's column takes no lock of its own
    auto alter = advice("ALTER TABLE t ALTER COLUMN s TYPE varchar(9)", {"prefer-text"});
    REQUIRE(alter.size() == 2);
    CHECK(alter[1].message.find("changing \"t.s\" to varchar(9)") == 0);
  }
  TEST_CASE("a disabled opt-in rule never reports, and its ignore comment is no unused-ignore") {
    CHECK(advice("ALTER TABLE t ADD COLUMN n varchar(3)", {}).empty());
    CHECK(advice("ALTER TABLE t ADD COLUMN n varchar(3)", {"ban-char"}).empty());
    CHECK(advice("-- phasegate:ignore prefer-text short codes\nALTER TABLE t ADD COLUMN n varchar(3)", {}).empty());
    auto unused = advice("-- phasegate:ignore prefer-text short codes\nALTER TABLE t ADD COLUMN n text", {"prefer-text"});
    REQUIRE(unused.size() == 1);
    CHECK(unused[0].rule == "unused-ignore");
  }
  TEST_CASE("require-idempotent: one finding per statement, naming each missing clause") {
    auto all = advice("ALTER TABLE t ADD COLUMN a int, ADD COLUMN b int, DROP COLUMN c", {"require-idempotent"});
    std::vector<lint::Finding> f;
    std::copy_if(all.begin(), all.end(), std::back_inserter(f), [](const lint::Finding& x) { return x.rule == "require-idempotent"; });
    REQUIRE(f.size() == 1);  // and drop-in-expand
    CHECK(f[0].message.find("ADD COLUMN without IF NOT EXISTS, DROP COLUMN without IF EXISTS: run again") == 0);
    CHECK(f[0].help == "write ADD COLUMN IF NOT EXISTS ...");
    auto view = advice("CREATE VIEW v AS SELECT 1", {"require-idempotent"});
    REQUIRE(view.size() == 1);  // a statement without actions is seen too
    CHECK(view[0].help == "write CREATE OR REPLACE VIEW ...");
    auto unnamed = advice("CREATE TABLE n (a int); CREATE INDEX ON n (a)", {"require-idempotent"});
    REQUIRE(unnamed.size() == 2);
    CHECK(unnamed[1].message == "CREATE INDEX without a name: run again, it builds a second index under another name");
  }
  TEST_CASE("identifier-too-long: on by default; the 63-byte form PostgreSQL keeps, at a character boundary") {
    const std::string name = std::string(62, 'a') + "\xc3\xa9" + "z";  // 65 bytes, é straddles byte 63
    auto f = advice("CREATE TABLE n (\"" + name + "\" int)", {});
    REQUIRE(f.size() == 1);
    CHECK(f[0].rule == "identifier-too-long");
    CHECK(f[0].message.find("is 65 bytes: PostgreSQL silently truncates it to 63 (\"" + std::string(62, 'a') + "\")") !=
          std::string::npos);
    auto upper = advice("CREATE TABLE n (" + std::string(64, 'A') + " int)", {});
    REQUIRE(upper.size() == 1);  // unquoted: folded to lower case as PostgreSQL does
    CHECK(upper[0].message.find(std::string(63, 'a') + "\")") != std::string::npos);
    CHECK(advice("CREATE TABLE n (\"" + std::string(30, 'a') + "\"\"" + std::string(40, 'b') + "\" int)", {}).size() == 1);
    CHECK(advice("SELECT '" + std::string(100, 'a') + "', \"" + std::string(63, 'b') + "\"", {}).empty());
  }
}
