// A broken connection mid-run (server restart, failover) and a signal to phasegate, with the fakes: the run
// reconnects and resumes from what the database says (nothing applied twice, nothing rolled back for it),
// says "retry later" (75) when the server stays away, and stops resumable on SIGTERM — a rollback excepted.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>

#include "fakes.hpp"
#include "phasegate/interrupt.hpp"
#include "phasegate/text.hpp"

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
// plan_of_three with a command step inserted second (ordinals renumbered).
Plan with_command(const std::string& name, const std::string& program, bool irreversible = false) {
  Plan plan = plan_of_three();
  Step cmd;
  cmd.name = name;
  cmd.phase = Phase::expand;
  cmd.command = {program};
  cmd.irreversible = irreversible;
  plan.phases[0].steps.insert(plan.phases[0].steps.begin() + 1, cmd);
  int ordinal = 0;
  for (auto& ph : plan.phases)
    for (auto& st : ph.steps) st.ordinal = ordinal++;
  return plan;
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
    Plan plan = with_command("reindex", "hooks/reindex.sh");
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
  TEST_CASE("a signal that cancels a step's check or a SQL smoke check stops the run resumable; nothing is rolled back") {
    ClearSignal clear;
    for (bool smoke : {false, true}) {
      CAPTURE(smoke);
      set_interrupt_signal(0);
      Rig rig;
      Plan plan = plan_of_three();
      const std::string slow = "SELECT pg_sleep(30) IS NOT NULL";
      if (smoke) {
        Smoke s;
        s.name = "slow";
        s.sql = slow;
        rig.project.smoke["slow"] = s;
        plan.phases[0].smoke = {"slow"};
      } else {
        plan.phases[0].steps[1].check = slow;
      }
      rig.db.cancelling.insert(slow);  // the watcher's cancel lands on it
      rig.db.on_check = [&](const std::string& sql) {
        if (sql == slow) set_interrupt_signal(SIGTERM);
      };
      auto out = rig.run(plan);
      CHECK_MESSAGE(out.exit == Exit::interrupted, out.message);
      CHECK(rig.db.runs_.back().status == RunStatus::blocked);
      CHECK(rig.events("run.interrupted") == 1);
      CHECK(rig.events("run.failed") == 0);
      CHECK(rig.events("phase.failed") == 0);
      CHECK(count(rig.db.executed, "ALTER TABLE books DROP COLUMN lvl") == 0);
      if (!smoke) CHECK(rig.db.steps_.count("0001-books/add t") == 0);  // not recorded as failed
    }
  }
  TEST_CASE("a signal during a lock-retry backoff stops at once") {
    ClearSignal clear;
    Rig rig;
    rig.project.guards.lock_retries = 6;
    const Plan plan = plan_of_three();
    rig.db.lock_timeouts["CREATE TABLE shelves (id int)"] = 6;
    int attempts = 0;
    rig.db.on_apply = [&](const std::string& sql) {
      if (sql == "CREATE TABLE shelves (id int)" && ++attempts == 1) set_interrupt_signal(SIGTERM);
    };
    auto out = rig.run(plan);
    CHECK_MESSAGE(out.exit == Exit::interrupted, out.message);
    CHECK(attempts == 1);
    CHECK(rig.db.runs_.back().status == RunStatus::blocked);
  }
  TEST_CASE("a command step that restarts the database: reconnected in place, its known outcome recorded, never replayed") {
    Rig rig;
    Plan plan = with_command("restart db", "hooks/restart-db.sh", true);
    rig.runner.on_run = [&](const ProcessSpec&) { rig.db.down = true; };  // our session dies with the server
    auto out = rig.run(plan);
    CHECK_MESSAGE(out.exit == Exit::ok, out.message);
    CHECK(count(rig.runner.command_lines(), "hooks/restart-db.sh") == 1);
    CHECK(rig.db.reconnects == 1);
    CHECK(rig.db.steps_["0001-books/restart db"].status == StepStatus::completed);
    SUBCASE("another runner took the run over meanwhile: nothing more is done (75)") {
      Rig other;
      other.runner.on_run = [&](const ProcessSpec&) { other.db.down = true; };
      other.db.run_moved = true;
      auto moved = other.run(plan);
      CHECK(moved.exit == Exit::blocked);
      CHECK(moved.message.find("taken over") != std::string::npos);
      CHECK(count(other.runner.command_lines(), "hooks/restart-db.sh") == 1);
      CHECK(count(other.db.executed, "CREATE TABLE shelves (id int)") == 0);
    }
  }
  TEST_CASE("a service that is the database: its restart breaks our session, the health query brings it back") {
    Rig rig;
    Service db;
    db.name = "db";
    db.kind = "command";
    db.restart = {"hooks/restart-db.sh"};
    Health h;
    h.sql = "SELECT true";
    db.health = h;
    rig.project.services["db"] = db;
    Plan plan = plan_of_three();
    plan.phases[0].restart = {"db"};
    rig.runner.on_run = [&](const ProcessSpec&) { rig.db.down = true; };
    auto out = rig.run(plan);
    CHECK_MESSAGE(out.exit == Exit::ok, out.message);
    CHECK(count(rig.runner.command_lines(), "hooks/restart-db.sh") == 1);
    CHECK(rig.events("service.healthy") == 1);
  }
  TEST_CASE("binary, Latin-1 and NUL output of a program is stored as valid text; the step's outcome is its exit code") {
    Rig rig;
    Plan plan = with_command("binary", "hooks/binary.sh", true);
    ProcessResult r;
    r.exit_code = 0;
    static constexpr char kRaw[] = "ok \xff\xfe done \0 caf\xc3\xa9\n";
    r.out = valid_utf8(std::string(kRaw, sizeof kRaw - 1));  // what the runner hands over
    rig.runner.answers["hooks/binary.sh"] = {r};
    auto out = rig.run(plan);
    CHECK_MESSAGE(out.exit == Exit::ok, out.message);
    CHECK(valid_utf8("caf\xc3\xa9") == "caf\xc3\xa9");  // valid text is kept as it is
    CHECK(valid_utf8(std::string("a\0b", 3)) == "a\xEF\xBF\xBD" "b");
    CHECK(valid_utf8("\xc0\xaf") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
    CHECK(valid_utf8("\xe2\x82") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // cut mid-character
  }
}
