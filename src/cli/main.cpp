// Argument parsing only; every command lives in its own file. The single catch-all is here.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/generate.hpp"
#include "cli/output.hpp"
#include "cli/usage.hpp"
#include "cli/notify_service.hpp"
#include "cli/version.hpp"
#include "phasegate/error.hpp"

using namespace phasegate;

namespace {
int dispatch(int argc, char** argv) {
  cli::redact_console();
  cli::Global g;
  CLI::App app{"phasegate: phased PostgreSQL schema changes (expand -> migrate -> contract) behind guards", "phasegate"};
  app.set_version_flag("--version", cli::version_line());
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("-C", g.dir, "project root (default: the nearest parent holding phasegate.toml)")->type_name("DIR");
  app.add_flag("--json", g.json, "print one JSON document on stdout; logs go to stderr");
  app.add_flag("-y,--yes", g.yes, "answer yes to prompts");

  std::string name;
  auto* init = app.add_subcommand("init", "scaffold phasegate.toml, plans/ and hooks/");
  init->add_option("--name", name, "project name (default: the directory name)");
  auto* new_cmd = app.add_subcommand("new", "add plans/NNNN-NAME.toml from a template");
  new_cmd->add_option("NAME", name, "plan name")->required();
  std::string recipe;
  std::vector<std::string> recipe_sets;
  new_cmd->add_option("--recipe", recipe, "a ready plan from plans/ (docs/recipes.md): add-column-default, add-not-null, ...");
  new_cmd->add_option("--set", recipe_sets, "the recipe's variables: --set table=orders column=note (KEY=VALUE, repeatable)");

  std::vector<std::string> plans;
  auto* validate = app.add_subcommand("validate", "check config and plans: TOML, keys, SQL syntax, references, hooks");
  validate->add_option("PLAN", plans, "plan ids or files (default: all)");

  cli::RunArgs run_args;
  auto* run = app.add_subcommand("run", "create or resume the run of PLAN (default: every pending plan, in order)");
  run->add_option("PLAN", run_args.plan, "plan id or file");
  run->add_option("--phase", run_args.phase, "expand | migrate | contract | all (contract starts only when named or its start gate is open)")
      ->check(CLI::IsMember({"expand", "migrate", "contract", "all"}));
  run->add_option("--as", run_args.principal, "principal starting the run (default: $PHASEGATE_PRINCIPAL)");
  run->add_option("--release-commit", run_args.release_commit, "commit master rollback reverts (default: $PHASEGATE_RELEASE_COMMIT)");

  std::string wait_value;
  auto* wait_opt = run->add_option("--wait", wait_value, "wait until the window opens / approvals arrive (optionally at most DUR: --wait=2h)")
                       ->expected(0, 1);

  cli::ApproveArgs approve_args;
  auto* approve = app.add_subcommand("approve", "sign an approval of PLAN with your SSH key (ssh-keygen -Y sign)");
  approve->add_option("PLAN", approve_args.plan, "plan id or file")->required();
  approve->add_option("--key", approve_args.key, "your SSH private key (or .pub with the key in ssh-agent)")->required();
  approve->add_option("--principal", approve_args.principal, "your principal in allowed_signers (default: found from the key)");
  approve->add_option("--valid-for", approve_args.valid_for, "lifetime of the approval (default: approvals.valid_for; max 7d)");
  approve->add_option("--comment", approve_args.comment, "a note kept with the approval");
  std::string approvals_plan, approvals_as;
  auto* approvals = app.add_subcommand("approvals", "list PLAN's approvals: which count toward the quorum and why others do not");
  approvals->add_option("PLAN", approvals_plan, "plan id or file")->required();
  approvals->add_option("--as", approvals_as, "the principal who will start the run (default: $PHASEGATE_PRINCIPAL)");
  std::string revoke_plan, revoke_key;
  auto* revoke = app.add_subcommand("revoke", "withdraw your approvals of PLAN (proved with your SSH key)");
  revoke->add_option("PLAN", revoke_plan, "plan id or file")->required();
  revoke->add_option("--key", revoke_key, "your SSH private key")->required();

  std::string plan;
  bool check = false;
  auto* status = app.add_subcommand("status", "applied / pending / running / drifted per plan");
  status->add_option("PLAN", plan, "plan id or file");
  status->add_flag("--check", check, "exit 4 when an expand/migrate step is pending or any step drifted");

  std::string run_id;
  auto* log = app.add_subcommand("log", "the event timeline of a run (default: the latest)");
  log->add_option("RUN", run_id, "run id");
  std::string report_run, report_format = "md";
  auto* report_cmd = app.add_subcommand("report", "a blameless postmortem draft of a run (default: the latest): md, html or json");
  report_cmd->add_option("RUN", report_run, "run id");
  report_cmd->add_option("--format", report_format, "md | html (one self-contained file) | json (docs/schemas/report.schema.json)")
      ->check(CLI::IsMember({"md", "html", "json"}));

  std::string abort_run;
  auto* abort_cmd = app.add_subcommand("abort", "stop a run now from another terminal (cancels its running statement), then roll back per [rollback]");
  abort_cmd->add_option("RUN", abort_run, "run id")->required();
  std::string rollback_plan;
  auto* rollback_cmd = app.add_subcommand("rollback", "undo an applied plan's reversible steps by hand (down SQL, newest first)");
  rollback_cmd->add_option("PLAN", rollback_plan, "plan id or file")->required();

  std::string runs_plan;
  auto* runs_cmd = app.add_subcommand("runs", "the runs: id, plan, state, started, by whom, how they ended");
  runs_cmd->add_option("PLAN", runs_plan, "plan id or file (default: every plan)");
  std::string mark_plan, mark_step, mark_reason;
  bool mark_applied = false, mark_pending = false;
  auto* mark_cmd = app.add_subcommand("mark", "repair by hand: record that a step's effect is (--applied) or is not (--pending) in the database; needs --yes");
  mark_cmd->add_option("PLAN", mark_plan, "plan id or file")->required();
  mark_cmd->add_option("STEP", mark_step, "step name")->required();
  mark_cmd->add_flag("--applied", mark_applied, "its effect is in the database");
  mark_cmd->add_flag("--pending", mark_pending, "its effect is not in the database");
  mark_cmd->add_option("--reason", mark_reason, "why, kept in the audited event");

  std::vector<std::string> lint_targets;
  std::string lint_format = "text";
  auto* notify_cmd = app.add_subcommand("notify", "notifications: `notify test [NAME]` sends a sample to each [notify.*] sink now");
  notify_cmd->require_subcommand(1);
  auto* notify_test = notify_cmd->add_subcommand("test", "send a sample event to sink NAME (default: every sink) and say what it answered");
  std::string notify_name;
  notify_test->add_option("NAME", notify_name, "a [notify.NAME] sink");
  auto* lint = app.add_subcommand("lint", "SQL safety analysis of plans and plain .sql files (exit 3 on error findings)");
  lint->add_option("TARGET", lint_targets, "plan ids, plan files or .sql files (default: every plan)");
  lint->add_option("--format", lint_format, "text | json | github (workflow annotations + $GITHUB_STEP_SUMMARY) | gitlab (Code Quality report)")
      ->check(CLI::IsMember({"text", "json", "github", "gitlab"}));
  bool lint_db = false;
  lint->add_flag("--db", lint_db, "add facts from the target database: sizes, row estimates, old transactions");
  std::vector<std::string> lint_enable;
  lint->add_option("--enable", lint_enable,
                   "opt-in rules to apply too, RULE[,RULE] (schema advice: prefer-text, prefer-bigint, prefer-identity, "
                   "prefer-timestamptz, ban-char, prefer-jsonb, enum-value-position, require-idempotent; docs/lint.md)")
      ->delimiter(',');

  std::string window_name, window_at;
  bool window_next = false;
  auto* window = app.add_subcommand("window", "is the off-peak window open now (or --at TIME); when it next opens and closes (exit 75 when closed)");
  window->add_option("NAME", window_name, "window name (default: every window)");
  window->add_option("--at", window_at, "an RFC 3339 instant, e.g. 2026-11-22T04:00:00Z");
  window->add_flag("--next", window_next, "also the opening/closing after the next one");

  std::string dry_plan;
  bool detailed_exitcode = false;
  auto* plan_cmd = app.add_subcommand("plan", "dry run: every step with its locks, rewrite risk, estimate, status and the guards; changes nothing");
  plan_cmd->add_option("PLAN", dry_plan, "plan id or file")->required();
  plan_cmd->add_flag("--detailed-exitcode", detailed_exitcode,
                     "exit 0 when there is nothing to do, 8 when steps are pending and run would start them now, 75 when a guard "
                     "would make run wait (errors keep their codes; like terraform plan -detailed-exitcode)");

  std::string trace_plan, scratch_url;
  auto* trace = app.add_subcommand("trace", "run PLAN on a scratch database and compare the locks/rewrites taken with the analysis");
  trace->add_option("PLAN", trace_plan, "plan id or file")->required();
  trace->add_option("--scratch-url", scratch_url, "libpq conninfo/URI of a throwaway database holding the schema")->required();

  cli::AnnounceArgs announce_args;
  auto* announce = app.add_subcommand("announce", "set the broadcast status apps show as a banner (ok, maintenance, degraded, down)");
  announce->add_option("--level", announce_args.level, "ok | maintenance | degraded | down")->required();
  announce->add_option("--message", announce_args.message, "the banner text (required unless --level ok)");
  announce->add_option("--until", announce_args.until, "when it is over: an RFC 3339 instant or a duration from now (90m)");
  cli::ServeArgs serve_args;
  auto* serve = app.add_subcommand("serve", "HTTP /status (JSON), /metrics (Prometheus), /healthz; runs continuous smoke checks");
  serve->add_option("--listen", serve_args.listen, "HOST:PORT to listen on, e.g. 127.0.0.1:9464 (port 0: a free one)")->required();
  serve->add_option("--interval", serve_args.interval, "how often the state schema is read (default 2s)");
  auto* generate = cli::add_generate_command(app);  // hidden: man page and completions from this definition
  std::vector<std::string> help_topic;
  auto* help = app.add_subcommand("help", "show a command's usage and options, the global options and the exit codes");
  help->add_option("COMMAND", help_topic, "a command, e.g. status or notify test (default: phasegate's own help)");
  cli::document(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // The parse stopped early, so --json may not be set yet: look for it (before a "--" that ends the options).
    std::vector<std::string> args(argv + 1, argv + argc);
    for (const auto& a : args) {
      if (a == "--") break;
      if (a == "--json") g.json = true;
    }
    return cli::parse_failure(app, e, args, g);
  }
  // Colour when either stream is a terminal; the other one drops it (redact_console).
  g.color = (::isatty(STDOUT_FILENO) || ::isatty(STDERR_FILENO)) && !cli::no_color();
  try {
    if (*generate) return cli::cmd_generate(app);
    if (*help) return cli::help_command(app, g, help_topic);
    if (*init) return cli::cmd_init(g, name);
    if (*new_cmd) return cli::cmd_new(g, name, recipe, recipe_sets);
    if (*validate) return cli::cmd_validate(g, plans);
    if (*run) {
      if (wait_opt->count() > 0) run_args.wait = wait_value;
      return cli::cmd_run(g, run_args);
    }
    if (*approve) return cli::cmd_approve(g, approve_args);
    if (*approvals) return cli::cmd_approvals(g, approvals_plan, approvals_as);
    if (*revoke) return cli::cmd_revoke(g, revoke_plan, revoke_key);
    if (*status) return cli::cmd_status(g, plan, check);
    if (*log) return cli::cmd_log(g, run_id);
    if (*report_cmd) return cli::cmd_report(g, report_run, g.json ? "json" : report_format);
    if (*abort_cmd) return cli::cmd_abort(g, abort_run);
    if (*rollback_cmd) return cli::cmd_rollback(g, rollback_plan);
    if (*runs_cmd) return cli::cmd_runs(g, runs_plan);
    if (*mark_cmd) return cli::cmd_mark(g, mark_plan, mark_step, mark_applied, mark_pending, mark_reason);
    if (*window) return cli::cmd_window(g, window_name, window_at, window_next);
    if (*plan_cmd) return cli::cmd_plan(g, dry_plan, detailed_exitcode);
    if (*trace) return cli::cmd_trace(g, trace_plan, scratch_url);
    if (*announce) return cli::cmd_announce(g, announce_args);
    if (*serve) return cli::cmd_serve(g, serve_args);
    if (*notify_test) return cli::cmd_notify_test(g, notify_name);
    if (*lint) return cli::cmd_lint(g, lint_targets, g.json ? "json" : lint_format, lint_db, lint_enable);
  } catch (const std::exception& e) {
    return cli::report(g, Error{Exit::internal, std::string("internal error: ") + e.what()});
  }
  return static_cast<int>(Exit::internal);
}
}  // namespace

// Every exit passes finish_json: the command's --json document gets "ok" and "exit" from the code it returns.
int main(int argc, char** argv) {
  int code = cli::finish_json(dispatch(argc, argv));
  cli::finish_notifications();  // what this command queued gets its try (docs/notify.md); never changes the exit code
  return code;
}
