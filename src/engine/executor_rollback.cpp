// Rollback (SPEC §1.1 [rollback]): on a failed step, an unhealthy service, a failed smoke check or an abort,
// undo the run's applied steps (down SQL, newest first, under the same lock-timeout protection as the steps),
// revert the release commit on master, then restart the services so they run the reverted code — all
// within [rollback] timeout, every action an event, and a precise list of whatever could not be done.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "engine/executor_context.hpp"
#include "phasegate/interrupt.hpp"
#include "phasegate/lint.hpp"
#include "phasegate/sql.hpp"
#include "phasegate/text.hpp"

namespace phasegate {

namespace fs = std::filesystem;

namespace {
std::string seconds(Millis d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

std::string short_sha(const std::string& sha) { return sha.substr(0, 10); }

std::string said(const ProcessResult& r) {
  std::string words = trim(r.err.empty() ? r.out : r.err);
  if (words.size() > 400) words = valid_utf8(words.substr(0, 400)) + "...";
  return r.describe() + (words.empty() ? "" : ": " + words);
}

}  // namespace

std::string RollbackOutcome::summary() const {
  std::string s = complete ? "rolled back" : "ROLLBACK INCOMPLETE, a human must act";
  if (!undone.empty()) s += ". Done: " + join(undone, "; ");
  if (!notes.empty()) s += ". Left alone on purpose: " + join(notes, "; ");
  if (!left.empty()) s += ". STILL TO DO: " + join(left, "; ");
  std::vector<std::string> times;
  if (database_done) times.push_back("database undone " + seconds(*database_done));
  if (master_done) times.push_back("master reverted " + seconds(*master_done));
  if (services_done) times.push_back("services restarted " + seconds(*services_done));
  if (total) times.push_back("all done " + seconds(*total));
  if (!times.empty()) s += ". After the failure: " + join(times, ", ");
  return s;
}

// The contract phase is the point of no return (SPEC §5.1): once a contract step applied (or started), no
// rollback touches the plan.
std::optional<std::string> Executor::past_point_of_no_return(Context& cx) {
  // From the records, not the file: a contract step deleted from the file or moved to another phase since it
  // applied is still the point of no return.
  std::vector<const StepRecord*> recs;
  for (const auto& [name, rec] : cx.records) recs.push_back(&rec);
  std::sort(recs.begin(), recs.end(), [](const StepRecord* a, const StepRecord* b) { return a->ordinal < b->ordinal; });
  for (const StepRecord* rec : recs)
    if (rec->phase == "contract" && record_has_effect(*rec))
      return "plan " + cx.plan.id + " is past the point of no return: contract step \"" + rec->step + "\" is " +
             step_status_name(rec->status) + ", so nothing was rolled back (undoing the expand now would destroy "
             "data the contract moved). Fix forward: repair the cause and run phasegate run " + cx.plan.id + " --phase contract";
  return std::nullopt;
}

namespace {
Exit exit_of_rollback(bool complete, const std::string& cause) {
  if (!complete) return Exit::needs_human;
  if (cause == "aborted") return Exit::aborted;
  if (cause == "failed") return Exit::failed;
  return Exit::ok;
}
json ms_json(const std::optional<Millis>& d) { return d ? json(d->count()) : json(nullptr); }
}  // namespace

// The run is rolling_back (committed): undo, then record rollback.completed or rollback.failed with the
// final state in one transaction.
PlanOutcome Executor::roll_back(Context& cx, PlanOutcome out, const RollbackRequest& req) {
  InterruptShield finish_first;  // a signal to phasegate waits until the rollback is over (a second one kills)
  RollbackOutcome rb = rollback_in(cx, req);
  json payload{{"undone", rb.undone}, {"notes", rb.notes}, {"left", rb.left}, {"database_ms", ms_json(rb.database_done)},
               {"master_ms", ms_json(rb.master_done)}, {"services_ms", ms_json(rb.services_done)}, {"total_ms", ms_json(rb.total)}};
  if (!rb.complete) {
    const std::string base = cx.run.error.substr(0, cx.run.error.find("rollback left: "));
    cx.run.error = base + (base.empty() || base.ends_with("; ") ? "" : "; ") + "rollback left: " + join(rb.left, "; ");
  }
  if (auto r = transition(cx, rb.complete ? RunTrigger::rollback_done : RunTrigger::rollback_left, payload.dump()); !r) {
    out.exit = Exit::needs_human;
    out.message = "the rollback ran but its end could not be recorded (" + r.error().message + "): " + rb.summary();
    return out;
  }
  out.status = cx.run.status;
  out.exit = exit_of_rollback(rb.complete, cx.run.cause);
  out.message = (req.reason.empty() ? "" : req.reason + "\n") + rb.summary();
  return out;
}

// A rollback cut short (kill, server restart) is finished by the next command that touches the plan.
PlanOutcome Executor::resume_rollback(Context& cx, PlanOutcome out) {
  cx.abort_seen = true;
  if (auto r = transition(cx, RunTrigger::resume_rollback, json{{"cause", cx.run.cause}}.dump()); !r) {
    out.exit = Exit::needs_human;
    out.message = r.error().message;
    return out;
  }
  RollbackRequest req;
  req.reason = "plan " + cx.plan.id + ": run " + std::to_string(cx.run.id) + " was rolling back when it was cut short" +
               (cx.run.error.empty() ? "" : " (it " + std::string(cx.run.cause == "aborted" ? "was aborted" : "failed") + ": " + cx.run.error + ")") +
               "; the rollback was finished now";
  req.master = req.restart = cx.run.cause != "by_hand";
  return roll_back(cx, out, req);
}

PlanOutcome Executor::rollback_plan(const Plan& plan, const std::string& reason) {
  PlanOutcome out;
  out.plan_id = plan.id;
  Context cx = context_for(plan, RunOptions{});
  cx.abort_seen = true;
  auto recs = load_records(cx);
  if (!recs) return refused(out, recs.error());
  auto latest = store_.latest_run(plan.id);
  if (!latest) return refused(out, latest.error());
  // The downs come from the file: it must still describe what was applied (a step removed, moved or edited
  // since would be skipped or undone with the wrong down). Restore it first.
  if (auto drift = drift_error(plan, *recs, "roll back")) return refused(out, *drift);
  if (*latest && (*latest)->status == RunStatus::rolling_back) {
    cx.run = **latest;
    out.run_id = cx.run.id;
    PlanOutcome finished = resume_rollback(cx, out);
    // What the operator asked for is done once the rollback is complete, whatever made the run roll back.
    if (finished.exit == Exit::failed || finished.exit == Exit::aborted) finished.exit = Exit::ok;
    return finished;
  }
  if (auto past = past_point_of_no_return(cx)) {
    out.exit = Exit::needs_human;
    out.message = *past;
    return out;
  }
  const bool any = std::any_of(cx.records.begin(), cx.records.end(), [](const auto& kv) { return step_may_have_effect(kv.second.status); });
  const bool incomplete = *latest && (*latest)->status == RunStatus::rollback_incomplete;
  if (!any && !incomplete) {
    out.message = "plan " + plan.id + " has no applied steps; nothing to roll back";
    return out;
  }
  if (*latest && (incomplete || is_open((*latest)->status))) {
    cx.run = **latest;  // the operator takes over the open run, or finishes the incomplete rollback
  } else {
    RunRecord fresh;
    fresh.plan_id = plan.id;
    fresh.digest = cx.digest;
    fresh.initiator = actor_.principal;
    auto created = store_.create_run(fresh, actor_, Event{"run.created", 0, plan.id, "", "", json{{"for", "rollback"}}.dump(), clock_.now()});
    if (!created) return refused(out, created.error());
    cx.run = *created;
  }
  out.run_id = cx.run.id;
  if (!incomplete) cx.run.cause = "by_hand";
  std::vector<std::string> names;
  for (const Step* s : plan.steps())
    if (step_may_have_effect(cx.records[s->name].status)) names.push_back(s->name);
  if (auto r = transition(cx, RunTrigger::rollback, json{{"reason", reason}, {"cause", cx.run.cause}, {"steps", names}}.dump()); !r) {
    out.exit = Exit::needs_human;
    out.message = r.error().message;
    return out;
  }
  RollbackRequest req;
  req.reason = reason;
  req.announced = true;
  req.master = req.restart = cx.run.cause != "by_hand";  // by hand: the operator decides about code
  PlanOutcome done = roll_back(cx, out, req);
  // What the operator asked for is done once the rollback is complete, whatever made the run roll back.
  if (done.exit == Exit::failed || done.exit == Exit::aborted) done.exit = Exit::ok;
  return done;
}

PlanOutcome Executor::abort_run(const Plan& plan, const RunRecord& run, const std::string& by) {
  PlanOutcome out;
  out.plan_id = plan.id;
  out.run_id = run.id;
  Context cx = context_for(plan, RunOptions{});
  cx.run = run;
  auto recs = load_records(cx);
  if (!recs) return refused(out, recs.error());
  if (auto drift = drift_error(plan, *recs, "abort and roll back")) {
    out.exit = drift->code;
    out.message = drift->message + " (the abort was not recorded)";
    return out;
  }
  if (run.status == RunStatus::rolling_back) return resume_rollback(cx, out);
  return after_failure(cx, out, Error{Exit::aborted, "plan " + plan.id + ": run " + std::to_string(run.id) + " aborted by " + by}, true);
}

Result<void> Executor::mark_step(const Plan& plan, const std::string& step, bool applied, const std::string& reason) {
  const Step* found = nullptr;
  for (const Step* s : plan.steps())
    if (s->name == step) found = s;
  if (!found) return fail(Exit::invalid, "plan " + plan.id + " has no step \"" + step + "\"");
  Context cx = context_for(plan, RunOptions{});
  cx.abort_seen = true;
  if (auto recs = load_records(cx); !recs) return std::unexpected(recs.error());
  auto latest = store_.latest_run(plan.id);
  if (!latest) return std::unexpected(latest.error());
  if (*latest) cx.run = **latest;
  auto& rec = record_of(cx, *found);
  StepStatus want = applied ? StepStatus::completed : StepStatus::pending;
  if (rec.status == want) return fail(Exit::invalid, "step \"" + step + "\" of plan " + plan.id + " is already " + step_status_name(want));
  rec.checksum = step_checksum(*found);
  return step_to(cx, *found, applied ? StepTrigger::mark_applied : StepTrigger::mark_pending,
                 json{{"was", step_status_name(rec.status)}, {"now", step_status_name(want)}, {"reason", reason}, {"by", actor_.label()}}.dump());
}

RollbackOutcome Executor::rollback_in(Context& cx, const RollbackRequest& req) {
  RollbackOutcome out;
  const TimePoint start = clock_.now();
  const TimePoint origin = req.failed_at.value_or(start);
  const TimePoint deadline = start + project_.rollback.timeout;
  auto since = [&] { return std::chrono::duration_cast<Millis>(clock_.now() - origin); };
  auto late = [&](const std::string& what) {
    if (clock_.now() < deadline) return false;
    out.left.push_back(what + ": not attempted, the rollback timeout (" + format_duration(project_.rollback.timeout) + ") passed");
    return true;
  };

  // What to undo, newest first: every step of the plan whose effect may be in the database.
  std::vector<const Step*> todo;
  auto steps = cx.plan.steps();
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    auto rec = cx.records.find((*it)->name);
    if (rec != cx.records.end() && step_may_have_effect(rec->second.status)) todo.push_back(*it);
  }
  std::vector<std::string> services;
  if (req.restart) {
    auto reached = parse_phase(cx.run.phase);
    for (Phase p : kPhases) {
      if (!reached || p > *reached) break;
      for (const auto& name : cx.plan.phases[static_cast<int>(p)].restart)
        if (std::find(services.begin(), services.end(), name) == services.end()) services.push_back(name);
    }
  }
  const MasterRollback* master = req.master && project_.rollback.master ? &*project_.rollback.master : nullptr;
  std::vector<std::string> names;
  for (const Step* s : todo) names.push_back(s->name);
  if (!req.announced)
    (void)emit(cx, "rollback.started", cx.run.phase, "",
             json{{"reason", req.reason}, {"cause", cx.run.cause}, {"steps", names}, {"master", master ? master->kind : ""},
                  {"release_commit", cx.run.release_commit}, {"services", services},
                  {"timeout_ms", project_.rollback.timeout.count()}}.dump());

  // 1. The database, newest step first. A step that cannot be undone stops the database part: older steps
  //    may be needed by the newer one that is still there.
  bool stopped = false;
  for (const Step* s : todo) {
    if (stopped) {
      out.left.push_back("step \"" + s->name + "\": still " + step_status_name(cx.records[s->name].status) +
                         " (not attempted after the step above)");
      continue;
    }
    if (late("step \"" + s->name + "\" (down)") || !undo_step(cx, *s, deadline, out)) stopped = true;
  }
  if (!todo.empty()) out.database_done = since();

  // 2. Master: revert the release commit so the next deploy does not ship code that needs what was undone.
  if (master) {
    const std::string& commit = cx.run.release_commit;
    if (commit.empty()) {
      out.notes.push_back("master: no release commit known (plan release_commit, --release-commit or PHASEGATE_RELEASE_COMMIT), so it was not touched");
      (void)emit(cx, "rollback.step", cx.run.phase, "", json{{"action", "master"}, {"ok", false}, {"skipped", true},
                                                               {"reason", "no release commit known"}}.dump());
    } else if (!late("master (revert " + commit + ")") && revert_master(cx, commit, deadline, out)) {
      out.master_done = since();
    }
  }

  // 3. The services, so they run the reverted code.
  bool restarted_all = true;
  for (const auto& name : services) {
    if (late("service " + name + " (restart)")) {
      restarted_all = false;
      continue;
    }
    auto r = restart_service(cx, cx.run.phase, name, deadline);
    if (r) {
      out.undone.push_back("restarted " + name);
    } else {
      restarted_all = false;
      out.left.push_back("service " + name + ": " + r.error().message);
    }
    (void)emit(cx, "rollback.step", cx.run.phase, "", json{{"action", "restart"}, {"service", name}, {"ok", bool(r)},
                                                             {"error", r ? "" : r.error().message}}.dump());
  }
  if (!services.empty() && restarted_all) out.services_done = since();
  out.total = since();
  out.complete = out.left.empty();
  return out;
}

// Undoes one step (its down, under lock-timeout retries), or passes it when there is nothing to undo; either
// way the step is pending again, committed with its rollback.step event. false: it stays, the rollback stops.
bool Executor::undo_step(Context& cx, const Step& s, TimePoint deadline, RollbackOutcome& out) {
  const std::string phase = phase_name(s.phase);
  const StepRecord rec = cx.records[s.name];
  auto pass = [&](const std::string& reason, bool note) {
    auto r = step_to(cx, s, StepTrigger::no_undo, json{{"action", "down"}, {"ok", true}, {"skipped", true}, {"reason", reason}}.dump());
    if (!r) {
      out.left.push_back("step \"" + s.name + "\": " + r.error().message);
      return false;
    }
    if (note) out.notes.push_back("step \"" + s.name + "\": " + reason);
    return true;
  };
  if (!record_has_effect(rec))
    return pass("it stopped inside its own transaction; nothing of it is in the database", false);
  if ((rec.status == StepStatus::running || rec.status == StepStatus::failed) && !s.sql.empty()) {
    // A CREATE INDEX CONCURRENTLY that did not finish left an invalid index: dropped here; a step of nothing but
    // such builds has then nothing else to undo (and its down need not run).
    auto left_ms = std::max(std::chrono::duration_cast<Millis>(deadline - clock_.now()), Millis(1));
    auto dropped = drop_invalid_indexes(cx, s, Timeouts{cx.guards.lock_timeout, left_ms});
    if (!dropped) {
      out.left.push_back("step \"" + s.name + "\": dropping its invalid index failed (" + dropped.error().message + ")");
      return false;
    }
    if (*dropped) return pass("its index build did not finish; the invalid index it left (if any) was dropped", true);
  }
  std::vector<const Step*> older;
  for (const Step* o : cx.plan.steps())
    if (o->ordinal < s.ordinal && step_may_have_effect(cx.records[o->name].status)) older.push_back(o);
  if (auto why = lint::why_no_undo(s, older)) return pass(*why, true);
  if (s.down.empty()) {
    if (s.irreversible) return pass("irreversible = true: its effect stays, and a re-run applies it again", true);
    out.left.push_back("step \"" + s.name + "\" has no down and stays " + step_status_name(rec.status) +
                       "; undo it by hand, then phasegate mark " + cx.plan.id + " \"" + s.name +
                       "\" --pending --yes and phasegate rollback " + cx.plan.id + " to finish");
    (void)emit(cx, "rollback.step", phase, s.name, json{{"action", "down"}, {"ok", false}, {"skipped", true}, {"reason", "no down"}}.dump());
    return false;
  }
  crash("rollback-before-down:" + s.name);
  auto left_ms = std::chrono::duration_cast<Millis>(deadline - clock_.now());
  Timeouts t{s.lock_timeout.value_or(cx.guards.lock_timeout),
             std::min(s.statement_timeout.value_or(cx.guards.statement_timeout), std::max(left_ms, Millis(1)))};
  const TimePoint began = clock_.now();
  auto payload = [&] {
    return json{{"action", "down"}, {"ok", true}, {"duration_ms", std::chrono::duration_cast<Millis>(clock_.now() - began).count()}}.dump();
  };
  auto parsed = sql::parse(s.down);
  Result<void> r;
  if (!parsed.script) {
    r = fail(Exit::invalid, parsed.error->message);
  } else if (parsed.script->allowed_in_transaction()) {
    std::optional<StateChange> committed;
    r = with_lock_retries(cx, s, [&]() -> Result<void> {
      return target_.apply_atomically(s.down, t, [&]() {
        committed = step_change(cx, s, StepTrigger::undone, payload()).value();
        return *committed;
      });
    });
    if (r) {
      cx.records[s.name] = committed->steps.front();
      observe(*committed);
    }
  } else {
    r = step_to(cx, s, StepTrigger::undo_begin, json{{"action", "down"}, {"begin", true}}.dump());
    for (size_t i = 0; r && i < parsed.script->statements.size(); ++i) {
      const auto& st = parsed.script->statements[i];
      Timeouts ts = st.concurrently ? statement_timeouts(s, cx.guards, st) : t;  // DROP INDEX CONCURRENTLY waits too
      ts.statement_timeout = std::min(ts.statement_timeout, t.statement_timeout);
      ts.lock_timeout = st.concurrently && ts.lock_timeout > ts.statement_timeout ? ts.statement_timeout : ts.lock_timeout;
      r = with_lock_retries(cx, s, [&]() -> Result<void> { return target_.apply_autocommit({st.text}, ts); });
    }
    if (r) r = step_to(cx, s, StepTrigger::undone, payload());
  }
  if (!r) {
    out.left.push_back("step \"" + s.name + "\": its down failed (" + r.error().message + "); it stays " +
                       step_status_name(cx.records[s.name].status));
    (void)emit(cx, "rollback.step", phase, s.name, json{{"action", "down"}, {"ok", false}, {"error", r.error().message},
                                                          {"sqlstate", r.error().sqlstate}}.dump());
    return false;
  }
  crash("rollback-after-down:" + s.name);
  out.undone.push_back("undid step \"" + s.name + "\"");
  return true;
}

// [rollback] master. git kind: in a temporary worktree of `repo` (the operator's checkout is never touched),
// `git revert --no-edit [-m 1]` of the release commit on top of remote/branch, pushed to the remote; a push
// that loses a race is retried from a fresh fetch. command kind: run the hook.
bool Executor::revert_master(Context& cx, const std::string& commit, TimePoint deadline, RollbackOutcome& out) {
  const MasterRollback& m = *project_.rollback.master;
  const std::string phase = cx.run.phase;
  auto left_ms = [&] { return std::clamp(std::chrono::duration_cast<Millis>(deadline - clock_.now()), Millis(1000), Millis(120'000)); };
  auto event = [&](bool ok, const std::string& what, json extra = json::object()) {
    extra["action"] = "master";
    extra["ok"] = ok;
    extra["kind"] = m.kind;
    extra["release_commit"] = commit;
    extra[ok ? "result" : "error"] = what;
    (void)emit(cx, "rollback.step", phase, "", extra.dump());
  };
  auto failed = [&](const std::string& why) {
    out.left.push_back("master: " + why + "; revert " + commit + " on " +
                       (m.kind == "git" ? m.remote + "/" + m.branch : std::string("master")) + " by hand");
    event(false, why);
    return false;
  };
  if (!runner_) return failed("no process runner (a bug)");
  if (m.kind == "command") {
    auto r = runner_->run(hook(cx, m.command, "rollback.master", phase, "", left_ms()));
    if (!r) return failed(join(m.command, " ") + ": " + r.error().message);
    if (!r->ok()) return failed(join(m.command, " ") + " " + said(*r));
    out.undone.push_back("master rolled back by " + join(m.command, " "));
    event(true, "ran " + join(m.command, " "), json{{"stdout", trim(r->out)}});
    return true;
  }
  fs::path repo = fs::path(m.repo).is_absolute() ? fs::path(m.repo) : fs::path(project_.root) / m.repo;
  auto git = [&](std::vector<std::string> args, const std::string& dir) {
    std::vector<std::string> argv{"git", "-C", dir};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessSpec spec = hook(cx, argv, "rollback.master", phase, "", left_ms());
    spec.env.push_back({"GIT_TERMINAL_PROMPT", "0"});
    return runner_->run(spec);
  };
  const std::string dir = repo.string();
  auto ok = [](const Result<ProcessResult>& r) { return r && r->ok(); };
  auto why = [](const Result<ProcessResult>& r) { return r ? said(*r) : r.error().message; };
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto fetched = git({"fetch", "--quiet", m.remote, m.branch}, dir);
    if (!ok(fetched)) return failed("git fetch " + m.remote + " " + m.branch + " in " + dir + " failed (" + why(fetched) + ")");
    auto tip = git({"rev-parse", "--verify", "FETCH_HEAD^{commit}"}, dir);
    auto full = git({"rev-parse", "--verify", "--quiet", commit + "^{commit}"}, dir);
    if (!ok(tip)) return failed("git rev-parse FETCH_HEAD failed (" + why(tip) + ")");
    if (!ok(full)) return failed("the release commit " + commit + " is not in " + dir);
    const std::string head = trim(tip->out), sha = trim(full->out);
    auto ancestor = git({"merge-base", "--is-ancestor", sha, head}, dir);
    if (ancestor && ancestor->exit_code == 1) {
      out.notes.push_back("master: release commit " + short_sha(sha) + " is not on " + m.remote + "/" + m.branch + "; nothing to revert");
      event(true, "not on the branch; nothing to revert");
      return true;
    }
    if (!ok(ancestor)) return failed("git merge-base failed (" + why(ancestor) + ")");
    auto reverted = git({"log", "--format=%H", "--grep=This reverts commit " + sha, sha + ".." + head}, dir);
    if (ok(reverted) && !trim(reverted->out).empty()) {
      std::string by = trim(reverted->out).substr(0, 40);
      out.undone.push_back("master: " + short_sha(sha) + " was already reverted on " + m.remote + "/" + m.branch + " by " + short_sha(by));
      event(true, "already reverted", json{{"revert_commit", by}});
      return true;
    }
    auto parents = git({"rev-list", "--parents", "-n", "1", sha}, dir);
    if (!ok(parents)) return failed("git rev-list failed (" + why(parents) + ")");
    bool merge = std::count(parents->out.begin(), parents->out.end(), ' ') >= 2;
    auto stamp = std::chrono::duration_cast<Millis>(clock_.now().time_since_epoch()).count();
    const std::string wt = (fs::temp_directory_path() / ("phasegate-revert-" + std::to_string(cx.run.id) + "-" +
                                                         std::to_string(stamp) + "-" + std::to_string(attempt))).string();
    auto added = git({"worktree", "add", "--quiet", "--detach", wt, head}, dir);
    if (!ok(added)) return failed("git worktree add failed (" + why(added) + ")");
    std::vector<std::string> args;
    if (!ok(git({"config", "user.email"}, dir))) args = {"-c", "user.name=phasegate", "-c", "user.email=phasegate@localhost"};
    args.insert(args.end(), {"revert", "--no-edit"});
    if (merge) args.insert(args.end(), {"-m", "1"});
    args.push_back(sha);
    auto revert = git(args, wt);
    Result<ProcessResult> pushed = fail(Exit::failed, "not pushed");
    std::string revert_sha;
    if (ok(revert)) {
      auto h = git({"rev-parse", "HEAD"}, wt);
      revert_sha = h ? trim(h->out) : "";
      pushed = git({"push", "--quiet", m.remote, "HEAD:refs/heads/" + m.branch}, wt);
    } else {
      (void)git({"revert", "--abort"}, wt);
    }
    (void)git({"worktree", "remove", "--force", wt}, dir);
    if (!ok(revert))
      return failed("git revert " + std::string(merge ? "-m 1 " : "") + short_sha(sha) + " did not apply on " + m.remote + "/" +
                    m.branch + " (" + why(revert) + ")");
    if (ok(pushed)) {
      out.undone.push_back("master: reverted " + short_sha(sha) + (merge ? " (a merge, -m 1)" : "") + " on " + m.remote + "/" +
                           m.branch + " with " + short_sha(revert_sha));
      event(true, "reverted", json{{"revert_commit", revert_sha}, {"merge", merge}, {"attempt", attempt}});
      return true;
    }
    std::string err = why(pushed);
    bool raced = err.find("rejected") != std::string::npos || err.find("fetch first") != std::string::npos ||
                 err.find("non-fast-forward") != std::string::npos;
    if (!raced || attempt == 3) return failed("git push " + m.remote + " " + m.branch + " failed (" + err + ")");
  }
  return false;
}

// A step failed, a service stayed unhealthy, a smoke check failed, or an operator aborted: the run fails
// (or is aborted) and rolls back per [rollback] in the same machine — or holds everything for a human with
// on_failure = "pause", or once the plan is past the point of no return.
PlanOutcome Executor::after_failure(Context& cx, PlanOutcome out, const Error& e, bool aborted) {
  RollbackRequest req;
  req.failed_at = clock_.now();
  req.reason = e.message;
  out.steps_applied = cx.applied;
  const auto past = past_point_of_no_return(cx);
  const bool pause = project_.rollback.on_failure == "pause";
  const bool hold = pause || past.has_value();
  cx.abort_seen = cx.abort_seen || aborted;
  cx.run.error = e.message;
  cx.run.cause = aborted ? "aborted" : "failed";
  RunTrigger trig = aborted ? (hold ? RunTrigger::abort_hold : RunTrigger::abort) : (hold ? RunTrigger::fail_hold : RunTrigger::fail);
  if (auto r = transition(cx, trig, json{{"error", e.message}, {"sqlstate", e.sqlstate}, {"rollback", !hold}}.dump()); !r) {
    out.exit = Exit::needs_human;  // nothing was rolled back: never report 1 or 6 here
    out.message = e.message + "; recording it failed (" + r.error().message + "), so nothing was rolled back; the run stays " +
                  run_status_name(cx.run.status) + " and the next command that touches plan " + cx.plan.id + " acts on it";
    return out;
  }
  out.status = cx.run.status;
  if (past) {
    out.exit = Exit::needs_human;
    out.message = e.message + ". " + *past;
    return out;
  }
  if (pause) {
    std::vector<std::string> applied;
    for (const Step* s : cx.plan.steps()) {
      const StepRecord& rec = cx.records[s->name];
      if (record_has_effect(rec))
        applied.push_back(s->name);
    }
    out.exit = aborted ? Exit::aborted : Exit::needs_human;
    out.message = e.message + ". on_failure = \"pause\": nothing was rolled back" +
                  (applied.empty() ? std::string() : " (applied: " + join(applied, ", ") + ")") +
                  "; a human must act: fix the cause and run again, or undo with phasegate rollback " + cx.plan.id;
    return out;
  }
  return roll_back(cx, out, req);
}

}  // namespace phasegate
