// abort RUN: stop a run from another terminal, then roll back per [rollback] (SPEC §2).
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/notify_service.hpp"
#include "cli/output.hpp"
#include "phasegate/interrupt.hpp"
#include "phasegate/adapters.hpp"
#include "phasegate/engine.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

namespace {
// What the run's events say happened: the step it stopped at, what the rollback undid and what it left.
std::string what_happened(PgDatabase& pg, int64_t id) {
  auto events = pg.events(id);
  if (!events) return "its events could not be read: " + events.error().message;
  std::string stopped_after, outcome = "nothing was rolled back";
  for (const auto& e : *events) {
    auto p = nlohmann::json::parse(e.payload, nullptr, false);
    if (e.kind == "step.completed") stopped_after = e.step;
    if (e.kind != "rollback.completed" && e.kind != "rollback.failed") continue;
    std::vector<std::string> undone = p.value("undone", std::vector<std::string>{}), left = p.value("left", std::vector<std::string>{});
    outcome = std::string(e.kind == "rollback.completed" ? "rolled back" : "ROLLBACK INCOMPLETE") +
              (undone.empty() ? "" : ": " + join(undone, "; ")) + (left.empty() ? "" : "; left: " + join(left, "; "));
  }
  return (stopped_after.empty() ? "stopped before any step completed" : "stopped after step \"" + stopped_after + "\"") + "; " + outcome;
}

Result<std::optional<RunRecord>> find_run(PgDatabase& pg, int64_t id) {
  auto runs = pg.runs();
  if (!runs) return std::unexpected(runs.error());
  for (const auto& r : *runs)
    if (r.run.id == id) return std::optional<RunRecord>(r.run);
  return std::optional<RunRecord>{};
}

// The exit for how the run ended, read back from the database (never from what we hoped happened).
int exit_for(const RunRecord& run, const std::vector<StepRecord>& steps, std::string& note) {
  const bool past_contract = std::any_of(steps.begin(), steps.end(), [](const StepRecord& r) {
    return r.phase == "contract" && record_has_effect(r);
  });
  switch (run.status) {
    case RunStatus::rolled_back: return 0;
    case RunStatus::rollback_incomplete: return static_cast<int>(Exit::needs_human);
    case RunStatus::aborted:
    case RunStatus::failed:
      if (past_contract) {
        note = " (past the point of no return: a contract step applied, so nothing was rolled back)";
        return static_cast<int>(Exit::needs_human);
      }
      note = " (on_failure = \"pause\": nothing was rolled back)";
      return 0;
    case RunStatus::completed:
      note = "; it completed before the abort reached it, nothing was rolled back (phasegate rollback " + run.plan_id + " undoes it)";
      return static_cast<int>(Exit::invalid);
    default:
      note = "; it is still " + std::string(run_status_name(run.status));
      return static_cast<int>(Exit::needs_human);
  }
}
}  // namespace

// abort RUN: a live runner is asked to stop (flag + cancel of its running statement; it terminates a running
// program) and we wait for it; a run nobody is driving (waiting / blocked / its runner died) is aborted here.
// Either way the answer is read back from the run's final state.
int cmd_abort(const Global& g, const std::string& run_arg) {
  drain_notifications_at_exit();  // its alerts are the ones that matter: wait for them at exit (docs/notify.md)
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  // A signal (Ctrl-C) does not cut a rollback short: it waits until the rollback is over (a second one kills).
  install_interrupt_handlers();
  auto db = open_database(loaded->project, "abort");
  if (!db) return report(g, db.error());
  auto& pg = **db;
  auto exists = pg.schema_exists();
  if (!exists) return report(g, exists.error());
  // abort writes events: the schema must be the one this binary appends to (it upgrades, never creates).
  if (*exists)
    if (auto r = pg.ensure_schema(); !r) return report(g, r.error());
  int64_t id = 0;
  try {
    id = std::stoll(run_arg);
  } catch (const std::exception&) {
    return report(g, Error{Exit::invalid, "RUN must be a run id (a number), got \"" + run_arg + "\""});
  }
  auto run = *exists ? find_run(pg, id) : Result<std::optional<RunRecord>>{};
  if (!run) return report(g, run.error());
  if (!*run) return report(g, Error{Exit::invalid, "no run " + run_arg + " in this database (phasegate runs lists them)"});
  if (is_terminal((*run)->status))
    return report(g, Error{Exit::invalid, "run " + run_arg + " is already " + run_status_name((*run)->status) + "; nothing to abort"});
  Actor actor = current_actor("");
  pg.set_actor(actor);
  auto plan = select_plan(*loaded, (*run)->plan_id);
  std::string how;
  auto locked = pg.lock_runs();
  if (!locked && locked.error().code != Exit::blocked) return report(g, locked.error());
  if (!locked) {
    // A run already rolling back is left to finish (cancelling one of its downs would leave it incomplete).
    Result<int> pid = (*run)->status == RunStatus::rolling_back ? Result<int>(-1) : pg.request_abort(id, actor.label());
    if (!pid) return report(g, pid.error());
    if (*pid == 0) {
      std::string outcome = "the abort of run " + run_arg + " is recorded, but another runner holds the run lock (driving another plan); "
                            "run " + run_arg + " stops, and rolls back, the next time a command touches it";
      if (g.json) print_json({{"ok", false}, {"exit", static_cast<int>(Exit::blocked)}, {"run", id}, {"message", outcome}});
      else std::cerr << "phasegate: " << outcome << "\n";
      return static_cast<int>(Exit::blocked);
    }
    // The runner stops (its statement was cancelled, its program terminated) and rolls back while it still
    // holds the run lock: wait for the lock, as long as a rollback may take.
    auto limit = std::chrono::steady_clock::now() + loaded->project.rollback.timeout + std::chrono::seconds(60);
    while (!locked && std::chrono::steady_clock::now() < limit) {
      ::usleep(200'000);
      locked = pg.lock_runs();
    }
    if (!locked) {
      std::string outcome = "asked run " + run_arg + " to stop; its runner still holds the run lock";
      if (g.json) print_json({{"ok", false}, {"exit", static_cast<int>(Exit::blocked)}, {"run", id}, {"message", outcome}});
      else std::cerr << "phasegate: " << outcome << "\n";
      return static_cast<int>(Exit::blocked);
    }
    how = *pid > 0 ? "its runner (backend pid " + std::to_string(*pid) + ") " : "its runner ";
  }
  // We hold the lock now: read the run again (it may have moved since), and finish what nobody else will.
  run = find_run(pg, id);
  if (!run || !*run) return report(g, run ? Error{Exit::internal, "run " + run_arg + " vanished"} : run.error());
  if (is_open((*run)->status)) {
    if (!plan)
      return report(g, Error{Exit::needs_human, "run " + run_arg + ": its plan " + (*run)->plan_id +
                                                    " has no file any more, so it cannot be rolled back here; restore the file"});
    Machinery m;
    Executor executor(loaded->project, pg, pg, m.clock, actor);
    wire(g, executor, m);
    PlanOutcome out = executor.abort_run(**plan, **run, actor.label());
    if (out.exit == Exit::invalid || out.exit == Exit::blocked) return report(g, Error{out.exit, out.message});
    how = how.empty() ? "was not being driven; aborted here: " : how + "stopped without finishing; aborted here: ";
    run = find_run(pg, id);
    if (!run || !*run) return report(g, run ? Error{Exit::internal, "run " + run_arg + " vanished"} : run.error());
  } else {
    how += how.empty() ? "" : "stopped: ";
  }
  std::string note;
  int exit = exit_for(**run, pg.steps((*run)->plan_id).value_or(std::vector<StepRecord>{}), note);
  std::string outcome = "run " + run_arg + " (" + (*run)->plan_id + ") " + how + what_happened(pg, id) + "; the run is " +
                        run_status_name((*run)->status) + note;
  if (g.json) print_json({{"ok", exit == 0}, {"exit", exit}, {"run", id}, {"status", run_status_name((*run)->status)}, {"message", outcome}});
  else (exit == 0 ? std::cout : std::cerr) << outcome << "\n";
  return exit;
}

}  // namespace phasegate::cli
