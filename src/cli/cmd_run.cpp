// run: take the run lock, ensure the state schema, drive each selected plan through the executor.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/notify_service.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "phasegate/adapters.hpp"
#include "phasegate/engine.hpp"
#include "phasegate/interrupt.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {


namespace {
// SPEC §5.1: the release commit is resolved to a full SHA when the run is created and stored with it, so a
// master rollback reverts exactly that commit — never whatever a branch name points at by then.
Result<std::string> resolve_release_commit(const Project& project, ProcessRunner& runner, const std::string& commit) {
  if (commit.empty() || !project.rollback.master || project.rollback.master->kind != "git") return commit;
  const MasterRollback& m = *project.rollback.master;
  std::filesystem::path repo = std::filesystem::path(m.repo).is_absolute() ? std::filesystem::path(m.repo)
                                                                           : std::filesystem::path(project.root) / m.repo;
  auto git = [&](std::vector<std::string> args) {
    ProcessSpec spec;
    spec.argv = {"git", "-C", repo.string()};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = {{"GIT_TERMINAL_PROMPT", "0"}};
    spec.timeout = Millis(60'000);
    return runner.run(spec);
  };
  (void)git({"fetch", "--quiet", m.remote});  // the release may only be on the remote yet; offline is fine
  auto r = git({"rev-parse", "--verify", "--quiet", commit + "^{commit}"});
  if (!r || !r->ok())
    return fail(Exit::invalid, "--release-commit " + commit + " does not name a commit in " + repo.string() +
                                   " (master rollback could not revert it); pass the release's commit SHA");
  return trim(r->out);
}
}  // namespace

int cmd_run(const Global& g, const RunArgs& args) {
  drain_notifications_at_exit();  // its alerts are the ones that matter: wait for them at exit (docs/notify.md)
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  auto selected = select_plans(*loaded, args.plan.empty() ? std::vector<std::string>{} : std::vector<std::string>{args.plan});
  if (!selected) return report(g, selected.error());
  const std::vector<const Plan*>& plans = *selected;
  if (plans.empty()) {
    // No plan files: still drift when the database holds applied plans (their files were deleted).
    if (auto db = open_database(loaded->project, "run"); db && (*db)->schema_exists().value_or(false)) {
      auto vanished = vanished_plan_messages(*loaded, **db);
      if (!vanished) return report(g, vanished.error());
      if (!vanished->empty()) return report(g, Error{Exit::invalid, "refusing to run: " + join(*vanished, "; ")});
    }
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
  // Release commits are resolved (SPEC §5.1) before anything is touched: a name that does not resolve is exit 2.
  Machinery m;
  options.release_commit = args.release_commit.empty() ? getenv_or("PHASEGATE_RELEASE_COMMIT") : args.release_commit;
  std::map<std::string, std::string> release_of;  // plan id -> the full SHA its new run stores
  for (const Plan* plan : plans) {
    auto resolved = resolve_release_commit(loaded->project, m.runner,
                                           options.release_commit.empty() ? plan->release_commit : options.release_commit);
    if (!resolved)
      return report(g, Error{Exit::invalid, (options.release_commit.empty() ? plan->file + ": release_commit: " : std::string()) +
                                                resolved.error().message});
    release_of[plan->id] = *resolved;
  }
  auto db = open_database(loaded->project, "run");
  if (!db) return report(g, db.error());
  auto& pg = **db;
  announce_target(g, pg, loaded->project);
  // SIGINT/SIGTERM/SIGHUP: the statement in flight is cancelled, a running program gets the signal, the
  // run stops where it is (resumable); a second signal stops at once (phasegate/interrupt.hpp).
  CancelOnInterrupt cancel(pg);
  if (auto r = pg.lock_runs(); !r) return report(g, r.error());
  if (auto r = pg.ensure_schema(); !r) return report(g, r.error());

  Actor actor = current_actor(args.principal);
  pg.set_actor(actor);
  CrashPoint crash = crash_point_from_env();
  pg.set_crash_point(crash);
  Executor executor(loaded->project, pg, pg, m.clock, actor, crash);
  wire(g, executor, m);
  // Backfill progress: a bar redrawn in place on a terminal, otherwise a log line every 10 s (and at a pause).
  executor.on_progress(ProgressReporter(::isatty(STDERR_FILENO)));
  std::unique_ptr<SshSigner> signer;
  if (loaded->project.approvals)
    signer = std::make_unique<SshSigner>(m.runner, loaded->project.approvals->allowed_signers, loaded->project.root);
  PgGuardProbe probe(pg, signer.get());
  executor.set_guard_probe(&probe);
  if (args.phase != "all") options.phase = parse_phase(args.phase);

  // An applied plan whose file is gone or renamed is drift: nothing runs until it is back (SPEC §5.1).
  auto vanished = vanished_plan_messages(*loaded, pg);
  if (!vanished) return report(g, vanished.error());
  if (!vanished->empty()) return report(g, Error{Exit::invalid, "refusing to run: " + join(*vanished, "; ")});
  // Plans apply in file-name order; contract phases too. For a plan named on the command line, the plans
  // before it must have their expand and migrate phases applied, and hold its contract while theirs waits.
  std::string contract_held_by;
  if (!args.plan.empty()) {
    for (const Plan& earlier : loaded->plans) {
      if (earlier.id == plans.front()->id) break;
      auto recs = pg.steps(earlier.id);
      if (!recs) return report(g, recs.error());
      PlanStatus st = plan_status(earlier, *recs, std::nullopt);
      if (!st.pending.empty())
        return report(g, Error{Exit::invalid, "plans apply in file-name order: plan " + earlier.id + " before it has pending steps (" +
                                                  join(st.pending, ", ") + "); run phasegate run (every plan in order) or phasegate run " +
                                                  earlier.id + " first"});
      if (contract_held_by.empty() && !st.contract_pending.empty()) contract_held_by = earlier.id;
    }
  }

  nlohmann::json results = nlohmann::json::array();
  auto prepare = [&](const Plan& plan, RunOptions o) -> Result<RunOptions> {
    o.release_commit = release_of[plan.id];
    auto before = pg.steps(plan.id);
    if (!before) return std::unexpected(before.error());
    for (const auto& d : plan_status(plan, *before, std::nullopt).down_changed)
      info("phasegate: warning: plan " + plan.id + ": the down of applied step \"" + d +
           "\" was edited since it was applied; a rollback runs the down in the file now");
    return o;
  };
  auto done = [&](const PlanOutcome& out) {
    results.push_back(outcome_json(out));
    if (out.exit == Exit::ok && !g.json) std::cout << out.message << "\n";
  };
  options.contract_held_by = contract_held_by;
  OrderedOutcome all = executor.run_in_order(plans, options, prepare, done);
  end_progress();
  // Interrupted: 128 + the signal, as a shell reports a program a signal stopped (130 SIGINT, 143 SIGTERM).
  const int exit = all.exit == Exit::interrupted && interrupt_signal() ? 128 + interrupt_signal() : static_cast<int>(all.exit);
  if (exit != 0) std::cerr << "phasegate: " << all.message << "\n";
  if (exit == 0 && !all.waiting.empty() && !g.json && !options.phase)
    std::cout << "contract phases waiting for their start: " << join(all.waiting, ", ") << " (phasegate run PLAN --phase contract, in this order)\n";
  if (g.json) print_json({{"ok", exit == 0}, {"exit", exit}, {"plans", results}});
  return exit;
}

}  // namespace phasegate::cli
