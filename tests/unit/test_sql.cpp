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
