// status [--check] and log: read-only views of the state schema (read_run_events is report's reading too).
#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "cli/run_events.hpp"
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
  announce_target(g, pg, loaded->project);
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
  // The event log's end against its anchor (cheap: no walk of the chain; `log` walks it). Said loudly, but the
  // exit code stays about the schema: a CI gate or an app start-up is not stopped by an altered audit trail.
  nlohmann::json event_log = {{"ok", true}, {"problems", nlohmann::json::array()}};
  if (*exists) {
    auto chain = pg.check_chain(false);
    if (!chain) return report(g, chain.error());
    event_log = {{"ok", chain->ok()}, {"anchored", chain->anchored}, {"problems", chain->problems}};
    for (const auto& p : chain->problems) {
      if (!g.json) std::cout << paint(g, "1;31", "event log TAMPERED") << ": " << p << "\n";
      std::cerr << "phasegate: warning: the event log was altered: " << p << "; phasegate log shows the chain (exit 5)\n";
    }
  }
  int exit = check && failing ? static_cast<int>(Exit::pending) : 0;
  if (g.json) print_json({{"ok", !(check && failing)}, {"exit", exit}, {"plans", list}, {"event_log", event_log}});
  return exit;
}

namespace {
// Prints why the event log is not the one phasegate wrote; returns the exit code of a tampered log.
int report_tampered(const Global& g, const ChainCheck& chain, const std::vector<std::string>& broken) {
  for (const auto& p : chain.problems) std::cerr << "phasegate: " << paint(g, "1;31", "TAMPERED EVENT LOG") << ": " << p << "\n";
  for (const auto& b : broken) std::cerr << "phasegate: " << paint(g, "1;31", "TAMPERED EVENT LOG") << ": " << b << "\n";
  std::cerr << "phasegate: the event log of this database was altered outside phasegate; a human must act (exit 5): "
               "find out who had write access, and keep this output\n";
  return static_cast<int>(Exit::needs_human);
}
}  // namespace

Result<RunEvents> read_run_events(const Project& project, PgDatabase& pg, const std::string& run_arg) {
  auto exists = pg.schema_exists();
  if (!exists) return std::unexpected(exists.error());
  if (!*exists) return std::unexpected(Error{Exit::invalid, "no runs yet: the state schema " + project.state_schema + " does not exist"});
  RunEvents out;
  // The whole chain, whichever run is shown: its end against the head, and every link.
  auto chain = pg.check_chain(true);
  if (!chain) return std::unexpected(chain.error());
  out.chain = *chain;
  if (!run_arg.empty()) {
    try {
      out.run_id = std::stoll(run_arg);
    } catch (const std::exception&) {
      return std::unexpected(Error{Exit::invalid, "RUN must be a run id (a number), got \"" + run_arg + "\""});
    }
  } else {
    auto runs = pg.runs();
    if (!runs) return std::unexpected(runs.error());
    if (runs->empty()) {
      out.none = "no runs yet";
      return out;
    }
    out.run_id = runs->back().run.id;
  }
  auto events = pg.events(out.run_id);
  if (!events) return std::unexpected(events.error());
  out.events = std::move(*events);
  if (out.events.empty()) out.none = "no events for run " + std::to_string(out.run_id);
  for (const auto& e : out.events)
    if (!e.chain_ok)
      out.broken.push_back("event #" + std::to_string(e.id) + " (" + e.kind + ") does not verify: its hash is not sha256(prev_hash || its fields); "
                           "it was edited");
  return out;
}

int cmd_log(const Global& g, const std::string& run_arg) {
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  auto db = open_database(loaded->project, "log");
  if (!db) return report(g, db.error());
  auto read = read_run_events(loaded->project, **db, run_arg);
  if (!read) return report(g, read.error());
  const ChainCheck& chain = read->chain;
  auto chain_json = [&](bool ok) {
    return nlohmann::json{{"ok", ok}, {"anchored", chain.anchored}, {"head", {{"id", chain.head_id}, {"hash", chain.head_hash}}},
                          {"newest", {{"id", chain.newest_id}, {"hash", chain.newest_hash}}}, {"problems", chain.problems}};
  };
  // Nothing to show, but the head says there was: the events are gone. That is the answer, not "no runs".
  if (!read->none.empty()) {
    if (chain.ok()) return report(g, Error{Exit::invalid, read->none});
    if (g.json)
      print_json({{"ok", false}, {"exit", static_cast<int>(Exit::needs_human)}, {"chain_ok", false}, {"chain", chain_json(false)},
                  {"events", nlohmann::json::array()}, {"error", read->none}});
    std::cerr << "phasegate: " << read->none << "\n";
    return report_tampered(g, chain, {});
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : read->events) {
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
  // A tampered log is still printed (it is the evidence), then exit 5: a human must act (docs/exit-codes.md).
  bool ok = read->ok();
  int exit = ok ? 0 : static_cast<int>(Exit::needs_human);
  if (g.json) print_json({{"ok", ok}, {"exit", exit}, {"run", read->run_id}, {"chain_ok", ok}, {"chain", chain_json(ok)}, {"events", list}});
  if (!ok) return report_tampered(g, chain, read->broken);
  return 0;
}

}  // namespace phasegate::cli
