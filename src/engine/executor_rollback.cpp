// Rollback (SPEC §1.1 [rollback]): on a failed step, an unhealthy service, a failed smoke check or an abort,
// undo the run's applied steps (down SQL, newest first, under the same lock-timeout protection as the steps),
// revert the release commit on master, then restart the services so they run the reverted code — all
// within [rollback] timeout, every action an event, and a precise list of whatever could not be done.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "engine/executor_context.hpp"
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
  if (words.size() > 400) words = words.substr(0, 400) + "...";
  return r.describe() + (words.empty() ? "" : ": " + words);
}

// Whether a step that stopped part-way can have left something behind (a transactional step cannot).
bool may_have_partial_effects(const Step& step, const StepRecord& rec) {
  if (step.backfill) return !rec.cursor.empty();
  if (!step.command.empty()) return true;
  auto parsed = sql::parse(step.sql);
  return parsed.script && !step.transaction.value_or(parsed.script->allowed_in_transaction());
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

RollbackOutcome Executor::rollback(const Plan& plan, const RollbackRequest& request) {
  Context cx{plan, RunOptions{}, merge_guards(project_.guards, plan.guards), plan_digest(plan), {}, {}, 0, {}, {}, {}, {}};
  cx.run.id = request.run_id;
  cx.run.plan_id = plan.id;
  cx.run.phase = request.phase;
  cx.run.release_commit = request.release_commit;
  cx.options.release_commit = request.release_commit;
  auto recs = store_.steps(plan.id);
  if (!recs) {
    RollbackOutcome out;
    out.complete = false;
    out.left.push_back("nothing was undone: reading the state failed: " + recs.error().message);
    return out;
  }
  for (const auto& r : *recs) cx.records[r.step] = r;
  return rollback_in(cx, request);
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

  // What to undo, newest first: applied steps, and steps that stopped part-way outside a transaction.
  std::vector<const Step*> todo;
  auto steps = cx.plan.steps();
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    const Step& s = **it;
    auto rec = cx.records.find(s.name);
    if (rec == cx.records.end()) continue;
    if (req.only_this_run && rec->second.run_id != req.run_id) continue;
    bool applied = rec->second.status == StepStatus::completed;
    bool partial = (rec->second.status == StepStatus::running || rec->second.status == StepStatus::failed) &&
                   may_have_partial_effects(s, rec->second);
    if (applied || partial) todo.push_back(&s);
  }
  std::vector<std::string> services;
  if (req.restart) {
    auto reached = parse_phase(req.phase);
    for (Phase p : kPhases) {
      if (!reached || p > *reached) break;
      for (const auto& name : cx.plan.phases[static_cast<int>(p)].restart)
        if (std::find(services.begin(), services.end(), name) == services.end()) services.push_back(name);
    }
  }
  const MasterRollback* master = req.master && project_.rollback.master ? &*project_.rollback.master : nullptr;
  std::vector<std::string> names;
  for (const Step* s : todo) names.push_back(s->name);
  (void)emit(cx, "rollback.started", cx.run.phase, "",
             json{{"reason", req.reason}, {"steps", names}, {"master", master ? master->kind : ""},
                  {"release_commit", req.release_commit}, {"services", services},
                  {"timeout_ms", project_.rollback.timeout.count()}}.dump());

  // 1. The database, newest step first. A down that fails stops the database part: older steps may be
  //    needed by the newer one that is still there.
  bool stopped = false;
  for (const Step* s : todo) {
    auto& rec = cx.records[s->name];
    const std::string phase = phase_name(s->phase);
    if (stopped) {
      out.left.push_back("step \"" + s->name + "\": still applied (not attempted after the failure above)");
      continue;
    }
    if (s->down.empty()) {
      if (s->irreversible) {
        out.notes.push_back("step \"" + s->name + "\" is irreversible = true and stays applied");
      } else {
        out.left.push_back("step \"" + s->name + "\" has no down and stays " +
                           (rec.status == StepStatus::completed ? "applied" : "part-applied") + "; undo it by hand");
      }
      (void)emit(cx, "rollback.step", phase, s->name, json{{"action", "down"}, {"ok", false}, {"skipped", true},
                                                            {"reason", s->irreversible ? "irreversible" : "no down"}}.dump());
      continue;
    }
    if (late("step \"" + s->name + "\" (down)")) {
      stopped = true;
      continue;
    }
    auto left_ms = std::chrono::duration_cast<Millis>(deadline - clock_.now());
    Timeouts t{s->lock_timeout.value_or(cx.guards.lock_timeout),
               std::min(s->statement_timeout.value_or(cx.guards.statement_timeout), std::max(left_ms, Millis(1)))};
    const TimePoint began = clock_.now();
    StepRecord undone = rec;
    undone.status = StepStatus::rolled_back;
    undone.cursor.clear();
    undone.error = "rolled back" + (req.run_id ? " by run " + std::to_string(req.run_id) : std::string()) +
                   (req.reason.empty() ? "" : ": " + req.reason);
    auto event = [&] {
      return Event{"rollback.step", cx.run.id, cx.plan.id, phase, s->name,
                   json{{"action", "down"}, {"ok", true}, {"duration_ms", std::chrono::duration_cast<Millis>(clock_.now() - began).count()}}.dump(),
                   clock_.now()};
    };
    auto parsed = sql::parse(s->down);
    Result<void> r;
    if (!parsed.script) {
      r = fail(Exit::invalid, parsed.error->message);
    } else if (parsed.script->allowed_in_transaction()) {
      std::optional<Event> committed;
      r = with_lock_retries(cx, *s, [&]() -> Result<void> {
        return target_.apply_atomically(s->down, t, [&]() {
          committed = event();
          return Completion{undone, *committed};
        });
      });
      if (r && observer_) observer_(*committed);
    } else {
      for (const auto& st : parsed.script->statements) {
        r = with_lock_retries(cx, *s, [&]() -> Result<void> { return target_.apply_autocommit({st.text}, t); });
        if (!r) break;
      }
      if (r) r = store_.save_step(undone);
      if (r) r = emit(cx, "rollback.step", phase, s->name, event().payload);
    }
    if (!r) {
      stopped = true;
      out.left.push_back("step \"" + s->name + "\": its down failed (" + r.error().message + "); it stays applied");
      (void)emit(cx, "rollback.step", phase, s->name, json{{"action", "down"}, {"ok", false}, {"error", r.error().message},
                                                            {"sqlstate", r.error().sqlstate}}.dump());
      continue;
    }
    rec = undone;
    out.undone.push_back("undid step \"" + s->name + "\"");
  }
  if (!todo.empty()) out.database_done = since();

  // 2. Master: revert the release commit so the next deploy does not ship code that needs what was undone.
  if (master) {
    std::string commit = req.release_commit;
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
  (void)store_.mark_plan(cx.plan.id, cx.digest, out.complete ? "rolled_back" : "failed");
  auto ms = [](const std::optional<Millis>& d) { return d ? json(d->count()) : json(nullptr); };
  (void)emit(cx, out.complete ? "rollback.completed" : "rollback.failed", cx.run.phase, "",
             json{{"undone", out.undone}, {"notes", out.notes}, {"left", out.left},
                  {"database_ms", ms(out.database_done)}, {"master_ms", ms(out.master_done)},
                  {"services_ms", ms(out.services_done)}, {"total_ms", ms(out.total)}}.dump());
  return out;
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

// A step failed, a service stayed unhealthy, a smoke check failed, or an operator aborted: the run is already
// failed/aborted; now undo per [rollback] (or leave everything for a human with on_failure = "pause").
PlanOutcome Executor::after_failure(Context& cx, PlanOutcome out, const Error& e, bool aborted) {
  const TimePoint failed_at = clock_.now();
  out.status = cx.run.status;
  out.steps_applied = cx.applied;
  std::vector<std::string> applied;
  for (const Step* s : cx.plan.steps()) {
    const auto& rec = cx.records[s->name];
    if (rec.run_id == cx.run.id && rec.status == StepStatus::completed) applied.push_back(s->name);
  }
  if (project_.rollback.on_failure == "pause") {
    out.exit = aborted ? Exit::aborted : Exit::needs_human;
    out.message = e.message + ". on_failure = \"pause\": nothing was rolled back" +
                  (applied.empty() ? std::string() : " (applied in run " + std::to_string(cx.run.id) + ": " + join(applied, ", ") + ")") +
                  "; a human must act: fix the cause and run again, or undo with phasegate rollback " + cx.plan.id;
    return out;
  }
  RollbackRequest req;
  req.run_id = cx.run.id;
  req.phase = cx.run.phase;
  req.reason = e.message;
  req.release_commit = cx.run.release_commit.empty() ? cx.options.release_commit : cx.run.release_commit;
  req.failed_at = failed_at;
  RollbackOutcome rb = rollback_in(cx, req);
  out.exit = !rb.complete ? Exit::needs_human : aborted ? Exit::aborted : Exit::failed;
  out.message = e.message + "\n" + rb.summary();
  return out;
}

}  // namespace phasegate
