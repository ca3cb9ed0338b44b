// abort RUN: stop a run from another terminal, then roll back per [rollback] (SPEC §2).
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "phasegate/adapters.hpp"
#include "phasegate/engine.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

// abort RUN: a live runner is asked to stop (flag + cancel of its running statement) and we wait for it;
// a run nobody is driving (waiting / blocked / its runner died) is marked aborted here.
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
  auto find = [&]() -> Result<std::optional<RunRecord>> {
    auto runs = pg.runs();
    if (!runs) return std::unexpected(runs.error());
    for (const auto& r : *runs)
      if (r.run.id == id) return std::optional<RunRecord>(r.run);
    return std::optional<RunRecord>{};
  };
  auto run = *exists ? find() : Result<std::optional<RunRecord>>{};
  if (!run) return report(g, run.error());
  if (!*run) return report(g, Error{Exit::invalid, "no run " + run_arg + " (phasegate log lists runs)"});
  if (is_terminal((*run)->status))
    return report(g, Error{Exit::invalid, "run " + run_arg + " is already " + run_status_name((*run)->status) + "; nothing to abort"});
  Actor actor = current_actor("");
  pg.set_actor(actor);
  std::string outcome;
  int exit = 0;
  // Only a run in state `running` has a runner to stop; cancelling the lock holder's statement for any other
  // run would hit a runner busy with another plan.
  auto locked = (*run)->status == RunStatus::running ? pg.lock_runs() : Result<void>{};
  if (locked) {
    // Nobody is driving it: record the abort ourselves, then roll back as the runner would have.
    RunRecord r = **run;
    if (auto a = mark_aborted(pg, r, actor, "aborted by " + actor.label()); !a) return report(g, a.error());
    outcome = "run " + run_arg + " (" + r.plan_id + ") was not running; marked aborted";
    if (loaded->project.rollback.on_failure == "pause") {
      outcome += ". on_failure = \"pause\": nothing was rolled back (phasegate rollback " + r.plan_id + " undoes the database part)";
    } else if (auto plan = select_plan(*loaded, r.plan_id); !plan) {
      outcome += ". Its plan file is gone, so nothing could be rolled back: undo its steps by hand";
      exit = static_cast<int>(Exit::needs_human);
    } else if (auto l = pg.lock_runs(); !l) {
      outcome += ". Nothing was rolled back: " + l.error().message + "; run phasegate rollback " + r.plan_id + " when it is free";
      exit = static_cast<int>(Exit::needs_human);
    } else {
      Machinery m;
      Executor executor(loaded->project, pg, pg, m.clock, actor);
      wire(g, executor, m);
      RollbackRequest req;
      req.run_id = r.id;
      req.phase = r.phase;
      req.reason = r.error;
      req.release_commit = r.release_commit;
      RollbackOutcome rb = executor.rollback(**plan, req);
      outcome += ". " + rb.summary();
      if (!rb.complete) exit = static_cast<int>(Exit::needs_human);
    }
  } else if (locked.error().code != Exit::blocked) {
    return report(g, locked.error());
  } else {
    auto pid = pg.request_abort(id, actor.label());
    if (!pid) return report(g, pid.error());
    // The runner stops at once (its statement was cancelled) and rolls back while it still holds the run lock:
    // wait for the lock, as long as a rollback may take.
    auto limit = std::chrono::steady_clock::now() + loaded->project.rollback.timeout + std::chrono::seconds(30);
    bool stopped = false;
    while (!stopped && std::chrono::steady_clock::now() < limit) {
      stopped = bool(pg.lock_runs());
      if (!stopped) ::usleep(200'000);
    }
    if (!stopped) {
      outcome = "asked run " + run_arg + " to stop; its runner still holds the run lock (it stops at its next step or batch)";
      if (g.json) print_json({{"ok", false}, {"exit", static_cast<int>(Exit::blocked)}, {"run", id}, {"message", outcome}});
      else std::cerr << "phasegate: " << outcome << "\n";
      return static_cast<int>(Exit::blocked);
    }
    outcome = "run " + run_arg + " (" + (*run)->plan_id + ") stopped (runner backend pid " + std::to_string(*pid) + " cancelled)";
    // What the runner did about it, from its events.
    auto events = pg.events(id);
    std::string rollback = "nothing was rolled back";
    if (events)
      for (const auto& e : *events) {
        if (e.kind != "rollback.completed" && e.kind != "rollback.failed") continue;
        auto p = nlohmann::json::parse(e.payload, nullptr, false);
        rollback = e.kind == "rollback.completed" ? "rolled back" : "ROLLBACK INCOMPLETE: " + p.value("left", nlohmann::json::array()).dump();
        if (e.kind == "rollback.failed") exit = static_cast<int>(Exit::needs_human);
      }
    outcome += "; " + rollback;
  }
  if (g.json) print_json({{"ok", exit == 0}, {"exit", exit}, {"run", id}, {"message", outcome}});
  else (exit == 0 ? std::cout : std::cerr) << outcome << "\n";
  return exit;
}

}  // namespace phasegate::cli
