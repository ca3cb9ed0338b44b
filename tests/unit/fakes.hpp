#pragma once
// In-memory fakes for every port the engine uses, so its behaviour under failure is testable without PostgreSQL.
#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>
#include <set>

#include "phasegate/engine.hpp"

namespace phasegate::test {

class FakeClock final : public Clock {
 public:
  TimePoint t = TimePoint(std::chrono::hours(24 * 365 * 56));
  std::vector<Millis> sleeps;
  TimePoint now() override { return t; }
  void sleep_for(Millis d) override {
    sleeps.push_back(d);
    t += d;
  }
};

// State and target in one: like the real database, a step's SQL and its completion record commit together.
class FakeDatabase final : public StateStore, public Target {
 public:
  std::map<std::string, StepRecord> steps_;  // key plan/step
  std::vector<RunRecord> runs_;
  std::vector<Event> events_;
  std::map<std::string, std::string> plans_;
  std::vector<std::string> executed;         // SQL that committed
  std::map<std::string, int> lock_timeouts;  // SQL -> how many attempts fail with 55P03
  std::set<std::string> failing;             // SQL that fails with an error
  std::set<std::string> cancelling;          // SQL whose statement gets cancelled (pg_cancel_backend)
  std::map<std::string, bool> checks;        // check SQL -> result
  std::map<std::string, IndexState> indexes;

  Result<void> ensure_schema() override { return {}; }
  Result<std::vector<StepRecord>> steps(const std::string& plan_id) override {
    if (auto u = up(); !u) return std::unexpected(u.error());
    std::vector<StepRecord> out;
    for (const auto& [k, s] : steps_)
      if (s.plan_id == plan_id) out.push_back(s);
    std::sort(out.begin(), out.end(), [](const StepRecord& a, const StepRecord& b) { return a.ordinal < b.ordinal; });
    return out;
  }
  Result<std::optional<RunRecord>> open_run(const std::string& plan_id) override {
    if (auto u = up(); !u) return std::unexpected(u.error());
    for (auto it = runs_.rbegin(); it != runs_.rend(); ++it)
      if (it->plan_id == plan_id && !is_terminal(it->status)) return std::optional<RunRecord>(*it);
    return std::optional<RunRecord>{};
  }
  Result<std::optional<RunRecord>> latest_run(const std::string& plan_id) override {
    if (auto u = up(); !u) return std::unexpected(u.error());
    for (auto it = runs_.rbegin(); it != runs_.rend(); ++it)
      if (it->plan_id == plan_id) return std::optional<RunRecord>(*it);
    return std::optional<RunRecord>{};
  }
  Result<RunRecord> create_run(const RunRecord& run, const Actor& a, Event created) override {
    RunRecord r = run;
    r.id = static_cast<int64_t>(runs_.size()) + 1;
    r.status = RunStatus::created;
    if (r.initiator.empty()) r.initiator = a.principal;
    created.run_id = r.id;
    StateChange c;
    c.add(created);
    if (auto f = before_commit(c); !f) return std::unexpected(f.error());
    runs_.push_back(r);
    events_.push_back(created);
    if (auto f = after_commit(c); !f) return std::unexpected(f.error());
    return r;
  }
  // One transaction: everything in it lands, or (a write that fails on demand, a kill before COMMIT) nothing.
  Result<void> commit(const StateChange& c) override {
    if (c.run && c.run_was && runs_[static_cast<size_t>(c.run->id - 1)].status != *c.run_was)
      return fail(Exit::blocked, "run " + std::to_string(c.run->id) + " changed under this command");
    if (c.smoke && (smoke_.count(c.smoke->name) ? smoke_[c.smoke->name].checks : 0) != c.smoke_checks_was)
      return fail(Exit::blocked, "the record of smoke check " + c.smoke->name + " changed under this process");
    if (auto f = before_commit(c); !f) return f;
    land(c);
    return after_commit(c);
  }
  Result<std::vector<KnownPlan>> known_plans() override {
    if (auto u = up(); !u) return std::unexpected(u.error());
    std::map<std::string, KnownPlan> by;
    for (const auto& [k, s] : steps_)
      if (s.status != StepStatus::pending) by[s.plan_id].plan_id = s.plan_id;
    for (auto& [id, kp] : by) kp.steps = *steps(id);
    std::vector<KnownPlan> out;
    for (auto& [id, kp] : by) out.push_back(kp);
    return out;
  }
  // The broadcast row and the continuous smoke checks' records (state schema v5).
  Broadcast broadcast_;
  std::map<std::string, SmokeRecord> smoke_;
  bool broadcast_fails = false;  // reading the broadcast fails (a run's announcement must not fail the run)
  Result<Broadcast> broadcast() override {
    if (auto u = up(); !u) return std::unexpected(u.error());
    if (broadcast_fails) return fail(Exit::failed, "injected: reading the broadcast failed", "08006");
    return broadcast_;
  }
  Result<void> save_step(const StepRecord& s) {  // for tests that set up a state by hand
    steps_[s.plan_id + "/" + s.step] = s;
    return {};
  }
  // Fault injection (leveldb's ErrorEnv / FaultInjectionTestEnv): commit number N (1-based) fails, or the
  // process "dies" (kill_before / kill_after throw) just before / just after commit N lands.
  int commits = 0;
  std::set<int> fail_commit;
  std::function<void(int)> kill_before, kill_after;
  std::vector<StateChange> committed;  // every transaction that landed, in order
  // A broken session (server restart, failover): commit N (1-based) in lose_before never lands, in
  // lose_after lands but its caller hears the connection broke (the outcome a real COMMIT leaves unknown);
  // from then on every call fails with 08006 until reconnect(), which works unless reconnect_refused.
  bool down = false;
  std::set<int> lose_before, lose_after;
  bool reconnect_refused = false;
  int reconnects = 0;
  bool connected() override { return !down; }
  bool run_moved = false;  // reclaim_run says another runner took the run over while we were disconnected
  Result<bool> reclaim_run(int64_t) override { return !run_moved; }
  Result<void> reconnect(Millis) override {
    if (reconnect_refused) return fail(Exit::unavailable, "injected: the server did not come back");
    down = false;
    ++reconnects;
    return {};
  }

  std::function<void(const std::string&)> on_check;  // called on every check (e.g. a signal arrives)
  Result<bool> check(const std::string& sql, const Timeouts&) override {
    if (auto u = up(); !u) return std::unexpected(u.error());
    if (on_check) on_check(sql);
    if (cancelling.count(sql)) return fail(Exit::failed, "canceling statement due to user request", "57014");
    return checks.count(sql) ? checks[sql] : true;
  }
  Result<void> apply_atomically(const std::string& sql, const Timeouts&, const std::function<StateChange()>& completion) override {
    if (auto r = attempt(sql); !r) return r;
    StateChange c = completion();
    if (auto f = before_commit(c); !f) return f;
    executed.push_back(sql);
    if (on_commit_sql) on_commit_sql(sql);
    land(c);
    return after_commit(c);
  }
  Result<void> apply_autocommit(const std::vector<std::string>& statements, const Timeouts&) override {
    for (const auto& s : statements) {
      if (auto r = attempt(s); !r) return r;
      executed.push_back(s);
      if (on_commit_sql) on_commit_sql(s);
    }
    return {};
  }
  Result<IndexState> index_state(const std::string&, const std::string& name) override {
    if (auto u = up(); !u) return std::unexpected(u.error());
    return indexes.count(name) ? indexes[name] : IndexState::absent;
  }
  std::vector<Blocker> last_blockers() override { return lock_timed_out ? blockers : std::vector<Blocker>{}; }
  Result<int> cancel_backends(const std::vector<int>& pids) override {
    cancelled.insert(cancelled.end(), pids.begin(), pids.end());
    if (cancel_frees_locks)
      for (auto& [sql, n] : lock_timeouts) n = 0;
    return static_cast<int>(pids.size());
  }
  // A backfill table: integer keys in order; each batch "updates" keys not in bf_skip and counts it.
  Result<BackfillTable> backfill_table(const std::string& table) override {
    if (auto u = up(); !u) return std::unexpected(u.error());
    if (table != "books") return fail(Exit::failed, "backfill table " + table + " does not exist");
    return BackfillTable{"public.books", {{"id", "bigint"}}, static_cast<long long>(bf_keys.size())};
  }
  Result<BatchResult> backfill_batch(const BatchSql& sql, const std::vector<std::string>& cursor, int limit, int64_t abort_of_run,
                                     const Timeouts&, const std::function<StateChange(const BatchResult&)>& record) override {
    // The abort is asked at BEGIN, as the real batch does: one requested while the batch runs is seen by the next.
    if (auto u = up(); !u) return std::unexpected(u.error());
    if (abort_of_run != 0 && aborts.count(abort_of_run)) return BatchResult{0, 0, {}, aborts[abort_of_run]};
    if (auto r = attempt("backfill"); !r) return std::unexpected(r.error());
    batch_sqls.push_back(sql.update);
    std::optional<long long> after;
    if (!cursor.empty()) after = std::stoll(cursor[0]);
    BatchResult b;
    std::vector<long long> touched;
    for (long long k : bf_keys) {
      if (after && k <= *after) continue;
      if (b.scanned == limit) break;
      ++b.scanned;
      b.last = {std::to_string(k)};
      if (!bf_skip.count(k)) {
        touched.push_back(k);
        ++b.updated;
      }
    }
    batch_limits.push_back(limit);
    StateChange c = record(b);
    if (crash_in_batch && crash_in_batch(static_cast<int>(batch_limits.size()))) throw std::runtime_error("killed mid-batch");
    if (auto f = before_commit(c); !f) return std::unexpected(f.error());
    for (long long k : touched) bf_updates[k] += 1;  // commit: rows and cursor together
    if (on_batch_commit) on_batch_commit(sql.update, touched);
    land(c);
    if (auto f = after_commit(c); !f) return std::unexpected(f.error());
    return b;
  }
  Result<std::string> abort_requested(int64_t run_id) override {
    if (auto u = up(); !u) return std::unexpected(u.error());
    return aborts.count(run_id) ? aborts[run_id] : std::string();
  }
  Result<bool> phase_completed(int64_t run_id, const std::string& phase) override {
    if (auto u = up(); !u) return std::unexpected(u.error());
    for (const auto& e : events_)
      if (e.run_id == run_id && e.phase == phase && e.kind == "phase.completed") return true;
    return false;
  }
  std::vector<long long> bf_keys;
  std::set<long long> bf_skip;
  std::map<long long, int> bf_updates;
  std::vector<long long> batch_limits;
  std::vector<std::string> batch_sqls;
  std::function<bool(int)> crash_in_batch;  // true: die before the batch commits
  std::map<int64_t, std::string> aborts;
  std::vector<Blocker> blockers;  // reported after a lock timeout
  std::vector<int> cancelled;
  bool cancel_frees_locks = true;
  bool lock_timed_out = false;
  std::function<void(const std::string&)> on_apply;  // called on every attempt (e.g. to advance a clock)
  std::function<void(const std::string&)> on_commit_sql;  // SQL whose effect landed (a model of the schema)
  std::function<void(const std::string&, const std::vector<long long>&)> on_batch_commit;  // a backfill batch landed: its SQL, the keys it updated
  std::vector<std::string> kinds() const {
    std::vector<std::string> out;
    for (const auto& e : events_) out.push_back(e.kind);
    return out;
  }

 private:
  Result<void> up() const {
    if (down) return fail(Exit::failed, "injected: lost the connection to the database", "08006");
    return {};
  }
  Result<void> before_commit(const StateChange&) {
    if (auto u = up(); !u) return u;
    ++commits;
    if (lose_before.count(commits)) down = true;
    if (auto u = up(); !u) return u;
    if (kill_before) kill_before(commits);
    if (fail_commit.count(commits)) return fail(Exit::failed, "injected: the state store write failed", "08006");
    return {};
  }
  void land(const StateChange& c) {
    if (c.run) runs_[static_cast<size_t>(c.run->id - 1)] = *c.run;
    for (const auto& st : c.steps) steps_[st.plan_id + "/" + st.step] = st;
    if (c.plan) plans_[c.plan->plan_id] = c.plan->state;
    for (const auto& e : c.events) events_.push_back(e);
    if (c.broadcast) {
      TimePoint since = c.broadcast->level == broadcast_.level && broadcast_.since ? *broadcast_.since
                        : c.events.empty()                                       ? TimePoint{}
                                                                                 : c.events.front().at;
      broadcast_ = *c.broadcast;
      broadcast_.since = since;
    }
    if (c.smoke) smoke_[c.smoke->name] = *c.smoke;
    committed.push_back(c);
  }
  Result<void> after_commit(const StateChange&) {
    if (kill_after) kill_after(commits);
    if (lose_after.count(commits)) down = true;
    return up();
  }
  Result<void> attempt(const std::string& sql) {
    if (auto u = up(); !u) return u;
    lock_timed_out = false;
    if (on_apply) on_apply(sql);
    if (lock_timeouts[sql] > 0) {
      lock_timed_out = true;
      --lock_timeouts[sql];
      return fail(Exit::failed, "canceling statement due to lock timeout", "55P03");
    }
    if (failing.count(sql)) return fail(Exit::failed, "boom", "XX000");
    if (cancelling.count(sql)) return fail(Exit::failed, "canceling statement due to user request", "57014");
    return {};
  }
};

// Guard facts on demand: a queue of load snapshots (the last one repeats), stored approvals, the target.
class FakeGuardProbe final : public GuardProbe {
 public:
  std::vector<LoadFacts> loads{LoadFacts{}};
  std::vector<ApprovalRecord> records;
  std::string target = "7000000000000000001/app";
  int load_calls = 0;
  Result<LoadFacts> load(bool, bool, const std::optional<std::string>&) override {
    auto i = std::min<size_t>(static_cast<size_t>(load_calls++), loads.size() - 1);
    return loads[i];
  }
  std::vector<HealthFacts> healths{HealthFacts{}};  // like loads: a queue, the last one repeats
  int health_calls = 0;
  std::string health_table;
  Result<HealthFacts> health(const std::string& table, bool, bool) override {
    health_table = table;
    auto i = std::min<size_t>(static_cast<size_t>(health_calls++), healths.size() - 1);
    return healths[i];
  }
  Result<std::vector<ApprovalRecord>> approvals(const std::string& plan_id) override {
    std::vector<ApprovalRecord> out;
    for (const auto& a : records)
      if (a.plan_id == plan_id) out.push_back(a);
    return out;
  }
  Result<std::string> target_id() override { return target; }
};

// Programs on demand: every call is recorded; `answers` maps argv[0] (or the whole argv joined by spaces)
// to a queue of results (the last one repeats); unknown programs exit 0.
class FakeRunner final : public ProcessRunner {
 public:
  std::vector<ProcessSpec> calls;
  std::map<std::string, std::vector<ProcessResult>> answers;
  std::map<std::string, size_t> used;
  std::function<void(const ProcessSpec&)> on_run;  // e.g. advance a clock
  Result<ProcessResult> run(const ProcessSpec& spec) override {
    calls.push_back(spec);
    if (on_run) on_run(spec);
    for (const std::string& key : {command_line(spec), spec.argv.at(0)}) {
      auto it = answers.find(key);
      if (it == answers.end() || it->second.empty()) continue;
      size_t i = std::min(used[key]++, it->second.size() - 1);
      return it->second[i];
    }
    ProcessResult ok;
    ok.exit_code = 0;
    return ok;
  }
  static std::string command_line(const ProcessSpec& spec) {
    std::string whole;
    for (const auto& a : spec.argv) whole += (whole.empty() ? "" : " ") + a;
    return whole;
  }
  std::vector<std::string> command_lines() const {  // every call's argv joined by spaces, in order
    std::vector<std::string> out;
    for (const auto& c : calls) out.push_back(command_line(c));
    return out;
  }
  static ProcessResult exited(int code, std::string err = "") {
    ProcessResult r;
    r.exit_code = code;
    r.err = std::move(err);
    return r;
  }
};

// HTTP on demand: url -> queue of statuses (the last repeats; 0 = connection refused).
class FakeHttp final : public HttpClient {
 public:
  std::map<std::string, std::vector<int>> statuses;
  std::map<std::string, size_t> used;
  std::vector<std::string> requests;
  Result<HttpResponse> get(const std::string& url, Millis) override {
    requests.push_back("GET " + url);
    auto& q = statuses[url];
    int st = q.empty() ? 200 : q[std::min(used[url]++, q.size() - 1)];
    if (st == 0) return fail(Exit::failed, "no response (Connection)");
    return HttpResponse{st, ""};
  }
  using HttpClient::post;
  Result<HttpResponse> post(const std::string& url, const std::string&, Millis t, const Headers&) override { return get(url, t); }
};

// One SQL step built in code.
inline Step sql_step(const std::string& name, Phase ph, int ordinal, std::string sql, std::string down) {
  Step s;
  s.name = name;
  s.phase = ph;
  s.ordinal = ordinal;
  s.sql = std::move(sql);
  s.down = std::move(down);
  return s;
}

// A plan built in code: each step is {phase, name, sql}.
inline Plan make_plan(const std::string& id, std::vector<std::tuple<Phase, std::string, std::string>> steps) {
  Plan p;
  p.id = id;
  p.file = "plans/" + id + ".toml";
  int ordinal = 0;
  for (Phase ph : kPhases) p.phases[static_cast<int>(ph)].phase = ph;
  for (auto& [ph, name, sql] : steps) {
    Step s;
    s.name = name;
    s.phase = ph;
    s.sql = sql;
    s.ordinal = ordinal++;
    p.phases[static_cast<int>(ph)].steps.push_back(s);
  }
  return p;
}

}  // namespace phasegate::test
