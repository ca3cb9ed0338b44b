// rollback PLAN: undo a plan's applied steps by hand (down SQL, newest first), SPEC §2 and §5.1. Refused once a
// contract step applied; a rollback cut short earlier is finished first. Master and the services are left
// alone: the operator decides about code (a failed run does those itself).
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/notify_service.hpp"
#include "cli/output.hpp"
#include "phasegate/interrupt.hpp"
#include "phasegate/engine.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

int cmd_rollback(const Global& g, const std::string& plan_arg) {
  drain_notifications_at_exit();  // its alerts are the ones that matter: wait for them at exit (docs/notify.md)
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  auto selected = select_plan(*loaded, plan_arg);
  if (!selected) return report(g, selected.error());
  const Plan& plan = **selected;
  // A signal (Ctrl-C) does not cut a rollback short: it waits until the rollback is over (a second one kills).
  install_interrupt_handlers();
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
      if (r.step == s->name && step_may_have_effect(r.status)) applied.push_back(s->name);
  if (!applied.empty() && !g.yes && ::isatty(STDIN_FILENO)) {
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
  pg.set_crash_point(crash_point_from_env());
  Machinery m;
  Executor executor(loaded->project, pg, pg, m.clock, actor, crash_point_from_env());
  wire(g, executor, m);
  PlanOutcome out = executor.rollback_plan(plan, "phasegate rollback " + plan.id + " by " + actor.label());
  int exit = static_cast<int>(out.exit);
  std::string msg = out.message.rfind("plan " + plan.id, 0) == 0 ? out.message : "plan " + plan.id + ": " + out.message;
  if (g.json) print_json({{"ok", exit == 0}, {"exit", exit}, {"plan", plan.id}, {"run", out.run_id},
                          {"status", run_status_name(out.status)}, {"message", msg}});
  (exit == 0 && !g.json ? std::cout : std::cerr) << msg << "\n";
  return exit;
}

}  // namespace phasegate::cli
