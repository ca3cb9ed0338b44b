// The notification outbox against the real server (docs/notify.md): rows are queued by the statement that
// appends their event — so a change that does not commit queues nothing — and leased, retried and given up
// with a notify.failed event that is not queued for the sink that failed.
#include <doctest/doctest.h>

#include <chrono>
#include <pqxx/pqxx>

#include "pg_test.hpp"
#include "phasegate/pg.hpp"

using namespace phasegate;

namespace {
std::unique_ptr<PgDatabase> open_routed(const std::string& url) {
  auto db = PgDatabase::connect(url, "phasegate", "phasegate-test");
  REQUIRE(db);
  (*db)->set_actor(Actor{"tester", "ci", "host"});
  (*db)->set_notify_routes({{"slack", {"run.*", "notify.failed"}}, {"pager", {"run.failed", "notify.failed"}}});
  return std::move(*db);
}
Event ev(const std::string& kind, int64_t run = 0) { return Event{kind, run, "0001-p", "expand", "s", "{}", std::chrono::system_clock::now()}; }
std::string one(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::nontransaction n(c);
  auto r = n.exec(sql);
  return r.empty() || r[0][0].is_null() ? "" : r[0][0].c_str();
}
}  // namespace

TEST_SUITE("adapters::pg::outbox") {
  TEST_CASE("an event is queued for its sinks in its own transaction; a change that fails queues nothing") {
    auto url = test::fresh_database("pg_it_outbox");
    auto db = open_routed(url);
    REQUIRE(db->ensure_schema());
    REQUIRE(*db->has_outbox());
    RunRecord run;
    run.plan_id = "0001-p";
    run.digest = "d";
    auto created = db->create_run(run, Actor{"tester", "ci", "host"}, ev("run.created"));
    REQUIRE(created);
    CHECK(one(url, "SELECT string_agg(sink, ',' ORDER BY sink) FROM phasegate.outbox") == "slack");

    // A stale view of the run (optimistic concurrency): nothing commits, so nothing is queued either.
    StateChange stale;
    RunRecord moved = *created;
    moved.status = RunStatus::running;
    stale.run = moved;
    stale.run_was = RunStatus::waiting;
    stale.add(ev("run.failed", created->id));
    CHECK_FALSE(db->commit(stale));
    CHECK(one(url, "SELECT count(*) FROM phasegate.outbox") == "1");
    CHECK(one(url, "SELECT count(*) FROM phasegate.events WHERE kind = 'run.failed'") == "0");

    REQUIRE(db->append_event(ev("run.failed", created->id)));
    REQUIRE(db->append_event(ev("step.started", created->id)));  // routed nowhere
    CHECK(one(url, "SELECT string_agg(o.sink, ',' ORDER BY o.sink) FROM phasegate.outbox o JOIN phasegate.events e USING (event_id) WHERE e.kind = 'run.failed'") ==
          "pager,slack");
    CHECK(*db->pending() == 3);
  }

  TEST_CASE("leases keep two processes apart; retry waits; giving up records notify.failed for the other sinks only") {
    auto url = test::fresh_database("pg_it_outbox_lease");
    auto a = open_routed(url), b = open_routed(url);
    REQUIRE(a->ensure_schema());
    REQUIRE(a->append_event(ev("run.failed", 9)));
    auto got = a->claim(10, Millis(60'000));
    REQUIRE(got);
    REQUIRE(got->size() == 2);
    CHECK((*got)[0].kind == "run.failed");
    CHECK((*got)[0].run_id == 9);
    CHECK((*got)[0].hash.size() == 64);
    auto other = b->claim(10, Millis(60'000));
    REQUIRE(other);
    CHECK(other->empty());  // leased by a

    const auto& slack = (*got)[0].sink == "slack" ? (*got)[0] : (*got)[1];
    const auto& pager = (*got)[0].sink == "pager" ? (*got)[0] : (*got)[1];
    REQUIRE(a->retry(slack, Millis(60'000), "webhook answered HTTP 500"));
    REQUIRE(a->delivered(pager));
    auto again = b->claim(10, Millis(60'000));
    REQUIRE(again);
    CHECK(again->empty());  // slack's next try is a minute away, pager is delivered
    CHECK(one(url, "SELECT attempts || ' ' || last_error FROM phasegate.outbox WHERE sink = 'slack'") == "1 webhook answered HTTP 500");

    // An expired lease (a process that died mid-try) is claimable again.
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    n.exec("UPDATE phasegate.outbox SET next_attempt_at = now(), leased_until = now() - interval '1 s' WHERE sink = 'slack'");
    auto retried = b->claim(10, Millis(60'000));
    REQUIRE(retried);
    REQUIRE(retried->size() == 1);
    CHECK((*retried)[0].attempts == 1);
    REQUIRE(b->give_up((*retried)[0], "no response", notify::failed_event((*retried)[0], 2, "no response", std::chrono::system_clock::now())));
    CHECK(one(url, "SELECT gave_up_at IS NOT NULL FROM phasegate.outbox o JOIN phasegate.events e USING (event_id) WHERE e.kind = 'run.failed' AND sink = 'slack'") == "t");
    CHECK(one(url, "SELECT payload->>'sink' || ' ' || (payload->>'attempts') || ' ' || run_id FROM phasegate.events WHERE kind = 'notify.failed'") ==
          "slack 2 9");
    // queued for pager (which wants notify.failed), not for slack, which failed
    CHECK(one(url, "SELECT string_agg(o.sink, ',') FROM phasegate.outbox o JOIN phasegate.events e USING (event_id) WHERE e.kind = 'notify.failed'") == "pager");
    auto chain = a->check_chain(true);
    REQUIRE(chain);
    CHECK(chain->ok());
  }
}
