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

using namespace phasegate;

namespace {
std::string admin_url() {
  const char* u = std::getenv("PHASEGATE_TEST_URL");
  return u ? u : "";
}

// A fresh database per test; returns its conninfo.
std::string fresh_database(const std::string& name) {
  pqxx::connection admin(admin_url());
  pqxx::nontransaction n(admin);
  n.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  n.exec("CREATE DATABASE " + name);
  return admin_url() + " dbname=" + name;
}

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
