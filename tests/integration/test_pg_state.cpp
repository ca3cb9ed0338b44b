// Against the real PostgreSQL started by scripts/pg.sh: PHASEGATE_TEST_URL names a server; each test
// creates its own database.
#include <doctest/doctest.h>

#include <cstdlib>
#include <thread>
#include <pqxx/pqxx>

#include "phasegate/engine.hpp"
#include "adapters/pg/schema.hpp"
#include "phasegate/pg.hpp"
#include "fakes.hpp"
#include "pg_test.hpp"

using namespace phasegate;

namespace {
using test::admin_url;

using test::fresh_database;

std::unique_ptr<PgDatabase> open(const std::string& url) {
  auto db = PgDatabase::connect(url, "phasegate", "phasegate-test");
  REQUIRE(db);
  (*db)->set_actor(Actor{"tester", "ci", "host"});
  return std::move(*db);
}
}  // namespace

TEST_SUITE("adapters::pg") {
  TEST_CASE("schema creation is idempotent and safe from two connections") {
    REQUIRE_MESSAGE(!admin_url().empty(), "set PHASEGATE_TEST_URL (scripts/test.sh does)");
    auto url = fresh_database("pg_it_schema");
    auto a = open(url), b = open(url);
    REQUIRE(a->ensure_schema());
    REQUIRE(b->ensure_schema());
    REQUIRE(a->ensure_schema());
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    CHECK(n.exec("SELECT count(*) FROM phasegate.schema_version")[0][0].as<size_t>() == pg::schema_migrations("phasegate").size());
    for (const char* t : {"plans", "runs", "steps", "approvals", "events", "broadcast"})
      CHECK_MESSAGE(n.exec(std::string("SELECT to_regclass('phasegate.") + t + "') IS NOT NULL")[0][0].as<bool>(), t);
  }

  TEST_CASE("two processes creating the schema at the same instant") {
    auto url = fresh_database("pg_it_schema_race");
    auto a = open(url), b = open(url);
    Result<void> ra, rb;
    std::thread ta([&] { ra = a->ensure_schema(); });
    std::thread tb([&] { rb = b->ensure_schema(); });
    ta.join();
    tb.join();
    CHECK(ra.has_value());
    CHECK(rb.has_value());
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    CHECK(n.exec("SELECT count(*) FROM phasegate.schema_version")[0][0].as<size_t>() == pg::schema_migrations("phasegate").size());
  }

  TEST_CASE("one runner per database: the second gets exit 75 naming the holder") {
    auto url = fresh_database("pg_it_lock");
    auto a = open(url), b = open(url);
    REQUIRE(a->lock_runs());
    auto second = b->lock_runs();
    REQUIRE_FALSE(second);
    CHECK(second.error().code == Exit::blocked);
    CHECK(second.error().message.find("phasegate-test") != std::string::npos);
    a.reset();  // the session ends, the lock goes with it — once its backend has exited, which takes a moment
    bool taken = false;
    for (int i = 0; i < 200 && !taken; ++i) {
      taken = bool(b->lock_runs());
      if (!taken) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK_MESSAGE(taken, "the lock was still held 10 s after its session closed");
  }

  TEST_CASE("a transactional step commits with its record; a failing one leaves nothing") {
    auto url = fresh_database("pg_it_atomic");
    auto db = open(url);
    REQUIRE(db->ensure_schema());
    test::FakeClock clock;
    clock.t = std::chrono::system_clock::now();
    Project project;
    project.rollback.on_failure = "pause";  // keep "t" applied to look at it
    Executor ex(project, *db, *db, clock, Actor{"tester", "ci", "host"});
    auto plan = test::make_plan("p1", {{Phase::expand, "t", "CREATE TABLE books (id int PRIMARY KEY, lexile int)"},
                                       {Phase::expand, "bad", "ALTER TABLE books ADD COLUMN x int; ALTER TABLE nope ADD COLUMN y int"}});
    auto out = ex.run_plan(plan, {});
    CHECK(out.exit == Exit::needs_human);
    CHECK(out.message.find("\"nope\" does not exist") != std::string::npos);
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    CHECK(n.exec("SELECT to_regclass('books') IS NOT NULL")[0][0].as<bool>());
    // The first statement of the failing step rolled back with it.
    CHECK(n.exec("SELECT count(*) FROM information_schema.columns WHERE table_name = 'books' AND column_name = 'x'")[0][0].as<int>() == 0);
    CHECK(n.exec("SELECT status FROM phasegate.steps WHERE step = 'bad'")[0][0].as<std::string>() == "failed");
    CHECK(n.exec("SELECT status FROM phasegate.steps WHERE step = 't'")[0][0].as<std::string>() == "completed");
    CHECK(n.exec("SELECT status FROM phasegate.runs")[0][0].as<std::string>() == "failed");
  }

  TEST_CASE("SET LOCAL lock_timeout: a held lock makes the step time out, retry, then give up with 75") {
    auto url = fresh_database("pg_it_locktimeout");
    {
      pqxx::connection c(url);
      pqxx::nontransaction n(c);
      n.exec("CREATE TABLE t (id int)");
    }
    pqxx::connection holder(url);
    pqxx::work hold(holder);
    hold.exec("LOCK TABLE t IN ACCESS SHARE MODE");
    auto db = open(url);
    REQUIRE(db->ensure_schema());
    test::FakeClock clock;
    Project project;
    project.guards.lock_timeout = Millis(100);
    project.guards.lock_retries = 2;
    Executor ex(project, *db, *db, clock, Actor{});
    auto plan = test::make_plan("p2", {{Phase::expand, "add", "ALTER TABLE t ADD COLUMN c int"}});
    auto out = ex.run_plan(plan, {});
    CHECK(out.exit == Exit::blocked);
    CHECK(clock.sleeps.size() == 2);
    hold.abort();
    auto again = ex.run_plan(plan, {});
    CHECK(again.exit == Exit::ok);
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    CHECK(n.exec("SELECT count(*) FROM phasegate.events WHERE kind = 'step.retrying'")[0][0].as<int>() == 2);
    CHECK(n.exec("SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'c'")[0][0].as<int>() == 1);
  }

  TEST_CASE("events form a verifiable hash chain and are append-only") {
    auto url = fresh_database("pg_it_events");
    auto db = open(url);
    REQUIRE(db->ensure_schema());
    for (int i = 0; i < 3; ++i)
      REQUIRE(db->append_event(Event{"status.announced", 0, "", "", "", "{\"i\": " + std::to_string(i) + "}", std::chrono::system_clock::now()}));
    auto events = db->events(std::nullopt);
    REQUIRE(events);
    REQUIRE(events->size() == 3);
    for (const auto& e : *events) CHECK(e.chain_ok);
    CHECK((*events)[1].prev_hash == (*events)[0].hash);
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    CHECK_THROWS(n.exec("UPDATE phasegate.events SET kind = 'x'"));
    // Tampering that bypasses the trigger is detected by the chain.
    n.exec("ALTER TABLE phasegate.events DISABLE TRIGGER events_append_only");
    n.exec("UPDATE phasegate.events SET payload = '{\"i\": 42}' WHERE event_id = 2");
    auto after = db->events(std::nullopt);
    CHECK_FALSE((*after)[1].chain_ok);
  }

  TEST_CASE("index_state sees invalid indexes") {
    auto url = fresh_database("pg_it_index");
    auto db = open(url);
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    n.exec("CREATE TABLE t (a int); INSERT INTO t VALUES (1), (1)");
    CHECK(*db->index_state("", "t_a") == IndexState::absent);
    CHECK_THROWS(n.exec("CREATE UNIQUE INDEX CONCURRENTLY t_a ON t (a)"));  // leaves an invalid index
    CHECK(*db->index_state("", "t_a") == IndexState::invalid);
    n.exec("DELETE FROM t WHERE ctid = (SELECT min(ctid) FROM t)");
    n.exec("DROP INDEX t_a; CREATE UNIQUE INDEX t_a ON t (a)");
    CHECK(*db->index_state("public", "t_a") == IndexState::valid);
  }

  TEST_CASE("concurrent appenders from two sessions keep one unbroken chain") {
    auto url = fresh_database("pg_it_chain_race");
    auto a = open(url), b = open(url);
    REQUIRE(a->ensure_schema());
    auto append = [](PgDatabase& db, const char* who) {
      for (int i = 0; i < 100; ++i)
        REQUIRE(db.append_event(Event{"status.announced", 0, who, "", "", "{}", std::chrono::system_clock::now()}));
    };
    std::thread ta([&] { append(*a, "a"); });
    std::thread tb([&] { append(*b, "b"); });
    ta.join();
    tb.join();
    auto events = a->events(std::nullopt);
    REQUIRE(events);
    CHECK(events->size() == 200);
    int broken = 0;
    for (const auto& e : *events) broken += e.chain_ok ? 0 : 1;
    CHECK(broken == 0);
  }
}

// Tamper evidence (issue #12): the head row anchors the chain's end, TRUNCATE is refused, the v3 -> v4 upgrade
// anchors an existing chain. The attacker is a superuser who disables the triggers, as anyone owning the tables can.
TEST_SUITE("adapters::pg event chain anchor") {
  namespace {
  void append_n(PgDatabase& db, int n) {
    for (int i = 0; i < n; ++i)
      REQUIRE(db.append_event(Event{"status.announced", 0, "", "", "", "{\"i\": " + std::to_string(i) + "}", std::chrono::system_clock::now()}));
  }
  // A state schema at `url` holding a chain of n events phasegate appended.
  std::unique_ptr<PgDatabase> chain_of(const std::string& url, int n) {
    auto db = open(url);
    REQUIRE(db->ensure_schema());
    append_n(*db, n);
    return db;
  }
  std::string problems_of(const ChainCheck& c) {
    std::string all;
    for (const auto& p : c.problems) all += p + "\n";
    return all.empty() ? "<no problem>" : all;
  }
  }  // namespace

  TEST_CASE("a chain phasegate wrote: no problem, the head is the newest event") {
    auto url = fresh_database("pg_it_anchor_ok");
    auto db = open(url);
    REQUIRE(db->ensure_schema());
    auto empty = db->check_chain(true);
    REQUIRE(empty);
    CHECK_MESSAGE(empty->ok(), problems_of(*empty));
    append_n(*db, 3);
    auto c = db->check_chain(true);
    REQUIRE(c);
    CHECK_MESSAGE(c->ok(), problems_of(*c));
    CHECK(c->anchored);
    CHECK(c->head_id == 3);
    CHECK(c->newest_id == 3);
    CHECK(c->head_hash == c->newest_hash);
  }

  TEST_CASE("deleting the newest events behind the triggers' back is detected") {
    for (std::string how : {"SET session_replication_role = replica", "ALTER TABLE phasegate.events DISABLE TRIGGER ALL"}) {
      CAPTURE(how);
      auto url = fresh_database("pg_it_anchor_delete");
      auto db = chain_of(url, 4);
      {
        pqxx::connection c(url);
        pqxx::nontransaction n(c);
        CHECK_THROWS(n.exec("DELETE FROM phasegate.events WHERE event_id > 2"));  // the trigger refuses
        n.exec(how);
        n.exec("DELETE FROM phasegate.events WHERE event_id > 2");
      }
      // What `log` used to show: a shorter chain whose every link verifies.
      auto events = db->events(std::nullopt);
      REQUIRE(events);
      REQUIRE(events->size() == 2);
      for (const auto& e : *events) CHECK(e.chain_ok);
      auto c = db->check_chain(true);
      REQUIRE(c);
      CHECK_FALSE(c->ok());
      CHECK_MESSAGE(problems_of(*c).find("events missing after #2: the chain head records event #4") != std::string::npos, problems_of(*c));
      CHECK(c->head_id == 4);
      CHECK(c->newest_id == 2);
      auto cheap = db->check_chain(false);  // what status asks: the anchor alone sees it too
      REQUIRE(cheap);
      CHECK_FALSE(cheap->ok());
    }
  }

  TEST_CASE("TRUNCATE of the events is refused; done with the triggers disabled it is detected") {
    auto url = fresh_database("pg_it_anchor_truncate");
    auto db = chain_of(url, 3);
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    try {
      n.exec("TRUNCATE phasegate.events");
      FAIL("TRUNCATE of the events was allowed");
    } catch (const pqxx::sql_error& e) {
      CHECK_MESSAGE(std::string(e.what()).find("append-only") != std::string::npos, e.what());
    }
    CHECK(n.exec("SELECT count(*) FROM phasegate.events")[0][0].as<int>() == 3);
    CHECK_THROWS(n.exec("DELETE FROM phasegate.event_head"));
    CHECK_THROWS(n.exec("TRUNCATE phasegate.event_head"));
    n.exec("SET session_replication_role = replica");
    n.exec("TRUNCATE phasegate.events");
    auto check = db->check_chain(true);
    REQUIRE(check);
    CHECK_FALSE(check->ok());
    CHECK_MESSAGE(problems_of(*check).find("the events table is empty but the chain head records event #3") != std::string::npos,
                  problems_of(*check));
  }

  TEST_CASE("deleting from the middle or the oldest end breaks a link") {
    auto url = fresh_database("pg_it_anchor_middle");
    auto db = chain_of(url, 5);
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    n.exec("SET session_replication_role = replica");
    n.exec("DELETE FROM phasegate.events WHERE event_id = 3");  // from the middle
    auto check = db->check_chain(true);
    REQUIRE(check);
    CHECK_MESSAGE(problems_of(*check).find("event #4 does not follow #2") != std::string::npos, problems_of(*check));
    n.exec("DELETE FROM phasegate.events WHERE event_id = 1");  // the oldest
    check = db->check_chain(true);
    REQUIRE(check);
    CHECK_MESSAGE(problems_of(*check).find("the oldest event #2 does not start the chain") != std::string::npos, problems_of(*check));
  }

  TEST_CASE("v3 -> v4: an existing chain is anchored at its newest event; the upgrade is idempotent") {
    auto url = fresh_database("pg_it_anchor_upgrade");
    auto migrations = pg::schema_migrations("phasegate");
    REQUIRE(migrations.size() >= 4);
    {
      // A state schema as phasegate v3 left it, with three events appended by v3's statement.
      pqxx::connection c(url);
      pqxx::work w(c);
      w.exec("CREATE SCHEMA phasegate; CREATE TABLE phasegate.schema_version (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
      for (int i = 0; i < 3; ++i) {
        w.exec(migrations[static_cast<size_t>(i)]);
        w.exec("INSERT INTO phasegate.schema_version (version) VALUES (" + std::to_string(i + 1) + ")");
      }
      Actor a{"tester", "ci", "host"};
      for (int i = 0; i < 3; ++i) {
        long long at = 1'700'000'000'000LL + i;
        std::string payload = "{\"i\":" + std::to_string(i) + "}";
        w.exec_params(
            "WITH h AS (SELECT hash FROM phasegate.event_head WHERE id = 1 FOR UPDATE),"
            " n AS (SELECT h.hash AS prev, encode(sha256(convert_to(h.hash || $3, 'UTF8')), 'hex') AS hash FROM h),"
            " ins AS (INSERT INTO phasegate.events (at, at_ms, kind, principal, os_user, host, payload, prev_hash, hash)"
            " SELECT to_timestamp($1::bigint / 1000.0), $1::bigint, 'status.announced', 'tester', 'ci', 'host', $2::jsonb, n.prev, n.hash FROM n)"
            " UPDATE phasegate.event_head SET hash = n.hash FROM n WHERE id = 1",
            at, payload, event_hash_suffix("status.announced", at, 0, "", "", "", a, payload));
      }
      w.commit();
    }
    auto db = open(url);
    auto before = db->check_chain(true);
    REQUIRE(before);
    CHECK_FALSE(before->anchored);  // v3: nothing to check the end against
    CHECK_MESSAGE(before->ok(), problems_of(*before));
    REQUIRE(db->ensure_schema());
    auto c = db->check_chain(true);
    REQUIRE(c);
    CHECK(c->anchored);
    CHECK_MESSAGE(c->ok(), problems_of(*c));
    CHECK(c->head_id == 3);
    auto events = db->events(std::nullopt);
    REQUIRE(events);
    for (const auto& e : *events) CHECK(e.chain_ok);
    {
      pqxx::connection conn(url);
      pqxx::work w(conn);
      w.exec(migrations[3]);  // again: changes nothing, fails nothing
      w.commit();
    }
    append_n(*db, 1);
    c = db->check_chain(true);
    REQUIRE(c);
    CHECK_MESSAGE(c->ok(), problems_of(*c));
    CHECK(c->head_id == 4);
  }
}

// Credentials are never echoed (docs/secrets.md): what a command printed is stored masked, and hashed as stored.
TEST_SUITE("adapters::pg secrets") {
  TEST_CASE("credentials in a command's output never reach the events table") {
    auto url = fresh_database("pg_it_secret_events");
    auto db = open(url + " password=S3cr3t-zz-integration");  // trust auth: accepted, and remembered
    REQUIRE(db->ensure_schema());
    REQUIRE(db->append_event(Event{"step.completed", 0, "p", "expand", "s",
                                   "{\"stdout\": \"DATABASE_URL=host=h password=S3cr3t-zz-integration\\n\"}", std::chrono::system_clock::now()}));
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    auto payload = n.exec("SELECT payload::text FROM phasegate.events")[0][0].as<std::string>();
    CHECK_MESSAGE(payload.find("S3cr3t-zz-integration") == std::string::npos, payload);
    CHECK_MESSAGE(payload.find("password=****") != std::string::npos, payload);
    auto events = db->events(std::nullopt);
    REQUIRE(events);
    CHECK((*events)[0].chain_ok);  // the masked payload is what was hashed
  }
}
