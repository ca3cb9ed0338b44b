// trace's comparison rules (src/lint/trace_compare.cpp) and the timeouts of CONCURRENTLY statements
// (src/engine/executor_concurrent.cpp), without a database.
#include <doctest/doctest.h>

#include "phasegate/engine.hpp"
#include "phasegate/trace.hpp"

using namespace phasegate;
using L = sql::Lock;

namespace {
sql::Statement statement(const std::string& text) {
  auto parsed = sql::parse(text);
  REQUIRE(parsed.script);
  return parsed.script->statements.at(0);
}
// t (with index t_pkey, TOAST pg_toast(t) and its index, owned sequence t_id_seq), u, an FK t_u_fk t -> u.
trace::Catalog catalog() {
  trace::Catalog c;
  c.relations = {{"t", {"t", 'r', ""}},
                 {"t_pkey", {"t_pkey", 'i', "t"}},
                 {"pg_toast(t)", {"pg_toast(t)", 't', "t"}},
                 {"pg_toast(t) index", {"pg_toast(t) index", 'i', "t"}},
                 {"t_id_seq", {"t_id_seq", 'S', "t"}},
                 {"u", {"u", 'r', ""}},
                 {"u_pkey", {"u_pkey", 'i', "u"}}};
  c.foreign_keys = {{"t_u_fk", "t", "u"}};
  return c;
}
trace::Observation seen(std::map<std::string, L> locks, std::set<std::string> rewritten = {}) {
  trace::Observation o;
  o.before = o.after = catalog();
  o.locks = std::move(locks);
  o.rewritten = std::move(rewritten);
  return o;
}
}  // namespace

TEST_SUITE("trace") {
  TEST_CASE("an unpredicted lock is a disagreement, as a sentence") {
    auto st = statement("SELECT 1");
    auto c = trace::compare(trace::predict(st, catalog()), seen({{"t", L::share_row_exclusive}}));
    REQUIRE(c.disagreements.size() == 1);
    CHECK(c.disagreements[0] == "PostgreSQL took SHARE ROW EXCLUSIVE on table t, which the analyzer did not predict.");
  }

  TEST_CASE("a predicted lock not taken, and a different one, are disagreements") {
    auto st = statement("CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()");
    auto none = trace::compare(trace::predict(st, catalog()), seen({}));
    REQUIRE(none.disagreements.size() == 1);
    CHECK(none.disagreements[0] == "The analyzer predicted SHARE ROW EXCLUSIVE on table t, but PostgreSQL took no lock on it.");
    auto other = trace::compare(trace::predict(st, catalog()), seen({{"t", L::access_exclusive}}));
    REQUIRE(other.disagreements.size() == 1);
    CHECK(other.disagreements[0] == "PostgreSQL took ACCESS EXCLUSIVE on table t; the analyzer predicted SHARE ROW EXCLUSIVE.");
    CHECK(trace::compare(trace::predict(st, catalog()), seen({{"t", L::share_row_exclusive}})).disagreements.empty());
  }

  TEST_CASE("a rewritten table's indexes and TOAST relations must be locked ACCESS EXCLUSIVE") {
    auto st = statement("ALTER TABLE t ADD COLUMN r float8 DEFAULT random()");
    auto p = trace::predict(st, catalog());
    CHECK(p.locks.at("t_pkey") == L::access_exclusive);
    CHECK(p.locks.at("pg_toast(t)") == L::access_exclusive);
    CHECK(p.at_most.at("t_id_seq") == L::access_exclusive);
    auto c = trace::compare(p, seen({{"t", L::access_exclusive}, {"t_pkey", L::access_exclusive}}, {"t"}));
    CHECK(c.disagreements.size() == 2);  // the TOAST table and its index were not locked
    CHECK(c.disagreements[0].find("pg_toast(t)") != std::string::npos);
  }

  TEST_CASE("what belongs to a table may be locked, never more strongly than the table") {
    auto st = statement("CREATE INDEX t_c_idx ON t (c)");
    auto p = trace::predict(st, catalog());
    CHECK(p.locks.at("t") == L::share);
    CHECK(trace::compare(p, seen({{"t", L::share}, {"t_pkey", L::access_share}})).disagreements.empty());
    auto c = trace::compare(p, seen({{"t", L::share}, {"t_pkey", L::access_exclusive}}));
    REQUIRE(c.disagreements.size() == 1);
    CHECK(c.disagreements[0] == "PostgreSQL took ACCESS EXCLUSIVE on index t_pkey, stronger than the SHARE predicted on table t it belongs to.");
  }

  TEST_CASE("an unpredicted ACCESS SHARE is a read, not a disagreement") {
    auto c = trace::compare(trace::predict(statement("CREATE VIEW w AS SELECT * FROM u"), catalog()), seen({{"u", L::access_share}}));
    CHECK(c.disagreements.empty());
    CHECK(c.reads == std::vector<std::string>{"u"});
  }

  TEST_CASE("statements naming an index, and foreign keys from the catalog") {
    auto reindex = trace::predict(statement("REINDEX INDEX t_pkey"), catalog());
    CHECK(reindex.locks == std::map<std::string, L>{{"t", L::share}, {"t_pkey", L::access_exclusive}});
    auto drop = trace::predict(statement("DROP INDEX t_pkey"), catalog());
    CHECK(drop.locks == std::map<std::string, L>{{"t", L::access_exclusive}, {"t_pkey", L::access_exclusive}});
    auto validate = trace::predict(statement("ALTER TABLE t VALIDATE CONSTRAINT t_u_fk"), catalog());
    CHECK(validate.locks.at("u") == L::row_share);
    auto drop_fk = trace::predict(statement("ALTER TABLE t DROP CONSTRAINT t_u_fk"), catalog());
    CHECK(drop_fk.locks.at("u") == L::access_exclusive);
    auto table = trace::predict(statement("REINDEX TABLE t"), catalog());
    CHECK(table.locks.at("t_pkey") == L::access_exclusive);
    CHECK(table.locks.at("pg_toast(t) index") == L::access_exclusive);
  }

  TEST_CASE("relations the statement creates are not compared") {
    auto o = seen({{"t", L::share}, {"t_new_idx", L::access_exclusive}});
    o.created = {"t_new_idx"};
    CHECK(trace::compare(trace::predict(statement("CREATE INDEX t_new_idx ON t (c)"), catalog()), o).disagreements.empty());
  }

  TEST_CASE("rewrites both ways") {
    auto st = statement("ALTER TABLE t ALTER COLUMN c TYPE bigint");
    auto c = trace::compare(trace::predict(st, catalog()), seen({{"t", L::access_exclusive}, {"t_pkey", L::access_exclusive},
                                                                 {"pg_toast(t)", L::access_exclusive},
                                                                 {"pg_toast(t) index", L::access_exclusive}}));
    REQUIRE(c.disagreements.size() == 1);
    CHECK(c.disagreements[0] == "The analyzer predicted a rewrite of table t, but its relfilenode did not change.");
    auto unpredicted = trace::compare(trace::predict(statement("ALTER TABLE t ADD COLUMN x int"), catalog()),
                                      seen({{"t", L::access_exclusive}}, {"t"}));
    REQUIRE(unpredicted.disagreements.size() == 1);
    CHECK(unpredicted.disagreements[0] == "PostgreSQL rewrote table t (a new relfilenode), which the analyzer did not predict.");
  }
}

TEST_SUITE("concurrent_lock_timeout") {
  TEST_CASE("CONCURRENTLY statements get concurrent_lock_timeout, bounded by statement_timeout") {
    Guards g;
    Step step;
    auto cic = statement("CREATE INDEX CONCURRENTLY i ON t (c)");
    auto plain = statement("ALTER TABLE t ADD COLUMN x int");
    CHECK(g.concurrent_lock_timeout == Millis(60'000));
    CHECK(statement_timeouts(step, g, cic).lock_timeout == Millis(60'000));
    CHECK(statement_timeouts(step, g, plain).lock_timeout == Millis(2000));
    g.statement_timeout = Millis(30'000);
    CHECK(statement_timeouts(step, g, cic).lock_timeout == Millis(30'000));  // never above statement_timeout
    g.concurrent_lock_timeout = Millis(0);  // "none": up to statement_timeout
    CHECK(statement_timeouts(step, g, cic).lock_timeout == Millis(30'000));
    step.lock_timeout = Millis(500);  // the step's own lock_timeout is for all its statements
    CHECK(statement_timeouts(step, g, cic).lock_timeout == Millis(500));
  }

  TEST_CASE("a plan's [guards] overrides the project's") {
    GuardSettings project, plan;
    project.concurrent_lock_timeout = Millis(120'000);
    CHECK(merge_guards(project, plan).concurrent_lock_timeout == Millis(120'000));
    plan.concurrent_lock_timeout = Millis(5'000);
    CHECK(merge_guards(project, plan).concurrent_lock_timeout == Millis(5'000));
    CHECK(merge_guards({}, {}).concurrent_lock_timeout == Millis(60'000));
  }
}
