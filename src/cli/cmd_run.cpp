// run: take the run lock, ensure the state schema, drive each selected plan through the executor.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "phasegate/adapters.hpp"
#include "phasegate/engine.hpp"

namespace phasegate::cli {


int cmd_run(const Global& g, const RunArgs& args) {
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  auto selected = select_plans(*loaded, args.plan.empty() ? std::vector<std::string>{} : std::vector<std::string>{args.plan});
  if (!selected) return report(g, selected.error());
  const std::vector<const Plan*>& plans = *selected;
  if (plans.empty()) {
    if (g.json) print_json({{"ok", true}, {"exit", 0}, {"plans", nlohmann::json::array()}});
    else std::cout << "no plans in " << loaded->project.plans_dir << "/; nothing to do (phasegate new NAME adds one)\n";
    return 0;
  }
  RunOptions options;
  if (args.wait) {
    if (args.wait->empty()) {
      options.wait = Millis::max();
    } else {
      auto d = parse_duration(*args.wait);
      if (!d) return report(g, Error{Exit::invalid, "--wait: not a duration: \"" + *args.wait + "\" (write --wait=2h, or --wait alone to wait as long as it takes)"});
      options.wait = *d;
    }
  }
  auto db = open_database(loaded->project, "run");
  if (!db) return report(g, db.error());
  auto& pg = **db;
  if (auto r = pg.lock_runs(); !r) return report(g, r.error());
  if (auto r = pg.ensure_schema(); !r) return report(g, r.error());

  Actor actor = current_actor(args.principal);
  pg.set_actor(actor);
  CrashPoint crash = crash_point_from_env();
  pg.set_crash_point(crash);
  Machinery m;
  Executor executor(loaded->project, pg, pg, m.clock, actor, crash);
  wire(g, executor, m);
  // Backfill progress: a bar redrawn in place on a terminal, otherwise a log line every 10 s.
  const bool tty = ::isatty(STDERR_FILENO);
  auto last_line = std::chrono::steady_clock::now() - std::chrono::hours(1);
  executor.on_progress([&](const backfill::Progress& p) {
    if (tty) {
      int pct = p.estimated_total > 0 ? static_cast<int>(std::min<long long>(100, p.scanned * 100 / p.estimated_total)) : 0;
      std::string bar(static_cast<size_t>(pct / 5), '#');
      bar.resize(20, '.');
      std::cerr << "\r  " << p.step << " [" << bar << "] " << p.line() << "\x1b[K" << (p.done ? "\n" : "") << std::flush;
      return;
    }
    auto now = std::chrono::steady_clock::now();
    if (p.done || now - last_line >= std::chrono::seconds(10)) {
      last_line = now;
      info("  backfill " + p.step + ": " + p.line());
    }
  });
  std::unique_ptr<SshSigner> signer;
  if (loaded->project.approvals)
    signer = std::make_unique<SshSigner>(m.runner, loaded->project.approvals->allowed_signers, loaded->project.root);
  PgGuardProbe probe(pg, signer.get());
  executor.set_guard_probe(&probe);
  if (args.phase != "all") options.phase = parse_phase(args.phase);
  options.release_commit = args.release_commit.empty() ? getenv_or("PHASEGATE_RELEASE_COMMIT") : args.release_commit;

  int exit = 0;
  nlohmann::json results = nlohmann::json::array();
  for (const Plan* plan : plans) {
    if (options.release_commit.empty()) options.release_commit = plan->release_commit;
    PlanOutcome out = executor.run_plan(*plan, options);
    results.push_back({{"plan", out.plan_id}, {"run", out.run_id}, {"status", run_status_name(out.status)}, {"blocked_by", out.blocked_by},
                       {"exit", static_cast<int>(out.exit)}, {"steps_applied", out.steps_applied}, {"message", out.message}});
    if (out.exit != Exit::ok) {
      exit = static_cast<int>(out.exit);
      std::cerr << "phasegate: " << out.message << "\n";
      break;
    }
    if (!g.json) std::cout << out.message << "\n";
    // Plans apply strictly in order: a plan waiting at a gate holds back the ones after it.
    if (out.status == RunStatus::waiting) break;
  }
  if (g.json) print_json({{"ok", exit == 0}, {"exit", exit}, {"plans", results}});
  return exit;
}

}  // namespace phasegate::cli
