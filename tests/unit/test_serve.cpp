// The broadcast (announce levels, --until, a run's automatic announcements), continuous smoke streaks (alert once
// per failure streak, once on recovery) and serve's renderings (/status JSON, /metrics text) over fakes. The real
// server, process and database are in tests/e2e/test_serve.sh.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <cstring>
#include <set>
#include <sstream>

#include "fakes.hpp"
#include "phasegate/broadcast.hpp"
#include "phasegate/guards.hpp"
#include "phasegate/serve.hpp"
#include "phasegate/smoke.hpp"

using namespace phasegate;
using namespace phasegate::test;
using json = nlohmann::json;

namespace {
long long count_kind(const FakeDatabase& db, const std::string& kind) {
  long long n = 0;
  for (const auto& e : db.events_) n += e.kind == kind;
  return n;
}

AnnounceSettings announcing() {
  AnnounceSettings a;
  a.during = "maintenance";
  a.on_failure = "degraded";
  return a;
}
}  // namespace

TEST_SUITE("broadcast") {
  TEST_CASE("levels: the four, anything else refused with a did-you-mean") {
    for (const char* l : {"ok", "maintenance", "degraded", "down"}) CHECK_FALSE(broadcast_level_problem(l));
    auto why = broadcast_level_problem("maintenace");
    REQUIRE(why);
    CHECK(why->find("did you mean \"maintenance\"") != std::string::npos);
    CHECK(broadcast_level_problem(""));
    CHECK(broadcast_level_index("down") > broadcast_level_index("degraded"));
    CHECK(broadcast_message_problem("line one\nline two"));
    CHECK(broadcast_message_problem(std::string(501, 'x')));
    CHECK_FALSE(broadcast_message_problem("Huey is currently performing maintenance!"));
  }

  TEST_CASE("--until: an RFC 3339 instant or a duration from now; the past and nonsense are refused") {
    const TimePoint now = *guards::parse_rfc3339("2026-11-22T04:00:00Z");
    auto at = parse_until("2026-11-22T06:30:00+10:00", now);  // 20:30 UTC the day before: in the past
    CHECK_FALSE(at);
    CHECK(at.error().code == Exit::invalid);
    CHECK(at.error().message.find("not in the future") != std::string::npos);
    auto later = parse_until("2026-11-22T05:00:00Z", now);
    REQUIRE(later);
    CHECK(guards::rfc3339(*later) == "2026-11-22T05:00:00Z");
    auto in = parse_until("90m", now);
    REQUIRE(in);
    CHECK(guards::rfc3339(*in) == "2026-11-22T05:30:00Z");
    auto bad = parse_until("tomorrow", now);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("neither an RFC 3339 instant") != std::string::npos);
  }

  TEST_CASE("an announcement past its until is over: readers see ok") {
    const TimePoint now = *guards::parse_rfc3339("2026-11-22T04:00:00Z");
    Broadcast b;
    b.level = "down";
    b.message = "back soon";
    b.until = now + Millis(1000);
    CHECK(effective_broadcast(b, now).level == "down");
    Broadcast over = effective_broadcast(b, now + Millis(1000));
    CHECK(over.level == "ok");
    CHECK(over.message.empty());
    CHECK(over.since == b.until);
  }

  TEST_CASE("a run announces during its phases, on failure, and back to ok; a human's announcement stands") {
    const TimePoint now{};
    Broadcast ok;
    auto during = run_announcement(announcing(), ok, now, RunMoment::phase_started, "0042", "expand", 7);
    REQUIRE(during);
    CHECK(during->level == "maintenance");
    CHECK(during->run_id == 7);
    CHECK(during->message.find("0042") != std::string::npos);
    CHECK_FALSE(run_announcement(announcing(), *during, now, RunMoment::phase_started, "0042", "migrate", 7));  // already said
    auto back = run_announcement(announcing(), *during, now, RunMoment::succeeded, "0042", "", 7);
    REQUIRE(back);
    CHECK(back->level == "ok");
    auto failed = run_announcement(announcing(), *during, now, RunMoment::failed, "0042", "", 7);
    REQUIRE(failed);
    CHECK(failed->level == "degraded");
    // The next run's success clears an earlier run's "degraded"; a stop of another run does not.
    CHECK(run_announcement(announcing(), *failed, now, RunMoment::succeeded, "0043", "", 8)->level == "ok");
    CHECK_FALSE(run_announcement(announcing(), *failed, now, RunMoment::stopped, "0043", "", 8));
    CHECK(run_announcement(announcing(), *during, now, RunMoment::stopped, "0042", "", 7)->level == "ok");
    // An operator said "down": no run replaces it, whatever happens.
    Broadcast manual;
    manual.level = "down";
    manual.message = "datacenter move";
    for (RunMoment m : {RunMoment::phase_started, RunMoment::succeeded, RunMoment::failed, RunMoment::stopped})
      CHECK_FALSE(run_announcement(announcing(), manual, now, m, "0042", "expand", 7));
    // ... until it is over.
    manual.until = now;
    CHECK(run_announcement(announcing(), manual, now, RunMoment::phase_started, "0042", "expand", 7));
    // Without on_failure a failure just ends the run's own announcement.
    AnnounceSettings only_during;
    only_during.during = "maintenance";
    CHECK(run_announcement(only_during, *during, now, RunMoment::failed, "0042", "", 7)->level == "ok");
    CHECK_FALSE(run_announcement(AnnounceSettings{}, ok, now, RunMoment::phase_started, "0042", "expand", 7));
  }

  TEST_CASE("the executor: maintenance while the plan runs, ok after, each with status.announced in its transaction") {
    Project project;
    project.announce = announcing();
    FakeDatabase db;
    FakeClock clock;
    Executor ex(project, db, db, clock, Actor{"alice", "alice", "host"});
    std::vector<std::string> levels;
    Plan plan = make_plan("0001-a", {{Phase::expand, "add", "ALTER TABLE t ADD COLUMN c int"}});
    auto out = ex.run_plan(plan, {});
    REQUIRE(out.exit == Exit::ok);
    for (const auto& c : db.committed)
      if (c.broadcast) {
        levels.push_back(c.broadcast->level);
        REQUIRE(c.events.size() == 1);  // the row and its event, one transaction
        CHECK(c.events[0].kind == "status.announced");
        CHECK(json::parse(c.events[0].payload)["level"] == c.broadcast->level);
      }
    CHECK(levels == std::vector<std::string>{"maintenance", "ok"});
    CHECK(db.broadcast_.level == "ok");
  }

  TEST_CASE("a failed run leaves degraded; a broadcast that cannot be read never fails the run; no [announce], no reads") {
    Project project;
    project.announce = announcing();
    FakeDatabase db;
    FakeClock clock;
    Plan plan = make_plan("0001-a", {{Phase::expand, "boom", "SELECT boom()"}});
    plan.phases[0].steps[0].down = "SELECT 1";
    db.failing.insert("SELECT boom()");
    Executor ex(project, db, db, clock, Actor{"alice", "alice", "host"});
    auto out = ex.run_plan(plan, {});
    CHECK(out.exit == Exit::failed);
    CHECK(db.broadcast_.level == "degraded");
    CHECK(db.broadcast_.run_id == out.run_id);

    FakeDatabase quiet;
    quiet.broadcast_fails = true;
    Executor ex2(project, quiet, quiet, clock, Actor{"alice", "alice", "host"});
    Plan ok_plan = make_plan("0001-b", {{Phase::expand, "add", "ALTER TABLE t ADD COLUMN c int"}});
    CHECK(ex2.run_plan(ok_plan, {}).exit == Exit::ok);
    CHECK(count_kind(quiet, "status.announced") == 0);

    Project plain;
    FakeDatabase untouched;
    untouched.broadcast_fails = true;
    Executor ex3(plain, untouched, untouched, clock, Actor{"alice", "alice", "host"});
    CHECK(ex3.run_plan(ok_plan, {}).exit == Exit::ok);
    FakeDatabase reference;
    Executor ex4(plain, reference, reference, clock, Actor{"alice", "alice", "host"});
    CHECK(ex4.run_plan(ok_plan, {}).exit == Exit::ok);
    CHECK(untouched.commits == reference.commits);  // the same transactions as before [announce] existed
  }
}

TEST_SUITE("smoke::continuous") {
  TEST_CASE("a streak alerts once when it exceeds failure_limit and once on recovery") {
    SmokeRecord r;
    r.name = "save_pen";
    TimePoint t{};
    std::vector<SmokeNotice> notices;
    for (bool ok : {true, false, false, false, false, true, true, false, true}) {
      auto turn = smoke_after(r, ok, ok ? "" : "exit 1: no pen saved", t, 1, 42);
      notices.push_back(turn.notice);
      r = turn.next;
      t += Millis(1000);
    }
    using N = SmokeNotice;
    // The second failure in a row exceeds failure_limit 1; a lone failure later is tolerated.
    CHECK(notices == std::vector<N>{N::none, N::none, N::failed, N::none, N::none, N::recovered, N::none, N::none, N::none});
    CHECK(r.checks == 9);
    CHECK(r.failures == 5);
    CHECK(r.ok);
    CHECK(r.deploy_run == 42);
  }

  TEST_CASE("SmokeWatch: nothing before a deploy, then every interval; one failure event and one recovery event") {
    Project project;
    project.root = "/srv/app";
    Smoke s;
    s.name = "save_pen";
    s.command = {"hooks/save-pen.sh"};
    s.every = Millis(60'000);
    project.smoke["save_pen"] = s;
    Smoke phase_only;
    phase_only.name = "phase_only";
    phase_only.command = {"hooks/other.sh"};
    project.smoke["phase_only"] = phase_only;
    FakeDatabase db;
    FakeClock clock;
    FakeRunner runner;
    SmokeProbes probes;
    probes.run = [&](const std::vector<std::string>& argv, Millis t) { return runner.run(project_hook(project, argv, t, {})); };
    SmokeWatch watch(project, db, clock, probes);
    REQUIRE(watch.any());
    REQUIRE(watch.tick(0, {}));
    CHECK(runner.calls.empty());  // no deploy yet
    runner.answers["hooks/save-pen.sh"] = {FakeRunner::exited(0), FakeRunner::exited(1, "no pen saved"), FakeRunner::exited(1),
                                           FakeRunner::exited(1), FakeRunner::exited(0), FakeRunner::exited(0)};
    auto stored = [&] {
      std::vector<SmokeRecord> out;
      for (const auto& [n, r] : db.smoke_) out.push_back(r);
      return out;
    };
    REQUIRE(watch.tick(5, stored()));
    REQUIRE(runner.calls.size() == 1);
    CHECK(runner.calls[0].cwd == "/srv/app");
    REQUIRE(watch.tick(5, stored()));
    CHECK(runner.calls.size() == 1);  // not due yet
    for (int i = 0; i < 5; ++i) {
      clock.t += Millis(60'000);
      REQUIRE(watch.tick(5, stored()));
    }
    CHECK(runner.calls.size() == 6);
    CHECK(count_kind(db, "smoke.failed") == 1);
    CHECK(count_kind(db, "smoke.recovered") == 1);
    for (const auto& e : db.events_)
      if (e.kind == "smoke.failed") CHECK(json::parse(e.payload)["reason"].get<std::string>().find("no pen saved") != std::string::npos);
    CHECK(db.smoke_["save_pen"].checks == 6);
    CHECK(db.smoke_["save_pen"].failures == 3);
    for (const auto& c : runner.calls) CHECK(c.argv[0] == "hooks/save-pen.sh");  // phase_only has no `every`
  }

  TEST_CASE("another process measured meanwhile: the stale record does not land, nothing is announced twice") {
    Project project;
    Smoke s;
    s.name = "pen";
    s.command = {"hooks/pen.sh"};
    s.every = Millis(1000);
    project.smoke["pen"] = s;
    FakeDatabase db;
    FakeClock clock;
    FakeRunner runner;
    runner.answers["hooks/pen.sh"] = {FakeRunner::exited(1)};
    SmokeProbes probes;
    probes.run = [&](const std::vector<std::string>& argv, Millis t) { return runner.run(project_hook(project, argv, t, {})); };
    SmokeWatch a(project, db, clock, probes), b(project, db, clock, probes);
    REQUIRE(a.tick(1, {}));
    CHECK(count_kind(db, "smoke.failed") == 1);
    auto r = b.tick(1, {});  // b read nothing before a measured: its change is refused
    CHECK_FALSE(r);
    CHECK(count_kind(db, "smoke.failed") == 1);
    clock.t += Millis(1000);
    REQUIRE(b.tick(1, {db.smoke_["pen"]}));  // with the record read back it goes on, still failing: no new alert
    CHECK(count_kind(db, "smoke.failed") == 1);
    CHECK(db.smoke_["pen"].checks == 2);
  }
}

namespace {
// A strict reader of the Prometheus text format: every sample's family has HELP and TYPE before it, names and
// labels are well-formed, histograms are cumulative with +Inf equal to _count.
std::vector<std::string> exposition_problems(const std::string& text) {
  std::vector<std::string> problems;
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::map<std::string, double> last_bucket;
  std::istringstream in(text);
  std::string line;
  auto family_of = [&](std::string name) {
    for (const char* suffix : {"_bucket", "_sum", "_count"})
      if (name.size() > strlen(suffix) && name.ends_with(suffix) && types.count(name.substr(0, name.size() - strlen(suffix))) &&
          types[name.substr(0, name.size() - strlen(suffix))] == "histogram")
        return name.substr(0, name.size() - strlen(suffix));
    return name;
  };
  while (std::getline(in, line)) {
    if (line.starts_with("# HELP ")) {
      helped.insert(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      auto rest = line.substr(7);
      types[rest.substr(0, rest.find(' '))] = rest.substr(rest.find(' ') + 1);
      continue;
    }
    auto brace = line.find('{');
    auto space = line.rfind(' ');
    std::string name = line.substr(0, std::min(brace, space));
    std::string fam = family_of(name);
    if (!types.count(fam) || !helped.count(fam)) problems.push_back("no HELP/TYPE before: " + line);
    if (name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_0123456789") != std::string::npos) problems.push_back("bad name: " + line);
    double v = std::stod(line.substr(space + 1));
    if (types[fam] == "counter" && !name.ends_with("_total")) problems.push_back("counter without _total: " + line);
    if (name.ends_with("_bucket")) {
      std::string labels = line.substr(brace, line.find("le=") - brace);
      if (last_bucket.count(labels) && v < last_bucket[labels]) problems.push_back("bucket not cumulative: " + line);
      last_bucket[labels] = v;
    }
    if (name.ends_with("_count") && types[fam] == "histogram") {
      std::string labels = line.substr(brace, line.find('}') - brace);
      auto it = last_bucket.find(labels + ",");
      if (it == last_bucket.end() || it->second != v) problems.push_back("+Inf bucket differs from _count: " + line);
    }
  }
  return problems;
}

serve::Reading sample_reading() {
  serve::Reading r;
  r.schema = true;
  r.broadcast.level = "maintenance";
  r.broadcast.message = "Huey is currently performing maintenance!";
  r.broadcast.run_id = 3;
  serve::Histogram h;
  h.cumulative = {0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 2};
  h.count = 2;
  h.sum = 3.5;
  r.histograms["run_duration"]["completed"] = h;
  r.histograms["guard_wait"]["window \"offpeak\""] = h;
  r.lock_retries = 4;
  r.backfill_rows = 1200;
  r.run_smoke_failures["save_book"] = 1;
  SmokeRecord s;
  s.name = "save_book";
  s.ok = false;
  s.failures = 2;
  s.checks = 5;
  r.smoke.push_back(s);
  serve::Reading::Current c;
  c.run.id = 3;
  c.run.plan_id = "0002-levels";
  c.run.status = RunStatus::running;
  c.run.phase = "migrate";
  c.step = "backfill reading_level";
  c.backfill = R"({"scanned": 4000, "updated": 3900, "estimated_total": 10000, "rows_per_s": 1000, "batch_size": 500})";
  r.current = c;
  StepRecord rec;
  rec.plan_id = "0002-levels";
  rec.step = "backfill reading_level";
  rec.status = StepStatus::running;
  rec.cursor = R"({"last": ["5000"], "scanned": 5000, "updated": 4900, "batches": 10, "batch_size": 500})";
  r.steps.push_back(rec);
  return r;
}
}  // namespace

TEST_SUITE("serve::render") {
  TEST_CASE("/metrics is valid exposition text, histograms are honest, counters never go down") {
    serve::Reading r = sample_reading();
    serve::View v{&r, {}, TimePoint{}, false, "", "0.1.0"};
    std::map<std::string, double> floor;
    std::string text = serve::metrics_text(v, TimePoint{} + Millis(1500), floor);
    auto problems = exposition_problems(text);
    CHECK_MESSAGE(problems.empty(), text);
    for (const char* family : {"phasegate_run_duration_seconds", "phasegate_guard_wait_seconds", "phasegate_step_duration_seconds",
                               "phasegate_lock_retries_total", "phasegate_backfill_rows_total", "phasegate_backfill_rows_estimated",
                               "phasegate_pending_plans", "phasegate_drifted_steps", "phasegate_smoke_failures_total"})
      CHECK_MESSAGE(text.find(std::string("# TYPE ") + family + " ") != std::string::npos, family);
    CHECK(text.find("phasegate_run_duration_seconds_bucket{status=\"completed\",le=\"+Inf\"} 2\n") != std::string::npos);
    CHECK(text.find("guard=\"window \\\"offpeak\\\"\"") != std::string::npos);  // label values escaped
    CHECK(text.find("phasegate_smoke_failures_total{smoke=\"save_book\"} 3\n") != std::string::npos);
    CHECK(text.find("phasegate_backfill_rows_estimated 10000\n") != std::string::npos);
    CHECK(text.find("phasegate_broadcast_level{level=\"maintenance\"} 1\n") != std::string::npos);
    CHECK(text.find("phasegate_up 1\n") != std::string::npos);
    r.lock_retries = 1;  // a smaller count read later (a store that lost rows): the counter holds
    text = serve::metrics_text(v, TimePoint{}, floor);
    CHECK(text.find("phasegate_lock_retries_total 4\n") != std::string::npos);
    v.stale = true;
    CHECK(serve::metrics_text(v, TimePoint{}, floor).find("phasegate_up 0\n") != std::string::npos);
  }

  TEST_CASE("/status: the banner, the run with its backfill's progress and ETA, stale with the age of the last read") {
    serve::Reading r = sample_reading();
    Plan plan = make_plan("0002-levels", {{Phase::migrate, "backfill reading_level", "UPDATE books SET x = 1"}});
    r.steps[0].checksum = step_checksum(plan.phases[1].steps[0]);  // applied as the file says: no drift
    serve::View v{&r, serve::plan_statuses({plan}, r), TimePoint{}, true, "lost the connection", "0.1.0"};
    auto j = json::parse(serve::status_json(v, TimePoint{} + Millis(12'300)));
    CHECK(j["level"] == "maintenance");
    CHECK(j["message"] == "Huey is currently performing maintenance!");
    CHECK(j["automatic"] == true);
    CHECK(j["stale"] == true);
    CHECK(j["age_seconds"] == doctest::Approx(12.3));
    CHECK(j["error"] == "lost the connection");
    CHECK(j["run"]["plan"] == "0002-levels");
    CHECK(j["run"]["phase"] == "migrate");
    CHECK(j["run"]["step"] == "backfill reading_level");
    CHECK(j["run"]["backfill"]["scanned"] == 5000);     // the cursor is newer than the progress event
    CHECK(j["run"]["backfill"]["percent"] == doctest::Approx(50.0));
    CHECK(j["run"]["backfill"]["eta_seconds"] == doctest::Approx(5.0));
    CHECK(j["plans"]["pending"] == json::array({"0002-levels"}));
    CHECK(j["plans"]["drifted"] == json::array());
    CHECK(j["check"]["ok"] == false);
    CHECK(j["smoke"][0]["name"] == "save_book");
    CHECK(j["smoke"][0]["ok"] == false);
    serve::View never{nullptr, {}, TimePoint{}, true, "refused", "0.1.0"};
    CHECK(json::parse(serve::status_json(never, TimePoint{}))["level"] == "unknown");
  }
}
