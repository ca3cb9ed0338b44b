#include <doctest/doctest.h>

#include "phasegate/sql.hpp"

using namespace phasegate;

TEST_SUITE("sql") {
  TEST_CASE("splits statements with exact offsets, skipping leading comments") {
    std::string text = "-- first\nALTER TABLE a ADD COLUMN b int;\n/* c */ CREATE INDEX CONCURRENTLY i ON a (b);";
    auto out = sql::parse(text);
    REQUIRE(out.script);
    REQUIRE(out.script->statements.size() == 2);
    CHECK(out.script->statements[0].text == "ALTER TABLE a ADD COLUMN b int");
    CHECK(out.script->statements[0].offset == text.find("ALTER"));
    CHECK(out.script->statements[1].text == "CREATE INDEX CONCURRENTLY i ON a (b)");
    CHECK(out.script->statements[1].offset == text.find("CREATE"));
    CHECK(out.script->statements[0].allowed_in_transaction);
    CHECK_FALSE(out.script->statements[1].allowed_in_transaction);
    CHECK(out.script->statements[1].index_name == "i");
    CHECK_FALSE(out.script->allowed_in_transaction());
  }
  TEST_CASE("statements that cannot run in a transaction") {
    for (const char* s : {"DROP INDEX CONCURRENTLY i", "REINDEX INDEX CONCURRENTLY i", "VACUUM t", "CREATE DATABASE x"}) {
      auto out = sql::parse(s);
      REQUIRE(out.script);
      CHECK_MESSAGE(!out.script->allowed_in_transaction(), s);
    }
    for (const char* s : {"DROP INDEX i", "REINDEX INDEX i", "ANALYZE t", "CREATE INDEX i ON t (a)"}) {
      auto out = sql::parse(s);
      REQUIRE(out.script);
      CHECK_MESSAGE(out.script->allowed_in_transaction(), s);
    }
  }
  TEST_CASE("facts of the statements issue #13 added: relations, locks, kinds") {
    auto actions = [](const char* text) {
      auto out = sql::parse(text);
      REQUIRE(out.script);
      REQUIRE(out.script->statements.size() == 1);
      return out.script->statements[0].actions;
    };
    // A foreign key locks the referenced table too; declared on ADD COLUMN it is an add_constraint as well.
    auto fk = actions("ALTER TABLE b ADD CONSTRAINT b_a_fk FOREIGN KEY (a_id) REFERENCES a (id) NOT VALID");
    REQUIRE(fk.size() == 2);
    CHECK(fk[0].kind == "add_constraint");
    CHECK(fk[0].lock == sql::Lock::share_row_exclusive);
    CHECK(fk[1].kind == "reference");
    CHECK(fk[1].table == "a");
    CHECK(fk[1].lock == sql::Lock::share_row_exclusive);
    auto inl = actions("ALTER TABLE b ADD COLUMN a_id int REFERENCES a (id) CHECK (a_id > 0)");
    REQUIRE(inl.size() == 4);
    CHECK(inl[0].kind == "add_column");
    CHECK(inl[1].kind == "add_constraint");
    CHECK(inl[1].constraint == "foreign");
    CHECK(inl[1].inline_on_column);
    CHECK(inl[1].column == "a_id");
    CHECK(inl[2].kind == "reference");
    CHECK(inl[3].constraint == "check");
    // DETACH: both relations; CONCURRENTLY is weaker and cannot run in a transaction block.
    auto det = actions("ALTER TABLE events DETACH PARTITION events_2024");
    REQUIRE(det.size() == 2);
    CHECK(det[0].lock == sql::Lock::access_exclusive);
    CHECK(det[1].kind == "partition");
    CHECK(det[1].table == "events_2024");
    auto conc = sql::parse("ALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY");
    REQUIRE(conc.script);
    CHECK_FALSE(conc.script->allowed_in_transaction());
    CHECK(conc.script->statements[0].actions[0].lock == sql::Lock::share_update_exclusive);
    CHECK(actions("LOCK TABLE t")[0].lock == sql::Lock::access_exclusive);
    CHECK(actions("LOCK TABLE t IN ROW EXCLUSIVE MODE")[0].lock == sql::Lock::row_exclusive);
    CHECK(actions("LOCK TABLE t IN SHARE UPDATE EXCLUSIVE MODE")[0].lock == sql::Lock::share_update_exclusive);
    auto trig = actions("DROP TRIGGER t_sync ON app.t");
    REQUIRE(trig.size() == 1);
    CHECK(trig[0].kind == "drop_trigger");
    CHECK(trig[0].table == "t");
    CHECK(trig[0].schema == "app");
    CHECK(trig[0].name == "t_sync");
    CHECK(actions("CREATE TRIGGER x AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()")[0].lock == sql::Lock::share_row_exclusive);
    CHECK(actions("REFRESH MATERIALIZED VIEW CONCURRENTLY v")[0].lock == sql::Lock::exclusive);
    CHECK(actions("REFRESH MATERIALIZED VIEW v")[0].lock == sql::Lock::access_exclusive);
    CHECK(actions("DROP VIEW v CASCADE")[0].cascade);
    CHECK_FALSE(actions("DROP VIEW v")[0].cascade);
    CHECK(actions("ALTER TABLE t DROP COLUMN c CASCADE")[0].cascade);
    CHECK(actions("DROP SCHEMA s CASCADE")[0].name == "s");
    CHECK(actions("ALTER TABLE t SET TABLESPACE fast")[0].rewrite == sql::Rewrite::yes);
    // Defaults: known volatile, known stable, unknown (assumed volatile by the rule).
    auto d1 = actions("ALTER TABLE t ADD COLUMN c text DEFAULT make_code(8)")[0];
    CHECK(d1.unknown_function == "make_code");
    CHECK(d1.volatile_function.empty());
    CHECK(actions("ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now()")[0].unknown_function.empty());
    CHECK(actions("ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid()")[0].volatile_function == "gen_random_uuid");
    auto e = actions("ALTER TYPE status ADD VALUE 'paused' AFTER 'running'")[0];
    CHECK(e.kind == "add_enum_value");
    CHECK(e.positioned);
    CHECK(actions("ALTER TYPE status RENAME VALUE 'done' TO 'finished'")[0].kind == "rename_enum_value");
    CHECK(actions("ALTER SCHEMA billing RENAME TO invoicing")[0].kind == "rename_schema");
  }
  TEST_CASE("transaction control is recognised") {
    auto out = sql::parse("BEGIN; SELECT 1; COMMIT");
    REQUIRE(out.script);
    CHECK(out.script->statements[0].transaction_control);
    CHECK(out.script->statements[2].transaction_control);
  }
  TEST_CASE("syntax errors carry the byte offset") {
    std::string text = "ALTER TABLE books ADD COLUMN x int;\nALTER TABLE books ADD COLUM y int";
    auto out = sql::parse(text);
    REQUIRE(out.error);
    CHECK(out.error->offset == text.rfind("int"));  // "COLUM y" reads as column COLUM of type y
    CHECK(out.error->message.find("syntax error") != std::string::npos);
  }
  TEST_CASE("checksum ignores formatting and comments, not meaning") {
    auto a = sql::checksum("ALTER TABLE books ADD COLUMN reading_level int");
    CHECK(a == sql::checksum("alter   table Books\n  add column READING_LEVEL int; -- why"));
    CHECK(a == sql::checksum("/* c */ ALTER TABLE books ADD COLUMN reading_level int;"));
    CHECK(a != sql::checksum("ALTER TABLE books ADD COLUMN reading_level bigint"));
    CHECK(a != sql::checksum("ALTER TABLE \"Books\" ADD COLUMN reading_level int"));
    CHECK(sql::checksum("SELECT 'A'") != sql::checksum("SELECT 'a'"));
  }
  TEST_CASE("quote_ident") {
    CHECK(sql::quote_ident("books") == "books");
    CHECK(sql::quote_ident("Order Items") == "\"Order Items\"");
    CHECK(sql::quote_ident("a\"b") == "\"a\"\"b\"");
  }

  TEST_CASE("a large script parses in parallel chunks with the same result as one parse") {
    std::string big;
    for (int i = 0; i < 6000; ++i)
      big += "-- step " + std::to_string(i) + "\nALTER TABLE t_" + std::to_string(i % 50) + " ADD COLUMN c_" + std::to_string(i) +
             " int DEFAULT " + std::to_string(i) + ";\n/* x */ CREATE INDEX CONCURRENTLY i_" + std::to_string(i) + " ON t (c);\n";
    REQUIRE(big.size() > 256 * 1024);
    auto out = sql::parse(big);
    REQUIRE(out.script);
    REQUIRE(out.script->statements.size() == 12000);
    for (size_t i = 0; i < out.script->statements.size(); i += 997) {
      const auto& st = out.script->statements[i];
      CAPTURE(i);
      CHECK(big.compare(st.offset, st.text.size(), st.text) == 0);  // offsets rebased onto the whole script
      CHECK(st.node == (i % 2 ? "IndexStmt" : "AlterTableStmt"));
    }
    std::string broken = big + "ALTER TABLE t ADD COLUM x int int;\n";
    auto err = sql::parse(broken);
    REQUIRE(err.error);
    CHECK(err.error->offset == broken.rfind("int int;"));  // rebased from the last chunk
  }
}
