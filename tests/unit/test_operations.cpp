// Command steps, service restarts, health and smoke checks, and master rollback, over fakes: which programs run
// in which order with which arguments and environment, and what the run does with their answers. The same
// paths against real processes, a real HTTP service and a real git repository are in tests/e2e.
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
  FakeRunner runner;
  FakeHttp http;
  Actor actor{"alice@example.com", "alice", "laptop"};
  Rig() {
    project.root = "/srv/app";
    Service api;
    api.name = "api";
    api.kind = "command";
    api.restart = {"hooks/restart-api.sh"};
    api.health = Health{"http://127.0.0.1:8080/health", 200, {}, "", Millis(10'000)};
    project.services["api"] = api;
    Service web;
    web.name = "web";
    web.kind = "systemd";
    web.unit = "web.service";
    project.services["web"] = web;
    Service k;
    k.name = "k";
    k.kind = "kubernetes";
    k.deployment = "web";
    k.namespace_ = "prod";
    project.services["k"] = k;
    Smoke save;
    save.name = "save";
    save.command = {"hooks/smoke.sh"};
    save.count = 3;
    save.interval = Millis(500);
    project.smoke["save"] = save;
    runner.on_run = [this](const ProcessSpec&) { clock.t += Millis(100); };
  }
  PlanOutcome run(const Plan& plan, RunOptions opt = {}, CrashPoint crash = nullptr) {
    Executor ex(project, db, db, clock, actor, std::move(crash));
    ex.set_operations(&runner, &http);
    return ex.run_plan(plan, opt);
  }
};

Plan expand_plan() {
  Plan p = make_plan("0004-api", {{Phase::expand, "add col", "ALTER TABLE books ADD COLUMN lvl int"}});
  p.phases[0].steps[0].down = "ALTER TABLE books DROP COLUMN lvl";
  p.phases[0].restart = {"api"};
  p.phases[0].smoke = {"save"};
  return p;
}
int count(const std::vector<std::string>& v, const std::string& s) { return static_cast<int>(std::count(v.begin(), v.end(), s)); }
std::string env_of(const ProcessSpec& spec, const std::string& k) {
  for (const auto& [key, v] : spec.env)
    if (key == k) return v;
  return "<unset>";
}
struct Crash {};
}  // namespace

TEST_SUITE("engine::operations") {
  TEST_CASE("after the phase: restart in order, wait for health, then the smoke checks (seed 004)") {
    Rig rig;
    rig.http.statuses["http://127.0.0.1:8080/health"] = {0, 503, 200};  // refused, starting, up
    auto out = rig.run(expand_plan());
    CHECK(out.exit == Exit::ok);
    CHECK(rig.runner.command_lines() == std::vector<std::string>{"hooks/restart-api.sh", "hooks/smoke.sh", "hooks/smoke.sh", "hooks/smoke.sh"});
    CHECK(rig.http.requests.size() == 3);
    const auto& restart = rig.runner.calls[0];
    CHECK(restart.cwd == "/srv/app");
    CHECK(env_of(restart, "PHASEGATE_RUN_ID") == "1");
    CHECK(env_of(restart, "PHASEGATE_PLAN") == "0004-api");
    CHECK(env_of(restart, "PHASEGATE_PHASE") == "expand");
    CHECK(env_of(restart, "PHASEGATE_EVENT") == "service.restart");
    CHECK(std::count(restart.unset_env.begin(), restart.unset_env.end(), "DATABASE_URL") == 1);
    CHECK(env_of(rig.runner.calls[1], "PHASEGATE_EVENT") == "smoke");
    auto kinds = rig.db.kinds();
    auto at = [&](const char* k) { return std::find(kinds.begin(), kinds.end(), k) - kinds.begin(); };
    CHECK(at("step.completed") < at("service.restarting"));
    CHECK(at("service.restarting") < at("service.healthy"));
    CHECK(at("service.healthy") < at("smoke.passed"));
    CHECK(at("smoke.passed") < at("phase.completed"));
    CHECK(std::count(rig.clock.sleeps.begin(), rig.clock.sleeps.end(), Millis(500)) == 2);  // smoke interval
  }

  TEST_CASE("[hooks] pass_env lets a named secret through") {
    Rig rig;
    rig.project.hook_pass_env = {"DATABASE_URL"};
    CHECK(rig.run(expand_plan()).exit == Exit::ok);
    CHECK(std::count(rig.runner.calls[0].unset_env.begin(), rig.runner.calls[0].unset_env.end(), "DATABASE_URL") == 0);
    CHECK(std::count(rig.runner.calls[0].unset_env.begin(), rig.runner.calls[0].unset_env.end(), "PGPASSWORD") == 1);
  }

  TEST_CASE("systemd and kubernetes kinds run systemctl / kubectl with the right arguments") {
    Rig rig;
    Plan p = expand_plan();
    p.phases[0].restart = {"web", "k"};
    p.phases[0].smoke.clear();
    auto out = rig.run(p);
    CHECK(out.exit == Exit::ok);
    auto calls = rig.runner.command_lines();
    REQUIRE(calls.size() == 4);
    CHECK(calls[0] == "systemctl restart web.service");
    CHECK(calls[1] == "systemctl is-active web.service");
    CHECK(calls[2] == "kubectl rollout restart deployment/web -n prod");
    CHECK(calls[3].rfind("kubectl rollout status deployment/web --timeout=", 0) == 0);
    CHECK(calls[3].find("s -n prod") != std::string::npos);
  }

  TEST_CASE("a service that never becomes healthy fails the phase; the rollback runs and says the api is still down") {
    Rig rig;
    rig.http.statuses["http://127.0.0.1:8080/health"] = {503};
    auto out = rig.run(expand_plan());
    CHECK(out.exit == Exit::needs_human);  // restarted again after the rollback, and still unhealthy
    CHECK(out.message.find("STILL TO DO: service api: service api did not become healthy") != std::string::npos);
    CHECK(out.message.find("service api did not become healthy after the expand phase") != std::string::npos);
    CHECK(out.message.find("answered 503") != std::string::npos);
    CHECK(rig.db.executed.back() == "ALTER TABLE books DROP COLUMN lvl");
    auto kinds = rig.db.kinds();
    CHECK(count(kinds, "service.unhealthy") >= 1);
    CHECK(count(kinds, "phase.failed") == 1);
    CHECK(count(kinds, "phase.completed") == 0);
  }

  TEST_CASE("systemctl is-active saying inactive fails the restart") {
    Rig rig;
    rig.runner.answers["systemctl is-active web.service"] = {FakeRunner::exited(3, "inactive")};
    Plan p = expand_plan();
    p.phases[0].restart = {"web"};
    auto out = rig.run(p);
    CHECK(out.exit == Exit::needs_human);  // the rollback's restart finds it inactive too
    CHECK(out.message.find("systemctl is-active web.service exit 3 (0s): inactive") != std::string::npos);
  }

  TEST_CASE("smoke checks tolerate failure_limit failures and fail beyond it") {
    Rig rig;
    rig.project.smoke["save"].failure_limit = 1;
    SUBCASE("one failure of three passes") {
      rig.runner.answers["hooks/smoke.sh"] = {FakeRunner::exited(0), FakeRunner::exited(1, "500 from POST /books"), FakeRunner::exited(0)};
      CHECK(rig.run(expand_plan()).exit == Exit::ok);
      CHECK(count(rig.db.kinds(), "smoke.passed") == 1);
    }
    SUBCASE("two failures fail the phase (and stop measuring)") {
      rig.runner.answers["hooks/smoke.sh"] = {FakeRunner::exited(1, "500 from POST /books")};
      auto out = rig.run(expand_plan());
      CHECK(out.exit == Exit::failed);
      CHECK(out.message.find("smoke check save failed after the expand phase (2 failure(s), limit 1)") != std::string::npos);
      CHECK(out.message.find("500 from POST /books") != std::string::npos);
      CHECK(count(rig.runner.command_lines(), "hooks/smoke.sh") == 2);
      CHECK(rig.db.steps_["0004-api/add col"].status == StepStatus::pending);
      // The rollback restarts the api again so it runs the reverted code.
      CHECK(count(rig.runner.command_lines(), "hooks/restart-api.sh") == 2);
    }
  }

  TEST_CASE("http and sql smoke checks") {
    Rig rig;
    Smoke h;
    h.name = "h";
    h.http = "http://127.0.0.1:8080/books/1";
    Smoke q;
    q.name = "q";
    q.sql = "SELECT count(*) > 0 FROM books";
    rig.project.smoke = {{"h", h}, {"q", q}};
    Plan p = expand_plan();
    p.phases[0].smoke = {"h", "q"};
    SUBCASE("pass") { CHECK(rig.run(p).exit == Exit::ok); }
    SUBCASE("a 404 fails") {
      rig.http.statuses["http://127.0.0.1:8080/books/1"] = {404};
      auto out = rig.run(p);
      CHECK(out.exit == Exit::failed);
      CHECK(out.message.find("GET http://127.0.0.1:8080/books/1 answered 404") != std::string::npos);
    }
    SUBCASE("false fails") {
      rig.db.checks["SELECT count(*) > 0 FROM books"] = false;
      CHECK(rig.run(p).exit == Exit::failed);
    }
  }

  TEST_CASE("a runner that dies between the last step and the restarts restarts them on resume") {
    Rig rig;
    Plan p = expand_plan();
    CHECK_THROWS_AS(rig.run(p, {}, [](const std::string& point) {
      if (point == "after-step:add col") throw Crash{};
    }), Crash);
    CHECK(rig.runner.calls.empty());
    auto out = rig.run(p);
    CHECK(out.exit == Exit::ok);
    CHECK(rig.db.executed.size() == 1);  // the step is not applied twice
    CHECK(count(rig.runner.command_lines(), "hooks/restart-api.sh") == 1);
    CHECK(count(rig.db.kinds(), "phase.completed") == 1);
  }

  TEST_CASE("command steps run with the PHASEGATE_* environment and the database URL; a failure fails the step") {
    Rig rig;
    Plan p = expand_plan();
    p.phases[0].restart.clear();
    p.phases[0].smoke.clear();
    Step cmd;
    cmd.name = "warm cache";
    cmd.phase = Phase::expand;
    cmd.ordinal = 1;
    cmd.command = {"bin/warm-cache", "--all"};
    cmd.down = "SELECT 1";
    p.phases[0].steps.push_back(cmd);
    SUBCASE("success") {
      auto out = rig.run(p);
      CHECK(out.exit == Exit::ok);
      REQUIRE(rig.runner.calls.size() == 1);
      CHECK(env_of(rig.runner.calls[0], "PHASEGATE_STEP") == "warm cache");
      CHECK(env_of(rig.runner.calls[0], "PHASEGATE_EVENT") == "step");
      CHECK(rig.runner.calls[0].unset_env.empty());
      CHECK(rig.db.steps_["0004-api/warm cache"].status == StepStatus::completed);
    }
    SUBCASE("failure") {
      rig.runner.answers["bin/warm-cache"] = {FakeRunner::exited(2, "redis is down")};
      auto out = rig.run(p);
        CHECK(out.exit == Exit::failed);
      CHECK(out.message.find("command bin/warm-cache --all failed (exit 2 (0s): redis is down)") != std::string::npos);
      // It ran outside a transaction, so its down runs too, then the column's.
      CHECK(rig.db.executed == std::vector<std::string>{"ALTER TABLE books ADD COLUMN lvl int", "SELECT 1", "ALTER TABLE books DROP COLUMN lvl"});
    }
  }

  TEST_CASE("master rollback, git kind: fetch, revert (-m 1 for a merge) in a worktree, push") {
    Rig rig;
    rig.project.rollback.master = MasterRollback{"git", "../app", "main", "origin", {}};
    rig.runner.answers["hooks/smoke.sh"] = {FakeRunner::exited(1)};
    auto git = [](const std::string& rest) { return "git -C /srv/app/../app " + rest; };
    ProcessResult tip = FakeRunner::exited(0), sha = FakeRunner::exited(0), parents = FakeRunner::exited(0);
    tip.out = "1111111111111111111111111111111111111111\n";
    sha.out = "abcabcabcabcabcabcabcabcabcabcabcabcabca\n";
    parents.out = "abcabcabcabcabcabcabcabcabcabcabcabcabca p1 p2\n";
    rig.runner.answers[git("rev-parse --verify FETCH_HEAD^{commit}")] = {tip};
    rig.runner.answers[git("rev-parse --verify --quiet abc1234^{commit}")] = {sha};
    rig.runner.answers[git("rev-list --parents -n 1 abcabcabcabcabcabcabcabcabcabcabcabcabca")] = {parents};
    RunOptions opt;
    opt.release_commit = "abc1234";
    auto out = rig.run(expand_plan(), opt);
    CHECK(out.exit == Exit::failed);
    auto calls = rig.runner.command_lines();
    auto has = [&](const std::string& prefix) {
      return std::any_of(calls.begin(), calls.end(), [&](const std::string& c) { return c.rfind(prefix, 0) == 0; });
    };
    CHECK(has(git("fetch --quiet origin main")));
    CHECK(has(git("worktree add --quiet --detach ")));
    CHECK(std::any_of(calls.begin(), calls.end(), [](const std::string& c) {
      return c.find(" revert --no-edit -m 1 abcabcabcabcabcabcabcabcabcabcabcabcabca") != std::string::npos;
    }));
    CHECK(std::any_of(calls.begin(), calls.end(), [](const std::string& c) { return c.find(" push --quiet origin HEAD:refs/heads/main") != std::string::npos; }));
    CHECK(has(git("worktree remove --force ")));
    CHECK(out.message.find("master: reverted abcabcabca (a merge, -m 1) on origin/main") != std::string::npos);
    CHECK(out.message.find("master reverted") != std::string::npos);  // the time after the failure
  }

  TEST_CASE("master rollback: no release commit leaves master alone and says so; a failed push is left for a human") {
    Rig rig;
    rig.project.rollback.master = MasterRollback{"command", "", "main", "origin", {"hooks/rollback-master.sh"}};
    rig.runner.answers["hooks/smoke.sh"] = {FakeRunner::exited(1)};
    SUBCASE("no commit") {
      auto out = rig.run(expand_plan());
      CHECK(out.exit == Exit::failed);
      CHECK(out.message.find("master: no release commit known") != std::string::npos);
      CHECK(count(rig.runner.command_lines(), "hooks/rollback-master.sh") == 0);
    }
    SUBCASE("the command fails") {
      rig.runner.answers["hooks/rollback-master.sh"] = {FakeRunner::exited(22, "curl: (22) 403")};
      RunOptions opt;
      opt.release_commit = "abc1234";
      auto out = rig.run(expand_plan(), opt);
        CHECK(out.exit == Exit::needs_human);
      CHECK(out.message.find("master: hooks/rollback-master.sh exit 22 (0s): curl: (22) 403") != std::string::npos);
      CHECK(env_of(rig.runner.calls.back(), "PHASEGATE_RELEASE_COMMIT") == "abc1234");
    }
  }

  TEST_CASE("the rollback timeout bounds the whole rollback") {
    Rig rig;
    rig.project.rollback.timeout = Millis(1000);
    rig.project.rollback.master = MasterRollback{"command", "", "main", "origin", {"hooks/rollback-master.sh"}};
    rig.runner.answers["hooks/smoke.sh"] = {FakeRunner::exited(1)};
    rig.runner.on_run = [&](const ProcessSpec& s) { rig.clock.t += s.argv[0] == "hooks/rollback-master.sh" ? Millis(5000) : Millis(100); };
    RunOptions opt;
    opt.release_commit = "abc1234";
    auto out = rig.run(expand_plan(), opt);
    CHECK(out.exit == Exit::needs_human);
    CHECK(out.message.find("service api (restart): not attempted, the rollback timeout (1s) passed") != std::string::npos);
  }
}
