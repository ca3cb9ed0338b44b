// status [--check] and log: read-only views of the state schema.
#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "phasegate/adapters.hpp"
#include "phasegate/engine.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

int cmd_status(const Global& g, const std::string& plan_arg, bool check) {
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  auto selected = select_plans(*loaded, plan_arg.empty() ? std::vector<std::string>{} : std::vector<std::string>{plan_arg});
  if (!selected) return report(g, selected.error());
  const std::vector<const Plan*>& plans = *selected;
  auto db = open_database(loaded->project, "status");
  if (!db) return report(g, db.error());
  auto& pg = **db;
  auto exists = pg.schema_exists();
  if (!exists) return report(g, exists.error());
  bool failing = false;
  nlohmann::json list = nlohmann::json::array();
  auto status_json = [&](const PlanStatus& st) {
    nlohmann::json drift = nlohmann::json::array();
    for (const auto& d : st.drift)
      drift.push_back({{"step", d.step}, {"applied_checksum", d.applied_checksum}, {"file_checksum", d.file_checksum},
                       {"applied_by", d.applied_by}, {"message", d.describe(st.plan_id)}});
    return nlohmann::json{{"plan", st.plan_id}, {"state", plan_state_name(st.state)}, {"steps_total", st.steps_total},
                          {"steps_done", st.steps_done}, {"pending", st.pending}, {"contract_pending", st.contract_pending},
                          {"part_applied", st.part_applied}, {"drift", drift}, {"down_changed", st.down_changed},
                          {"file_missing", st.file_missing}, {"run", st.run ? nlohmann::json(st.run->id) : nlohmann::json(nullptr)},
                          {"run_state", st.run ? nlohmann::json(run_status_name(st.run->status)) : nlohmann::json(nullptr)},
                          {"run_error", st.run && !st.run->error.empty() ? nlohmann::json(st.run->error) : nlohmann::json(nullptr)}};
  };
  auto colour_of = [](PlanState s) {
    return s == PlanState::applied ? "32"
           : s == PlanState::drifted || s == PlanState::failed || s == PlanState::rollback_incomplete ? "31"
                                                                                                       : "33";
  };
  auto run_note = [](const PlanStatus& st) {
    return st.run ? "\trun " + std::to_string(st.run->id) + " " + run_status_name(st.run->status) : std::string();
  };
  for (const Plan* plan : plans) {
    std::vector<StepRecord> records;
    std::optional<RunRecord> latest;
    if (*exists) {
      auto r = pg.steps(plan->id);
      if (!r) return report(g, r.error());
      records = *r;
      auto o = pg.latest_run(plan->id);
      if (!o) return report(g, o.error());
      latest = *o;
    }
    PlanStatus st = plan_status(*plan, records, latest);
    failing = failing || st.fails_check();
    list.push_back(status_json(st));
    // A backfill in progress (or paused by a guard / an abort): how far its cursor got.
    std::vector<std::string> backfill_lines;
    nlohmann::json backfills = nlohmann::json::array();
    for (const auto& r : records) {
      const auto steps = plan->steps();
      bool is_backfill = std::any_of(steps.begin(), steps.end(), [&](const Step* s) { return s->name == r.step && s->backfill; });
      if (r.status != StepStatus::running || r.cursor.empty() || !is_backfill) continue;
      auto c = backfill::Cursor::from_json(r.cursor);
      if (!c) continue;
      backfills.push_back({{"step", r.step}, {"scanned", c->scanned}, {"updated", c->updated}, {"batches", c->batches}, {"last", c->last}});
      backfill_lines.push_back("backfill " + r.step + ": " + std::to_string(c->scanned) + " keys walked, " +
                               std::to_string(c->updated) + " rows updated in " + std::to_string(c->batches) +
                               " batches; continues after key (" + join(c->last, ", ") + ")");
    }
    if (!backfills.empty()) list.back()["backfills"] = backfills;
    // Who approved and what is missing, for plans that still have work to do (SPEC §3.2).
    std::string approvals_line;
    const int needed = merge_guards(loaded->project.guards, plan->guards).approvals;
    if (st.state != PlanState::applied && needed > 0) {
      // Without the state schema nobody has approved yet (status creates nothing).
      auto q = *exists ? approval_quorum(loaded->project, *plan, pg, current_actor("").principal)
                       : Result<guards::Quorum>(guards::Quorum{needed, {}, {}});
      if (q) {
        std::vector<std::string> who;
        for (const auto& c : q->counted) who.push_back(c.principal);
        list.back()["approvals"] = {{"needed", q->needed}, {"met", q->met()}, {"counted", who}};
        approvals_line = std::string(q->met() ? "approved: " : "approvals missing: ") + q->summary();
      } else {
        approvals_line = "approvals: " + q.error().message;
      }
    }
    if (!g.json) {
      std::cout << paint(g, colour_of(st.state), plan_state_name(st.state)) << "\t" << st.plan_id << "\t" << st.steps_done << "/"
                << st.steps_total << " steps";
      if (!st.pending.empty()) std::cout << "\tpending: " << st.pending.size();
      if (!st.contract_pending.empty() && st.pending.empty()) std::cout << "\tcontract waits for its start";
      std::cout << run_note(st) << "\n";
      for (const auto& d : st.drift) std::cout << "  " << paint(g, "31", "drift") << ": " << d.describe(plan->id) << "\n";
      if (!st.part_applied.empty()) std::cout << "  part-applied (stopped part-way): " << join(st.part_applied, ", ") << "\n";
      if ((st.state == PlanState::rollback_incomplete || st.state == PlanState::failed) && st.run && !st.run->error.empty())
        std::cout << "  run " << st.run->id << ": " << st.run->error << "\n";
      for (const auto& d : st.down_changed)
        std::cout << "  " << paint(g, "33", "warning") << ": the down of applied step \"" << d
                  << "\" was edited since it was applied; a rollback runs the down in the file now\n";
      for (const auto& l : backfill_lines) std::cout << "  " << l << "\n";
      if (!approvals_line.empty()) std::cout << "  " << approvals_line << "\n";
    }
  }
  // Plans the database knows whose file is gone: drift, shown whichever plans were asked for.
  if (*exists && plan_arg.empty()) {
    auto known = pg.known_plans();
    if (!known) return report(g, known.error());
    for (const auto& [k, renamed] : vanished_plans(*known, loaded->plans)) {
      auto latest = pg.latest_run(k.plan_id);
      if (!latest) return report(g, latest.error());
      PlanStatus st = missing_plan_status(k, *latest, renamed);
      failing = true;
      list.push_back(status_json(st));
      if (!g.json)
        std::cout << paint(g, "31", "drifted") << "\t" << st.plan_id << "\t" << st.steps_done << "/" << st.steps_total
                  << " steps\tfile missing" << run_note(st) << "\n  " << paint(g, "31", "drift") << ": " << st.drift.front().describe(st.plan_id) << "\n";
    }
  }
  int exit = check && failing ? static_cast<int>(Exit::pending) : 0;
  if (g.json) print_json({{"ok", !(check && failing)}, {"exit", exit}, {"plans", list}});
  return exit;
}

int cmd_log(const Global& g, const std::string& run_arg) {
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  auto db = open_database(loaded->project, "log");
  if (!db) return report(g, db.error());
  auto& pg = **db;
  auto exists = pg.schema_exists();
  if (!exists) return report(g, exists.error());
  if (!*exists) return report(g, Error{Exit::invalid, "no runs yet: the state schema " + loaded->project.state_schema + " does not exist"});
  std::optional<int64_t> run_id;
  if (!run_arg.empty()) {
    try {
      run_id = std::stoll(run_arg);
    } catch (const std::exception&) {
      return report(g, Error{Exit::invalid, "RUN must be a run id (a number), got \"" + run_arg + "\""});
    }
  } else {
    auto runs = pg.runs();
    if (!runs) return report(g, runs.error());
    if (runs->empty()) return report(g, Error{Exit::invalid, "no runs yet"});
    run_id = runs->back().run.id;
  }
  auto events = pg.events(run_id);
  if (!events) return report(g, events.error());
  if (events->empty()) return report(g, Error{Exit::invalid, "no events for run " + std::to_string(*run_id)});
  bool chain_ok = true;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : *events) {
    chain_ok = chain_ok && e.chain_ok;
    list.push_back({{"id", e.id}, {"at", e.at}, {"run", e.run_id}, {"plan", e.plan_id}, {"phase", e.phase}, {"step", e.step},
                    {"kind", e.kind}, {"actor", {{"principal", e.principal}, {"os_user", e.os_user}, {"host", e.host}}},
                    {"payload", nlohmann::json::parse(e.payload)}, {"hash", e.hash}, {"chain_ok", e.chain_ok}});
    if (!g.json) {
      std::string where = e.phase.empty() ? "" : " " + e.phase + (e.step.empty() ? "" : "/" + e.step);
      std::string who = e.principal.empty() ? e.os_user + "@" + e.host : e.principal;
      std::cout << e.at << "  " << paint(g, "1", e.kind) << where << "  " << (e.payload == "{}" ? "" : e.payload + "  ")
                << "(" << who << ")" << (e.chain_ok ? "" : paint(g, "31", "  HASH CHAIN BROKEN")) << "\n";
    }
  }
  if (g.json) print_json({{"ok", true}, {"exit", 0}, {"run", *run_id}, {"chain_ok", chain_ok}, {"events", list}});
  if (!chain_ok) std::cerr << "phasegate: warning: the event hash chain does not verify; the log was altered\n";
  return 0;
}

}  // namespace phasegate::cli
