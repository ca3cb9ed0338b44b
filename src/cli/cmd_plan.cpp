// plan PLAN: a dry run in the style of `terraform plan`. Every step in order with its statements' locks, what
// they block, rewrite/scan risk and an estimate; the step's recorded status; the guards; lint. Changes nothing.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "phasegate/adapters.hpp"
#include "phasegate/engine.hpp"
#include "phasegate/lint.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

namespace {

struct StatementPlan {
  std::string text, locks, work, estimate;
  nlohmann::json json;
};

StatementPlan describe(const sql::Statement& st, const lint::History& h, const std::optional<lint::Catalog>& catalog) {
  StatementPlan sp;
  sp.text = st.text;
  std::vector<std::string> locks;
  nlohmann::json jl = nlohmann::json::array();
  const char* work = nullptr;
  long long bytes = -1;
  for (const auto& a : st.actions) {
    if (a.lock == sql::Lock::none) continue;
    std::string target = a.table.empty() ? a.name : a.table;
    locks.push_back(std::string(sql::lock_name(a.lock)) + " on " + target + " (blocks " + sql::lock_blocks(a.lock) + ")");
    jl.push_back({{"relation", target}, {"lock", sql::lock_name(a.lock)}, {"blocks", sql::lock_blocks(a.lock)}});
    const char* w = lint::heavy_work(a, h);
    if (!w && (a.kind == "create_index" || a.kind == "reindex") && a.concurrently) w = "indexes online";
    if (!w && a.kind == "validate_constraint") w = "scans online";
    if (!w && (a.kind == "update" || a.kind == "delete"))
      w = "writes rows in one transaction, holding their row locks until it commits";
    if (w && !h.created_tables.count(a.table)) {
      work = w;
      if (catalog) {
        auto it = catalog->tables.find(a.schema.empty() ? a.table : a.schema + "." + a.table);
        if (it != catalog->tables.end()) bytes = it->second.bytes;
      }
    }
  }
  sp.locks = locks.empty() ? "no table lock beyond row locks" : join(locks, "; ");
  sp.work = work ? work : "none";
  sp.estimate = !work ? "instant (catalog change or row-level work)"
                : bytes >= 0 ? lint::estimate(bytes, std::string(work) != "scans" && std::string(work) != "scans online") + " for the table's size"
                : catalog ? "unknown (table not found)"
                          : "unknown without sizes (set the database URL)";
  sp.json = {{"statement", st.text}, {"locks", jl}, {"work", sp.work}, {"estimate", sp.estimate}};
  return sp;
}

// Each guard's verdict now (SPEC §3), as `run` would decide it; db is null when the database is unreachable.
// plan creates nothing, so without the state schema there are no approvals yet.
nlohmann::json guards_now(const Project& project, const Plan& plan, const Guards& g, PgDatabase* db, bool state_schema) {
  nlohmann::json j;
  // lock_timeout = "none" (Millis(0), PostgreSQL's "no timeout") is shown as "none", never as "0s".
  j["lock_timeout"] = {{"verdict", g.lock_timeout.count() ? "enforced" : "disabled (lock_timeout = \"none\")"},
                       {"lock_timeout", format_timeout(g.lock_timeout)},
                       {"concurrent_lock_timeout", format_timeout(g.concurrent_lock_timeout)},
                       {"statement_timeout", format_duration(g.statement_timeout)}, {"retries", g.lock_retries},
                       {"backoff", format_duration(g.lock_retry_backoff.initial) + ".." + format_duration(g.lock_retry_backoff.max)},
                       {"cancel_blockers", g.cancel_blockers}};
  auto now = std::chrono::system_clock::now();
  std::vector<const Window*> ws;
  for (const auto& name : g.windows)
    if (auto it = project.windows.find(name); it != project.windows.end()) ws.push_back(&it->second);
  if (ws.empty()) {
    j["windows"] = {{"configured", g.windows}, {"open", true}, {"verdict", "none configured"}};
  } else if (auto w = guards::evaluate_any(ws, now); !w) {
    j["windows"] = {{"configured", g.windows}, {"verdict", w.error().message}};
  } else {
    auto when = [&](const std::optional<TimePoint>& t) {
      return t ? guards::rfc3339(*t) + " (" + guards::local_time(w->timezone, *t) + ")" : std::string("not within a year");
    };
    j["windows"] = {{"configured", g.windows}, {"open", w->open}, {"reason", w->reason},
                    {"verdict", w->open ? "open until " + when(w->next_close) : "closed, opens " + when(w->next_open) + "; run would exit 75 (or wait with --wait)"}};
  }
  if (g.approvals == 0) {
    j["approvals"] = {{"required", 0}, {"verdict", "none required"}};
  } else if (!db) {
    j["approvals"] = {{"required", g.approvals}, {"verdict", "unknown without the database"}};
  } else if (!state_schema) {  // approvals live in the state schema: without it there are none yet
    j["approvals"] = {{"required", g.approvals}, {"met", false}, {"verdict", "missing: no approvals recorded yet"}};
  } else if (auto q = approval_quorum(project, plan, *db, current_actor("").principal); !q) {
    j["approvals"] = {{"required", g.approvals}, {"verdict", q.error().message}};
  } else {
    nlohmann::json who = nlohmann::json::array();
    for (const auto& c : q->counted) who.push_back(c.principal);
    j["approvals"] = {{"required", g.approvals}, {"met", q->met()}, {"counted", who},
                      {"verdict", (q->met() ? "met: " : "missing: ") + q->summary()}};
  }
  bool load = g.max_replication_lag || g.max_active_connections || g.throttle_query;
  if (!load) {
    j["load"] = {{"verdict", "none configured"}};
  } else if (!db) {
    j["load"] = {{"verdict", "unknown without the database"}};
  } else if (auto f = db->load_facts(g.max_replication_lag.has_value(), g.max_active_connections.has_value(), g.throttle_query); !f) {
    j["load"] = {{"verdict", f.error().message}};
  } else {
    auto v = guards::check_load(g, *f);
    j["load"] = {{"go", v.go}, {"verdict", v.go ? "go (" + std::to_string(f->standbys) + " standby(s))" : "wait: " + v.reason}};
  }
  return j;
}

// plan --detailed-exitcode: steps to apply and the guards say go (terraform's 2, which is our usage error; 8 is the
// first code SPEC §2.1 leaves free). Only this flag returns it, so it lives here (docs/exit-codes.md, usage.cpp).
constexpr int kChangesPending = 8;

// plan --detailed-exitcode (like terraform's -detailed-exitcode): what `run` of this
// plan would do now. 0 nothing (every step applied), 8 steps to apply and the guards say go, 75 a guard says
// wait, and what run would refuse with: 2 drift, 3 error-level lint findings, 5 a rollback left incomplete.
int detailed_exit(const PlanStatus& st, const nlohmann::json& guards, const lint::Summary& lint) {
  if (!st.drift.empty()) return static_cast<int>(Exit::invalid);
  if (st.state == PlanState::rollback_incomplete) return static_cast<int>(Exit::needs_human);
  if (st.pending.empty() && st.contract_pending.empty() && st.part_applied.empty()) return 0;
  if (lint.errors > 0) return static_cast<int>(Exit::lint);
  const bool wait = guards["windows"].value("open", true) == false ||
                    (guards["approvals"].value("required", 0) > 0 && guards["approvals"].value("met", false) == false) ||
                    guards["load"].value("go", true) == false;
  return wait ? static_cast<int>(Exit::blocked) : kChangesPending;
}

}  // namespace

int cmd_plan(const Global& g, const std::string& plan_arg, bool detailed_exitcode) {
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  auto selected = select_plan(*loaded, plan_arg);
  if (!selected) return report(g, selected.error());
  const Plan& plan = **selected;
  auto units = lint::units_of_plan(plan);

  // Facts from the target database when it is reachable: sizes and the steps already applied.
  std::optional<lint::Catalog> catalog;
  std::map<std::string, StepRecord> records;
  std::string db_note;
  std::unique_ptr<PgDatabase> dbh;
  bool state_schema = false;
  std::optional<RunRecord> latest;
  std::string url = getenv_or(loaded->project.url_env.c_str(), loaded->project.url);
  if (url.empty()) {
    db_note = "no database (" + loaded->project.url_env + " unset): statuses and sizes unknown";
    if (detailed_exitcode)  // what is applied is in the database (SPEC §5.1): without it there is no answer
      return report(g, Error{Exit::invalid, "plan --detailed-exitcode needs the target database to know what is applied: set " +
                                                loaded->project.url_env});
  } else if (auto c = lint::read_catalog(url, lint::tables_of(units), lint::default_functions_of(units)); !c) {
    db_note = "database unreachable: " + c.error().message;
    if (detailed_exitcode) return report(g, c.error());
  } else {
    catalog = std::move(*c);
    auto db = open_database(loaded->project, "plan");
    if (!db && detailed_exitcode) return report(g, db.error());
    if (db) {
      dbh = std::move(*db);
      announce_target(g, *dbh, loaded->project);
      if (auto exists = dbh->schema_exists(); exists && *exists) {
        state_schema = true;
        if (auto recs = dbh->steps(plan.id); recs)
          for (auto& r : *recs) records[r.step] = r;
        if (auto o = dbh->latest_run(plan.id); o) latest = *o;
      }
    }
  }

  lint::Summary summary;
  auto findings = lint::lint_units(units, summary, catalog ? &*catalog : nullptr,
                                   {loaded->project.lint.enable.begin(), loaded->project.lint.enable.end()});
  Guards guards = merge_guards(loaded->project.guards, plan.guards);
  lint::History history;  // replayed so tables created earlier in the plan count as new
  nlohmann::json steps = nlohmann::json::array();
  if (!g.json) {
    std::cout << paint(g, "1", "plan " + plan.id) << (plan.description.empty() ? "" : ": " + plan.description) << "\n"
              << "digest " << plan_digest(plan).substr(0, 16) << (db_note.empty() ? "" : "; " + db_note) << "\n";
  }
  for (const auto& ph : plan.phases) {
    if (ph.steps.empty()) continue;
    std::string gate = ph.phase == Phase::contract ? " (start: " + ph.start + ")" : "";
    if (!g.json) std::cout << "\n" << paint(g, "1", phase_name(ph.phase)) << gate << "\n";
    for (const auto& step : ph.steps) {
      auto it = records.find(step.name);
      std::string status = it == records.end() ? "pending" : step_status_name(it->second.status);
      nlohmann::json js = {{"phase", phase_name(ph.phase)}, {"step", step.name}, {"status", status},
                           {"reversible", !step.down.empty()}, {"statements", nlohmann::json::array()}};
      if (!g.json) std::cout << "  " << (status == "completed" ? paint(g, "2", "= ") : paint(g, "32", "+ ")) << step.name << "  [" << status << "]\n";
      if (step.backfill) {
        const Backfill& b = *step.backfill;
        std::string rows = "unknown without the database";
        if (catalog)
          if (auto it = catalog->tables.find(b.table); it != catalog->tables.end())
            rows = it->second.rows > 0 ? "~" + std::to_string(it->second.rows) + " rows" : "no row estimate yet: ANALYZE " + b.table;
        const char* vacuum = guards.pause_on_vacuum == VacuumPause::any          ? "any VACUUM of the table"
                             : guards.pause_on_vacuum == VacuumPause::wraparound ? "an anti-wraparound or manual VACUUM of the table"
                                                                                 : "";
        std::string health = std::string(*vacuum ? std::string("waits for ") + vacuum : "") +
                             (guards.max_archive_pending > 0 ? std::string(*vacuum ? ", " : "") + "waits while over " +
                                                                   std::to_string(guards.max_archive_pending) + " WAL segments wait for the archiver"
                                                             : "");
        js["backfill"] = {{"table", b.table}, {"set", b.set}, {"where", b.where}, {"batch_rows", b.batch_rows},
                          {"target_batch_time", format_duration(b.target_batch_time)}, {"pause", format_duration(b.pause)}, {"rows", rows},
                          {"health", health}};
        if (!g.json)
          std::cout << "      backfill " << b.table << " SET " << b.set << (b.where.empty() ? "" : " WHERE " + b.where) << " (" << rows << ")\n"
                    << "        keyset batches over the primary key, each its own short transaction (row locks on one batch only),\n"
                    << "        up to " << b.batch_rows << " keys, steering to " << format_duration(b.target_batch_time)
                    << " per batch" << (b.pause.count() ? ", pause " + format_duration(b.pause) : "")
                    << "; resumable from its cursor; load guards between batches\n"
                    << "        health stops: " << (health.empty() ? "off" : health) << " (docs/guards/load.md)\n";
        steps.push_back(js);
        continue;
      }
      if (step.sql.empty()) {
        if (!g.json) std::cout << "      command step (not run by this build)\n";
        steps.push_back(js);
        continue;
      }
      auto parsed = sql::parse(step.sql);
      bool in_tx = parsed.script && step.transaction.value_or(parsed.script->allowed_in_transaction());
      js["transaction"] = in_tx;
      js["lock_timeout"] = format_timeout(step.lock_timeout.value_or(guards.lock_timeout));
      for (const auto& st : parsed.script ? parsed.script->statements : std::vector<sql::Statement>{}) {
        auto sp = describe(st, history, catalog);
        // CONCURRENTLY waits for every older transaction of the database: its own lock timeout (docs/guards/lock-timeout.md).
        std::string waits;
        if (st.concurrently) {
          auto ts = statement_timeouts(step, guards, st);
          waits = "waits for every transaction older than it in the whole database (and for the table's lock holders); " +
                  std::string(step.lock_timeout ? "lock_timeout " : "concurrent_lock_timeout ") + format_timeout(ts.lock_timeout) +
                  " counts those waits";
          sp.json["lock_timeout"] = format_timeout(ts.lock_timeout);
          sp.json["note"] = waits;
        }
        js["statements"].push_back(sp.json);
        if (!g.json)
          std::cout << "      " << sp.text << "\n        lock: " << sp.locks << "\n        work: " << sp.work
                    << "; estimate: " << sp.estimate << "\n" << (waits.empty() ? "" : "        note: " + waits + "\n");
        for (const auto& a : st.actions) {
          if (a.kind == "create_table") history.created_tables.insert(a.table);
          if (a.kind == "create_index") history.created_indexes.insert(a.name);
        }
      }
      if (!g.json)
        std::cout << "      " << (in_tx ? "one transaction with its record" : "outside a transaction, intent recorded first")
                  << "; lock_timeout " << format_timeout(step.lock_timeout.value_or(guards.lock_timeout)) << "\n";
      steps.push_back(js);
    }
  }
  auto guard_json = guards_now(loaded->project, plan, guards, dbh.get(), state_schema);
  std::vector<StepRecord> recs;
  for (const auto& [name, r] : records) recs.push_back(r);
  const PlanStatus st = plan_status(plan, recs, latest);
  const int exit = detailed_exitcode ? detailed_exit(st, guard_json, summary) : 0;
  nlohmann::json changes = {{"known", dbh != nullptr}, {"state", plan_state_name(st.state)}, {"pending", st.pending},
                            {"contract_pending", st.contract_pending}, {"part_applied", st.part_applied}};
  if (g.json) {
    print_json({{"plan", plan.id}, {"digest", plan_digest(plan)}, {"database", db_note.empty() ? "ok" : db_note},
                {"steps", steps}, {"guards", guard_json}, {"changes", changes},
                {"lint", {{"errors", summary.errors}, {"warnings", summary.warnings}}}});
    return exit;
  }
  std::cout << "\n" << paint(g, "1", "guards now") << "\n"
            << "  lock timeout: " << guard_json["lock_timeout"]["lock_timeout"].get<std::string>() << " per attempt ("
            << guard_json["lock_timeout"]["concurrent_lock_timeout"].get<std::string>() << " for CONCURRENTLY statements), "
            << guards.lock_retries << " retries (backoff " << guard_json["lock_timeout"]["backoff"].get<std::string>()
            << "), statement_timeout " << guard_json["lock_timeout"]["statement_timeout"].get<std::string>() << "\n"
            << "  windows: " << guard_json["windows"]["verdict"].get<std::string>() << "\n"
            << "  approvals: " << guard_json["approvals"]["verdict"].get<std::string>() << "\n"
            << "  load: " << guard_json["load"]["verdict"].get<std::string>() << "\n";
  std::cout << "\nlint: " << summary.errors << " errors, " << summary.warnings << " warnings"
            << (summary.errors ? " — run would refuse; see phasegate lint " + plan.id : "") << "\n"
            << "nothing was changed\n";
  if (detailed_exitcode) {
    const size_t n = st.pending.size() + st.contract_pending.size();
    std::cout << (n ? std::to_string(n) + " step" + (n == 1 ? "" : "s") + " to apply" : std::string("nothing to apply"))
              << " (plan is " << plan_state_name(st.state) << "); exit " << exit << "\n";
  }
  return exit;
}

}  // namespace phasegate::cli
