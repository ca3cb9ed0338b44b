// rollback PLAN: undo an applied plan's reversible steps by hand (down SQL, newest first), SPEC §2.
// Master and the services are left alone: the operator decides about code; a failed run does those itself.
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "phasegate/engine.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

int cmd_rollback(const Global& g, const std::string& plan_arg) {
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  auto selected = select_plan(*loaded, plan_arg);
  if (!selected) return report(g, selected.error());
  const Plan& plan = **selected;
  auto db = open_database(loaded->project, "rollback");
  if (!db) return report(g, db.error());
  auto& pg = **db;
  if (auto r = pg.lock_runs(); !r) return report(g, r.error());
  if (auto r = pg.ensure_schema(); !r) return report(g, r.error());
  auto recs = pg.steps(plan.id);
  if (!recs) return report(g, recs.error());
  std::vector<std::string> applied;
  for (const Step* s : plan.steps())
    for (const auto& r : *recs)
      if (r.step == s->name && (r.status == StepStatus::completed || r.status == StepStatus::running)) applied.push_back(s->name);
  if (applied.empty()) {
    std::string msg = "plan " + plan.id + " has no applied steps; nothing to roll back";
    if (g.json) print_json({{"ok", true}, {"exit", 0}, {"plan", plan.id}, {"message", msg}});
    else std::cout << msg << "\n";
    return 0;
  }
  if (!g.yes && ::isatty(STDIN_FILENO)) {
    std::cerr << "Roll back plan " << plan.id << ": undo " << join(applied, ", ") << " (newest first)? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes") {
      std::cerr << "nothing was changed\n";
      return static_cast<int>(Exit::invalid);
    }
  }
  Actor actor = current_actor("");
  pg.set_actor(actor);
  // An open run of the plan ends here: the operator took over.
  auto open = pg.open_run(plan.id);
  if (!open) return report(g, open.error());
  int64_t run_id = 0;
  if (*open) {
    RunRecord r = **open;
    if (auto a = mark_aborted(pg, r, actor, "rolled back by hand by " + actor.label()); !a) return report(g, a.error());
    run_id = r.id;
  } else if (auto runs = pg.runs(plan.id); runs && !runs->empty()) {
    run_id = runs->back().run.id;
  }
  Machinery m;
  Executor executor(loaded->project, pg, pg, m.clock, actor);
  wire(g, executor, m);
  RollbackRequest req;
  req.run_id = run_id;
  req.only_this_run = false;
  req.reason = "phasegate rollback " + plan.id + " by " + actor.label();
  req.master = false;
  req.restart = false;
  RollbackOutcome out = executor.rollback(plan, req);
  int exit = out.complete ? 0 : static_cast<int>(Exit::needs_human);
  std::string msg = "plan " + plan.id + ": " + out.summary();
  if (g.json)
    print_json({{"ok", out.complete}, {"exit", exit}, {"plan", plan.id}, {"run", run_id}, {"undone", out.undone},
                {"notes", out.notes}, {"left", out.left}, {"message", msg}});
  (out.complete && !g.json ? std::cout : std::cerr) << msg << "\n";
  return exit;
}

}  // namespace phasegate::cli
