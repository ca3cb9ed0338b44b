#include <doctest/doctest.h>

#include <algorithm>

#include "fakes.hpp"

using namespace phasegate;
using namespace phasegate::test;

namespace {
struct Rig {
  Project project;
  FakeDatabase db;
  FakeClock clock;
  Actor actor{"alice@example.com", "alice", "laptop"};
  PlanOutcome run(const Plan& plan, RunOptions opt = {}, CrashPoint crash = nullptr) {
    Executor ex(project, db, db, clock, actor, std::move(crash));
    return ex.run_plan(plan, opt);
  }
};

Plan three_phase() {
  return make_plan("0001-books", {{Phase::expand, "add col", "ALTER TABLE books ADD COLUMN lvl int"},
                                  {Phase::expand, "index", "CREATE INDEX CONCURRENTLY books_lvl ON books (lvl)"},
                                  {Phase::migrate, "fill", "UPDATE books SET lvl = 1"},
                                  {Phase::contract, "drop old", "ALTER TABLE books DROP COLUMN old"}});
}
int count(const std::vector<std::string>& v, const std::string& s) { return static_cast<int>(std::count(v.begin(), v.end(), s)); }
struct Crash {};
}  // namespace

TEST_SUITE("engine::executor") {
  TEST_CASE("expand and migrate run; contract waits for its manual start") {
    Rig rig;
    auto plan = three_phase();
    auto out = rig.run(plan);
    CHECK(out.exit == Exit::ok);
    CHECK(out.status == RunStatus::waiting);
    CHECK(out.steps_applied == 3);
    CHECK(rig.db.executed == std::vector<std::string>{"ALTER TABLE books ADD COLUMN lvl int",
                                                      "CREATE INDEX CONCURRENTLY books_lvl ON books (lvl)",
                                                      "UPDATE books SET lvl = 1"});
    CHECK(rig.db.steps_.count("0001-books/drop old") == 0);
    auto kinds = rig.db.kinds();
    CHECK(kinds.front() == "run.created");
    CHECK(kinds[1] == "run.started");
    CHECK(kinds.back() == "run.blocked");
    CHECK(count(kinds, "step.completed") == 3);

    SUBCASE("a second run without --phase contract does nothing more") {
      auto again = rig.run(plan);
      CHECK(again.status == RunStatus::waiting);
      CHECK(rig.db.executed.size() == 3);
    }
    SUBCASE("--phase contract starts it and completes the run and the plan") {
      RunOptions opt;
      opt.phase = Phase::contract;
      auto done = rig.run(plan, opt);
      CHECK(done.exit == Exit::ok);
      CHECK(done.status == RunStatus::completed);
      CHECK(rig.db.executed.back() == "ALTER TABLE books DROP COLUMN old");
      CHECK(rig.db.plans_["0001-books"] == "applied");
      CHECK(rig.db.runs_.size() == 1);  // the same run was resumed
      auto fin = rig.run(plan);
      CHECK(fin.message.find("already applied") != std::string::npos);
      CHECK(rig.db.executed.size() == 4);
    }
  }

  TEST_CASE("contract start = auto runs straight through") {
    Rig rig;
    auto plan = three_phase();
    plan.phases[2].start = "auto";
    auto out = rig.run(plan);
    CHECK(out.status == RunStatus::completed);
    CHECK(rig.db.executed.size() == 4);
  }

  TEST_CASE("contract start = after:72h opens on the fake clock") {
    Rig rig;
    auto plan = three_phase();
    plan.phases[2].start = "after:72h";
    CHECK(rig.run(plan).status == RunStatus::waiting);
    rig.clock.t += std::chrono::hours(71);
    CHECK(rig.run(plan).status == RunStatus::waiting);
    rig.clock.t += std::chrono::hours(2);
    CHECK(rig.run(plan).status == RunStatus::completed);
  }

  TEST_CASE("--phase migrate refuses while expand is pending") {
    Rig rig;
    RunOptions opt;
    opt.phase = Phase::migrate;
    auto out = rig.run(three_phase(), opt);
    CHECK(out.exit == Exit::invalid);
    CHECK(out.message.find("phase expand has pending steps") != std::string::npos);
    CHECK(rig.db.executed.empty());
  }

  TEST_CASE("a false check stops the run before any DDL (seed 003)") {
    Rig rig;
    auto plan = make_plan("0002-fk", {{Phase::expand, "fk", "ALTER TABLE b ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES a (id) NOT VALID"}});
    plan.phases[0].steps[0].check = "SELECT NOT EXISTS (SELECT 1 FROM orphans)";
    rig.db.checks["SELECT NOT EXISTS (SELECT 1 FROM orphans)"] = false;
    auto out = rig.run(plan);
    CHECK(out.exit == Exit::failed);
    CHECK(out.status == RunStatus::rolled_back);
    CHECK(rig.db.executed.empty());
    CHECK(rig.db.steps_["0002-fk/fk"].status == StepStatus::pending);  // failed, then passed by the rollback: nothing of it is there
    auto kinds = rig.db.kinds();
    CHECK(count(kinds, "run.failed") == 1);
    CHECK(kinds.back() == "rollback.completed");  // nothing was applied, so nothing to undo
    CHECK(rig.db.plans_["0002-fk"] == "rolled_back");
    SUBCASE("once the data is fixed a new run applies it") {
      rig.db.checks["SELECT NOT EXISTS (SELECT 1 FROM orphans)"] = true;
      auto again = rig.run(plan);
      CHECK(again.exit == Exit::ok);
      CHECK(rig.db.runs_.size() == 2);
      CHECK(rig.db.executed.size() == 1);
    }
  }

  TEST_CASE("a failing statement fails the run; the run's steps are undone newest first (exit 1)") {
    Rig rig;
    auto plan = three_phase();
    plan.phases[0].steps[0].down = "ALTER TABLE books DROP COLUMN lvl";
    plan.phases[0].steps[1].down = "DROP INDEX CONCURRENTLY IF EXISTS books_lvl";
    rig.db.failing.insert("UPDATE books SET lvl = 1");
    auto out = rig.run(plan);
    CHECK(out.exit == Exit::failed);
    CHECK(out.status == RunStatus::rolled_back);
    CHECK(out.message.rfind("boom\nrolled back", 0) == 0);
    CHECK(rig.db.steps_["0001-books/fill"].status == StepStatus::pending);  // failed in its transaction: nothing to undo
    CHECK(rig.db.executed == std::vector<std::string>{"ALTER TABLE books ADD COLUMN lvl int",
                                                      "CREATE INDEX CONCURRENTLY books_lvl ON books (lvl)",
                                                      "DROP INDEX CONCURRENTLY IF EXISTS books_lvl",
                                                      "ALTER TABLE books DROP COLUMN lvl"});
    CHECK(rig.db.steps_["0001-books/add col"].status == StepStatus::pending);
    CHECK(rig.db.steps_["0001-books/index"].status == StepStatus::pending);
    CHECK(rig.db.plans_["0001-books"] == "rolled_back");
    CHECK(rig.db.runs_[0].status == RunStatus::rolled_back);
    CHECK(rig.db.runs_[0].cause == "failed");
    auto kinds = rig.db.kinds();
    CHECK(count(kinds, "phase.failed") == 1);
    CHECK(count(kinds, "rollback.step") == 4);  // fill passed, index begun + undone, add col undone
    // run.failed is recorded before the rollback starts: a runner that dies mid-rollback never resumes the run.
    auto at = [&](const char* k) { return std::find(kinds.begin(), kinds.end(), k) - kinds.begin(); };
    CHECK(at("run.failed") < at("rollback.started"));
    CHECK(kinds.back() == "rollback.completed");
    SUBCASE("the next run applies the undone steps again") {
      rig.db.failing.clear();
      auto again = rig.run(plan);
      CHECK(again.exit == Exit::ok);
      CHECK(again.steps_applied == 3);
    }
  }

  TEST_CASE("a step without down makes the rollback incomplete (exit 5) and says what is left") {
    Rig rig;
    auto plan = three_phase();
    plan.phases[0].steps[1].down = "DROP INDEX CONCURRENTLY IF EXISTS books_lvl";
    rig.db.failing.insert("UPDATE books SET lvl = 1");
    auto out = rig.run(plan);
    CHECK(out.exit == Exit::needs_human);
    CHECK(out.message.find("ROLLBACK INCOMPLETE") != std::string::npos);
    CHECK(out.message.find("step \"add col\" has no down and stays completed") != std::string::npos);
    CHECK(rig.db.steps_["0001-books/index"].status == StepStatus::pending);
    CHECK(rig.db.steps_["0001-books/add col"].status == StepStatus::completed);
    CHECK(rig.db.kinds().back() == "rollback.failed");
    SUBCASE("irreversible = true is left alone on purpose and does not make it incomplete") {
      Rig r2;
      plan.phases[0].steps[0].irreversible = true;
      r2.db.failing.insert("UPDATE books SET lvl = 1");
      auto o2 = r2.run(plan);
      CHECK(o2.exit == Exit::failed);
      CHECK(o2.message.find("irreversible = true: its effect stays") != std::string::npos);
      CHECK(r2.db.steps_["0001-books/add col"].status == StepStatus::pending);  // the plan is pending as a whole
    }
  }

  TEST_CASE("a down that fails stops the database part; older steps are listed as still applied") {
    Rig rig;
    auto plan = three_phase();
    plan.phases[0].steps[0].down = "ALTER TABLE books DROP COLUMN lvl";
    plan.phases[0].steps[1].down = "DROP INDEX CONCURRENTLY IF EXISTS books_lvl";
    rig.db.failing = {"UPDATE books SET lvl = 1", "DROP INDEX CONCURRENTLY IF EXISTS books_lvl"};
    auto out = rig.run(plan);
    CHECK(out.exit == Exit::needs_human);
    CHECK(out.message.find("step \"index\": its down failed (boom)") != std::string::npos);
    CHECK(out.message.find("step \"add col\": still completed") != std::string::npos);
    CHECK(rig.db.steps_["0001-books/add col"].status == StepStatus::completed);
  }

  TEST_CASE("a down waits out lock timeouts like a step does") {
    Rig rig;
    auto plan = three_phase();
    plan.phases[0].steps[0].down = "ALTER TABLE books DROP COLUMN lvl";
    plan.phases[0].steps[1].irreversible = true;
    rig.db.failing.insert("UPDATE books SET lvl = 1");
    rig.db.lock_timeouts["ALTER TABLE books DROP COLUMN lvl"] = 2;
    auto out = rig.run(plan);
    CHECK(out.exit == Exit::failed);
    CHECK(count(rig.db.kinds(), "step.retrying") == 2);
    CHECK(rig.db.steps_["0001-books/add col"].status == StepStatus::pending);
  }

  TEST_CASE("on_failure = pause leaves everything applied and exits 5") {
    Rig rig;
    rig.project.rollback.on_failure = "pause";
    auto plan = three_phase();
    plan.phases[0].steps[0].down = "ALTER TABLE books DROP COLUMN lvl";
    rig.db.failing.insert("UPDATE books SET lvl = 1");
    auto out = rig.run(plan);
    CHECK(out.exit == Exit::needs_human);
    CHECK(out.message.find("on_failure = \"pause\": nothing was rolled back (applied: add col, index)") != std::string::npos);
    CHECK(rig.db.executed.size() == 2);
    CHECK(count(rig.db.kinds(), "rollback.started") == 0);
  }

  TEST_CASE("lock timeouts retry with jittered backoff, then succeed") {
    Rig rig;
    rig.project.guards.lock_retries = 3;
    auto plan = make_plan("p", {{Phase::expand, "a", "ALTER TABLE t ADD COLUMN c int"}});
    rig.db.lock_timeouts["ALTER TABLE t ADD COLUMN c int"] = 2;
    auto out = rig.run(plan);
    CHECK(out.exit == Exit::ok);
    CHECK(rig.clock.sleeps.size() == 2);
    CHECK(rig.clock.sleeps[0] <= Millis(250));  // full jitter: [0, initial]
    CHECK(rig.clock.sleeps[1] <= Millis(500));
    CHECK(count(rig.db.kinds(), "step.retrying") == 2);
  }

  TEST_CASE("an abort that comes during a lock-retry backoff stops the run at once, not after the last retry") {
    Rig rig;
    rig.project.guards.lock_retries = 50;
    auto plan = make_plan("p", {{Phase::expand, "a", "ALTER TABLE t ADD COLUMN c int"}});
    rig.db.lock_timeouts["ALTER TABLE t ADD COLUMN c int"] = 1000;
    int attempts = 0;
    rig.db.on_apply = [&](const std::string&) {  // the abort lands while no statement runs: between attempts
      if (++attempts == 2)
        for (const auto& r : rig.db.runs_) rig.db.aborts[r.id] = "alice";
    };
    auto out = rig.run(plan);
    CHECK(out.exit == Exit::aborted);
    CHECK(attempts == 2);
    CHECK(count(rig.db.kinds(), "step.retrying") == 2);
    CHECK(rig.db.executed.empty());
  }

  TEST_CASE("lock retries exhausted: exit 75, nothing applied, step still pending") {
    Rig rig;
    rig.project.guards.lock_retries = 2;
    auto plan = make_plan("p", {{Phase::expand, "a", "ALTER TABLE t ADD COLUMN c int"}});
    rig.db.lock_timeouts["ALTER TABLE t ADD COLUMN c int"] = 100;
    auto out = rig.run(plan);
    CHECK(out.exit == Exit::blocked);
    CHECK(out.status == RunStatus::blocked);
    CHECK(rig.db.executed.empty());
    CHECK(rig.db.steps_["p/a"].status == StepStatus::pending);
    rig.db.lock_timeouts.clear();
    auto again = rig.run(plan);
    CHECK(again.exit == Exit::ok);
    CHECK(rig.db.runs_.size() == 1);  // the blocked run resumed
  }

  TEST_CASE("drift: an applied step edited afterwards refuses the run (seed 001)") {
    Rig rig;
    auto plan = make_plan("p", {{Phase::expand, "a", "ALTER TABLE t ADD COLUMN c int"}});
    CHECK(rig.run(plan).exit == Exit::ok);
    SUBCASE("reformatting is not drift") {
      plan.phases[0].steps[0].sql = "alter table t\n  add column c INT; -- tidy";
      CHECK(rig.run(plan).exit == Exit::ok);
    }
    SUBCASE("a change of meaning is") {
      plan.phases[0].steps[0].sql = "ALTER TABLE t ADD COLUMN c bigint";
      auto out = rig.run(plan);
      CHECK(out.exit == Exit::invalid);
      CHECK(out.message.find("step \"a\" was edited after it was applied") != std::string::npos);
      CHECK(out.message.find("alice@example.com") != std::string::npos);
      CHECK(rig.db.executed.size() == 1);
    }
  }

  TEST_CASE("an interrupted CREATE INDEX CONCURRENTLY: invalid index dropped and rebuilt") {
    Rig rig;
    auto plan = make_plan("p", {{Phase::expand, "idx", "CREATE INDEX CONCURRENTLY i ON t (c)"}});
    rig.db.steps_["p/idx"] = StepRecord{"p", "idx", "expand", 0, StepStatus::running, 1, step_checksum(plan.phases[0].steps[0]), "", 1, "", {}, {}, "", ""};
    rig.db.runs_.push_back(RunRecord{1, "p", "", RunStatus::running, "expand", "", "", "", ""});
    rig.db.indexes["i"] = IndexState::invalid;
    auto out = rig.run(plan);
    CHECK(out.exit == Exit::ok);
    CHECK(rig.db.executed == std::vector<std::string>{"DROP INDEX CONCURRENTLY IF EXISTS i", "CREATE INDEX CONCURRENTLY i ON t (c)"});
    CHECK(rig.db.kinds()[0] == "run.resumed");
  }

  TEST_CASE("a CONCURRENTLY build that finished before the process died is not rebuilt") {
    Rig rig;
    auto plan = make_plan("p", {{Phase::expand, "idx", "CREATE INDEX CONCURRENTLY i ON t (c)"}});
    rig.db.steps_["p/idx"] = StepRecord{"p", "idx", "expand", 0, StepStatus::running, 1, step_checksum(plan.phases[0].steps[0]), "", 1, "", {}, {}, "", ""};
    rig.db.indexes["i"] = IndexState::valid;
    CHECK(rig.run(plan).exit == Exit::ok);
    CHECK(rig.db.executed.empty());
    CHECK(rig.db.steps_["p/idx"].status == StepStatus::completed);
  }

  TEST_CASE("a crash at every named point resumes to the same end state, nothing applied twice") {
    auto plan = three_phase();
    plan.phases[2].start = "auto";
    Rig reference;
    std::vector<std::string> points;
    {
      Executor ex(reference.project, reference.db, reference.db, reference.clock, reference.actor,
                  [&](const std::string& p) { points.push_back(p); });
      REQUIRE(ex.run_plan(plan, {}).status == RunStatus::completed);
    }
    REQUIRE(points.size() >= 10);
    for (const auto& point : points) {
      CAPTURE(point);
      Rig rig;
      bool crashed = false;
      try {
        rig.run(plan, {}, [&](const std::string& p) {
          if (p == point) throw Crash{};
        });
      } catch (const Crash&) {
        crashed = true;
      }
      CHECK(crashed);
      auto out = rig.run(plan);
      CHECK(out.status == RunStatus::completed);
      CHECK(rig.db.executed == reference.db.executed);
      REQUIRE(rig.db.runs_.size() == 1);
      CHECK(rig.db.runs_[0].status == RunStatus::completed);
      CHECK(rig.db.plans_["0001-books"] == "applied");
      for (const auto& [k, s] : rig.db.steps_) CHECK(s.status == StepStatus::completed);
    }
  }

  TEST_CASE("a non-transactional step blocked by locks keeps its intent and reconciles on resume") {
    Rig rig;
    rig.project.guards.lock_retries = 0;
    auto plan = make_plan("p", {{Phase::expand, "two",
                                 "-- phasegate:ignore concurrent-in-transaction testing resume\nCREATE INDEX CONCURRENTLY a ON t (x);\n"
                                 "-- phasegate:ignore concurrent-in-transaction testing resume\nCREATE INDEX CONCURRENTLY b ON t (y)"}});
    rig.db.lock_timeouts["CREATE INDEX CONCURRENTLY b ON t (y)"] = 1;
    CHECK(rig.run(plan).exit == Exit::blocked);
    CHECK(rig.db.steps_["p/two"].status == StepStatus::running);
    rig.db.indexes["a"] = IndexState::valid;  // the first build finished before the block
    CHECK(rig.run(plan).exit == Exit::ok);
    CHECK(rig.db.executed == std::vector<std::string>{"CREATE INDEX CONCURRENTLY a ON t (x)", "CREATE INDEX CONCURRENTLY b ON t (y)"});
  }

  TEST_CASE("run refuses error-level lint findings in pending steps, not in applied ones") {
    Rig rig;
    auto plan = make_plan("p", {{Phase::expand, "idx", "CREATE INDEX i ON books (c)"}});
    auto out = rig.run(plan);
    CHECK(out.exit == Exit::lint);
    CHECK(out.message.find("require-concurrent-index") != std::string::npos);
    CHECK(rig.db.executed.empty());
    CHECK(rig.db.runs_.empty());
    // Once applied (say, before the rule existed), the finding no longer blocks.
    rig.db.steps_["p/idx"] = StepRecord{"p", "idx", "expand", 0, StepStatus::completed, 1, step_checksum(plan.phases[0].steps[0]), "", 0, "", {}, {}, "", ""};
    CHECK(rig.run(plan).exit == Exit::ok);
    SUBCASE("an ignore comment lets it run") {
      Rig fresh;
      auto ignored = make_plan("p", {{Phase::expand, "idx", "-- phasegate:ignore require-concurrent-index empty table\nCREATE INDEX i ON books (c)"}});
      CHECK(fresh.run(ignored).exit == Exit::ok);
    }
  }
}
