// abort RUN: stop a run from another terminal, then roll back per [rollback] (SPEC §2).
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "phasegate/adapters.hpp"
#include "phasegate/engine.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

namespace {
// What the run's events say happened: the step it stopped at, what the rollback undid and what it left.
std::string what_happened(PgDatabase& pg, int64_t id, int& exit) {
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
    exit = e.kind == "rollback.completed" ? 0 : static_cast<int>(Exit::needs_human);
  }
  return (stopped_after.empty() ? "stopped before any step completed" : "stopped after step \"" + stopped_after + "\"") + "; " + outcome;
}
}  // namespace

// abort RUN: a live runner is asked to stop (flag + cancel of its running statement; it terminates a running
// program) and we wait for it; a run nobody is driving (waiting / blocked / its runner died) is aborted here.
int cmd_abort(const Global& g, const std::string& run_arg) {
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  auto db = open_database(loaded->project, "abort");
  if (!db) return report(g, db.error());
  auto& pg = **db;
  auto exists = pg.schema_exists();
  if (!exists) return report(g, exists.error());
  int64_t id = 0;
  try {
    id = std::stoll(run_arg);
  } catch (const std::exception&) {
    return report(g, Error{Exit::invalid, "RUN must be a run id (a number), got \"" + run_arg + "\""});
  }
  std::optional<RunRecord> run;
  if (*exists) {
    auto runs = pg.runs();
    if (!runs) return report(g, runs.error());
    for (const auto& r : *runs)
      if (r.run.id == id) run = r.run;
  }
  if (!run) return report(g, Error{Exit::invalid, "no run " + run_arg + " in this database (phasegate runs lists them)"});
  if (is_terminal(run->status))
    return report(g, Error{Exit::invalid, "run " + run_arg + " is already " + run_status_name(run->status) + "; nothing to abort"});
  Actor actor = current_actor("");
  pg.set_actor(actor);
  std::string outcome;
  int exit = 0;
  auto locked = pg.lock_runs();
  if (locked) {
    // Nobody is driving it: abort it here, and roll back as its runner would have.
    auto plan = select_plan(*loaded, run->plan_id);
    if (!plan)
      return report(g, Error{Exit::needs_human, "run " + run_arg + ": its plan " + run->plan_id +
                                                    " has no file any more, so it cannot be rolled back here; undo its steps by hand"});
    Machinery m;
    Executor executor(loaded->project, pg, pg, m.clock, actor);
    wire(g, executor, m);
    PlanOutcome out = executor.abort_run(**plan, *run, actor.label());
    outcome = "run " + run_arg + " (" + run->plan_id + ") was not being driven; aborted it here: " + what_happened(pg, id, exit);
    if (out.exit == Exit::needs_human) exit = static_cast<int>(Exit::needs_human);
    if (out.exit != Exit::aborted && out.exit != Exit::needs_human && out.exit != Exit::ok) exit = static_cast<int>(out.exit);
  } else if (locked.error().code != Exit::blocked) {
    return report(g, locked.error());
  } else {
    // A run already rolling back is left to finish (cancelling one of its downs would leave it incomplete).
    Result<int> pid = run->status == RunStatus::rolling_back ? Result<int>(-1) : pg.request_abort(id, actor.label());
    if (!pid) return report(g, pid.error());
    if (*pid == 0) {
      outcome = "the abort of run " + run_arg + " is recorded, but another runner holds the run lock (driving another plan); "
                "run " + run_arg + " stops, and rolls back, the next time a command touches it";
      if (g.json) print_json({{"ok", false}, {"exit", static_cast<int>(Exit::blocked)}, {"run", id}, {"message", outcome}});
      else std::cerr << "phasegate: " << outcome << "\n";
      return static_cast<int>(Exit::blocked);
    }
    // The runner stops (its statement was cancelled, its program terminated) and rolls back while it still
    // holds the run lock: wait for the lock, as long as a rollback may take.
    auto limit = std::chrono::steady_clock::now() + loaded->project.rollback.timeout + std::chrono::seconds(60);
    bool stopped = false;
    while (!stopped && std::chrono::steady_clock::now() < limit) {
      stopped = bool(pg.lock_runs());
      if (!stopped) ::usleep(200'000);
    }
    if (!stopped) {
      outcome = "asked run " + run_arg + " to stop; its runner still holds the run lock";
      if (g.json) print_json({{"ok", false}, {"exit", static_cast<int>(Exit::blocked)}, {"run", id}, {"message", outcome}});
      else std::cerr << "phasegate: " << outcome << "\n";
      return static_cast<int>(Exit::blocked);
    }
    outcome = "run " + run_arg + " (" + run->plan_id + (*pid > 0 ? ", runner backend pid " + std::to_string(*pid) : std::string(", already rolling back")) +
              ") " + what_happened(pg, id, exit);
  }
  if (g.json) print_json({{"ok", exit == 0}, {"exit", exit}, {"run", id}, {"message", outcome}});
  else (exit == 0 ? std::cout : std::cerr) << outcome << "\n";
  return exit;
}

}  // namespace phasegate::cli
