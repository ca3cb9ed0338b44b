// Randomized fault schedules against real PostgreSQL (issue #11): generated plans, then random schedules of
// run / run --phase contract / rollback / abort (asked for, mid-way, of a run nobody drives) / a kill at a
// random instant (the runner's connection is dropped mid-transaction or between transactions) / a step that
// starts or stops failing / a server restart. After every operation the catalog is compared with what
// phasegate says: a completed step's effect is there, a pending step's is not, no backfill row is filled
// twice or left unfilled by a completed backfill, the event chain verifies. Then a drain must apply it all.
// PHASEGATE_PG_SEEDS=N (default 30), PHASEGATE_PG_SEED0=S (default 1); a failure prints its seed.
#include <doctest/doctest.h>

#include <cstdlib>
#include <pqxx/pqxx>
#include <random>
#include <thread>
#include <unistd.h>

#include "phasegate/adapters.hpp"
#include "phasegate/engine.hpp"
#include "phasegate/pg.hpp"
#include "fakes.hpp"
#include "pg_test.hpp"

using namespace phasegate;

namespace {
struct Killed {};  // the runner process "died": its connection is dropped, whatever was uncommitted is gone

using test::admin_url;

struct Sql {
  explicit Sql(const std::string& url) : url(url), conn(std::make_unique<pqxx::connection>(url)) {}
  std::string url;
  std::unique_ptr<pqxx::connection> conn;
  void reconnect() { conn = std::make_unique<pqxx::connection>(url); }
  std::string one(const std::string& q) {
    pqxx::nontransaction n(*conn);
    auto r = n.exec(q);
    return r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
  }
  void exec(const std::string& q) {
    pqxx::nontransaction n(*conn);
    n.exec(q);
  }
};

// What a step leaves in the catalog, as one query returning true when the effect is there (or "" when the
// step has no effect we can see: VALIDATE, the failing probe).
struct Generated {
  int index = 0;
  Plan plan;
  std::map<std::string, std::string> effect;  // step -> SQL returning true when its effect is there
};

Generated generate(std::mt19937& rng, int index) {
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  Generated g;
  g.index = index;
  Plan& p = g.plan;
  p.id = "000" + std::to_string(index + 1) + "-gen";
  p.file = "plans/" + p.id + ".toml";
  for (Phase ph : kPhases) p.phases[static_cast<int>(ph)].phase = ph;
  int ord = 0;
  const std::string tag = "p" + std::to_string(index);
  auto add = [&](Step s, const std::string& effect) {
    g.effect[s.name] = effect;
    s.ordinal = ord++;
    p.phases[static_cast<int>(s.phase)].steps.push_back(std::move(s));
  };
  const std::string t = "t_" + tag;
  add(test::sql_step("table", Phase::expand, 0, "CREATE TABLE " + t + " (id int)", "DROP TABLE " + t), "SELECT to_regclass('" + t + "') IS NOT NULL");
  if (pick(2))
    add(test::sql_step("index", Phase::expand, 0, "CREATE INDEX CONCURRENTLY i_" + tag + " ON base (v)", "DROP INDEX CONCURRENTLY IF EXISTS i_" + tag),
        "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'i_" + tag + "' AND i.indisvalid)");
  const std::string col = "n_" + tag;
  add(test::sql_step("column", Phase::expand, 0, "ALTER TABLE base ADD COLUMN " + col + " int NOT NULL DEFAULT 0",
               "ALTER TABLE base DROP COLUMN " + col),
      "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'base' AND column_name = '" + col + "')");
  Step fill;
  fill.name = "fill";
  fill.phase = Phase::migrate;
  // Not idempotent on purpose: a row done twice shows as 2, a row skipped as 0.
  fill.backfill = Backfill{"base", col + " = " + col + " + 1", "", 5 + pick(30), Millis(200), Millis(0)};
  add(fill, "");
  if (pick(2)) {  // fails while ok_<tag> is empty; nothing to undo
    Step probe = test::sql_step("probe", Phase::migrate, 0, "SELECT 1 / (SELECT count(*) FROM ok_" + tag + ")", "");
    probe.irreversible = true;
    add(probe, "");
  }
  if (pick(3)) {
    add(test::sql_step("contract", Phase::contract, 0, "CREATE TABLE ct_" + tag + " (id int)", "DROP TABLE ct_" + tag),
        "SELECT to_regclass('ct_" + tag + "') IS NOT NULL");
    p.phases[2].start = pick(2) ? "auto" : "manual";
  }
  return g;
}

struct World {
  World(unsigned seed, std::string url_) : rng(seed), url(std::move(url_)), sql(url) {}
  std::mt19937 rng;
  std::string url;
  Sql sql;
  Project project;
  std::vector<Generated> gen;
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
};

struct Runner {
  std::unique_ptr<PgDatabase> db;
  test::FakeClock clock;  // guards and backoff never wait for real
  BoostProcessRunner procs;
  HttplibClient http;
  std::unique_ptr<Executor> ex;
};

std::unique_ptr<Runner> connect(World& w, CrashPoint crash) {
  auto r = std::make_unique<Runner>();
  auto db = PgDatabase::connect(w.url, "phasegate", "phasegate run (random)");
  if (!db) return nullptr;  // the server is restarting
  r->db = std::move(*db);
  r->db->set_actor(Actor{"alice@example.com", "alice", "host"});
  r->db->set_notify_routes({{"all", {"*"}}, {"runs", {"run.*"}}});  // every event queued (checked in check())
  // The previous "process"'s backend releases the run lock a moment after its connection closed.
  bool locked = false;
  for (int i = 0; i < 200 && !locked; ++i) {
    locked = bool(r->db->lock_runs());
    if (!locked) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!locked || !r->db->ensure_schema()) return nullptr;
  r->db->set_crash_point(crash);
  r->ex = std::make_unique<Executor>(w.project, *r->db, *r->db, r->clock, Actor{"alice@example.com", "alice", "host"}, crash);
  r->ex->set_operations(&r->procs, &r->http);
  return r;
}

Exit run_all(World& w, Runner& r, std::optional<Phase> phase) {
  std::vector<const Plan*> plans;
  for (const auto& g : w.gen) plans.push_back(&g.plan);
  RunOptions o;
  o.phase = phase;
  return r.ex->run_in_order(plans, o).exit;
}

std::string do_op(World& w) {
  int kind = w.pick(100);
  if (kind < 8) {
    const auto& g = w.gen[static_cast<size_t>(w.pick(static_cast<int>(w.gen.size())))];
    const std::string tag = "p" + std::to_string(g.index);
    if (w.sql.one("SELECT count(*) FROM ok_" + tag) == "0") w.sql.exec("INSERT INTO ok_" + tag + " VALUES (1)");
    else w.sql.exec("DELETE FROM ok_" + tag);
    return "toggle the probe of " + g.plan.id;
  }
  if (kind < 12) {
    if (w.sql.one("SELECT to_regclass('phasegate.runs') IS NOT NULL") != "t") return "abort requested (no runs yet)";
    w.sql.exec("UPDATE phasegate.runs SET abort_requested_at = now(), abort_requested_by = 'dave' WHERE status IN "
               "('created', 'running', 'waiting', 'blocked')");
    return "abort requested";
  }
  if (kind < 14 && std::getenv("PHASEGATE_PG_DIR") && std::getenv("PHASEGATE_PG_BIN")) {
    std::string cmd = std::string(std::getenv("PHASEGATE_PG_BIN")) + "/pg_ctl";
    std::string dir = std::string(std::getenv("PHASEGATE_PG_DIR")) + "/data";
    std::string as = ::geteuid() == 0 ? "runuser -u postgres -- " : "";
    int rc = std::system((as + cmd + " -D " + dir + " -w -m fast restart >/dev/null 2>&1").c_str());
    w.sql.reconnect();
    return "server restart (" + std::to_string(rc) + ")";
  }
  int calls = 0, at = w.pick(4) == 0 ? 1 + w.pick(40) : -1;
  CrashPoint crash = [&calls, at](const std::string&) {
    if (++calls == at) throw Killed{};
  };
  auto r = connect(w, crash);
  if (!r) return "could not connect";
  std::string name;
  try {
    if (kind < 25 && std::getenv("PHASEGATE_PG_DIR") && std::getenv("PHASEGATE_PG_BIN")) {
      // The server restarts while the run goes on (the runner reconnects within reconnect_timeout and
      // resumes from what the database says); the restart lands at a random point of the run.
      name = "run with a server restart mid-way";
      const int delay_ms = w.pick(120);
      std::thread restarter([&w, delay_ms] {
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        std::string cmd = std::string(std::getenv("PHASEGATE_PG_BIN")) + "/pg_ctl";
        std::string dir = std::string(std::getenv("PHASEGATE_PG_DIR")) + "/data";
        std::string as = ::geteuid() == 0 ? "runuser -u postgres -- " : "";
        (void)std::system((as + cmd + " -D " + dir + " -w -m fast restart >/dev/null 2>&1").c_str());
      });
      struct Join {
        std::thread& t;
        ~Join() { t.join(); }
      } join{restarter};
      Exit e = run_all(w, *r, std::nullopt);
      name += " -> " + std::to_string(static_cast<int>(e));
      if (auto evs = r->db->events(std::nullopt))
        if (std::any_of(evs->begin(), evs->end(), [](const EventRow& ev) { return ev.kind == "run.reconnected"; }))
          name += " (reconnected)";
    } else if (kind < 55) {
      name = "run";
      name += " -> " + std::to_string(static_cast<int>(run_all(w, *r, std::nullopt)));
    } else if (kind < 68) {
      name = "run --phase contract";
      name += " -> " + std::to_string(static_cast<int>(run_all(w, *r, Phase::contract)));
    } else if (kind < 82) {
      const auto& g = w.gen[static_cast<size_t>(w.pick(static_cast<int>(w.gen.size())))];
      name = "rollback " + g.plan.id + " -> " + std::to_string(static_cast<int>(r->ex->rollback_plan(g.plan, "by hand").exit));
    } else {
      name = "abort of a run nobody drives";
      for (const auto& g : w.gen) {
        auto latest = r->db->latest_run(g.plan.id).value();
        if (latest && is_open(latest->status)) {
          name += " " + std::to_string(latest->id) + " -> " +
                  std::to_string(static_cast<int>(r->ex->abort_run(g.plan, *latest, "erin").exit));
          break;
        }
      }
    }
  } catch (const Killed&) {
    name += " -> killed";
  } catch (const std::bad_expected_access<Error>& e) {  // a state read failed (the server went away mid-op)
    name += " -> read failed: " + e.error().message;
  }
  if (name.rfind("run with a server restart", 0) == 0) w.sql.reconnect();  // the restart has finished (joined)
  return name;  // the Runner goes: its connection closes, the server rolls back whatever was open
}

void check(World& w, std::vector<std::string>& bad, bool drained) {
  auto r = PgDatabase::connect(w.url, "phasegate", "phasegate check");
  if (!r) {
    bad.push_back("cannot connect to check: " + r.error().message);
    return;
  }
  auto& db = **r;
  if (!db.schema_exists().value_or(false)) return;  // nothing ran yet
  for (const auto& g : w.gen) {
    auto got = db.steps(g.plan.id);
    if (!got) {
      bad.push_back("reading the steps failed: " + got.error().message);
      return;
    }
    auto recs = *got;
    std::map<std::string, StepStatus> st;
    for (const auto& rec : recs) st[rec.step] = rec.status;
    for (const Step* s : g.plan.steps()) {
      StepStatus status = st.count(s->name) ? st[s->name] : StepStatus::pending;
      const std::string& probe = g.effect.at(s->name);
      if (!probe.empty()) {
        bool there = w.sql.one(probe) == "t";
        if (status == StepStatus::completed && !there) bad.push_back(g.plan.id + "/" + s->name + " completed but not in the catalog");
        if (status == StepStatus::pending && there) bad.push_back(g.plan.id + "/" + s->name + " pending but in the catalog");
      }
      if (s->backfill) {
        std::string col = s->backfill->set.substr(0, s->backfill->set.find(' '));
        bool column = w.sql.one("SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'base' AND column_name = '" + col + "')") == "t";
        if (!column) continue;
        if (w.sql.one("SELECT count(*) FROM base WHERE " + col + " > 1") != "0") bad.push_back(g.plan.id + ": a row was backfilled twice");
        if (status == StepStatus::completed && w.sql.one("SELECT count(*) FROM base WHERE " + col + " <> 1") != "0")
          bad.push_back(g.plan.id + ": backfill completed with rows not filled exactly once");
      }
    }
    if (drained) {
      auto ps = plan_status(g.plan, recs, db.latest_run(g.plan.id).value_or(std::nullopt));
      if (ps.steps_done != ps.steps_total) bad.push_back("after the drain " + g.plan.id + " is " + plan_state_name(ps.state));
    }
  }
  // The outbox (docs/notify.md): exactly one row per event for "all" and per run.* event for "runs" — queued
  // with the event, whatever was killed or restarted; never a row for an event that did not commit.
  if (w.sql.one("SELECT to_regclass('phasegate.outbox') IS NOT NULL") == "t") {
    std::string wrong = w.sql.one(
        "SELECT count(*) FROM phasegate.events e FULL JOIN (SELECT event_id, count(*) FILTER (WHERE sink = 'all') AS a,"
        " count(*) FILTER (WHERE sink = 'runs') AS r FROM phasegate.outbox GROUP BY event_id) o USING (event_id)"
        " WHERE e.event_id IS NULL OR coalesce(o.a, 0) <> 1 OR coalesce(o.r, 0) <> CASE WHEN e.kind LIKE 'run.%' THEN 1 ELSE 0 END");
    if (wrong != "0") bad.push_back(wrong + " events whose outbox rows are not exactly their sinks'");
  }
  auto events = db.events(std::nullopt);
  if (events)
    for (const auto& e : *events)
      if (!e.chain_ok) {
        bad.push_back("the event chain does not verify at event " + std::to_string(e.id));
        break;
      }
}

void drain(World& w) {
  for (const auto& g : w.gen) {
    const std::string ok = "ok_p" + std::to_string(g.index);
    w.sql.exec("INSERT INTO " + ok + " SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM " + ok + ")");
  }
  auto clear_aborts = [&] {
    if (w.sql.one("SELECT to_regclass('phasegate.runs') IS NOT NULL") == "t")
      w.sql.exec("UPDATE phasegate.runs SET abort_requested_at = NULL WHERE abort_requested_at IS NOT NULL");
  };
  clear_aborts();
  for (int round = 0; round < 8; ++round) {
    auto r = connect(w, nullptr);
    if (!r) continue;
    for (const auto& g : w.gen) {  // a down cut short by a server restart: try the rollback again
      auto latest = r->db->latest_run(g.plan.id).value_or(std::nullopt);
      if (latest && latest->status == RunStatus::rollback_incomplete) (void)r->ex->rollback_plan(g.plan, "again");
    }
    (void)run_all(w, *r, std::nullopt);
    (void)run_all(w, *r, Phase::contract);
    clear_aborts();
  }
}
}  // namespace

TEST_SUITE("engine::lifecycle_pg") {
  TEST_CASE("randomized fault schedules against PostgreSQL: status = catalog") {
    REQUIRE_MESSAGE(!admin_url().empty(), "set PHASEGATE_TEST_URL (scripts/test.sh does)");
    const char* n_env = std::getenv("PHASEGATE_PG_SEEDS");
    const char* s_env = std::getenv("PHASEGATE_PG_SEED0");
    unsigned n = n_env ? static_cast<unsigned>(std::atoi(n_env)) : 30;
    unsigned first = s_env ? static_cast<unsigned>(std::atoi(s_env)) : 1;
    std::map<std::string, int> seen;  // what the schedules exercised, printed at the end
    for (unsigned seed = first; seed < first + n; ++seed) {
      std::string name = "pg_it_random";
      {
        pqxx::connection admin(admin_url());
        pqxx::nontransaction a(admin);
        a.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
        a.exec("CREATE DATABASE " + name);
      }
      World w(seed, admin_url() + " dbname=" + name);
      w.project.rollback.on_failure = w.pick(5) ? "rollback" : "pause";
      w.project.guards.lock_retries = 0;
      w.sql.exec("CREATE TABLE base (id int PRIMARY KEY, v int); INSERT INTO base SELECT g, g FROM generate_series(1, 200) g");
      int plans = 1 + w.pick(2);
      for (int i = 0; i < plans; ++i) {
        w.gen.push_back(generate(w.rng, i));
        w.sql.exec("CREATE TABLE ok_p" + std::to_string(i) + " (x int); INSERT INTO ok_p" + std::to_string(i) + " VALUES (1)");
      }
      std::vector<std::string> log, bad;
      int ops = 5 + w.pick(8);
      for (int i = 0; i < ops && bad.empty(); ++i) {
        log.push_back(do_op(w));
        for (const char* what : {"killed", "server restart", "restart mid-way -> 0", "(reconnected)", "rollback", "abort", "-> 1", "-> 5", "-> 6", "-> 75", "read failed"})
          if (log.back().find(what) != std::string::npos) ++seen[what];
        check(w, bad, false);
      }
      if (bad.empty()) {
        drain(w);
        check(w, bad, true);
      }
      std::string msg = "seed " + std::to_string(seed) + " (replay: PHASEGATE_PG_SEED0=" + std::to_string(seed) + " PHASEGATE_PG_SEEDS=1)\n  ops: ";
      for (const auto& l : log) msg += l + "; ";
      msg += "\n  violated: ";
      for (const auto& b : bad) msg += b + "; ";
      CHECK_MESSAGE(bad.empty(), msg);
      if (!bad.empty()) break;
    }
    std::string summary;
    for (const auto& [k, v] : seen) summary += "'" + k + "' " + std::to_string(v) + ", ";
    MESSAGE("schedules exercised: " << summary);
  }
}
