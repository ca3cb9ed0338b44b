// A broken connection mid-run (server restart, failover) and a signal to phasegate, with the fakes: the run
// reconnects and resumes from what the database says (nothing applied twice, nothing rolled back for it),
// says "retry later" (75) when the server stays away, and stops resumable on SIGTERM — a rollback excepted.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>

#include "fakes.hpp"
#include "phasegate/interrupt.hpp"

using namespace phasegate;
using namespace phasegate::test;

namespace {
struct Rig {
  Project project;
  FakeDatabase db;
  FakeClock clock;
  FakeRunner runner;
  FakeHttp http;
  Actor actor{"alice@example.com", "alice", "laptop"};
  PlanOutcome run(const Plan& plan, RunOptions opt = {}) {
    Executor ex(project, db, db, clock, actor);
    ex.set_operations(&runner, &http);
    return ex.run_plan(plan, opt);
  }
  int events(const std::string& kind) const {
    auto k = db.kinds();
    return static_cast<int>(std::count(k.begin(), k.end(), kind));
  }
};

Plan plan_of_three() {
  Plan p = make_plan("0001-books", {{Phase::expand, "add col", "ALTER TABLE books ADD COLUMN lvl int"},
                                    {Phase::expand, "add t", "CREATE TABLE shelves (id int)"},
                                    {Phase::migrate, "fill", "UPDATE books SET lvl = 1"}});
  p.phases[0].steps[0].down = "ALTER TABLE books DROP COLUMN lvl";
  p.phases[0].steps[1].down = "DROP TABLE shelves";
  p.phases[1].steps[0].down = "UPDATE books SET lvl = NULL";
  return p;
}
int count(const std::vector<std::string>& v, const std::string& s) { return static_cast<int>(std::count(v.begin(), v.end(), s)); }
struct ClearSignal {
  ~ClearSignal() { set_interrupt_signal(0); }
};
}  // namespace

TEST_SUITE("engine::faults") {
  TEST_CASE("a connection lost at any commit of a run: reconnected, resumed, every step applied exactly once") {
    const Plan plan = plan_of_three();
    for (int at = 1; at <= 10; ++at)
      for (bool landed : {false, true}) {
        CAPTURE(at);
        CAPTURE(landed);
        Rig rig;
        (landed ? rig.db.lose_after : rig.db.lose_before).insert(at);
        auto out = rig.run(plan);
        CHECK_MESSAGE(out.exit == Exit::ok, out.message);
        CHECK(out.status == RunStatus::completed);
        for (const Step* s : plan.steps()) CHECK(count(rig.db.executed, s->sql) == 1);
        CHECK(count(rig.db.executed, "DROP TABLE shelves") == 0);  // nothing was rolled back for it
        CHECK(rig.db.reconnects == 1);
        CHECK(rig.events("run.reconnected") == 1);
        CHECK(rig.events("run.failed") == 0);
      }
  }
  TEST_CASE("the server does not come back within reconnect_timeout: exit 75, the run stays as recorded, then resumes") {
    Rig rig;
    const Plan plan = plan_of_three();
    rig.db.lose_after.insert(4);  // after the first step's commit (1 create, 2 start, 3 step 1...)
    rig.db.reconnect_refused = true;
    auto out = rig.run(plan);
    CHECK(out.exit == Exit::blocked);
    CHECK(out.message.find("lost the connection") != std::string::npos);
    CHECK(out.message.find("resumable") != std::string::npos);
    CHECK(count(rig.db.executed, "ALTER TABLE books DROP COLUMN lvl") == 0);
    CHECK(rig.db.runs_.back().status == RunStatus::running);  // as last recorded: the next run resumes it
    rig.db.down = false;
    rig.db.reconnect_refused = false;
    auto again = rig.run(plan);
    CHECK_MESSAGE(again.exit == Exit::ok, again.message);
    CHECK(again.run_id == out.run_id);
    for (const Step* s : plan.steps()) CHECK(count(rig.db.executed, s->sql) == 1);
  }
  TEST_CASE("a connection lost in the middle of a rollback: reconnected, and the rollback finished") {
    for (int extra = 0; extra <= 6; ++extra) {
      CAPTURE(extra);
      Rig rig;
      const Plan plan = plan_of_three();
      rig.db.failing.insert("UPDATE books SET lvl = 1");
      // commits: create, start, step 1, step 2, migrate step failed, run.failed ... then the rollback's
      rig.db.lose_after.insert(6 + extra);
      auto out = rig.run(plan);
      CHECK_MESSAGE(out.exit == Exit::failed, out.message);
      CHECK(rig.db.runs_.back().status == RunStatus::rolled_back);
      CHECK(count(rig.db.executed, "DROP TABLE shelves") == 1);
      CHECK(count(rig.db.executed, "ALTER TABLE books DROP COLUMN lvl") == 1);
      CHECK(rig.db.reconnects == 1);
    }
  }
  TEST_CASE("SIGTERM to phasegate during a command step: the program is stopped, the run is blocked (resumable), exit interrupted") {
    ClearSignal clear;
    Rig rig;
    Plan plan = plan_of_three();
    Step cmd;
    cmd.name = "reindex";
    cmd.phase = Phase::expand;
    cmd.ordinal = 1;
    cmd.command = {"hooks/reindex.sh"};
    plan.phases[0].steps.insert(plan.phases[0].steps.begin() + 1, cmd);
    plan.phases[0].steps[2].ordinal = 2;
    plan.phases[1].steps[0].ordinal = 3;
    ProcessResult stopped;
    stopped.exit_code = -1;
    stopped.signal = SIGTERM;
    stopped.interrupted = true;
    stopped.forwarded = SIGTERM;
    rig.runner.answers["hooks/reindex.sh"] = {stopped};
    rig.runner.on_run = [](const ProcessSpec&) { set_interrupt_signal(SIGTERM); };
    auto out = rig.run(plan);
    CHECK(out.exit == Exit::interrupted);
    CHECK(out.message.find("SIGTERM") != std::string::npos);
    CHECK(rig.db.runs_.back().status == RunStatus::blocked);
    CHECK(rig.events("run.interrupted") == 1);
    CHECK(rig.db.steps_["0001-books/reindex"].status == StepStatus::running);  // re-run on resume
    CHECK(count(rig.db.executed, "ALTER TABLE books DROP COLUMN lvl") == 0);  // not a failure: nothing rolled back
    CHECK(count(rig.db.executed, "CREATE TABLE shelves (id int)") == 0);      // stopped where it was
    set_interrupt_signal(0);
    rig.runner.on_run = nullptr;
    rig.runner.answers.clear();
    auto again = rig.run(plan);
    CHECK_MESSAGE(again.exit == Exit::ok, again.message);
    CHECK(again.run_id == out.run_id);
    CHECK(count(rig.runner.command_lines(), "hooks/reindex.sh") == 2);
  }
  TEST_CASE("a signal before the first step starts nothing; one during a guard wait stops the wait") {
    ClearSignal clear;
    Rig rig;
    set_interrupt_signal(SIGINT);
    auto out = rig.run(plan_of_three());
    CHECK(out.exit == Exit::interrupted);
    CHECK(rig.db.executed.empty());
  }
  TEST_CASE("a signal during a rollback does not cut it short") {
    ClearSignal clear;
    Rig rig;
    const Plan plan = plan_of_three();
    rig.db.failing.insert("UPDATE books SET lvl = 1");
    rig.db.on_apply = [](const std::string& sql) {
      if (sql == "DROP TABLE shelves") set_interrupt_signal(SIGINT);
    };
    auto out = rig.run(plan);
    CHECK_MESSAGE(out.exit == Exit::failed, out.message);
    CHECK(rig.db.runs_.back().status == RunStatus::rolled_back);
    CHECK(count(rig.db.executed, "ALTER TABLE books DROP COLUMN lvl") == 1);
  }
}
