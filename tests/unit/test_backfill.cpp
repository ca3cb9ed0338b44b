// Backfills with fakes: batch SQL shape, the size controller, resume after a kill at every batch with no
// key done twice or skipped, guards and abort between batches.
#include <doctest/doctest.h>

#include <algorithm>

#include "fakes.hpp"
#include "phasegate/guards.hpp"
#include "phasegate/sql.hpp"

using namespace phasegate;
using namespace phasegate::test;

namespace {
struct Rig {
  Rig() { project.rollback.on_failure = "pause"; }  // these tests are about cursors: keep what ran for the next run
  Project project;
  FakeDatabase db;
  FakeClock clock;
  FakeGuardProbe probe;
  Actor actor{"carol@example.com", "carol", "laptop"};
  std::vector<backfill::Progress> progress;
  PlanOutcome run(const Plan& plan, CrashPoint crash = nullptr) {
    Executor ex(project, db, db, clock, actor, std::move(crash));
    ex.set_guard_probe(&probe);
    ex.on_progress([&](const backfill::Progress& p) { progress.push_back(p); });
    return ex.run_plan(plan, {});
  }
};

Plan backfill_plan(int batch_rows = 50, Millis target = Millis(200), Millis pause = Millis(0)) {
  Plan p = make_plan("0009-fill", {{Phase::expand, "add", "ALTER TABLE books ADD COLUMN lvl int"}});
  Step bf;
  bf.name = "fill lvl";
  bf.phase = Phase::migrate;
  bf.ordinal = 1;
  bf.backfill = Backfill{"books", "lvl = 1", "lvl IS NULL", batch_rows, target, pause};
  p.phases[1].steps.push_back(bf);
  return p;
}
std::vector<long long> keys(long long n) {
  std::vector<long long> k;
  for (long long i = 1; i <= n; ++i) k.push_back(i * 3);  // gaps: keys are not dense
  return k;
}
}  // namespace

TEST_SUITE("engine::backfill") {
  TEST_CASE("batch SQL: the key range found on the primary key, then one UPDATE of that range, no join") {
    BackfillTable t{"public.\"Order Items\"", {{"order_id", "bigint"}, {"line", "integer"}}, 0};
    Backfill b{"Order Items", "total = qty * price", "total IS NULL", 1000, Millis(200), Millis(0)};
    auto first = backfill::batch_sql(t, b, false);
    CHECK(first.bound == "SELECT order_id::text AS __phasegate_k1, line::text AS __phasegate_k2 FROM public.\"Order Items\" ORDER BY order_id, line OFFSET $1::bigint LIMIT 1");
    CHECK(first.tail == "SELECT (SELECT count(*) FROM (SELECT 1 FROM public.\"Order Items\" ORDER BY order_id, line LIMIT $1::bigint) __phasegate_n),"
                        " order_id::text AS __phasegate_k1, line::text AS __phasegate_k2 FROM public.\"Order Items\""
                        " ORDER BY order_id DESC, line DESC LIMIT 1");
    CHECK(first.update == "UPDATE public.\"Order Items\" SET total = qty * price WHERE (order_id, line) <= ($1::bigint, $2::integer)"
                          " AND (total IS NULL) IS TRUE");
    auto next = backfill::batch_sql(t, b, true);
    CHECK(next.bound == "SELECT order_id::text AS __phasegate_k1, line::text AS __phasegate_k2 FROM public.\"Order Items\" WHERE (order_id, line) > ($1::bigint, $2::integer)"
                        " ORDER BY order_id, line OFFSET $3::bigint LIMIT 1");
    CHECK(next.update == "UPDATE public.\"Order Items\" SET total = qty * price WHERE (order_id, line) > ($1::bigint, $2::integer)"
                         " AND (order_id, line) <= ($3::bigint, $4::integer) AND (total IS NULL) IS TRUE");
    CHECK(next.settings == "SET LOCAL enable_seqscan = off");
    // One key column: plain comparisons; no `where`: no filter.
    BackfillTable one{"public.items", {{"id", "bigint"}}, 0};
    auto u = backfill::batch_sql(one, Backfill{"items", "v2 = v * 2", "", 1000, Millis(200), Millis(0)}, true);
    CHECK(u.update == "UPDATE public.items SET v2 = v * 2 WHERE id > $1::bigint AND id <= $2::bigint");
    // And each is one statement PostgreSQL's parser accepts.
    for (const auto& s : {next.bound, next.tail, next.update, first.bound, first.tail, first.update, u.update}) {
      CAPTURE(s);
      auto parsed = sql::parse(s);
      REQUIRE(parsed.script.has_value());
      CHECK(parsed.script->statements.size() == 1);
    }
  }
  TEST_CASE("the batch size steers toward the target time within x2 / /2 and the maximum") {
    CHECK(backfill::next_batch_size(100, Millis(50), Millis(200), 10'000) == 200);   // fast: at most doubles
    CHECK(backfill::next_batch_size(100, Millis(400), Millis(200), 10'000) == 50);   // slow: halves
    CHECK(backfill::next_batch_size(100, Millis(160), Millis(200), 10'000) == 125);  // proportional
    CHECK(backfill::next_batch_size(8000, Millis(1), Millis(200), 10'000) == 10'000);  // never above the maximum
    CHECK(backfill::next_batch_size(1, Millis(5000), Millis(200), 10'000) == 1);
  }
  TEST_CASE("every key is walked once, only where-matching rows are updated, the cursor is kept") {
    Rig rig;
    rig.db.bf_keys = keys(1000);
    rig.db.bf_skip = {3, 300, 3000};
    auto out = rig.run(backfill_plan(200));
    CHECK(out.exit == Exit::ok);
    CHECK(rig.db.bf_updates.size() == 997);
    CHECK(std::all_of(rig.db.bf_updates.begin(), rig.db.bf_updates.end(), [](auto& kv) { return kv.second == 1; }));
    auto rec = rig.db.steps_["0009-fill/fill lvl"];
    CHECK(rec.status == StepStatus::completed);
    auto cur = backfill::Cursor::from_json(rec.cursor);
    REQUIRE(cur);
    CHECK(cur->scanned == 1000);
    CHECK(cur->updated == 997);
    CHECK(cur->last == std::vector<std::string>{"3000"});
    CHECK(rig.db.batch_limits.front() == 100);  // starts small
    CHECK(*std::max_element(rig.db.batch_limits.begin(), rig.db.batch_limits.end()) == 200);  // capped at batch_rows
    REQUIRE(!rig.progress.empty());
    CHECK(rig.progress.back().done);
    CHECK(rig.progress.back().scanned == 1000);
  }
  TEST_CASE("a kill before any batch's commit, then a resume: no key twice, none skipped") {
    for (int kill_at = 1; kill_at <= 6; ++kill_at) {
      CAPTURE(kill_at);
      Rig rig;
      rig.db.bf_keys = keys(500);
      rig.db.crash_in_batch = [kill_at](int n) { return n == kill_at; };
      CHECK_THROWS(rig.run(backfill_plan(100)));
      rig.db.crash_in_batch = nullptr;
      auto out = rig.run(backfill_plan(100));
      CHECK(out.exit == Exit::ok);
      CHECK(rig.db.bf_updates.size() == 500);
      CHECK(std::all_of(rig.db.bf_updates.begin(), rig.db.bf_updates.end(), [](auto& kv) { return kv.second == 1; }));
      auto kinds = rig.db.kinds();
      CHECK(std::count(kinds.begin(), kinds.end(), std::string("step.completed")) >= 1);
    }
  }
  TEST_CASE("a kill after a batch committed resumes from its cursor") {
    Rig rig;
    rig.db.bf_keys = keys(500);
    struct Killed {};
    CHECK_THROWS_AS(rig.run(backfill_plan(100), [](const std::string& p) { if (p == "after-batch:fill lvl") throw Killed{}; }), Killed);
    CHECK(rig.db.bf_updates.size() == 100);  // the first batch (100 keys) committed
    auto out = rig.run(backfill_plan(100));
    CHECK(out.exit == Exit::ok);
    CHECK(rig.db.bf_updates.size() == 500);
    CHECK(std::all_of(rig.db.bf_updates.begin(), rig.db.bf_updates.end(), [](auto& kv) { return kv.second == 1; }));
    auto resumed = std::find_if(rig.db.events_.begin(), rig.db.events_.end(),
                                [](const Event& e) { return e.kind == "backfill.progress" && e.payload.find("\"resumed\":true") != std::string::npos; });
    CHECK(resumed != rig.db.events_.end());
  }
  TEST_CASE("load guards are asked between batches; pause sleeps between them") {
    Rig rig;
    rig.db.bf_keys = keys(300);
    rig.project.guards.throttle_query = "SELECT busy FROM load";
    LoadFacts calm, busy;
    calm.throttle = false;
    busy.throttle = true;
    rig.probe.loads = {calm, calm, calm, busy, calm};  // add step, fill step, batch 2, batch 3 throttled once
    auto out = rig.run(backfill_plan(100, Millis(200), Millis(50)));
    CHECK(out.exit == Exit::ok);
    CHECK(rig.db.bf_updates.size() == 300);
    CHECK(std::count(rig.clock.sleeps.begin(), rig.clock.sleeps.end(), Millis(50)) >= 2);
    CHECK(std::count(rig.clock.sleeps.begin(), rig.clock.sleeps.end(), Millis(1000)) == 1);  // the load backoff
    auto kinds = rig.db.kinds();
    CHECK(std::count(kinds.begin(), kinds.end(), std::string("guard.wait")) == 1);
  }
  TEST_CASE("health stops: a VACUUM on the table pauses the batches, says why, and they go on after it") {
    Rig rig;
    rig.db.bf_keys = keys(300);
    HealthFacts vacuuming, fine;
    vacuuming.vacuum = "autovacuum (to prevent wraparound) (pid 42) is vacuuming public.books: scanning heap, 40% of the heap scanned";
    vacuuming.vacuum_must_finish = true;
    rig.probe.healths = {fine, vacuuming, vacuuming, fine};
    // Each batch takes 600 ms of the fake clock, so the health facts (asked at most once a second) come due.
    rig.db.on_apply = [&](const std::string& what) { if (what == "backfill") rig.clock.t += Millis(600); };
    auto out = rig.run(backfill_plan(100, Millis(10'000)));
    CHECK(out.exit == Exit::ok);
    CHECK(rig.db.bf_updates.size() == 300);
    CHECK(std::all_of(rig.db.bf_updates.begin(), rig.db.bf_updates.end(), [](auto& kv) { return kv.second == 1; }));
    CHECK(rig.probe.health_table == "public.books");
    auto wait = std::find_if(rig.db.events_.begin(), rig.db.events_.end(), [](const Event& e) { return e.kind == "guard.wait"; });
    REQUIRE(wait != rig.db.events_.end());
    CHECK(wait->payload.find("\"guard\":\"vacuum\"") != std::string::npos);
    CHECK(wait->payload.find("autovacuum (to prevent wraparound) (pid 42) is vacuuming public.books") != std::string::npos);
    auto kinds = rig.db.kinds();
    CHECK(std::count(kinds.begin(), kinds.end(), std::string("guard.wait")) == 1);  // one wait, re-checked, not re-announced
    CHECK(std::count(kinds.begin(), kinds.end(), std::string("guard.go")) == 1);
    CHECK(std::count(rig.clock.sleeps.begin(), rig.clock.sleeps.end(), Millis(1000)) == 1);  // backoff 1 s, then 2 s
    CHECK(std::count(rig.clock.sleeps.begin(), rig.clock.sleeps.end(), Millis(2000)) == 1);
    auto paused = std::find_if(rig.progress.begin(), rig.progress.end(), [](const auto& p) { return !p.paused.empty(); });
    REQUIRE(paused != rig.progress.end());
    CHECK(paused->line().find(", paused: autovacuum (to prevent wraparound) (pid 42) is vacuuming public.books") != std::string::npos);
    CHECK(rig.progress.back().paused.empty());
  }
  TEST_CASE("health stops: WAL waiting for the archiver past max_archive_pending pauses; 0 turns the check off") {
    HealthFacts behind, caught_up;
    behind.archive_pending = 150;
    caught_up.archive_pending = 3;
    Guards g;
    auto v = guards::check_health(g, behind);
    CHECK_FALSE(v.go);
    CHECK(v.guard == "archive_pending");
    CHECK(v.reason == "150 WAL segments wait for archive_command > max_archive_pending 100");
    CHECK(guards::check_health(g, caught_up).go);
    CHECK(guards::check_health(g, HealthFacts{}).go);  // archive_mode off, or no privilege to count: nothing to say
    g.max_archive_pending = 0;
    CHECK(guards::check_health(g, behind).go);
    HealthFacts manual, routine;
    manual.vacuum = "VACUUM by bob (pid 7) is vacuuming public.books: scanning heap";
    manual.vacuum_must_finish = true;
    routine.vacuum = "autovacuum (pid 8) is vacuuming public.books: scanning heap";
    CHECK_FALSE(guards::check_health(g, manual).go);  // the default, "wraparound": a VACUUM run by hand waits
    CHECK(guards::check_health(g, routine).go);        // routine autovacuum runs alongside (it is throttled)
    g.pause_on_vacuum = VacuumPause::any;              // true: GitLab's behaviour
    CHECK_FALSE(guards::check_health(g, routine).go);
    g.pause_on_vacuum = VacuumPause::off;
    CHECK(guards::check_health(g, manual).go);

    Rig rig;  // both off: never asked
    rig.db.bf_keys = keys(300);
    rig.project.guards.pause_on_vacuum = VacuumPause::off;
    rig.project.guards.max_archive_pending = 0;
    CHECK(rig.run(backfill_plan(100)).exit == Exit::ok);
    CHECK(rig.probe.health_calls == 0);
  }
  TEST_CASE("health facts are asked at most once a second while healthy, not per batch") {
    Rig rig;
    rig.db.bf_keys = keys(3000);
    rig.db.on_apply = [&](const std::string& what) { if (what == "backfill") rig.clock.t += Millis(100); };
    auto out = rig.run(backfill_plan(100, Millis(100)));  // 30 batches of 100 ms: 3 s
    CHECK(out.exit == Exit::ok);
    CHECK(rig.db.batch_limits.size() >= 30);
    CHECK(rig.probe.health_calls >= 3);
    CHECK(rig.probe.health_calls <= 4);
  }
  TEST_CASE("abort between batches stops with exit 6; the next run continues from the cursor") {
    Rig rig;
    rig.db.bf_keys = keys(500);
    int batches = 0;
    rig.db.on_apply = [&](const std::string& what) {
      if (what == "backfill" && ++batches == 3) rig.db.aborts[1] = "dave@example.com";
    };
    auto out = rig.run(backfill_plan(100));
    CHECK(out.exit == Exit::aborted);
    CHECK(out.status == RunStatus::aborted);
    CHECK(out.message.find("aborted by dave@example.com") != std::string::npos);
    CHECK(rig.db.bf_updates.size() == 300);
    CHECK(rig.db.steps_["0009-fill/fill lvl"].status == StepStatus::running);
    rig.db.on_apply = nullptr;
    auto again = rig.run(backfill_plan(100));
    CHECK(again.exit == Exit::ok);
    CHECK(again.run_id == 2);
    CHECK(rig.db.bf_updates.size() == 500);
    CHECK(std::all_of(rig.db.bf_updates.begin(), rig.db.bf_updates.end(), [](auto& kv) { return kv.second == 1; }));
  }
  TEST_CASE("a failed batch keeps the cursor: the next run continues after the last committed batch") {
    Rig rig;
    rig.db.bf_keys = keys(500);
    int batches = 0;
    rig.db.on_apply = [&](const std::string& what) {
      if (what == "backfill" && ++batches == 3) rig.db.failing.insert("backfill");
    };
    auto out = rig.run(backfill_plan(100));
    CHECK(out.exit == Exit::needs_human);  // on_failure = "pause"
    CHECK(rig.db.bf_updates.size() == 200);  // batches 1 and 2 committed, batch 3 failed
    rig.db.on_apply = nullptr;
    rig.db.failing.clear();
    auto again = rig.run(backfill_plan(100));
    CHECK(again.exit == Exit::ok);
    CHECK(rig.db.bf_updates.size() == 500);
    CHECK(std::all_of(rig.db.bf_updates.begin(), rig.db.bf_updates.end(), [](auto& kv) { return kv.second == 1; }));
  }
  TEST_CASE("abort cancelling a transactional step's statement stops the run with exit 6, nothing applied") {
    Rig rig;
    Plan p = backfill_plan();
    rig.db.cancelling.insert("ALTER TABLE books ADD COLUMN lvl int");
    rig.db.aborts[1] = "dave@example.com";
    auto out = rig.run(p);
    CHECK(out.exit == Exit::aborted);
    CHECK(out.status == RunStatus::aborted);
    CHECK(rig.db.executed.empty());
    CHECK(rig.db.steps_["0009-fill/add"].status == StepStatus::pending);
    auto kinds = rig.db.kinds();
    CHECK(kinds.back() == "run.aborted");
    CHECK(std::count(kinds.begin(), kinds.end(), std::string("step.failed")) == 0);
  }
  TEST_CASE("a table without a primary key or that does not exist fails the step with a clear message") {
    Rig rig;
    Plan p = backfill_plan();
    p.phases[1].steps[0].backfill->table = "nope";
    auto out = rig.run(p);
    CHECK(out.exit == Exit::needs_human);  // on_failure = "pause"
    CHECK(out.message.find("backfill table nope does not exist") != std::string::npos);
  }
  TEST_CASE("abort with on_failure = rollback: the expand step's down drops the backfilled column, so the backfill's own down is not needed; cursor cleared") {
    Rig rig;
    rig.project.rollback.on_failure = "rollback";
    rig.db.bf_keys = keys(500);
    int batches = 0;
    rig.db.on_apply = [&](const std::string& what) {
      if (what == "backfill" && ++batches == 3) rig.db.aborts[1] = "dave@example.com";
    };
    Plan p = backfill_plan(100);
    p.phases[0].steps[0].down = "ALTER TABLE books DROP COLUMN lvl";
    p.phases[1].steps[0].down = "UPDATE books SET lvl = NULL";
    auto out = rig.run(p);
    CHECK(out.exit == Exit::aborted);
    CHECK(out.status == RunStatus::rolled_back);
    CHECK(rig.db.executed == std::vector<std::string>{"ALTER TABLE books ADD COLUMN lvl int", "ALTER TABLE books DROP COLUMN lvl"});
    CHECK(out.message.find("the down of step \"add\" drops column books.lvl") != std::string::npos);
    CHECK(rig.db.steps_["0009-fill/fill lvl"].status == StepStatus::pending);
    CHECK(rig.db.steps_["0009-fill/fill lvl"].cursor.empty());
    CHECK(rig.db.steps_["0009-fill/add"].status == StepStatus::pending);
    CHECK(rig.db.kinds().back() == "rollback.completed");
    SUBCASE("the next run starts the backfill from the beginning") {
      rig.db.on_apply = nullptr;
      rig.db.bf_updates.clear();
      auto again = rig.run(p);
      CHECK(again.exit == Exit::ok);
      CHECK(rig.db.bf_updates.size() == 500);
    }
  }
}
