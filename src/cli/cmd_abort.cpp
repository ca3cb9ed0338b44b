// abort RUN: stop a run from another terminal (SPEC §2; rollback on abort comes with issue #6).
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "phasegate/adapters.hpp"
#include "phasegate/engine.hpp"

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
  // Only a run in state `running` has a runner to stop; cancelling the lock holder's statement for any other
  // run would hit a runner busy with another plan.
  auto locked = (*run)->status == RunStatus::running ? pg.lock_runs() : Result<void>{};
  if (locked) {
    // Nobody is driving it: record the abort ourselves.
    RunRecord r = **run;
    auto t = next_transition(r.status, RunTrigger::abort);
    if (!t) return report(g, t.error());
    r.status = t->to;
    r.error = "aborted by " + actor.label();
    if (auto u = pg.update_run(r); !u) return report(g, u.error());
    if (auto e = pg.append_event(Event{t->event, r.id, r.plan_id, r.phase, "", nlohmann::json{{"by", actor.label()}}.dump(),
                                       std::chrono::system_clock::now()});
        !e)
      return report(g, e.error());
    outcome = "run " + run_arg + " (" + r.plan_id + ") was not running; marked aborted";
  } else if (locked.error().code != Exit::blocked) {
    return report(g, locked.error());
  } else {
    auto pid = pg.request_abort(id, actor.label());
    if (!pid) return report(g, pid.error());
    // The runner checks between batches/steps; its running statement was cancelled. Wait for it to stop.
    bool stopped = false;
    for (int i = 0; i < 100 && !stopped; ++i) {
      auto now = find();
      stopped = now && *now && is_terminal((**now).status);
      if (!stopped) ::usleep(100'000);
    }
    outcome = stopped ? "run " + run_arg + " (" + (*run)->plan_id + ") stopped (runner backend pid " + std::to_string(*pid) + " cancelled)"
                      : "asked run " + run_arg + " to stop; it has not stopped within 10 s (it stops at its next step or batch)";
    if (!stopped) {
      if (g.json) print_json({{"ok", false}, {"exit", static_cast<int>(Exit::blocked)}, {"run", id}, {"message", outcome}});
      else std::cerr << "phasegate: " << outcome << "\n";
      return static_cast<int>(Exit::blocked);
    }
  }
  outcome += ". Nothing was rolled back (rollback on abort comes with issue #6); a backfill continues from its cursor on the next run";
  if (g.json) print_json({{"ok", true}, {"exit", 0}, {"run", id}, {"message", outcome}});
  else std::cout << outcome << "\n";
  return 0;
}

}  // namespace phasegate::cli
