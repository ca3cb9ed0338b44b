// src/sql reads PostgreSQL's own parse tree (pg_query_raw_parse) through the PostgreSQL 15 server headers, while
// libpg_query was built from its own copy of PostgreSQL 15's sources: this checks that the two agree (node tags,
// struct layouts), against libpg_query's protobuf output of the same statements, which its own code wrote.
#include "sql/facts.hpp"

#include <pg_query/pg_query.pb-c.h>

#include <doctest/doctest.h>

#include <thread>

using namespace phasegate;

namespace {

std::string protobuf_name(const PgQuery__Node* node) {
  if (!node || node->node_case == PG_QUERY__NODE__NODE__NOT_SET) return "";
  const auto* field = protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor, node->node_case);
  return field && field->descriptor ? static_cast<const ProtobufCMessageDescriptor*>(field->descriptor)->short_name : "";
}

struct ProtobufStatement {
  std::string node;
  int location = 0, length = 0;
};

// libpg_query's own reading of the text: the statement nodes' names and ranges.
std::vector<ProtobufStatement> protobuf_statements(const std::string& text, std::string* error) {
  PgQueryProtobufParseResult r = pg_query_parse_protobuf(text.c_str());
  std::vector<ProtobufStatement> out;
  if (r.error) {
    *error = std::string(r.error->message) + " @" + std::to_string(r.error->cursorpos);
  } else {
    auto* tree = pg_query__parse_result__unpack(nullptr, r.parse_tree.len, reinterpret_cast<const uint8_t*>(r.parse_tree.data));
    for (size_t i = 0; tree && i < tree->n_stmts; ++i)
      out.push_back({protobuf_name(tree->stmts[i]->stmt), tree->stmts[i]->stmt_location, tree->stmts[i]->stmt_len});
    if (tree) pg_query__parse_result__free_unpacked(tree, nullptr);
  }
  pg_query_free_protobuf_parse_result(r);
  return out;
}

// A statement of every node kind src/sql reads a field of.
const std::vector<std::string>& statements_of_every_kind() {
  static const std::vector<std::string> all = {
      "ALTER TABLE s.t ADD COLUMN c int DEFAULT now() NOT NULL REFERENCES o (id), DROP COLUMN IF EXISTS d CASCADE",
      "ALTER TABLE t ALTER COLUMN c TYPE varchar(5)[], ALTER COLUMN d SET NOT NULL, ADD CONSTRAINT k CHECK (x IS NOT NULL) NOT VALID",
      "ALTER TABLE t DETACH PARTITION p CONCURRENTLY", "ALTER TABLE t ATTACH PARTITION p FOR VALUES IN (1)",
      "ALTER TABLE t SET (fillfactor = 70)", "ALTER TABLE t INHERIT parent", "ALTER TYPE comp ADD ATTRIBUTE a int",
      "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON s.t (a, (lower(b)))", "DROP INDEX CONCURRENTLY IF EXISTS i",
      "DROP TABLE a, s.b CASCADE", "DROP TRIGGER tr ON s.t", "DROP SCHEMA x", "DROP POLICY p ON t",
      "REINDEX (CONCURRENTLY true) TABLE t", "REINDEX SYSTEM db", "VACUUM (FULL, ANALYZE) t, u", "ANALYZE t",
      "CLUSTER t USING i", "CLUSTER", "TRUNCATE a, b", "UPDATE t SET a = 1 WHERE b", "DELETE FROM t",
      "INSERT INTO t SELECT * FROM u", "INSERT INTO t VALUES (1)", "INSERT INTO t DEFAULT VALUES",
      "CREATE TABLE IF NOT EXISTS t (id bigserial PRIMARY KEY, o int REFERENCES o, g int GENERATED ALWAYS AS IDENTITY, "
      "FOREIGN KEY (o) REFERENCES p (id)) INHERITS (base)",
      "CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (1) TO (2)", "CREATE TABLE x AS SELECT 1", "SELECT 1 INTO y",
      "CREATE MATERIALIZED VIEW mv AS SELECT 1", "ALTER TABLE t RENAME COLUMN a TO b", "ALTER TABLE t RENAME TO u",
      "ALTER SCHEMA a RENAME TO b", "ALTER INDEX i RENAME TO j", "ALTER VIEW v RENAME TO w",
      "ALTER TABLE t RENAME CONSTRAINT a TO b", "ALTER RULE r ON t RENAME TO q", "CREATE OR REPLACE TRIGGER tr AFTER INSERT ON t "
      "FOR EACH ROW EXECUTE FUNCTION f()",
      "LOCK TABLE a, b IN SHARE ROW EXCLUSIVE MODE", "REFRESH MATERIALIZED VIEW CONCURRENTLY mv",
      "ALTER DOMAIN d ADD CONSTRAINT c CHECK (VALUE > 0) NOT VALID", "CREATE DOMAIN d AS int CHECK (VALUE > 0)",
      "DROP DATABASE x", "ALTER TYPE e ADD VALUE IF NOT EXISTS 'v' BEFORE 'w'", "ALTER TYPE e RENAME VALUE 'a' TO 'b'",
      "ALTER TABLE t SET SCHEMA s", "CREATE POLICY p ON t USING (true)", "ALTER POLICY p ON t USING (false)",
      "CREATE RULE r AS ON INSERT TO t DO NOTHING", "CREATE STATISTICS st ON a, b FROM t",
      "CREATE OR REPLACE VIEW v AS SELECT 1", "ALTER SEQUENCE sq RESTART", "COMMENT ON COLUMN s.t.c IS 'x'",
      "CREATE SEQUENCE IF NOT EXISTS sq", "CREATE SCHEMA IF NOT EXISTS s", "CREATE EXTENSION IF NOT EXISTS e",
      "CREATE OR REPLACE PROCEDURE pr() LANGUAGE sql AS 'select 1'", "BEGIN", "COMMIT AND CHAIN", "ROLLBACK TO SAVEPOINT a",
      "PREPARE TRANSACTION 'x'", "SET LOCAL lock_timeout = '2s'", "SET statement_timeout = 0", "RESET ALL",
      "SET search_path TO DEFAULT", "SHOW lock_timeout", "CREATE DATABASE x", "ALTER SYSTEM SET work_mem = '1MB'",
      "SELECT NULL::timestamp(3) with time zone"};
  return all;
}

}  // namespace

TEST_SUITE("sql::rawtree") {
  TEST_CASE("every statement tag of the server headers names a node libpg_query knows") {
    std::set<std::string> protobuf;
    for (unsigned i = 0; i < pg_query__node__descriptor.n_fields; ++i)
      if (const auto* d = static_cast<const ProtobufCMessageDescriptor*>(pg_query__node__descriptor.fields[i].descriptor))
        protobuf.insert(d->short_name);
    auto ours = sql::statement_node_names();
    CHECK(ours.size() == 120);
    // Only the planner's output has no protobuf form; every tag the parser can produce must be there.
    for (const auto& name : ours)
      if (name != "PlannedStmt") CHECK_MESSAGE(protobuf.count(name), name, " is a statement tag of the server headers libpg_query does not know");
  }

  TEST_CASE("a statement of every kind facts read: the same node and range as libpg_query's protobuf output") {
    std::string script;
    for (const auto& s : statements_of_every_kind()) script += "-- " + s.substr(0, 6) + "\n" + s + ";\n";
    std::string error;
    auto expected = protobuf_statements(script, &error);
    REQUIRE_MESSAGE(error.empty(), error);
    auto out = sql::parse(script);
    REQUIRE(out.script);
    REQUIRE(out.script->statements.size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      const auto& st = out.script->statements[i];
      INFO("statement ", i, ": ", st.text);
      CHECK(st.node == expected[i].node);
      CHECK(st.offset >= static_cast<size_t>(expected[i].location));
      CHECK(st.offset + st.text.size() <= static_cast<size_t>(expected[i].location + expected[i].length));
      CHECK(st.text == statements_of_every_kind()[i]);
    }
  }

  TEST_CASE("syntax errors: the position libpg_query reports, the tree's memory released") {
    for (const std::string text : {"ALTER TABLE t ADD COLUMN c int;\nSELEC 1;", "CREATE TABLE (", "SELECT 'unterminated"}) {
      std::string error;
      protobuf_statements(text, &error);
      auto out = sql::parse(text);
      REQUIRE_MESSAGE(out.error, text);
      CHECK(!out.script);
      CHECK_MESSAGE(error == out.error->message + " @" + std::to_string(out.error->offset + 1), text);
    }
  }

  TEST_CASE("parses on several threads at once, errors included (libpg_query's per-thread context and error state)") {
    std::string big;
    for (int i = 0; i < 6000; ++i) big += "ALTER TABLE t_" + std::to_string(i) + " ADD COLUMN c int DEFAULT random();\n";
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int k = 0; k < 40; ++k) {
          if ((k + t) % 3 == 0) {
            auto bad = sql::parse("CREATE TABLE t (a int,, b int)");
            if (!bad.error || bad.error->offset != 22) ++wrong;
            continue;
          }
          auto good = sql::parse(k % 10 == 1 ? big : "ALTER TABLE t ADD COLUMN c int DEFAULT clock_timestamp()");
          if (!good.script || good.script->statements.empty() ||
              good.script->statements.back().actions.at(0).volatile_function.empty())
            ++wrong;
        }
      });
    for (auto& th : threads) th.join();
    CHECK_MESSAGE(wrong.load() == 0, wrong.load(), " parses on threads gave a wrong result");
  }

  TEST_CASE("functions anywhere in a default expression: raw_expression_tree_walker's reach") {
    auto out = sql::parse(
        "ALTER TABLE t ADD COLUMN c text DEFAULT CASE WHEN coalesce(f1(), 0) > 0 THEN (SELECT f2() FROM u WHERE f3(x)) "
        "ELSE ARRAY[f4()]::text || ROW(f5())::text || (f6()).a END");
    REQUIRE(out.script);
    const auto& a = out.script->statements.at(0).actions.at(0);
    std::set<std::string> found(a.default_functions.begin(), a.default_functions.end());
    for (const char* f : {"f1", "f2", "f3", "f4", "f5", "f6"}) CHECK_MESSAGE(found.count(f), f, " not found in the default");
    CHECK(a.unknown_function == "f1");
  }
}

TEST_SUITE("sql::rawtree") {
  TEST_CASE("an ERROR inside PostgreSQL code is caught by pg_guarded, and parsing goes on") {
    // raw_expression_tree_walker knows expressions, not utility statements: it elog(ERROR)s on this node.
    AlterTableStmt unknown{};
    unknown.type = T_AlterTableStmt;
    struct Walk {
      Node* node;
      bool returned = false;
    } walk{reinterpret_cast<Node*>(&unknown)};
    auto ignore = [](Node*, void*) { return false; };
    static bool (*visit)(Node*, void*) = +ignore;
    sql::ParseContext context;  // the error's data is allocated in the current context
    CHECK_FALSE(sql::pg_guarded(
        [](void* w) {
          auto* self = static_cast<Walk*>(w);
          sql::raw_expression_tree_walker(self->node, visit, nullptr);
          self->returned = true;
        },
        &walk));
    CHECK_FALSE(walk.returned);
    auto again = sql::parse("CREATE TABLE (");
    REQUIRE(again.error);
    CHECK(again.error->offset == 13);
    auto good = sql::parse("ALTER TABLE t ADD COLUMN c int DEFAULT random()");
    REQUIRE(good.script);
    CHECK(good.script->statements.at(0).actions.at(0).volatile_function == "random");
  }
}

TEST_SUITE("sql::chunks") {
  // Statements whose text holds ";" at the end of a line inside a string, an E'' string, a quoted identifier, a
  // dollar quote, block comments (nested) and a line comment: none of them may be cut there.
  const std::vector<std::string> kTricky = {
      "SELECT 'a;\nb'",
      "SELECT E'it\\'s;\n', 'x'",
      "CREATE TABLE \"odd;\n name\" (a int)",
      "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1;\n $body$",
      "DO $$ BEGIN PERFORM 1;\n END $$",
      "SELECT 1 /* a /* nested; */ still;\n comment */",
      "SELECT 2 -- a comment;\n + 3",
      "SELECT a$b$ FROM t",
      "ALTER TABLE t ADD COLUMN c int DEFAULT 0"};

  std::string big_script(size_t* count) {
    std::string block;
    for (const auto& s : kTricky) block += s + ";\n";
    std::string text;
    *count = 0;
    while (text.size() < 400 * 1024) {
      text += block;
      *count += kTricky.size();
    }
    return text;
  }

  TEST_CASE("a big script is cut only between statements, and parses as its statements do one by one") {
    size_t count = 0;
    const std::string text = big_script(&count);
    auto plan = sql::plan_chunks(text, 64 * 1024);
    REQUIRE(plan.starts.size() >= 5);
    CHECK(plan.statements == count);
    auto out = sql::parse(text);
    REQUIRE(out.script);
    REQUIRE(out.script->statements.size() == count);
    std::vector<std::string> nodes;
    for (const auto& s : kTricky) {
      auto one = sql::parse(s);
      REQUIRE_MESSAGE(one.script, s);
      nodes.push_back(one.script->statements.at(0).node);
    }
    for (size_t i = 0; i < count; ++i) {
      const auto& st = out.script->statements[i];
      INFO("statement ", i);
      CHECK(st.text == kTricky[i % kTricky.size()]);
      CHECK(st.node == nodes[i % kTricky.size()]);
      CHECK(text.compare(st.offset, st.text.size(), st.text) == 0);
      for (size_t cut : plan.starts) CHECK_FALSE((cut > st.offset && cut < st.offset + st.text.size()));
    }
  }

  TEST_CASE("a chunk that does not parse: the whole text is parsed, and the error is where one parse puts it") {
    size_t count = 0;
    std::string text = big_script(&count);
    const std::string last = kTricky.back() + ";\n";  // a block ends with it: the next line starts a statement
    const size_t line = text.find(last, text.size() / 2) + last.size();
    text.insert(line, "SELEC 1;\n");
    auto out = sql::parse(text);
    REQUIRE(out.error);
    CHECK(out.error->offset == line);
    CHECK(out.error->message == "syntax error at or near \"SELEC\"");
    // An unterminated quote near the end: the chunk before the cut cannot parse, and neither can the text.
    std::string open = big_script(&count) + "SELECT 'never closed;\n" + std::string(70 * 1024, 'x') + ";\nSELECT 1;\n";
    auto bad = sql::parse(open);
    REQUIRE(bad.error);
    CHECK(bad.error->message.find("unterminated quoted string") == 0);
  }
}
