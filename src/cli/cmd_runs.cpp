// runs [PLAN]: the runs and how they ended; mark PLAN STEP --applied|--pending: repair by hand (SPEC §2).
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "phasegate/engine.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

int cmd_runs(const Global& g, const std::string& plan_arg) {
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  std::string plan_id = plan_arg;
  if (!plan_arg.empty()) {
    // A plan whose file is gone still has runs: accept its id as it was.
    if (auto p = select_plan(*loaded, plan_arg)) plan_id = (*p)->id;
  }
  auto db = open_database(loaded->project, "runs");
  if (!db) return report(g, db.error());
  auto& pg = **db;
  auto exists = pg.schema_exists();
  if (!exists) return report(g, exists.error());
  std::vector<RunRow> rows;
  if (*exists) {
    auto r = pg.runs(plan_id);
    if (!r) return report(g, r.error());
    rows = *r;
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : rows) {
    list.push_back({{"id", r.run.id}, {"plan", r.run.plan_id}, {"state", run_status_name(r.run.status)}, {"phase", r.run.phase},
                    {"started", r.created_at}, {"finished", r.finished_at.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.finished_at)},
                    {"initiator", r.initiator}, {"os_user", r.os_user}, {"host", r.host}, {"cause", r.run.cause},
                    {"release_commit", r.run.release_commit}, {"error", r.run.error}});
    if (!g.json) {
      std::string who = r.initiator.empty() ? r.os_user + "@" + r.host : r.initiator + " (" + r.os_user + "@" + r.host + ")";
      std::string state = run_status_name(r.run.status);
      const char* colour = r.run.status == RunStatus::completed ? "32"
                           : r.run.status == RunStatus::rollback_incomplete || r.run.status == RunStatus::failed ? "31"
                                                                                                                  : "33";
      std::cout << r.run.id << "\t" << r.run.plan_id << "\t" << paint(g, colour, state) << "\t" << r.created_at << "\t" << who
                << (r.run.phase.empty() ? "" : "\tphase " + r.run.phase) << (r.run.cause.empty() ? "" : "\t" + r.run.cause)
                << (r.run.error.empty() ? "" : '\t' + r.run.error.substr(0, 160)) << "\n";
    }
  }
  if (!g.json && rows.empty()) std::cout << "no runs yet\n";
  if (g.json) print_json({{"ok", true}, {"exit", 0}, {"runs", list}});
  return 0;
}

int cmd_mark(const Global& g, const std::string& plan_arg, const std::string& step, bool applied, bool pending,
             const std::string& reason) {
  if (applied == pending)
    return report(g, Error{Exit::invalid, "mark: say what the database holds: --applied (its effect is there) or --pending (it is not)"});
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  auto selected = select_plan(*loaded, plan_arg);
  if (!selected) return report(g, selected.error());
  if (!g.yes)
    return report(g, Error{Exit::invalid, "mark changes what phasegate believes about the database without touching it; "
                                          "check the database first, then repeat with --yes"});
  auto db = open_database(loaded->project, "mark");
  if (!db) return report(g, db.error());
  auto& pg = **db;
  if (auto r = pg.lock_runs(); !r) return report(g, r.error());
  if (auto r = pg.ensure_schema(); !r) return report(g, r.error());
  Actor actor = current_actor("");
  pg.set_actor(actor);
  Machinery m;
  Executor executor(loaded->project, pg, pg, m.clock, actor);
  wire(g, executor, m);
  if (auto r = executor.mark_step(**selected, step, applied, reason); !r) return report(g, r.error());
  std::string msg = "plan " + (*selected)->id + ": step \"" + step + "\" marked " + (applied ? "applied" : "pending") + " by " +
                    actor.label() + " (an audited step.marked event)";
  if (g.json) print_json({{"ok", true}, {"exit", 0}, {"plan", (*selected)->id}, {"step", step}, {"message", msg}});
  else std::cout << msg << "\n";
  return 0;
}

}  // namespace phasegate::cli
