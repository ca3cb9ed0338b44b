// Randomized fault schedules against a model of the database (the leveldb / FoundationDB way): generated
// plans, random schedules of run / kill at any commit / failed state writes / abort / rollback / a failing
// step / contract starts, and after every operation the invariants of SPEC §5.1:
//   status = effects: a completed step's effect is there exactly once, a pending step's is not (an
//   irreversible step passed by a rollback excepted); nothing is ever applied twice; a backfill never fills a
//   row twice and a completed backfill left no row unfilled; exits are truthful; every state change committed
//   with an event; at most one open run per plan. Every schedule ends with a drain (faults off, a human repairs
//   what a rollback left) after which every plan must be applied with every effect exactly once.
// Seeds: PHASEGATE_SEEDS=N (default 1000) from PHASEGATE_SEED0 (default 1); a failure prints its seed.
#include <doctest/doctest.h>

#include <signal.h>

#include <cstdlib>
#include <iterator>
#include <random>
#include <sstream>

#include "fakes.hpp"
#include "phasegate/interrupt.hpp"

using namespace phasegate;
using namespace phasegate::test;

namespace {
struct Killed {};  // the runner process died (kill -9) at this instant

struct Model {
  std::map<std::string, int> objects;   // table/index name -> how many times it exists (must stay 0 or 1)
  std::map<std::string, bool> columns;  // books.<col> exists
  std::map<std::string, std::map<long long, int>> filled;  // column -> key -> times a backfill set it
  std::vector<std::string> violations;
  std::set<std::string> contract_applied;  // a contract step destroys data for good (even if its own down runs)
  // The contract phase is the point of no return: no down of the plan runs once its contract step applied.
  void no_return(const std::string& object, const std::string& sql) {
    auto p = object.find("_p");
    if (p == std::string::npos) return;
    std::string tag = object.substr(p + 1, object.find('_', p + 1) == std::string::npos ? std::string::npos : object.find('_', p + 1) - p - 1);
    if (contract_applied.count(tag)) violations.push_back("rolled back past the point of no return: " + sql);
  }
  void apply(const std::string& sql, FakeDatabase& db) {
    auto word = [&](size_t i) {
      std::istringstream in(sql);
      std::string w;
      for (size_t k = 0; k <= i && (in >> w); ++k) {
      }
      return w;
    };
    if (sql.rfind("CREATE TABLE IF NOT EXISTS ", 0) == 0) {
      objects[word(5)] = 1;
    } else if (sql.rfind("CREATE TABLE ", 0) == 0) {
      if (word(2).rfind("ct_", 0) == 0) contract_applied.insert(word(2).substr(3));
      if (++objects[word(2)] > 1) violations.push_back("applied twice: " + sql);
    } else if (sql.rfind("DROP TABLE IF EXISTS ", 0) == 0) {
      objects[word(4)] = 0;
    } else if (sql.rfind("DROP TABLE ", 0) == 0) {
      if (word(2).rfind("ct_", 0) != 0) no_return(word(2), sql);
      if (--objects[word(2)] < 0) violations.push_back("dropped what was not there: " + sql);
    } else if (sql.rfind("CREATE INDEX CONCURRENTLY ", 0) == 0) {
      if (++objects[word(3)] > 1) violations.push_back("index built twice: " + sql);
      db.indexes[word(3)] = IndexState::valid;
    } else if (sql.rfind("DROP INDEX CONCURRENTLY IF EXISTS ", 0) == 0) {
      no_return(word(5), sql);
      objects[word(5)] = 0;
      db.indexes.erase(word(5));
    } else if (sql.rfind("ALTER TABLE books ADD COLUMN ", 0) == 0) {
      if (columns[word(5)]) violations.push_back("column added twice: " + sql);
      columns[word(5)] = true;
    } else if (sql.rfind("ALTER TABLE books DROP COLUMN ", 0) == 0) {
      no_return(word(5), sql);
      if (!columns[word(5)]) violations.push_back("dropped a missing column: " + sql);
      columns[word(5)] = false;
      filled[word(5)].clear();
    }
  }
};

struct World {
  explicit World(unsigned seed) : rng(seed) {}
  std::mt19937 rng;
  Project project;
  FakeDatabase db;
  FakeClock clock;
  FakeRunner runner;
  FakeHttp http;
  Model model;
  std::vector<Plan> plans;
  std::vector<std::string> log;  // what happened, for the failure message
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
  bool chance(int percent) { return pick(100) < percent; }
};

// One generated plan: expand steps (tables, a concurrent index, a column), maybe a backfill of that column and
// a VALIDATE in migrate, maybe a contract phase; some steps without down, some irreversible.
Plan generate_plan(World& w, int index) {
  Plan p;
  p.id = "000" + std::to_string(index + 1) + "-gen";
  p.file = "plans/" + p.id + ".toml";
  for (Phase ph : kPhases) p.phases[static_cast<int>(ph)].phase = ph;
  int ord = 0;
  const std::string tag = "p" + std::to_string(index);
  auto add = [&](Phase ph, Step s) { p.phases[static_cast<int>(ph)].steps.push_back(std::move(s)); ++ord; };
  int tables = 1 + w.pick(2);
  for (int i = 0; i < tables; ++i) {
    std::string t = "t_" + tag + "_" + std::to_string(i);
    Step s = sql_step("table " + std::to_string(i), Phase::expand, ord, "CREATE TABLE " + t + " (id int)", "DROP TABLE " + t);
    if (w.chance(12)) s.down.clear();  // a step a rollback cannot undo
    add(Phase::expand, s);
  }
  if (w.chance(50)) {
    std::string i = "i_" + tag;
    add(Phase::expand, sql_step("index", Phase::expand, ord, "CREATE INDEX CONCURRENTLY " + i + " ON base (c)",
                                "DROP INDEX CONCURRENTLY IF EXISTS " + i));
  }
  if (w.chance(20)) {
    Step s = sql_step("extension", Phase::expand, ord, "CREATE TABLE IF NOT EXISTS ext_" + tag + " (id int)", "");
    s.irreversible = true;
    add(Phase::expand, s);
  }
  const bool backfill = index == 0 && w.chance(70);  // the fake has one `books` table: one backfill per world
  if (backfill) {
    add(Phase::expand, sql_step("column", Phase::expand, ord, "ALTER TABLE books ADD COLUMN c_" + tag + " int",
                                "ALTER TABLE books DROP COLUMN c_" + tag));
    Step b;
    b.name = "fill";
    b.phase = Phase::migrate;
    b.ordinal = ord;
    b.backfill = Backfill{"books", "c_" + tag + " = 1", "c_" + tag + " IS NULL", 1 + w.pick(40), Millis(200), Millis(0)};
    if (w.chance(30)) b.down = "UPDATE books SET c_" + tag + " = NULL";
    add(Phase::migrate, b);
  }
  if (w.chance(40)) add(Phase::migrate, sql_step("validate", Phase::migrate, ord, "ALTER TABLE base VALIDATE CONSTRAINT fk_" + tag, ""));
  if (w.chance(60)) {
    std::string t = "ct_" + tag;
    Step s = sql_step("contract", Phase::contract, ord, "CREATE TABLE " + t + " (id int)", "DROP TABLE " + t);
    add(Phase::contract, s);
    p.phases[2].start = w.chance(30) ? "auto" : "manual";
  }
  return p;
}

struct Op {
  std::string name;
  Exit exit = Exit::ok;
  bool killed = false;
  bool server_gone = false;  // the connection broke and the server did not come back within reconnect_timeout
};

void wire(World& w) {
  w.db.on_commit_sql = [&w](const std::string& sql) { w.model.apply(sql, w.db); };
  w.db.on_batch_commit = [&w](const std::string& sql, const std::vector<long long>& keys) {
    auto at = sql.find("SET c_");
    std::string col = sql.substr(at + 4, sql.find(' ', at + 4) - at - 4);
    if (!w.model.columns[col]) {
      w.model.violations.push_back("a backfill batch wrote to missing column " + col);
      return;
    }
    for (long long k : keys)
      if (++w.model.filled[col][k] > 1) w.model.violations.push_back("row " + std::to_string(k) + " filled twice in " + col);
  };
}

std::vector<StepRecord> steps_of(World& w, const std::string& plan_id) { return w.db.steps(plan_id).value(); }

Executor make_executor(World& w, CrashPoint crash = nullptr) {
  Executor ex(w.project, w.db, w.db, w.clock, Actor{"alice@example.com", "alice", "host"}, std::move(crash));
  ex.set_operations(&w.runner, &w.http);
  return ex;
}

// `phasegate run [--phase contract]` over every plan in order.
Exit run_all(World& w, Executor& ex, std::optional<Phase> phase) {
  std::vector<const Plan*> plans;
  for (const Plan& p : w.plans) plans.push_back(&p);
  RunOptions o;
  o.phase = phase;
  return ex.run_in_order(plans, o).exit;
}

// Arms the faults of one operation: a kill just before or after some commit, or a state write that fails.
void arm_faults(World& w) {
  w.db.kill_before = nullptr;
  w.db.kill_after = nullptr;
  w.db.fail_commit.clear();
  w.db.lose_before.clear();
  w.db.lose_after.clear();
  int at = w.db.commits + 1 + w.pick(12);
  switch (w.pick(10)) {
    case 0: w.db.kill_before = [at](int n) { if (n == at) throw Killed{}; }; break;
    case 1: w.db.kill_after = [at](int n) { if (n == at) throw Killed{}; }; break;
    case 2: w.db.fail_commit.insert(at); break;
    case 3: w.db.lose_before.insert(at); break;  // a server restart: that commit never landed; reconnected
    case 4: w.db.lose_after.insert(at); break;   // ... it landed, but the runner heard the connection break
    case 5:                                      // ... and the server stays down past reconnect_timeout
      w.db.lose_after.insert(at);
      w.db.reconnect_refused = true;
      break;
    case 6: w.db.kill_before = [at](int n) { if (n == at) set_interrupt_signal(SIGTERM); }; break;  // a signal to phasegate
    default: break;
  }
}

// The server is back, signals are handled: the next operation starts clean.
void clear_faults(World& w, Op& op) {
  op.server_gone = w.db.down && w.db.reconnect_refused;
  w.db.kill_before = nullptr;
  w.db.kill_after = nullptr;
  w.db.fail_commit.clear();
  w.db.lose_before.clear();
  w.db.lose_after.clear();
  w.db.down = false;
  w.db.reconnect_refused = false;
  set_interrupt_signal(0);
}

Op do_op(World& w) {
  Op op;
  int kind = w.pick(100);
  try {
    if (kind < 12) {  // an operator asks the latest open run to stop; it notices at its next check
      for (auto it = w.db.runs_.rbegin(); it != w.db.runs_.rend(); ++it)
        if (is_open(it->status)) {
          w.db.aborts[it->id] = "dave@example.com";
          op.name = "abort request run " + std::to_string(it->id);
          return op;
        }
      op.name = "abort request (no open run)";
      return op;
    }
    if (kind < 22) {  // toggle a failing step
      const Plan& p = w.plans[static_cast<size_t>(w.pick(static_cast<int>(w.plans.size())))];
      auto steps = p.steps();
      const Step* s = steps[static_cast<size_t>(w.pick(static_cast<int>(steps.size())))];
      std::string key = s->backfill ? "backfill" : s->sql;
      if (w.db.failing.count(key)) w.db.failing.erase(key);
      else w.db.failing.insert(key);
      op.name = "toggle failing " + key;
      return op;
    }
    arm_faults(w);
    auto ex = make_executor(w);
    if (kind < 60) {
      op.name = "run";
      op.exit = run_all(w, ex, std::nullopt);
    } else if (kind < 72) {
      op.name = "run --phase contract";
      op.exit = run_all(w, ex, Phase::contract);
    } else if (kind < 84) {
      const Plan& p = w.plans[static_cast<size_t>(w.pick(static_cast<int>(w.plans.size())))];
      op.name = "rollback " + p.id;
      op.exit = ex.rollback_plan(p, "by hand").exit;
    } else if (kind < 92) {  // abort of a run nobody drives (cmd_abort with the lock free)
      op.name = "abort (not driven)";
      for (const Plan& p : w.plans) {
        auto latest = *w.db.latest_run(p.id);
        if (latest && is_open(latest->status)) {
          op.name = "abort run " + std::to_string(latest->id);
          op.exit = ex.abort_run(p, *latest, "erin@example.com").exit;
          break;
        }
      }
    } else {  // a run with the abort arriving in the middle of it
      op.name = "run with an abort mid-way";
      int n = 0, at = 1 + w.pick(6);
      w.db.on_apply = [&w, &n, at](const std::string&) {
        if (++n == at)
          for (auto& r : w.db.runs_)
            if (is_open(r.status)) w.db.aborts[r.id] = "dave@example.com";
      };
      op.exit = run_all(w, ex, std::nullopt);
      w.db.on_apply = nullptr;
    }
  } catch (const Killed&) {
    op.killed = true;
    w.db.on_apply = nullptr;
  }
  clear_faults(w, op);
  return op;
}

int effect_of(const World& w, const Step& s) {
  auto obj = [&](const std::string& name) {
    auto it = w.model.objects.find(name);
    return it == w.model.objects.end() ? 0 : it->second;
  };
  if (s.backfill) return -1;  // checked separately
  std::istringstream in(s.sql);
  std::vector<std::string> words{std::istream_iterator<std::string>(in), {}};
  if (s.sql.rfind("CREATE TABLE IF NOT EXISTS", 0) == 0) return obj(words[5]);
  if (s.sql.rfind("CREATE TABLE", 0) == 0) return obj(words[2]);
  if (s.sql.rfind("CREATE INDEX", 0) == 0) return obj(words[3]);
  if (s.sql.rfind("ALTER TABLE books ADD COLUMN", 0) == 0) return w.model.columns.count(words[5]) && w.model.columns.at(words[5]) ? 1 : 0;
  return -1;  // VALIDATE: no modelled effect
}

void check_invariants(World& w, const Op& op, std::vector<std::string>& bad) {
  for (const auto& v : w.model.violations) bad.push_back(v);
  w.model.violations.clear();
  for (const Plan& p : w.plans) {
    auto recs = steps_of(w, p.id);
    std::map<std::string, StepRecord> by;
    for (const auto& r : recs) by[r.step] = r;
    int open = 0;
    for (const auto& r : w.db.runs_) open += r.plan_id == p.id && is_open(r.status);
    if (open > 1) bad.push_back(p.id + ": " + std::to_string(open) + " open runs");
    for (const Step* s : p.steps()) {
      StepStatus st = by.count(s->name) ? by[s->name].status : StepStatus::pending;
      int e = effect_of(w, *s);
      if (e >= 0 && st == StepStatus::completed && e != 1)
        bad.push_back(p.id + "/" + s->name + " is completed but its effect count is " + std::to_string(e));
      if (e >= 0 && st == StepStatus::pending && e != 0 && !s->irreversible)
        bad.push_back(p.id + "/" + s->name + " is pending but its effect is there");
      if (s->backfill && st == StepStatus::completed) {
        std::string col = s->backfill->set.substr(0, s->backfill->set.find(' '));
        for (long long k : w.db.bf_keys)
          if (w.model.filled[col][k] != 1) {
            bad.push_back(p.id + "/" + s->name + " is completed but row " + std::to_string(k) + " was filled " +
                          std::to_string(w.model.filled[col][k]) + " times");
            break;
          }
      }
    }
    auto status = plan_status(p, recs, *w.db.latest_run(p.id));
    if (status.state == PlanState::applied && !status.pending.empty()) bad.push_back(p.id + ": applied with pending steps");
  }
  // Exits are truthful. A run whose server never came back says "retry later" (75), never 0, 1 or 6.
  if (!op.killed && op.server_gone && op.name.rfind("run", 0) == 0 && op.exit != Exit::blocked)
    bad.push_back("the server did not come back but run exited " + std::to_string(static_cast<int>(op.exit)));
  if (!op.killed && op.name == "run" && op.exit == Exit::ok)
    for (const Plan& p : w.plans)
      if (!plan_status(p, steps_of(w, p.id), std::nullopt).pending.empty())
        bad.push_back("run exited 0 but " + p.id + " has pending expand/migrate steps");
  if (!op.killed && (op.exit == Exit::failed || op.exit == Exit::aborted) && op.name.rfind("run", 0) == 0) {
    bool backed = false;  // exit 1 / 6 claim a clean rollback: some plan's latest run must be rolled_back
    for (const Plan& p : w.plans) {
      auto latest = *w.db.latest_run(p.id);
      backed = backed || (latest && (latest->status == RunStatus::rolled_back || latest->status == RunStatus::aborted));
    }
    if (!backed) bad.push_back("exit " + std::to_string(static_cast<int>(op.exit)) + " but no run was rolled back");
  }
  if (!op.killed && (op.exit == Exit::failed || op.exit == Exit::aborted) && op.name.rfind("run", 0) == 0)
    for (const Plan& p : w.plans) {
      auto latest = *w.db.latest_run(p.id);
      if (latest && latest->status == RunStatus::rolled_back)
        for (const auto& r : steps_of(w, p.id))
          if (r.status != StepStatus::pending) bad.push_back("exit " + std::to_string(static_cast<int>(op.exit)) + " after a clean rollback, but " + p.id + "/" + r.step + " is " + step_status_name(r.status));
    }
  // Every state change was committed with an event.
  std::map<std::string, StepStatus> seen;
  for (const auto& c : w.db.committed) {
    bool changed = c.run.has_value();
    for (const auto& st : c.steps) {
      auto key = st.plan_id + "/" + st.step;
      auto it = seen.find(key);
      if ((it == seen.end() ? StepStatus::pending : it->second) != st.status) changed = true;
      seen[key] = st.status;
    }
    if (changed && c.events.empty()) bad.push_back("a state change was committed without its event");
  }
}

// Faults off; a human repairs what a rollback could not undo (drops it, marks it pending), finishes the
// rollbacks, then everything runs to the end, contract phases included.
void drain(World& w, std::vector<std::string>& bad) {
  w.db.failing.clear();
  w.db.aborts.clear();
  for (int round = 0; round < 12; ++round) {
    auto ex = make_executor(w);
    bool all_applied = true;
    for (const Plan& p : w.plans) {
      auto latest = *w.db.latest_run(p.id);
      if (latest && latest->status == RunStatus::rollback_incomplete) {
        for (const auto& r : steps_of(w, p.id)) {
          const Step* s = nullptr;
          for (const Step* x : p.steps())
            if (x->name == r.step) s = x;
          if (r.status == StepStatus::completed && s->down.empty() && !s->irreversible && effect_of(w, *s) >= 0) {
            w.model.apply(s->sql.rfind("CREATE TABLE", 0) == 0 ? "DROP TABLE " + s->sql.substr(13, s->sql.find(' ', 13) - 13) : "", w.db);
            (void)ex.mark_step(p, s->name, false, "dropped by hand");
          } else if (r.status == StepStatus::completed && s->down.empty() && !s->irreversible) {
            (void)ex.mark_step(p, s->name, false, "undone by hand");
          }
        }
        (void)ex.rollback_plan(p, "finish after the repair");
      }
      all_applied = all_applied && plan_status(p, steps_of(w, p.id), std::nullopt).steps_done == static_cast<int>(p.steps().size());
    }
    if (all_applied) return;
    (void)run_all(w, ex, std::nullopt);
    (void)run_all(w, ex, Phase::contract);
  }
  for (const Plan& p : w.plans) {
    auto st = plan_status(p, steps_of(w, p.id), *w.db.latest_run(p.id));
    if (st.steps_done != st.steps_total)
      bad.push_back("after the drain " + p.id + " is " + plan_state_name(st.state) + " with " + std::to_string(st.steps_done) + "/" +
                    std::to_string(st.steps_total) + " steps");
  }
}

std::vector<std::string> run_schedule(unsigned seed, std::vector<std::string>& log) {
  World w(seed);
  w.project.rollback.on_failure = w.chance(85) ? "rollback" : "pause";
  w.project.rollback.timeout = Millis(3'600'000);
  w.project.guards.lock_retries = 0;
  wire(w);
  for (long long k = 1; k <= 60; ++k) w.db.bf_keys.push_back(k);
  int n = 1 + w.pick(3);
  for (int i = 0; i < n; ++i) w.plans.push_back(generate_plan(w, i));
  std::vector<std::string> bad;
  int ops = 6 + w.pick(14);
  for (int i = 0; i < ops && bad.empty(); ++i) {
    Op op = do_op(w);
    log.push_back(op.name + (op.killed ? " -> killed" : " -> exit " + std::to_string(static_cast<int>(op.exit))));
    check_invariants(w, op, bad);
  }
  if (bad.empty()) {
    drain(w, bad);
    Op none;
    none.name = "drain";
    check_invariants(w, none, bad);
    for (const Plan& p : w.plans)
      for (const Step* s : p.steps())
        if (effect_of(w, *s) >= 0 && effect_of(w, *s) != 1) bad.push_back("after the drain " + p.id + "/" + s->name + " has effect " + std::to_string(effect_of(w, *s)));
  }
  return bad;
}
}  // namespace

TEST_SUITE("engine::lifecycle_random") {
  TEST_CASE("randomized fault schedules keep status = database") {
    const char* n_env = std::getenv("PHASEGATE_SEEDS");
    const char* s_env = std::getenv("PHASEGATE_SEED0");
    unsigned n = n_env ? static_cast<unsigned>(std::atoi(n_env)) : 1000;
    unsigned first = s_env ? static_cast<unsigned>(std::atoi(s_env)) : 1;
    int failures = 0;
    for (unsigned seed = first; seed < first + n && failures < 3; ++seed) {
      std::vector<std::string> log;
      auto bad = run_schedule(seed, log);
      if (!bad.empty()) {
        ++failures;
        std::string msg = "seed " + std::to_string(seed) + " (replay: PHASEGATE_SEED0=" + std::to_string(seed) +
                          " PHASEGATE_SEEDS=1 build/phasegate_unit -tc='randomized*')\n  ops: ";
        for (const auto& l : log) msg += l + "; ";
        msg += "\n  violated: ";
        for (const auto& b : bad) msg += b + "; ";
        FAIL_CHECK(msg);
      }
    }
    CHECK(failures == 0);
  }
}
