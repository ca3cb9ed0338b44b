// Drives one plan's run through the transition table: phases in order, steps in order, each step
// either atomically with its completion record or (CONCURRENTLY & co) with intent recorded first.
// Guard gates live in executor_guards.cpp, backfill batches in executor_backfill.cpp.
#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "engine/executor_context.hpp"
#include "phasegate/lint.hpp"
#include "phasegate/sql.hpp"
#include "phasegate/text.hpp"

namespace phasegate {

Executor::Executor(const Project& project, StateStore& store, Target& target, Clock& clock, Actor actor, CrashPoint crash)
    : project_(project), store_(store), target_(target), clock_(clock), actor_(std::move(actor)), crash_(std::move(crash)) {}

void Executor::crash(const std::string& point) {
  if (crash_) crash_(point);
}

Result<void> Executor::emit(Context& cx, const std::string& kind, const std::string& phase, const std::string& step,
                            const std::string& payload) {
  Event ev{kind, cx.run.id, cx.plan.id, phase, step, payload, clock_.now()};
  auto r = store_.append_event(ev);
  if (r && observer_) observer_(ev);
  return r;
}

Result<void> Executor::transition(Context& cx, RunTrigger on, const std::string& payload) {
  auto t = next_transition(cx.run.status, on);
  if (!t) return std::unexpected(t.error());
  cx.run.status = t->to;
  if (auto r = store_.update_run(cx.run); !r) return r;
  return emit(cx, t->event, cx.run.phase, "", payload);
}

namespace {
bool phase_done(const PhaseSpec& spec, const std::map<std::string, StepRecord>& records) {
  return std::all_of(spec.steps.begin(), spec.steps.end(), [&](const Step& s) {
    auto it = records.find(s.name);
    return it != records.end() && it->second.status == StepStatus::completed;
  });
}

std::vector<std::string> pending_names(const PhaseSpec& spec, const std::map<std::string, StepRecord>& records) {
  std::vector<std::string> out;
  for (const auto& s : spec.steps) {
    auto it = records.find(s.name);
    if (it == records.end() || it->second.status != StepStatus::completed) out.push_back(s.name);
  }
  return out;
}

std::string reason_payload(const std::string& reason) { return json{{"reason", reason}}.dump(); }
}  // namespace

std::optional<std::string> Executor::contract_gate_closed(Context& cx, const PhaseSpec& contract) {
  if (cx.options.phase == Phase::contract || contract.start == "auto") return std::nullopt;
  std::string how = "phasegate run " + cx.plan.id + " --phase contract";
  if (contract.start == "manual") return "the contract phase waits for a manual start: " + how;
  auto delay = parse_duration(contract.start.substr(6)).value_or(Millis(0));
  std::optional<TimePoint> last;
  for (const Step* s : cx.plan.steps()) {
    if (s->phase == Phase::contract) continue;
    const auto& rec = cx.records[s->name];
    if (rec.finished_at && (!last || *rec.finished_at > *last)) last = rec.finished_at;
  }
  if (last && clock_.now() >= *last + delay) return std::nullopt;
  return "the contract phase starts " + format_duration(delay) + " after migrate finished; to start it now: " + how;
}

namespace {
std::string describe(const Blocker& b) {
  char age[32];
  std::snprintf(age, sizeof age, "%.1fs", b.transaction_age_s);
  std::string q = b.query.size() > 120 ? b.query.substr(0, 117) + "..." : b.query;
  return "pid " + std::to_string(b.pid) + " (user " + b.user + ", application '" + b.application + "', " + b.state +
         (b.transaction_age_s > 0 ? ", transaction open " + std::string(age) : "") + "): " + q;
}

json blockers_json(const std::vector<Blocker>& bs) {
  json out = json::array();
  for (const auto& b : bs)
    out.push_back({{"pid", b.pid}, {"user", b.user}, {"application", b.application}, {"state", b.state},
                   {"query", b.query}, {"transaction_age_s", b.transaction_age_s}});
  return out;
}
}  // namespace

// The same analysis as `phasegate lint`: error-level findings in steps not yet applied refuse the run
// (exit 3) before anything is touched; applied steps never block later runs.
std::optional<Error> Executor::lint_pending(const Plan& plan, const std::vector<StepRecord>& records) {
  std::set<std::string> done;
  for (const auto& r : records)
    if (r.status == StepStatus::completed) done.insert(r.step);
  lint::Summary summary;
  std::vector<std::string> errors;
  for (const auto& f : lint::lint_units(lint::units_of_plan(plan), summary))
    if (f.level == "error" && !done.count(f.step)) errors.push_back(f.pos.str() + ": " + f.rule + ": " + f.message);
  if (errors.empty()) return std::nullopt;
  return Error{Exit::lint, "refusing to run plan " + plan.id + ": " + std::to_string(errors.size()) +
                               " lint error(s) in pending steps (fix them, or silence one with a comment line "
                               "'-- phasegate:ignore RULE reason' before the statement): " + join(errors, "; ")};
}

PlanOutcome Executor::run_plan(const Plan& plan, const RunOptions& options) {
  PlanOutcome out;
  out.plan_id = plan.id;
  auto failed = [&](const Error& e) {
    out.exit = e.code;
    out.message = e.message;
    return out;
  };
  auto recs = store_.steps(plan.id);
  if (!recs) return failed(recs.error());
  if (auto drift = find_drift(plan, *recs); !drift.empty()) {
    std::vector<std::string> lines;
    for (const auto& d : drift) lines.push_back(d.describe(plan.id));
    return failed(Error{Exit::invalid, "refusing to run: " + join(lines, "; ")});
  }
  if (auto refused = lint_pending(plan, *recs)) return failed(*refused);
  Context cx{plan, options, merge_guards(project_.guards, plan.guards), plan_digest(plan), {}, {}, 0, {}, {}, {}, {}};
  for (const auto& r : *recs) cx.records[r.step] = r;
  if (options.phase) {
    for (Phase p : kPhases) {
      if (p == *options.phase) break;
      auto pending = pending_names(plan.phases[static_cast<int>(p)], cx.records);
      if (!pending.empty())
        return failed(Error{Exit::invalid, "plan " + plan.id + ": phase " + phase_name(p) + " has pending steps (" +
                                               join(pending, ", ") + "); run --phase " + phase_name(p) + " first"});
    }
  }
  auto open = store_.open_run(plan.id);
  if (!open) return failed(open.error());
  bool all_done = std::all_of(std::begin(plan.phases), std::end(plan.phases),
                              [&](const PhaseSpec& p) { return phase_done(p, cx.records); });
  if (all_done && !*open) {  // an open run with every step done: the runner died after the last commit
    out.message = "plan " + plan.id + " is already applied";
    return out;
  }
  if (*open) cx.run = **open;
  if (auto g = guard_gate(cx, Gate::run); !g) {
    out.run_id = cx.run.id;
    out.status = cx.run.status;
    out.blocked_by = cx.blocked_by;
    return failed(g.error());  // nothing was created or changed
  }
  if (!*open) {
    auto created = store_.create_run(plan.id, cx.digest, actor_, options.release_commit);
    if (!created) return failed(created.error());
    cx.run = *created;
    if (cx.run.release_commit.empty()) cx.run.release_commit = options.release_commit;
    if (auto r = emit(cx, "run.created", "", "", json{{"digest", cx.digest}, {"release_commit", options.release_commit}}.dump()); !r)
      return failed(r.error());
  }
  out.run_id = cx.run.id;
  if (auto r = store_.mark_plan(plan.id, cx.digest, "running"); !r) return failed(r.error());
  if (auto r = transition(cx, cx.run.status == RunStatus::created ? RunTrigger::start : RunTrigger::resume); !r)
    return failed(r.error());

  for (Phase p : kPhases) {
    if (options.phase && p != *options.phase) continue;
    const auto& spec = plan.phases[static_cast<int>(p)];
    if (phase_done(spec, cx.records)) {
      auto unfinished = needs_finish(cx, spec);  // its restarts or smoke checks never ran
      if (!unfinished) return failed(unfinished.error());
      if (!*unfinished) continue;
    }
    cx.run.phase = phase_name(p);
    if (p == Phase::contract) {
      if (auto reason = contract_gate_closed(cx, spec)) {
        if (auto r = transition(cx, RunTrigger::gate_closed, reason_payload(*reason)); !r) return failed(r.error());
        out.status = cx.run.status;
        out.message = "plan " + plan.id + ": expand and migrate applied; " + *reason;
        out.steps_applied = cx.applied;
        return out;
      }
    }
    if (auto g = guard_gate(cx, Gate::phase); !g) {
      bool aborted = g.error().code == Exit::aborted;
      (void)transition(cx, aborted ? RunTrigger::abort : RunTrigger::guard_wait,
                       json{{"guard", cx.blocked_by}, {"reason", g.error().message}}.dump());
      if (aborted) return after_failure(cx, out, g.error(), true);
      out.status = cx.run.status;
      out.steps_applied = cx.applied;
      out.blocked_by = cx.blocked_by;
      return failed(g.error());
    }
    if (auto r = run_phase(cx, spec); !r) {
      Error e = r.error();
      RunTrigger trig = e.code == Exit::aborted   ? RunTrigger::abort
                        : e.code != Exit::blocked ? RunTrigger::step_failed
                        : e.sqlstate == "55P03"   ? RunTrigger::lock_exhausted
                                                  : RunTrigger::guard_wait;
      if (e.code == Exit::blocked) out.blocked_by = e.sqlstate == "55P03" ? "lock" : cx.blocked_by;
      cx.run.error = e.message;
      (void)transition(cx, trig, json{{"error", e.message}, {"sqlstate", e.sqlstate}}.dump());
      if (trig == RunTrigger::step_failed) (void)store_.mark_plan(plan.id, cx.digest, "failed");
      if (trig == RunTrigger::step_failed || trig == RunTrigger::abort)
        return after_failure(cx, out, e, trig == RunTrigger::abort);
      out.status = cx.run.status;
      out.steps_applied = cx.applied;
      return failed(e);
    }
  }
  out.steps_applied = cx.applied;
  bool all = std::all_of(std::begin(plan.phases), std::end(plan.phases), [&](const PhaseSpec& p) { return phase_done(p, cx.records); });
  if (all) {
    if (auto r = transition(cx, RunTrigger::all_done, json{{"steps_applied", cx.applied}}.dump()); !r) return failed(r.error());
    if (auto r = store_.mark_plan(plan.id, cx.digest, "applied"); !r) return failed(r.error());
    out.status = RunStatus::completed;
    out.message = "plan " + plan.id + " applied (" + std::to_string(cx.applied) + " steps in this run)";
  } else {
    std::string reason = "phase " + cx.run.phase + " finished; continue with phasegate run " + plan.id;
    if (auto r = transition(cx, RunTrigger::phase_limit, reason_payload(reason)); !r) return failed(r.error());
    out.status = cx.run.status;
    out.message = "plan " + plan.id + ": " + reason;
  }
  return out;
}

Result<void> Executor::run_phase(Context& cx, const PhaseSpec& spec) {
  std::string phase = phase_name(spec.phase);
  if (auto r = store_.update_run(cx.run); !r) return r;
  if (auto r = emit(cx, "phase.started", phase, "", json{{"steps", spec.steps.size()}}.dump()); !r) return r;
  crash("phase-start:" + phase);
  for (const auto& step : spec.steps) {
    if (cx.records[step.name].status == StepStatus::completed) continue;
    if (auto g = guard_gate(cx, Gate::step); !g) return g;  // finish-step / load: pause before this step
    if (auto r = run_step(cx, step); !r) {
      if (r.error().code != Exit::blocked && r.error().code != Exit::aborted)
        (void)emit(cx, "phase.failed", phase, step.name, json{{"error", r.error().message}}.dump());
      return r;
    }
  }
  if (auto r = finish_phase(cx, spec); !r) {  // restarts, then smoke checks
    if (r.error().code != Exit::aborted)
      (void)emit(cx, "phase.failed", phase, "", json{{"error", r.error().message}}.dump());
    return r;
  }
  return emit(cx, "phase.completed", phase, "");
}

Result<void> Executor::run_step(Context& cx, const Step& step) {
  std::string phase = phase_name(step.phase);
  auto& rec = cx.records[step.name];
  if (rec.step.empty()) rec = StepRecord{cx.plan.id, step.name, phase, step.ordinal, StepStatus::pending, 0, "", 0, "", {}, {}, "", ""};
  rec.checksum = step_checksum(step);
  Timeouts t{step.lock_timeout.value_or(cx.guards.lock_timeout), step.statement_timeout.value_or(cx.guards.statement_timeout)};
  crash("before-step:" + step.name);
  rec.attempts += 1;
  rec.run_id = cx.run.id;
  rec.started_at = clock_.now();
  if (auto r = emit(cx, "step.started", phase, step.name, json{{"attempt", rec.attempts}, {"checksum", rec.checksum}}.dump()); !r)
    return r;
  auto fail_step = [&](const Error& e, const std::string& reason) -> Result<void> {
    rec.status = StepStatus::failed;
    rec.error = e.message;
    (void)store_.save_step(rec);
    (void)emit(cx, "step.failed", phase, step.name, json{{"reason", reason}, {"error", e.message}, {"sqlstate", e.sqlstate}}.dump());
    return std::unexpected(e);
  };
  if (!step.check.empty()) {
    auto ok = target_.check(step.check, t);
    if (!ok) return fail_step(ok.error(), "check");
    if (!*ok)
      return fail_step(Error{Exit::failed, "plan " + cx.plan.id + ", step \"" + step.name +
                                               "\": check returned false, so the step did not run and nothing was changed. check: " +
                                               step.check},
                       "check");
  }
  if (step.backfill) {
    auto r = run_backfill(cx, step, t);
    if (!r && r.error().code != Exit::blocked && r.error().code != Exit::aborted) return fail_step(r.error(), "backfill");
    if (!r) return r;  // paused or aborted: the step stays `running` with its cursor and resumes from it
    cx.applied += 1;
    crash("after-step:" + step.name);
    return {};
  }
  if (!step.command.empty()) {
    if (auto r = run_command_step(cx, step, t); !r) return fail_step(r.error(), "command");
    cx.applied += 1;
    crash("after-step:" + step.name);
    return {};
  }
  auto parsed = sql::parse(step.sql);
  if (!parsed.script) return fail(Exit::invalid, "step \"" + step.name + "\": " + parsed.error->message);
  bool in_tx = step.transaction.value_or(parsed.script->allowed_in_transaction());
  auto r = in_tx ? run_transactional(cx, step, t) : run_outside_transaction(cx, step, t);
  if (!r && r.error().sqlstate == "57014")  // cancelled: by `phasegate abort` (or a statement_timeout)
    if (auto aborted = abort_check(cx)) r = std::unexpected(*aborted);
  if (!r) {
    if (r.error().code == Exit::blocked || r.error().code == Exit::aborted) {
      // Nothing of a transactional step was applied; a non-transactional one keeps its intent so the
      // resume reconciles (earlier statements of the step may have run).
      rec.status = in_tx ? StepStatus::pending : StepStatus::running;
      (void)store_.save_step(rec);
      return r;
    }
    return fail_step(r.error(), "sql");
  }
  cx.applied += 1;
  crash("after-step:" + step.name);
  return {};
}

Result<void> Executor::with_lock_retries(Context& cx, const Step& step, const std::function<Result<void>()>& attempt) {
  // Seeded per process: runners against different databases must not retry in lockstep.
  std::minstd_rand jitter(std::random_device{}() ^ static_cast<unsigned>(cx.run.id * 7919 + step.ordinal));
  const std::string phase = phase_name(step.phase);
  bool cancelled = false;
  for (int n = 0;; ++n) {
    auto r = attempt();
    if (r || r.error().sqlstate != "55P03") return r;
    auto blockers = target_.last_blockers();
    if (n >= cx.guards.lock_retries) {
      if (cx.guards.cancel_blockers && !cancelled && !blockers.empty()) {
        cancelled = true;  // once: then one more attempt
        std::vector<int> pids;
        for (const auto& b : blockers) pids.push_back(b.pid);
        auto sent = target_.cancel_backends(pids);
        (void)emit(cx, "step.retrying", phase, step.name,
                   json{{"attempt", n + 1}, {"reason", "cancel_blockers"}, {"blockers", blockers_json(blockers)},
                        {"cancelled", sent ? *sent : 0}, {"error", sent ? "" : sent.error().message}}.dump());
        clock_.sleep_for(Millis(100));  // the cancelled transactions roll back and release their locks
        continue;
      }
      std::vector<std::string> who;
      for (const auto& b : blockers) who.push_back(describe(b));
      return fail(Exit::blocked, "plan " + cx.plan.id + ", step \"" + step.name + "\": lock_timeout (" +
                                     format_duration(step.lock_timeout.value_or(cx.guards.lock_timeout)) + ") hit " +
                                     std::to_string(n + 1) + " times" +
                                     (who.empty() ? "" : "; blocked by " + join(who, "; ")) +
                                     "; nothing was applied. Retry later" +
                                     (cx.guards.cancel_blockers || cancelled ? "" : ", or set cancel_blockers = true"),
                  "55P03");
    }
    // Exponential backoff with full jitter: uniform in [0, min(max, initial * 2^n)].
    long long cap = std::min<long long>(cx.guards.lock_retry_backoff.max.count(),
                                        cx.guards.lock_retry_backoff.initial.count() << std::min(n, 20));
    Millis wait(cap > 0 ? std::uniform_int_distribution<long long>(0, cap)(jitter) : 0);
    (void)emit(cx, "step.retrying", phase, step.name,
               json{{"attempt", n + 1}, {"wait_ms", wait.count()}, {"error", r.error().message},
                    {"blockers", blockers_json(blockers)}}.dump());
    clock_.sleep_for(wait);
  }
}

Result<void> Executor::run_transactional(Context& cx, const Step& step, const Timeouts& t) {
  auto& rec = cx.records[step.name];
  std::optional<Event> committed;
  auto r = with_lock_retries(cx, step, [&]() -> Result<void> {
    StepRecord done = rec;
    return target_.apply_atomically(step.sql, t, [&]() {
      done.status = StepStatus::completed;
      done.finished_at = clock_.now();
      done.applied_by = actor_.label();
      done.error.clear();
      auto ms = std::chrono::duration_cast<Millis>(*done.finished_at - *rec.started_at).count();
      Event ev{"step.completed", cx.run.id, cx.plan.id, phase_name(step.phase), step.name,
               json{{"duration_ms", ms}, {"transaction", true}}.dump(), *done.finished_at};
      committed = ev;
      return Completion{done, ev};
    });
  });
  if (!r) return r;
  rec.status = StepStatus::completed;
  rec.finished_at = committed->at;
  rec.applied_by = actor_.label();
  rec.error.clear();
  if (observer_) observer_(*committed);
  return {};
}

Result<void> Executor::run_outside_transaction(Context& cx, const Step& step, const Timeouts& t) {
  auto& rec = cx.records[step.name];
  bool resuming = rec.status == StepStatus::running;
  rec.status = StepStatus::running;  // intent: a process that dies from here on leaves "running" behind
  if (auto r = store_.save_step(rec); !r) return r;
  crash("after-intent:" + step.name);
  auto parsed = sql::parse(step.sql);
  if (!parsed.script) return fail(Exit::invalid, "step \"" + step.name + "\": " + parsed.error->message);
  const std::vector<sql::Statement> statements = parsed.script->statements;
  for (const auto& st : statements) {
    auto r = with_lock_retries(cx, step, [&]() -> Result<void> {
      if (st.node == "IndexStmt" && st.concurrently && !st.index_name.empty()) {
        std::string qualified = (st.index_schema.empty() ? "" : sql::quote_ident(st.index_schema) + ".") + sql::quote_ident(st.index_name);
        auto state = target_.index_state(st.index_schema, st.index_name);
        if (!state) return std::unexpected(state.error());
        if (*state == IndexState::valid && resuming) return {};  // built before the process died
        if (*state == IndexState::invalid) {
          (void)emit(cx, "step.retrying", phase_name(step.phase), step.name,
                     json{{"reason", "dropping invalid index " + qualified + " left by an interrupted build"}}.dump());
          if (auto d = target_.apply_autocommit({"DROP INDEX CONCURRENTLY IF EXISTS " + qualified}, t); !d) return d;
        }
      }
      return target_.apply_autocommit({st.text}, t);
    });
    if (!r) return r;
  }
  rec.status = StepStatus::completed;
  rec.finished_at = clock_.now();
  rec.applied_by = actor_.label();
  rec.error.clear();
  if (auto r = store_.save_step(rec); !r) return r;
  auto ms = std::chrono::duration_cast<Millis>(*rec.finished_at - *rec.started_at).count();
  return emit(cx, "step.completed", phase_name(step.phase), step.name, json{{"duration_ms", ms}, {"transaction", false}}.dump());
}

}  // namespace phasegate
