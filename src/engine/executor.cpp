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

void Executor::observe(const StateChange& change) {
  if (observer_)
    for (const auto& e : change.events) observer_(e);
}

namespace {
// What plans.status says after a run transition (a summary for readers of the table; `status` derives the
// plan's state from its steps and runs).
const char* plan_mark(RunStatus s) { return s == RunStatus::completed ? "applied" : run_status_name(s); }
}  // namespace

// The one writer of the run's state: the table's next state, the plan mark and the event, in one transaction.
Result<void> Executor::transition(Context& cx, RunTrigger on, const std::string& payload) {
  auto t = next_transition(cx.run.status, on);
  if (!t) return std::unexpected(t.error());
  RunRecord next = cx.run;
  next.status = t->to;
  StateChange c;
  c.run = next;
  c.run_was = cx.run.status;
  c.plan = StateChange::PlanMark{cx.plan.id, cx.digest, plan_mark(t->to)};
  c.add(Event{t->event, cx.run.id, cx.plan.id, cx.run.phase, "", payload, clock_.now()});
  if (auto r = store_.commit(c); !r) return r;
  cx.run = next;
  observe(c);
  return {};
}

// The step's record, created (pending) the first time the plan's run reaches it.
StepRecord& Executor::record_of(Context& cx, const Step& step) {
  auto& rec = cx.records[step.name];
  if (rec.step.empty()) {
    rec.plan_id = cx.plan.id;
    rec.step = step.name;
    rec.status = StepStatus::pending;
  }
  rec.phase = phase_name(step.phase);
  rec.ordinal = step.ordinal;
  return rec;
}

// The one writer of a step's state: the record after the table's transition and its event, not yet committed.
Result<StateChange> Executor::step_change(Context& cx, const Step& step, StepTrigger on, const std::string& payload) {
  StepRecord& rec = record_of(cx, step);
  auto next = step_after(rec, on);
  if (!next) return std::unexpected(next.error());
  const TimePoint now = clock_.now();
  if (next->status == StepStatus::completed) {
    next->finished_at = now;
    next->applied_by = actor_.label();
    next->checksum = step_checksum(step);
    next->down_checksum = step.down.empty() ? "" : sql::checksum(step.down);
  }
  if (on == StepTrigger::fail) next->error = nlohmann::json::parse(payload, nullptr, false).value("error", "");
  StateChange c;
  c.steps.push_back(*next);
  c.add(Event{next_step_transition(rec.status, on)->event, cx.run.id, cx.plan.id, phase_name(step.phase), step.name,
              payload, now});
  return c;
}

Result<void> Executor::step_to(Context& cx, const Step& step, StepTrigger on, const std::string& payload) {
  auto c = step_change(cx, step, on, payload);
  if (!c) return std::unexpected(c.error());
  if (auto r = store_.commit(*c); !r) return r;
  cx.records[step.name] = c->steps.front();
  observe(*c);
  return {};
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
  if (!cx.options.contract_held_by.empty())
    return "contract phases run in plan order, and plan " + cx.options.contract_held_by + "'s contract phase goes first";
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

std::string describe_blocker(const Blocker& b) {
  char age[32];
  std::snprintf(age, sizeof age, "%.1fs", b.transaction_age_s);
  std::string q = b.query.size() > 120 ? valid_utf8(b.query.substr(0, 117)) + "..." : b.query;
  return "pid " + std::to_string(b.pid) + " (user " + b.user + ", application '" + b.application + "', " + b.state +
         (b.transaction_age_s > 0 ? ", transaction open " + std::string(age) : "") + "): " + q;
}

json blockers_json(const std::vector<Blocker>& bs) {
  json out = json::array();
  for (const auto& b : bs)
    out.push_back({{"pid", b.pid}, {"user", b.user}, {"application", b.application}, {"state", b.state},
                   {"query", valid_utf8(b.query)}, {"transaction_age_s", b.transaction_age_s}});
  return out;
}

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

std::optional<Error> drift_error(const Plan& plan, const std::vector<StepRecord>& records, const std::string& doing) {
  auto drift = find_drift(plan, records);
  if (drift.empty()) return std::nullopt;
  std::vector<std::string> lines;
  for (const auto& d : drift) lines.push_back(d.describe(plan.id));
  return Error{Exit::invalid, "refusing to " + doing + ": " + join(lines, "; ")};
}

namespace {
// Which trigger an error of a phase means (SPEC §2.1): an operator's abort, a guard or a lock that said
// wait, or a failure.
RunTrigger trigger_for(const Error& e) {
  if (e.code == Exit::aborted) return RunTrigger::abort;
  if (e.code == Exit::interrupted) return RunTrigger::interrupt;
  if (e.code == Exit::blocked) return e.sqlstate == sqlstate::kLockNotAvailable ? RunTrigger::lock_exhausted : RunTrigger::guard_wait;
  return RunTrigger::fail;
}
}  // namespace


// What refuses a run of the plan before anything is touched (SPEC §5.1): a rollback left incomplete, lint errors
// in pending steps, an earlier phase (or an earlier plan's contract) still pending.
std::optional<Error> Executor::refusal(Context& cx, const std::optional<RunRecord>& latest) {
  const Plan& plan = cx.plan;
  if (latest && latest->status == RunStatus::rollback_incomplete)
    return Error{Exit::needs_human, "plan " + plan.id + ": the rollback of run " + std::to_string(latest->id) + " is incomplete (" +
                                        latest->error + "); undo what is left by hand, record it with phasegate mark " + plan.id +
                                        " STEP --pending --yes, then finish with phasegate rollback " + plan.id};
  std::vector<StepRecord> recs;
  for (const auto& [name, r] : cx.records) recs.push_back(r);
  if (auto lint = lint_pending(plan, recs)) return lint;
  if (!cx.options.phase) return std::nullopt;
  for (Phase p : kPhases) {
    if (p == *cx.options.phase) break;
    auto pending = pending_names(plan.phases[static_cast<int>(p)], cx.records);
    if (!pending.empty())
      return Error{Exit::invalid, "plan " + plan.id + ": phase " + phase_name(p) + " has pending steps (" + join(pending, ", ") +
                                      "); run --phase " + phase_name(p) + " first"};
  }
  if (*cx.options.phase == Phase::contract && !cx.options.contract_held_by.empty() && !phase_done(plan.phases[2], cx.records))
    return Error{Exit::invalid, "plan " + plan.id + ": contract phases run in plan order, and plan " + cx.options.contract_held_by +
                                    "'s contract phase is not done; run phasegate run " + cx.options.contract_held_by +
                                    " --phase contract first"};
  return std::nullopt;
}

// A new run (created, with run.created in the same transaction) or the open one, then start / resume — unless an
// abort was asked for while nobody drove it: that is honoured before anything is applied.
std::optional<PlanOutcome> Executor::begin_run(Context& cx, PlanOutcome& out, bool open) {
  if (!open) {
    RunRecord fresh;
    fresh.plan_id = cx.plan.id;
    fresh.digest = cx.digest;
    fresh.initiator = actor_.principal;
    fresh.release_commit = cx.options.release_commit;
    auto created = store_.create_run(fresh, actor_, Event{"run.created", 0, cx.plan.id, "", "",
                                                          json{{"digest", cx.digest}, {"release_commit", fresh.release_commit}}.dump(),
                                                          clock_.now()});
    if (!created) return refused(out, created.error());
    cx.run = *created;
    if (observer_) observer_(Event{"run.created", cx.run.id, cx.plan.id, "", "", "{}", clock_.now()});
  }
  out.run_id = cx.run.id;
  if (cx.run.status != RunStatus::created)
    if (auto aborted = abort_check(cx))
      return aborted->code == Exit::interrupted ? refused(out, *aborted) : after_failure(cx, out, *aborted, true);
  // Who approved (the quorum the run's gate counted): the postmortem names them (docs/report.md).
  json approved = json::array();
  for (const auto& a : cx.approved_by) approved.push_back({{"id", a.id}, {"principal", a.principal}});
  const std::string payload = cx.guards.approvals > 0 ? json{{"approved_by", approved}}.dump() : "{}";
  if (auto r = transition(cx, cx.run.status == RunStatus::created ? RunTrigger::start : RunTrigger::resume, payload); !r)
    return refused(out, r.error());
  return std::nullopt;
}

Executor::Context Executor::context_for(const Plan& plan, const RunOptions& options) {
  return Context{plan, options, merge_guards(project_.guards, plan.guards), plan_digest(plan), {}, {}, 0, {}, {}, {}, {}, false, false, {}, {}, {}, {}};
}

Result<std::vector<StepRecord>> Executor::load_records(Context& cx) {
  auto recs = store_.steps(cx.plan.id);
  if (recs)
    for (const auto& r : *recs) cx.records[r.step] = r;
  return recs;
}

PlanOutcome Executor::run_plan_once(const Plan& plan, const RunOptions& options) {
  PlanOutcome out;
  out.plan_id = plan.id;
  Context cx = context_for(plan, options);
  auto recs = load_records(cx);
  if (!recs) return refused(out, recs.error());
  auto latest = store_.latest_run(plan.id);
  if (!latest) return refused(out, latest.error());
  // The file must still say what was applied, before anything (a rollback too) acts on it.
  if (auto drift = drift_error(plan, *recs, "run")) return refused(out, *drift);
  // A rollback cut short is finished before anything else touches the plan.
  if (*latest && (*latest)->status == RunStatus::rolling_back) {
    cx.run = **latest;
    out.run_id = cx.run.id;
    PlanOutcome finished = resume_rollback(cx, out);
    // A failed or aborted run's rollback ends that run's story (exit 1 / 6 / 5); one asked for by hand was
    // only interrupted bookkeeping: once it is complete, this run applies the plan from the start.
    if (finished.exit != Exit::ok || cx.run.cause != "by_hand") return finished;
    return run_plan_once(plan, options);
  }
  if (auto no = refusal(cx, *latest)) {
    if (*latest) out.run_id = (*latest)->id;
    return refused(out, *no);
  }
  const bool open = *latest && is_open((*latest)->status);
  if (open) cx.run = **latest;
  if (!open && std::all_of(std::begin(plan.phases), std::end(plan.phases), [&](const PhaseSpec& p) { return phase_done(p, cx.records); })) {
    out.message = "plan " + plan.id + " is already applied";  // (an open run with every step done: its runner died at the end)
    return out;
  }
  if (options.phase && phase_done(plan.phases[static_cast<int>(*options.phase)], cx.records)) {
    auto unfinished = needs_finish(cx, plan.phases[static_cast<int>(*options.phase)]);
    if (!unfinished) return refused(out, unfinished.error());
    if (!*unfinished) {
      out.run_id = cx.run.id;
      out.status = cx.run.status;
      out.contract_waiting = open && cx.run.status == RunStatus::waiting;
      out.message = "plan " + plan.id + ": phase " + phase_name(*options.phase) + " is already applied; nothing to do";
      return out;
    }
  }
  if (auto g = guard_gate(cx, Gate::run); !g) {
    out.run_id = cx.run.id;
    out.status = cx.run.status;
    out.blocked_by = cx.blocked_by;
    if (g.error().code == Exit::aborted) return after_failure(cx, out, g.error(), true);
    return refused(out, g.error());  // nothing was created or changed
  }
  if (auto stopped = begin_run(cx, out, open)) return *stopped;
  return drive_phases(cx, out);
}

// The phases in order, then the run's end: completed, or waiting at the contract gate / after --phase.
PlanOutcome Executor::drive_phases(Context& cx, PlanOutcome out) {
  const Plan& plan = cx.plan;
  const auto& options = cx.options;
  for (Phase p : kPhases) {
    if (options.phase && p != *options.phase) continue;
    const auto& spec = plan.phases[static_cast<int>(p)];
    if (phase_done(spec, cx.records)) {
      auto unfinished = needs_finish(cx, spec);  // its restarts or smoke checks never ran
      if (!unfinished) return refused(out, unfinished.error());
      if (!*unfinished) continue;
    }
    cx.run.phase = phase_name(p);
    if (p == Phase::contract) {
      if (auto reason = contract_gate_closed(cx, spec)) {
        if (auto r = transition(cx, RunTrigger::gate_closed, reason_payload(*reason)); !r) return refused(out, r.error());
        out.status = cx.run.status;
        out.contract_waiting = true;
        out.message = "plan " + plan.id + ": expand and migrate applied; " + *reason;
        out.steps_applied = cx.applied;
        return out;
      }
    }
    if (auto r = guard_gate(cx, Gate::phase); !r) return stop_phase(cx, out, r.error());
    if (auto r = run_phase(cx, spec); !r) return stop_phase(cx, out, r.error());
  }
  out.steps_applied = cx.applied;
  if (std::all_of(std::begin(plan.phases), std::end(plan.phases), [&](const PhaseSpec& p) { return phase_done(p, cx.records); })) {
    if (auto r = transition(cx, RunTrigger::all_done, json{{"steps_applied", cx.applied}}.dump()); !r) return refused(out, r.error());
    out.status = RunStatus::completed;
    out.message = "plan " + plan.id + " applied (" + std::to_string(cx.applied) + " steps in this run)";
    return out;
  }
  std::string reason = "phase " + (options.phase ? std::string(phase_name(*options.phase)) : cx.run.phase) +
                       " finished; continue with phasegate run " + plan.id +
                       (options.phase ? " (without --phase, or with the next phase)" : "");
  if (auto r = transition(cx, RunTrigger::phase_limit, reason_payload(reason)); !r) return refused(out, r.error());
  out.status = cx.run.status;
  out.message = "plan " + plan.id + ": " + reason;
  return out;
}

// A phase stopped: a guard or lock says wait (the run is blocked, exit 75), an operator aborted, or something
// failed (the run rolls back per [rollback]).
PlanOutcome Executor::stop_phase(Context& cx, PlanOutcome out, const Error& given) {
  // A check, smoke or health query the signal cancelled (or a program it stopped) failed because of the
  // signal: the run stops resumable like any interrupted work, it is not rolled back for it.
  const Error e = given.code == Exit::failed && interrupted(cx) ? *interrupted(cx) : given;
  RunTrigger trig = trigger_for(e);
  out.steps_applied = cx.applied;
  if (trig == RunTrigger::abort || trig == RunTrigger::fail) return after_failure(cx, out, e, trig == RunTrigger::abort);
  if (e.code == Exit::blocked) out.blocked_by = e.sqlstate == sqlstate::kLockNotAvailable ? "lock" : cx.blocked_by;
  cx.run.error = e.message;
  if (auto r = transition(cx, trig, json{{"guard", out.blocked_by}, {"error", e.message}, {"sqlstate", e.sqlstate}}.dump()); !r) {
    out.exit = Exit::needs_human;
    out.message = e.message + "; recording that failed (" + r.error().message + "): the run stays " + run_status_name(cx.run.status);
    return out;
  }
  out.status = cx.run.status;
  out.exit = e.code;
  out.message = e.message;
  return out;
}

Result<void> Executor::run_phase(Context& cx, const PhaseSpec& spec) {
  std::string phase = phase_name(spec.phase);
  if (auto r = emit(cx, "phase.started", phase, "", json{{"steps", spec.steps.size()}}.dump()); !r) return r;
  crash("phase-start:" + phase);
  if (std::any_of(spec.steps.begin(), spec.steps.end(), [](const Step& s) { return s.command.empty(); }))
    announce(cx.run.id, cx.plan.id, phase, RunMoment::phase_started);  // SQL or a backfill: locks, load
  for (const auto& step : spec.steps) {
    if (cx.records[step.name].status == StepStatus::completed) continue;
    if (auto aborted = abort_check(cx)) return std::unexpected(*aborted);  // before the next step, always
    if (auto g = guard_gate(cx, Gate::step); !g) return g;  // finish-step / load: pause before this step
    if (auto r = run_step(cx, step); !r) {
      if (r.error().code != Exit::blocked && !stops_run(r.error()) && !interrupted(cx))
        (void)emit(cx, "phase.failed", phase, step.name, json{{"error", r.error().message}}.dump());
      return r;
    }
  }
  if (auto r = finish_phase(cx, spec); !r) {  // restarts, then smoke checks
    if (!stops_run(r.error()) && !interrupted(cx))
      (void)emit(cx, "phase.failed", phase, "", json{{"error", r.error().message}}.dump());
    return r;
  }
  return emit(cx, "phase.completed", phase, "");
}

Result<void> Executor::run_step(Context& cx, const Step& step) {
  std::string phase = phase_name(step.phase);
  auto& rec = record_of(cx, step);
  rec.checksum = step_checksum(step);
  Timeouts t{step.lock_timeout.value_or(cx.guards.lock_timeout), step.statement_timeout.value_or(cx.guards.statement_timeout)};
  crash("before-step:" + step.name);
  rec.attempts += 1;
  rec.run_id = cx.run.id;
  rec.started_at = clock_.now();
  auto fail_step = [&](const Error& e, const std::string& reason) -> Result<void> {
    if (auto stop = interrupted(cx)) return std::unexpected(*stop);  // cancelled by the signal: not the step's failure
    (void)step_to(cx, step, StepTrigger::fail, json{{"reason", reason}, {"error", e.message}, {"sqlstate", e.sqlstate}}.dump());
    return std::unexpected(e);
  };
  auto done = [&]() -> Result<void> {
    cx.applied += 1;
    crash("after-step:" + step.name);
    return {};
  };
  const std::string started = json{{"attempt", rec.attempts}, {"checksum", rec.checksum}}.dump();
  if (!step.check.empty()) {
    auto ok = target_.check(step.check, t);
    if (!ok) return fail_step(ok.error(), "check");
    if (!*ok)
      return fail_step(Error{Exit::failed, "plan " + cx.plan.id + ", step \"" + step.name +
                                               "\": check returned false, so the step did not run and nothing was changed. check: " +
                                               step.check},
                       "check");
  }
  if (step.backfill || !step.command.empty()) {
    // Work outside one transaction: intent first, so a process that dies from here on leaves `running`.
    if (auto r = step_to(cx, step, StepTrigger::intend, started); !r) return r;
    crash("after-intent:" + step.name);
    auto r = step.backfill ? run_backfill(cx, step, t) : run_command_step(cx, step, t);
    if (!r && r.error().code != Exit::blocked && !stops_run(r.error()))
      return fail_step(r.error(), step.backfill ? "backfill" : "command");
    if (!r) return r;  // paused or aborted: the step stays `running` (a backfill with its cursor) and resumes
    return done();
  }
  auto parsed = sql::parse(step.sql);
  if (!parsed.script) return fail(Exit::invalid, "step \"" + step.name + "\": " + parsed.error->message);
  const bool resuming = rec.status == StepStatus::running || rec.status == StepStatus::failed;  // part-done before
  bool in_tx = step.transaction.value_or(parsed.script->allowed_in_transaction());
  if (in_tx) {
    if (auto r = emit(cx, "step.started", phase, step.name, started); !r) return r;
  } else if (auto r = step_to(cx, step, StepTrigger::intend, started); !r) {
    return r;
  } else {
    crash("after-intent:" + step.name);
  }
  auto r = in_tx ? run_transactional(cx, step, t) : run_outside_transaction(cx, step, t, *parsed.script, resuming);
  if (!r && r.error().sqlstate == sqlstate::kQueryCanceled)  // cancelled: by `phasegate abort` (or a statement_timeout)
    if (auto aborted = abort_check(cx)) r = std::unexpected(*aborted);
  if (!r) {
    // Blocked or aborted: nothing of a transactional step was applied (it stays as it was); a non-transactional
    // one keeps its intent so the resume or the rollback reconciles (earlier statements may have run).
    if (r.error().code == Exit::blocked || stops_run(r.error())) return r;
    return fail_step(r.error(), "sql");
  }
  return done();
}

Result<void> Executor::with_lock_retries(Context& cx, const Step& step, const std::function<Result<void>()>& attempt,
                                         const char* timeout_name, std::optional<Millis> timeout) {
  // Seeded per process: runners against different databases must not retry in lockstep.
  std::minstd_rand jitter(std::random_device{}() ^ static_cast<unsigned>(cx.run.id * 7919 + step.ordinal));
  const std::string phase = phase_name(step.phase);
  bool cancelled = false;
  for (int n = 0;; ++n) {
    auto r = attempt();
    if (r || r.error().sqlstate != sqlstate::kLockNotAvailable) return r;
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
      for (const auto& b : blockers) who.push_back(describe_blocker(b));
      return fail(Exit::blocked, "plan " + cx.plan.id + ", step \"" + step.name + "\": " + timeout_name + " (" +
                                     format_duration(timeout.value_or(step.lock_timeout.value_or(cx.guards.lock_timeout))) + ") hit " +
                                     std::to_string(n + 1) + " times" +
                                     (who.empty() ? "" : "; blocked by " + join(who, "; ")) +
                                     "; nothing was applied. Retry later" +
                                     (cx.guards.cancel_blockers || cancelled ? "" : ", or set cancel_blockers = true"),
                  sqlstate::kLockNotAvailable);
    }
    // Exponential backoff with full jitter: uniform in [0, min(max, initial * 2^n)].
    long long cap = std::min<long long>(cx.guards.lock_retry_backoff.max.count(),
                                        cx.guards.lock_retry_backoff.initial.count() << std::min(n, 20));
    Millis wait(cap > 0 ? std::uniform_int_distribution<long long>(0, cap)(jitter) : 0);
    (void)emit(cx, "step.retrying", phase, step.name,
               json{{"attempt", n + 1}, {"wait_ms", wait.count()}, {"error", r.error().message},
                    {"blockers", blockers_json(blockers)}}.dump());
    clock_.sleep_for(wait);
    if (auto stop = interrupted(cx)) return std::unexpected(*stop);  // (shielded during a rollback's downs)
    // `phasegate abort` cancels a statement that runs; one that came during this backoff, when none ran, is
    // honoured here rather than after the last retry. A rollback's downs are never aborted.
    if (cx.run.status != RunStatus::rolling_back)
      if (auto aborted = abort_check(cx)) return std::unexpected(*aborted);
  }
}

Result<void> Executor::run_transactional(Context& cx, const Step& step, const Timeouts& t) {
  std::optional<StateChange> committed;
  auto r = with_lock_retries(cx, step, [&]() -> Result<void> {
    return target_.apply_atomically(step.sql, t, [&]() {
      auto ms = std::chrono::duration_cast<Millis>(clock_.now() - *cx.records[step.name].started_at).count();
      committed = step_change(cx, step, StepTrigger::apply, json{{"duration_ms", ms}, {"transaction", true}}.dump()).value();
      return *committed;
    });
  });
  if (!r) return r;
  cx.records[step.name] = committed->steps.front();
  observe(*committed);
  return {};
}

// CONCURRENTLY & co: the intent is recorded (running); each statement on its own, its progress committed after
// it (cursor {"statements_done": N}) so a resume starts after the statements that already ran — only the one a
// kill interrupted can run twice. CONCURRENTLY statements run through run_concurrent (executor_concurrent.cpp):
// their own lock timeout, an invalid index left by an earlier build dropped before each attempt (a valid one kept
// on resume), the older transactions they waited for reported.
Result<void> Executor::run_outside_transaction(Context& cx, const Step& step, const Timeouts& t, const sql::Script& script,
                                               bool resuming) {
  auto& rec = cx.records[step.name];
  size_t done = 0;
  if (resuming && !rec.cursor.empty()) {
    auto c = json::parse(rec.cursor, nullptr, false);
    if (c.is_object()) done = c.value("statements_done", size_t{0});
  }
  for (size_t i = done; i < script.statements.size(); ++i) {
    const auto& st = script.statements[i];
    const Timeouts ts = st.concurrently ? statement_timeouts(step, cx.guards, st) : t;
    auto r = st.concurrently ? run_concurrent(cx, step, st, ts, resuming)
                             : with_lock_retries(cx, step, [&]() -> Result<void> { return target_.apply_autocommit({st.text}, ts); });
    if (!r) {
      Error e = r.error();
      if (i > 0) {  // say what did run: this step cannot be "nothing was applied"
        const std::string ran = "the first " + std::to_string(i) + " of its " + std::to_string(script.statements.size()) +
                                " statements ran outside a transaction (the step stays running and resumes after them)";
        auto at = e.message.find("nothing was applied");
        e.message = at == std::string::npos ? e.message + "; " + ran : e.message.replace(at, 19, ran);
      }
      return std::unexpected(e);
    }
    if (i + 1 < script.statements.size()) {  // progress, not a state change: no event
      StepRecord moved = rec;
      moved.cursor = json{{"statements_done", i + 1}}.dump();
      StateChange c;
      c.steps.push_back(moved);
      if (auto w = store_.commit(c); !w) return w;
      rec.cursor = moved.cursor;
    }
  }
  auto ms = std::chrono::duration_cast<Millis>(clock_.now() - *rec.started_at).count();
  return step_to(cx, step, StepTrigger::finish, json{{"duration_ms", ms}, {"transaction", false}}.dump());
}

}  // namespace phasegate
