// The ALTER COLUMN ... TYPE compatibility table (src/sql/types.cpp), one check per row, and the statement facts
// issue #13 §2 corrected: option values, settings, transaction control.
#include <doctest/doctest.h>

#include "phasegate/sql.hpp"

using namespace phasegate;
using R = sql::Rewrite;

namespace {
sql::Statement one(const char* text) {
  auto out = sql::parse(text);
  REQUIRE(out.script);
  REQUIRE(out.script->statements.size() == 1);
  return out.script->statements[0];
}
const char* name(R r) { return r == R::no ? "no" : r == R::maybe ? "maybe" : "yes"; }
}  // namespace

TEST_SUITE("sql::types") {
  TEST_CASE("type_change: every row of the compatibility table") {
    struct Row {
      const char* from;
      const char* to;
      R want;
    };
    // Types as facts.cpp spells them (normalize_type turns format_type's output into these).
    const Row rows[] = {
        {"varchar(10)", "text", R::no},               // pg_cast binary
        {"varchar", "text", R::no},
        {"varchar(10)", "citext", R::no},             // citext: WITHOUT FUNCTION (indexes rebuilt: reindexes)
        {"text", "citext", R::no},
        {"citext", "text", R::no},
        {"citext", "varchar", R::no},
        {"text", "varchar", R::no},                   // no length limit: a relabel
        {"varchar(10)", "varchar(20)", R::no},        // varchar_support: a longer limit
        {"varchar(10)", "varchar", R::no},            // no limit
        {"varchar(20)", "varchar(10)", R::yes},       // shrink: checked and rewritten
        {"text", "varchar(10)", R::yes},
        {"varchar", "varchar(10)", R::yes},
        {"citext", "varchar(10)", R::yes},
        {"numeric(10,2)", "numeric(12,2)", R::no},    // numeric_support: precision up at the same scale
        {"numeric(10)", "numeric(12)", R::no},        // scale 0 both
        {"numeric(10,2)", "numeric", R::no},          // unconstrained
        {"numeric(10,2)", "numeric(12,3)", R::yes},   // scale change
        {"numeric(10,2)", "numeric(8,2)", R::yes},    // precision down
        {"numeric", "numeric(10,2)", R::yes},         // a limit added
        {"timestamp(3)", "timestamp(6)", R::no},      // TemporalSimplify
        {"timestamp(3)", "timestamp", R::no},
        {"timestamp", "timestamp(6)", R::no},         // 6 is the maximum: what unconstrained means
        {"timestamp", "timestamp(3)", R::yes},
        {"timestamp(6)", "timestamp(3)", R::yes},
        {"timestamptz(0)", "timestamptz(3)", R::no},
        {"timestamptz(3)", "timestamptz(1)", R::yes},
        {"time(2)", "time(4)", R::no},
        {"time(4)", "time(2)", R::yes},
        {"interval(32767,3)", "interval(32767,5)", R::no},  // interval(3): full range, precision 3
        {"interval(32767,3)", "interval", R::no},
        {"interval", "interval(32767,6)", R::no},
        {"interval(32767,5)", "interval(32767,3)", R::yes},
        {"interval", "interval(32767,3)", R::yes},
        {"interval(8)", "interval(32767,3)", R::maybe},  // interval fields (DAY ...): not modelled
        {"cidr", "inet", R::no},
        {"inet", "cidr", R::yes},
        {"int4", "int4", R::no},                      // same type: a no-op
        {"varchar(10)", "varchar(10)", R::no},
        {"int4", "int8", R::yes},
        {"int8", "int4", R::yes},
        {"int2", "int4", R::yes},
        {"text", "int4", R::yes},
        {"bpchar(5)", "bpchar(10)", R::yes},          // char(n) is stored padded
        {"varchar(10)", "bpchar(10)", R::yes},
        {"json", "jsonb", R::yes},
        {"timestamp", "timestamptz", R::maybe},       // no rewrite only when the session TimeZone is UTC
        {"timestamptz", "timestamp", R::maybe},
        {"int4[]", "int8[]", R::maybe},               // arrays: not modelled
        {"mood", "text", R::maybe},                   // a type phasegate does not know (an enum, a domain)
        {"text", "email", R::maybe},
    };
    for (const auto& r : rows) {
      auto got = sql::type_change(r.from, r.to);
      CHECK_MESSAGE(got.rewrite == r.want, r.from << " -> " << r.to << ": got " << name(got.rewrite) << " (" << got.why << ")");
      CHECK_MESSAGE(!got.why.empty(), r.from << " -> " << r.to);
    }
    CHECK(sql::type_change("text", "citext").reindexes);
    CHECK(sql::type_change("citext", "text").reindexes);
    CHECK_FALSE(sql::type_change("varchar(10)", "text").reindexes);
    CHECK(sql::type_change("timestamp", "timestamptz").why.find("TimeZone is UTC") != std::string::npos);
  }
  TEST_CASE("rewrite_to: without the old type, maybe only where some conversion is free") {
    for (const char* t : {"text", "varchar(20)", "citext", "numeric(12,2)", "timestamptz", "timestamp(6)", "time", "interval", "inet"})
      CHECK_MESSAGE(sql::rewrite_to(t) == R::maybe, t);
    for (const char* t : {"int8", "int4", "jsonb", "uuid", "bpchar(5)", "mood"}) CHECK_MESSAGE(sql::rewrite_to(t) == R::yes, t);
    CHECK(one("ALTER TABLE t ALTER COLUMN c TYPE bigint").actions[0].rewrite == R::yes);
    CHECK(one("ALTER TABLE t ALTER COLUMN c TYPE numeric(12,2)").actions[0].rewrite == R::maybe);
  }
  TEST_CASE("normalize_type reads any spelling, format_type's included") {
    CHECK(sql::normalize_type("character varying(10)") == "varchar(10)");
    CHECK(sql::normalize_type("character varying") == "varchar");
    CHECK(sql::normalize_type("timestamp(3) without time zone") == "timestamp(3)");
    CHECK(sql::normalize_type("timestamp with time zone") == "timestamptz");
    CHECK(sql::normalize_type("time(2) without time zone") == "time(2)");
    CHECK(sql::normalize_type("integer") == "int4");
    CHECK(sql::normalize_type("bigint") == "int8");
    CHECK(sql::normalize_type("numeric(10,2)") == "numeric(10,2)");
    CHECK(sql::normalize_type("integer[]") == "int4[]");
    CHECK(sql::normalize_type("public.citext") == "citext");
    CHECK(sql::normalize_type("interval(3)") == "interval(32767,3)");
    CHECK(sql::normalize_type("character(5)") == "bpchar(5)");
    CHECK_FALSE(sql::normalize_type("").has_value());
    CHECK_FALSE(sql::normalize_type("int; DROP TABLE t").has_value());
    CHECK_FALSE(sql::normalize_type("(((").has_value());
    // The parser's spelling of the new type matches: ALTER ... TYPE character varying(10) is varchar(10).
    CHECK(one("ALTER TABLE t ALTER COLUMN s TYPE character varying(10)").actions[0].type_name == "varchar(10)");
    CHECK(one("ALTER TABLE t ALTER COLUMN s TYPE int[]").actions[0].type_name == "int4[]");
    auto ct = one("CREATE TABLE n (id bigint, s varchar(10), at timestamp(3))").actions[0];
    CHECK(ct.columns == std::vector<std::string>{"id", "s", "at"});
    CHECK(ct.types == std::vector<std::string>{"int8", "varchar(10)", "timestamp(3)"});
  }
  TEST_CASE("option values: absent is true; false, off and 0 are false") {
    CHECK(one("VACUUM FULL t").actions.size() == 1);
    CHECK(one("VACUUM (FULL) t").actions.size() == 1);
    CHECK(one("VACUUM (FULL true) t").actions.size() == 1);
    CHECK(one("VACUUM (FULL on, ANALYZE) t").actions.size() == 1);
    CHECK(one("VACUUM (FULL 1) t").actions.size() == 1);
    CHECK(one("VACUUM (FULL false) t").actions.empty());
    CHECK(one("VACUUM (FULL off) t").actions.empty());
    CHECK(one("VACUUM (FULL 0) t").actions.empty());
    CHECK(one("VACUUM (FULL FALSE, VERBOSE) t").actions.empty());
    auto all = one("VACUUM FULL").actions;  // every table of the database
    REQUIRE(all.size() == 1);
    CHECK(all[0].object == "all");
    auto on = one("REINDEX (CONCURRENTLY) INDEX i");
    CHECK(on.concurrently);
    CHECK(on.actions[0].concurrently);
    CHECK_FALSE(on.allowed_in_transaction);
    auto off = one("REINDEX (CONCURRENTLY false) INDEX i");
    CHECK_FALSE(off.concurrently);
    CHECK_FALSE(off.actions[0].concurrently);
    CHECK(off.actions[0].lock == sql::Lock::share);
    CHECK(off.allowed_in_transaction);
    CHECK_FALSE(one("REINDEX (CONCURRENTLY 0) TABLE t").concurrently);
    auto sys = one("REINDEX (CONCURRENTLY) SYSTEM app");  // PostgreSQL refuses it: never concurrent
    CHECK_FALSE(sys.concurrently);
    CHECK_FALSE(sys.actions[0].concurrently);
    CHECK(sys.actions[0].object == "system");
    CHECK(sys.actions[0].fails.find("cannot reindex system catalogs concurrently") != std::string::npos);
    CHECK(one("REINDEX SYSTEM app").actions[0].fails.empty());
    CHECK_FALSE(one("REINDEX SCHEMA app").allowed_in_transaction);
    CHECK(one("REINDEX SCHEMA app").actions[0].name == "app");
    CHECK(one("REINDEX INDEX i").actions[0].object == "index");
    CHECK(one("CLUSTER").actions[0].object == "all");
    CHECK_FALSE(one("CLUSTER").allowed_in_transaction);
    CHECK(one("CLUSTER t USING t_pkey").allowed_in_transaction);
  }
  TEST_CASE("settings: the exact name, the value, LOCAL, RESET") {
    auto s = one("SET lock_timeout = '2s'").setting;
    REQUIRE(s);
    CHECK(s->name == "lock_timeout");
    CHECK(s->value == "2s");
    CHECK_FALSE(s->local);
    CHECK_FALSE(s->reset);
    CHECK(one("SET lock_timeout = 0").setting->value == "0");
    CHECK(one("SET LOCAL statement_timeout TO 5000").setting->local);
    CHECK(one("SET foo.lock_timeout = '1s'").setting->name == "foo.lock_timeout");
    CHECK(one("RESET lock_timeout").setting->reset);
    CHECK(one("SET lock_timeout TO DEFAULT").setting->reset);
    auto all = one("RESET ALL").setting;
    REQUIRE(all);
    CHECK(all->name == "all");
    CHECK(all->reset);
    CHECK_FALSE(one("SELECT 1").setting);
  }
  TEST_CASE("transaction control: what each statement does to the block") {
    CHECK(one("BEGIN").tx == sql::TxKind::begin);
    CHECK(one("START TRANSACTION ISOLATION LEVEL SERIALIZABLE").tx == sql::TxKind::begin);
    CHECK(one("COMMIT").tx == sql::TxKind::commit);
    CHECK(one("END").tx == sql::TxKind::commit);
    CHECK(one("ABORT").tx == sql::TxKind::rollback);
    CHECK(one("ROLLBACK").tx == sql::TxKind::rollback);
    CHECK(one("SAVEPOINT a").tx == sql::TxKind::savepoint);
    CHECK(one("ROLLBACK TO SAVEPOINT a").tx == sql::TxKind::rollback_to);
    CHECK(one("RELEASE a").tx == sql::TxKind::release);
    CHECK(one("COMMIT AND CHAIN").tx_chain);
    CHECK_FALSE(one("COMMIT").tx_chain);
    CHECK(one("SELECT 1").tx == sql::TxKind::none);
    auto ins = one("INSERT INTO t SELECT * FROM u").actions;
    REQUIRE(ins.size() == 1);
    CHECK(ins[0].kind == "insert");
    CHECK(ins[0].has_select);
    CHECK(ins[0].lock == sql::Lock::row_exclusive);
    CHECK_FALSE(one("INSERT INTO t VALUES (1), (2)").actions[0].has_select);
  }
}
