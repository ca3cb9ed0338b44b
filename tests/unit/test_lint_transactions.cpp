// Transactions decided once from the statements (issue #13 §2), the rules over them (§1), settings, messages.
#include <doctest/doctest.h>

#include <algorithm>

#include "phasegate/lint.hpp"

using namespace phasegate;

namespace {
using V = std::vector<std::string>;

lint::Unit file_unit(const std::string& sql) { return lint::unit_of_sql_file("m.sql", sql); }
lint::Unit step(const std::string& sql, std::optional<bool> transaction = std::nullopt) {
  lint::Unit u;
  u.file = "p.toml";
  u.step = std::string(1, 's');  // not = "s": a one-letter literal trips GCC 12's -Wrestrict at -O3 (bug 105329)
  u.has_down = true;
  u.transaction = transaction;
  u.text = sql;
  u.locate = [](size_t off) { return SourcePos{"p.toml", 1, static_cast<int>(off) + 1}; };
  return u;
}
std::vector<lint::Finding> lint_all(const std::vector<lint::Unit>& units, const lint::Catalog* catalog = nullptr) {
  lint::Summary s;
  return lint::lint_units(units, s, catalog);
}
V rules(const std::vector<lint::Unit>& units, const lint::Catalog* catalog = nullptr) {
  V out;
  for (const auto& f : lint_all(units, catalog)) out.push_back(f.rule);
  return out;
}
V rules(const lint::Unit& u) { return rules(std::vector<lint::Unit>{u}); }
lint::Unit contract_step(const std::string& sql) {
  lint::Unit u = step(sql);
  u.phase = Phase::contract;
  return u;
}
std::vector<lint::Transaction> txs(const lint::Unit& u, int& next) {
  auto parsed = sql::parse(u.text);
  REQUIRE(parsed.script);
  return lint::transactions_of(u, *parsed.script, next);
}
// A plain file with both timeouts set, so the rule under test is the only one.
const std::string kTimeouts = "SET lock_timeout = '2s'; SET statement_timeout = '1min';\n";
}  // namespace

TEST_SUITE("lint::transactions") {
  TEST_CASE("a plain file autocommits each statement; BEGIN ... COMMIT blocks are separate transactions") {
    int next = 0;
    auto t = txs(file_unit("SELECT 1; BEGIN; SELECT 2; SELECT 3; COMMIT; SELECT 4; BEGIN; SELECT 5; ROLLBACK;"
                           " BEGIN; BEGIN; SELECT 6"),
                 next);
    REQUIRE(t.size() == 12);
    CHECK_FALSE(t[0].block);
    CHECK(t[1].id == t[2].id);
    CHECK(t[2].id == t[3].id);
    CHECK(t[3].id == t[4].id);  // COMMIT belongs to its block
    CHECK(t[2].block);
    CHECK(t[5].id != t[4].id);
    CHECK_FALSE(t[5].block);
    CHECK(t[7].id == t[6].id);
    CHECK(t[7].id != t[2].id);  // a second block is another transaction
    CHECK(t[9].id == t[10].id);
    CHECK(t[10].nested);
    CHECK(t[9].unterminated);  // the file ends inside the block it opened
    CHECK_FALSE(t[1].unterminated);
    CHECK(t[11].id == t[9].id);
    std::set<int> ids;
    for (const auto& x : t) ids.insert(x.id);
    CHECK(ids.size() == 5);
    auto chain = txs(file_unit("BEGIN; SELECT 1; COMMIT AND CHAIN; SELECT 2; COMMIT"), next);
    CHECK(chain[1].id == chain[2].id);
    CHECK(chain[3].id != chain[2].id);
    CHECK(chain[3].block);  // AND CHAIN opened the next block at once
    CHECK_FALSE(chain[0].unterminated);
  }
  TEST_CASE("a plan step is one transaction unless transaction = false or a statement cannot run in one") {
    int next = 10;
    auto one = txs(step("ALTER TABLE t ADD COLUMN a int; UPDATE t SET a = 1"), next);
    CHECK(one[0].id == one[1].id);
    CHECK(one[0].block);
    CHECK(one[0].id == 11);  // ids continue across units
    auto off = txs(step("ALTER TABLE t ADD COLUMN a int; UPDATE t SET a = 1", false), next);
    CHECK(off[0].id != off[1].id);
    CHECK_FALSE(off[0].block);
    auto conc = txs(step("ALTER TABLE t ADD COLUMN a int; CREATE INDEX CONCURRENTLY i ON t (a)"), next);
    CHECK(conc[0].id != conc[1].id);
    auto forced = txs(step("CREATE INDEX CONCURRENTLY i ON t (a)", true), next);
    CHECK(forced[0].block);
  }
  TEST_CASE("NOT VALID and VALIDATE: flagged only in one transaction") {
    const std::string add = "ALTER TABLE b ADD CONSTRAINT fk FOREIGN KEY (a_id) REFERENCES a (id) NOT VALID;\n";
    const std::string validate = "ALTER TABLE b VALIDATE CONSTRAINT fk;\n";
    CHECK(rules(step(add + validate)) == V{"constraint-missing-not-valid"});
    CHECK(rules(step(add + validate, false)).empty());
    CHECK(rules(std::vector<lint::Unit>{step(add), step(validate)}).empty());  // two steps, two transactions
    CHECK(rules(file_unit(kTimeouts + add + validate)).empty());               // autocommit
    CHECK(rules(file_unit(kTimeouts + "BEGIN;\n" + add + "COMMIT;\nBEGIN;\n" + validate + "COMMIT;\n")).empty());
    CHECK(rules(file_unit(kTimeouts + "BEGIN;\n" + add + validate + "COMMIT;\n")) == V{"constraint-missing-not-valid"});
  }
  TEST_CASE("lock_timeout: exactly that setting, not zero, not reset; SET LOCAL only inside its block") {
    const std::string alter = "ALTER TABLE t ADD COLUMN c int";
    CHECK(rules(file_unit("SET lock_timeout = '2s';\n" + alter)).empty());
    CHECK(rules(file_unit("SET SESSION lock_timeout TO 2000;\n" + alter)).empty());
    CHECK(rules(file_unit("SET lock_timeout = 0;\n" + alter)) == V{"missing-lock-timeout"});
    CHECK(rules(file_unit("SET lock_timeout = '0s';\n" + alter)) == V{"missing-lock-timeout"});
    CHECK(rules(file_unit("SET foo.lock_timeout = '1s';\n" + alter)) == V{"missing-lock-timeout"});
    CHECK(rules(file_unit("SET lock_timeout = '1s';\nRESET lock_timeout;\n" + alter)) == V{"missing-lock-timeout"});
    CHECK(rules(file_unit("SET lock_timeout = '1s';\nRESET ALL;\n" + alter)) == V{"missing-lock-timeout"});
    CHECK(rules(file_unit("SET lock_timeout = '1s';\nSET lock_timeout TO DEFAULT;\n" + alter)) == V{"missing-lock-timeout"});
    CHECK(rules(file_unit("SET LOCAL lock_timeout = '1s';\n" + alter)) == V{"missing-lock-timeout"});  // no block: no effect
    auto f = lint_all({file_unit("BEGIN;\nSET LOCAL lock_timeout = '1s';\n" + alter + ";\nCOMMIT;\n" + alter)});
    REQUIRE(f.size() == 1);  // the block's ALTER has it, the one after COMMIT does not
    CHECK(f[0].rule == "missing-lock-timeout");
    CHECK(f[0].pos.line == 5);
  }
  TEST_CASE("missing-statement-timeout: work under a blocking lock with no statement_timeout") {
    const std::string lock = "SET lock_timeout = '2s';\n";
    CHECK(rules(file_unit(lock + "ALTER TABLE t ALTER COLUMN c TYPE bigint")) == V{"change-column-type", "missing-statement-timeout"});
    CHECK(rules(file_unit(lock + "SET statement_timeout = '5min';\nALTER TABLE t ALTER COLUMN c TYPE bigint")) == V{"change-column-type"});
    CHECK(rules(file_unit(lock + "SET statement_timeout = 0;\nCREATE INDEX i ON t (c)")) == V{"require-concurrent-index", "missing-statement-timeout"});
    CHECK(rules(file_unit(lock + "ALTER TABLE t ADD COLUMN c int")).empty());  // instant: lock_timeout bounds it
    CHECK(rules(file_unit(lock + "CREATE INDEX CONCURRENTLY i ON t (c)")).empty());
    CHECK(rules(step("ALTER TABLE t ALTER COLUMN c TYPE bigint")) == V{"change-column-type"});  // phasegate sets it per step
  }
  TEST_CASE("missing-statement-timeout: once per stretch without a statement_timeout, on its first statement") {
    const std::string lock = "SET lock_timeout = '2s';\n";
    auto timeouts = [](const std::string& sql) {
      std::vector<lint::Finding> out;
      for (auto& f : lint_all({file_unit(sql)}))
        if (f.rule == "missing-statement-timeout") out.push_back(f);
      return out;
    };
    const std::string heavy = "ALTER TABLE t ALTER COLUMN c TYPE bigint;\nCREATE INDEX i ON t (c);\nALTER TABLE u ALTER COLUMN d SET NOT NULL;\n";
    auto f = timeouts(lock + heavy);
    REQUIRE(f.size() == 1);
    CHECK(f[0].pos.line == 2);
    CHECK_MESSAGE(f[0].message.find("; and 2 statements like it after this one, before any statement_timeout is set") != std::string::npos,
                  f[0].message);
    // One statement alone: no count. A multi-action statement counts once.
    f = timeouts(lock + "ALTER TABLE t ALTER COLUMN c TYPE bigint, ALTER COLUMN d SET NOT NULL;\nCREATE INDEX i ON t (c)");
    REQUIRE(f.size() == 1);
    CHECK_MESSAGE(f[0].message.find("; and 1 statement like it after this one") != std::string::npos, f[0].message);
    f = timeouts(lock + "CREATE INDEX i ON t (c)");
    REQUIRE(f.size() == 1);
    CHECK(f[0].message.find("; and ") == std::string::npos);
    // A statement_timeout ends the stretch; RESET (or 0) starts a new one.
    f = timeouts(lock + "CREATE INDEX i ON t (c);\nSET statement_timeout = '1min';\nCREATE INDEX j ON t (c);\nRESET statement_timeout;\n" +
                 heavy);
    REQUIRE(f.size() == 2);
    CHECK(f[0].pos.line == 2);
    CHECK(f[0].message.find("; and ") == std::string::npos);
    CHECK(f[1].pos.line == 6);
    CHECK(f[1].message.find("; and 2 statements") != std::string::npos);
    // SET LOCAL covers its own block only: the statement after COMMIT opens a stretch.
    f = timeouts(lock + "BEGIN;\nSET LOCAL statement_timeout = '1min';\nCREATE INDEX i ON t (c);\nCOMMIT;\nCREATE INDEX j ON t (c)");
    REQUIRE(f.size() == 1);
    CHECK(f[0].pos.line == 6);
    // An ignored finding is not the stretch's: the next statement reports it.
    f = timeouts(lock + "-- phasegate:ignore missing-statement-timeout small table\n" + heavy);
    REQUIRE(f.size() == 1);
    CHECK(f[0].pos.line == 4);
    CHECK(f[0].message.find("; and 1 statement like it") != std::string::npos);
  }
  TEST_CASE("one finding per rule and message per statement") {
    auto f = lint_all({file_unit("ALTER TABLE t ADD COLUMN a int, ADD COLUMN b int, ADD COLUMN c int")});
    CHECK(f.size() == 1);
    CHECK(rules(file_unit("ALTER TABLE t ADD COLUMN a int, ALTER COLUMN b SET NOT NULL")) ==
          V{"missing-lock-timeout", "set-not-null", "missing-statement-timeout"});
  }
  TEST_CASE("messages name the index, schema or database, or say every table: never \"\"") {
    auto messages = [](const std::string& sql) {
      std::string all;
      for (const auto& f : lint_all({file_unit(sql)})) all += f.rule + ": " + f.message + "\n";
      return all;
    };
    for (const char* sql : {"DROP INDEX i", "REINDEX INDEX i", "REINDEX SCHEMA app", "REINDEX DATABASE shop", "CLUSTER", "VACUUM FULL",
                            "REINDEX SYSTEM shop"}) {
      auto m = messages(sql);
      CHECK_MESSAGE(!m.empty(), sql);
      CHECK_MESSAGE(m.find("\"\"") == std::string::npos, sql << ":\n" << m);
    }
    CHECK(messages("DROP INDEX i").find("the table of index \"i\"") != std::string::npos);
    CHECK(messages("REINDEX SCHEMA app").find("every table of schema \"app\"") != std::string::npos);
    CHECK(messages("REINDEX DATABASE shop").find("every table of database \"shop\"") != std::string::npos);
    CHECK(messages("CLUSTER").find("every table clustered before") != std::string::npos);
    CHECK(messages("VACUUM FULL").find("every table of the database") != std::string::npos);
    auto sys = messages("REINDEX (CONCURRENTLY) SYSTEM shop");
    CHECK(sys.find("cannot reindex system catalogs concurrently") != std::string::npos);
    CHECK(messages("REINDEX SYSTEM shop").find("no CONCURRENTLY form") != std::string::npos);
    CHECK(rules(file_unit(kTimeouts + "REINDEX (CONCURRENTLY false) INDEX i")) == V{"require-concurrent-index"});
    CHECK(rules(file_unit(kTimeouts + "REINDEX (CONCURRENTLY) INDEX i")).empty());
    CHECK(rules(file_unit(kTimeouts + "VACUUM (FULL false) t")).empty());
    CHECK(rules(file_unit(kTimeouts + "VACUUM (FULL) t")) == V{"table-rewrite"});
    CHECK(rules(file_unit("SET lock_timeout = '2s';\nVACUUM (FULL) t")) == V{"table-rewrite", "missing-statement-timeout"});
  }
  TEST_CASE("ddl-then-dml and statements-after-access-exclusive") {
    auto f = lint_all({step("ALTER TABLE t ADD COLUMN x int;\nUPDATE t SET x = 0")});
    REQUIRE(f.size() == 1);
    CHECK(f[0].rule == "ddl-then-dml");
    CHECK(f[0].level == "error");
    CHECK(f[0].lock == "ACCESS EXCLUSIVE");
    CHECK(f[0].message.find("UPDATE of \"t\"") == 0);
    auto ins = lint_all({step("ALTER TABLE t ADD COLUMN x int;\nINSERT INTO t (x) VALUES (1)")});
    REQUIRE(ins.size() == 1);
    CHECK(ins[0].level == "warning");  // a VALUES list is short
    CHECK(rules(step("ALTER TABLE t ADD COLUMN x int;\nINSERT INTO t SELECT * FROM u")) == V{"ddl-then-dml"});
    CHECK(rules(step("ALTER TABLE t ADD COLUMN x int;\nUPDATE t SET x = 0", false)).empty());
    CHECK(rules(step("CREATE TABLE n (x int);\nALTER TABLE n ADD COLUMN y int;\nINSERT INTO n VALUES (1, 2)")).empty());
    CHECK(rules(step("UPDATE t SET x = 0;\nALTER TABLE t ADD COLUMN y int")).empty());  // DML first: the lock comes last
    CHECK(rules(step("ALTER TABLE t ADD COLUMN a int;\nALTER TABLE u ADD COLUMN b int")) == V{"statements-after-access-exclusive"});
    CHECK(rules(step("ALTER TABLE t ADD COLUMN a int, ADD COLUMN b int")).empty());
    CHECK(rules(step("LOCK TABLE t;\nUPDATE t SET x = 0")) == V{"lock-table", "statements-after-access-exclusive"});
    CHECK(rules(file_unit(kTimeouts + "BEGIN;\nALTER TABLE t ADD COLUMN x int;\nUPDATE t SET x = 0;\nCOMMIT;")) == V{"ddl-then-dml"});
    CHECK(rules(file_unit(kTimeouts + "ALTER TABLE t ADD COLUMN x int;\nUPDATE t SET x = 0;")).empty());
  }
  TEST_CASE("statements-after-access-exclusive: catalog-only changes of the held table add no wait") {
    // The swap of plans/change-column-type.toml: two renames need one transaction.
    const std::string swap = "ALTER TABLE t RENAME COLUMN a TO a_old;\nALTER TABLE t RENAME COLUMN a_new TO a;\n"
                             "ALTER TABLE t DROP COLUMN IF EXISTS b;\nDROP FUNCTION IF EXISTS t_sync()";
    CHECK(rules(contract_step(swap)).empty());
    // Still reported: another table, a rewrite, a scan, a CASCADE, a view's lock.
    CHECK(rules(contract_step("ALTER TABLE t RENAME COLUMN a TO b;\nALTER TABLE u RENAME COLUMN a TO b")) ==
          V{"statements-after-access-exclusive"});
    CHECK(rules(contract_step("ALTER TABLE t RENAME COLUMN a TO b;\nALTER TABLE t ALTER COLUMN c TYPE bigint")) ==
          V{"change-column-type", "statements-after-access-exclusive"});
    CHECK(rules(contract_step("ALTER TABLE t RENAME COLUMN a TO b;\nSELECT count(*) FROM t")) ==
          V{"statements-after-access-exclusive"});
    CHECK(rules(contract_step("ALTER TABLE t RENAME COLUMN a TO b;\nALTER TABLE t DROP COLUMN c CASCADE")) ==
          V{"drop-cascade", "statements-after-access-exclusive"});
    CHECK(rules(contract_step("ALTER TABLE t RENAME COLUMN a TO b;\nDROP VIEW IF EXISTS v")) ==
          V{"statements-after-access-exclusive"});
  }
  TEST_CASE("enum-value-used-in-transaction") {
    const std::string add = "ALTER TYPE mood ADD VALUE 'meh';\n";
    auto f = lint_all({step(add + "UPDATE t SET m = 'meh' WHERE m = 'sad'")});
    REQUIRE(f.size() == 1);
    CHECK(f[0].rule == "enum-value-used-in-transaction");
    CHECK(f[0].message.find("'meh' was added to type \"mood\"") == 0);
    CHECK(rules(step(add + "UPDATE t SET m = 'sad'")).empty());  // another value
    CHECK(rules(step(add + "SELECT 1 -- 'meh' in a comment")).empty());
    CHECK(rules(std::vector<lint::Unit>{step(add), step("UPDATE t SET m = 'meh'")}).empty());
    CHECK(rules(file_unit(add + "UPDATE t SET m = 'meh';")).empty());
    CHECK(rules(file_unit("BEGIN;\n" + add + "INSERT INTO t (m) VALUES ('meh');\nCOMMIT;")) == V{"enum-value-used-in-transaction"});
    CHECK(rules(step("ALTER TYPE mood ADD VALUE 'it''s';\nSELECT 'it''s'::mood")) == V{"enum-value-used-in-transaction"});
  }
  TEST_CASE("uncommitted-transaction and transaction-nesting") {
    auto f = lint_all({file_unit("SELECT 1;\nBEGIN;\nSELECT 2;")});
    REQUIRE(f.size() == 1);
    CHECK(f[0].rule == "uncommitted-transaction");
    CHECK(f[0].pos.line == 2);
    CHECK(rules(file_unit("BEGIN;\nSELECT 2;\nCOMMIT;")).empty());
    CHECK(rules(file_unit("BEGIN;\nSELECT 2;\nROLLBACK;")).empty());
    CHECK(rules(file_unit("BEGIN;\nBEGIN;\nSELECT 2;\nCOMMIT;")) == V{"transaction-nesting"});
    CHECK(rules(file_unit("-- phasegate:ignore uncommitted-transaction the runner commits\nBEGIN;\nSELECT 1;")).empty());
  }
  TEST_CASE("statements that cannot run in a transaction block, inside one") {
    auto f = lint_all({file_unit("BEGIN;\nVACUUM t;\nCOMMIT;")});
    REQUIRE(f.size() == 1);
    CHECK(f[0].rule == "concurrent-in-transaction");
    CHECK(f[0].message.find("VACUUM cannot run inside a transaction block") == 0);
    CHECK(rules(file_unit(kTimeouts + "BEGIN;\nREINDEX SCHEMA app;\nCOMMIT;")) == V{"require-concurrent-index", "concurrent-in-transaction"});
    CHECK(rules(file_unit("VACUUM t;")).empty());
  }
}
