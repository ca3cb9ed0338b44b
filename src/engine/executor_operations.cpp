// Operations around the SQL (SPEC §1.1 [services.*], [smoke.*]; §1.2 restart/smoke): command steps, service
// restarts with their health checks, smoke checks. Every program runs through the ProcessRunner port (argv,
// no shell), every HTTP request through HttpClient, every SQL check through Target.
#include <algorithm>

#include "engine/executor_context.hpp"
#include "phasegate/smoke.hpp"
#include "phasegate/text.hpp"

namespace phasegate {

namespace {
constexpr Millis kHealthPoll{250};  // between health checks of a restarting service
constexpr size_t kOutputTail = 2000;  // bytes of a program's stdout/stderr kept in an event

std::string tail(const std::string& s) {
  return s.size() <= kOutputTail ? s : "..." + valid_utf8(s.substr(s.size() - kOutputTail));  // (a cut mid-character)
}

json process_json(const ProcessResult& r) {
  json j{{"exit", r.exit_code}, {"signal", r.signal}, {"timed_out", r.timed_out}, {"elapsed_ms", r.elapsed.count()},
         {"stdout", tail(r.out)}, {"stderr", tail(r.err)}};
  if (r.interrupted) j["interrupted"] = true;
  // Processes it left running (a daemon it started): alive, and where their inherited output goes.
  if (!r.background_output.empty()) j["background_output"] = r.background_output;
  return j;
}

Millis remaining(TimePoint now, TimePoint deadline) {
  return std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - now));
}

// The last non-empty line a program wrote (its own explanation of a failure), for messages.
std::string last_words(const ProcessResult& r) {
  std::string s = trim(r.err.empty() ? r.out : r.err);
  auto nl = s.rfind('\n');
  std::string line = nl == std::string::npos ? s : s.substr(nl + 1);
  return line.size() > 300 ? valid_utf8(line.substr(0, 300)) + "..." : line;
}

std::string outcome_of(const ProcessResult& r) {
  std::string words = last_words(r);
  return r.describe() + (words.empty() ? "" : ": " + words);
}
}  // namespace

ProcessSpec project_hook(const Project& project, std::vector<std::string> argv, Millis timeout,
                         std::vector<std::pair<std::string, std::string>> env, bool secrets) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.cwd = project.root;
  spec.timeout = timeout;
  spec.env = std::move(env);
  spec.env.emplace_back("PHASEGATE_PROJECT_ROOT", project.root);
  if (!secrets)
    for (const std::string& var : {project.url_env, std::string("PGPASSWORD")})
      if (std::find(project.hook_pass_env.begin(), project.hook_pass_env.end(), var) == project.hook_pass_env.end())
        spec.unset_env.push_back(var);
  return spec;
}

// A hook of the run: project_hook with the run's PHASEGATE_* variables.
ProcessSpec Executor::hook(Context& cx, std::vector<std::string> argv, const std::string& event, const std::string& phase,
                           const std::string& step, Millis timeout, bool secrets) {
  return project_hook(project_, std::move(argv), timeout,
                      {{"PHASEGATE_RUN_ID", std::to_string(cx.run.id)},
                       {"PHASEGATE_PLAN", cx.plan.id},
                       {"PHASEGATE_PHASE", phase},
                       {"PHASEGATE_STEP", step},
                       {"PHASEGATE_EVENT", event},
                       {"PHASEGATE_RELEASE_COMMIT", cx.run.release_commit.empty() ? cx.options.release_commit : cx.run.release_commit}},
                      secrets);
}

// Runs a program of the run (a command step, a restart, a health or smoke check). An operator's abort
// interrupts it (SIGTERM to its group, SIGKILL after the grace), which is an abort, not a failure.
Result<ProcessResult> Executor::run_program(Context& cx, const ProcessSpec& spec) {
  ProcessSpec s = spec;
  if (cx.run.id != 0 && !cx.abort_seen) s.interrupt = [this, &cx] { return abort_check(cx).has_value(); };
  auto r = runner_->run(s);
  // It may have restarted the target database (a command step after ALTER SYSTEM, a restart of the db
  // service): its outcome is known, so the session comes back here instead of the step being run again.
  if (auto back = reconnect_in_place(cx); !back) return std::unexpected(back.error());
  if (r && r->interrupted)
    if (auto aborted = abort_check(cx)) return std::unexpected(*aborted);
  return r;
}

// command = [...] in a plan: the intent is recorded first (run_step; a process that dies mid-command leaves
// the step `running`, and the next run runs the command again: command steps must be safe to repeat), then
// the program under the step's statement_timeout. It gets the database URL: a command step is part of the
// migration.
Result<void> Executor::run_command_step(Context& cx, const Step& step, const Timeouts& t) {
  if (!runner_) return fail(Exit::internal, "a command step needs a process runner (a bug)");
  auto& rec = cx.records[step.name];
  const std::string phase = phase_name(step.phase);
  auto result = run_program(cx, hook(cx, step.command, "step", phase, step.name, t.statement_timeout, true));
  if (!result && (stops_run(result.error()) || result.error().code == Exit::blocked)) return std::unexpected(result.error());
  if (!result)
    return fail(Exit::failed, "plan " + cx.plan.id + ", step \"" + step.name + "\": " + result.error().message);
  if (!result->ok())
    return fail(Exit::failed, "plan " + cx.plan.id + ", step \"" + step.name + "\": command " + join(step.command, " ") +
                                  " failed (" + outcome_of(*result) + ")");
  json payload = process_json(*result);
  payload["duration_ms"] = std::chrono::duration_cast<Millis>(clock_.now() - *rec.started_at).count();
  payload["command"] = step.command;
  return step_to(cx, step, StepTrigger::finish, payload.dump());
}

// A phase's restarts and smoke checks still have to run when its steps are done but this run never recorded
// phase.completed (the runner died between the last step and the restarts).
Result<bool> Executor::needs_finish(Context& cx, const PhaseSpec& spec) {
  if ((spec.restart.empty() && spec.smoke.empty()) || cx.run.id == 0) return false;
  auto done = store_.phase_completed(cx.run.id, phase_name(spec.phase));
  if (!done) return std::unexpected(done.error());
  return !*done;
}

Result<void> Executor::finish_phase(Context& cx, const PhaseSpec& spec) {
  const std::string phase = phase_name(spec.phase);
  for (const auto& name : spec.restart)
    if (auto r = restart_service(cx, phase, name); !r) return r;
  for (const auto& name : spec.smoke)
    if (auto r = run_smoke(cx, phase, name); !r) return r;
  return {};
}

// One health measurement: http (status == expect_status), command (exit 0), sql (returns true).
Result<bool> Executor::healthy_once(Context& cx, const Service& service, Millis timeout, std::string& why) {
  const Health& h = *service.health;
  if (!h.http.empty()) {
    if (!http_) return fail(Exit::internal, "an http health check needs an HTTP client (a bug)");
    auto r = http_->get(h.http, std::min(timeout, Millis(10'000)));
    if (!r) {
      why = "GET " + h.http + ": " + r.error().message;
      return false;
    }
    why = "GET " + h.http + " answered " + std::to_string(r->status) + " (expected " + std::to_string(h.expect_status) + ")";
    return r->status == h.expect_status;
  }
  if (!h.sql.empty()) {
    // The service may be the database itself: a restart broke our session, and this check waits for it back.
    if (auto back = reconnect_in_place(cx); !back) return std::unexpected(back.error());
    auto r = target_.check(h.sql, Timeouts{Millis(5000), std::min(timeout, Millis(10'000))});
    if (!r) {
      why = "health sql: " + r.error().message;
      return false;
    }
    why = std::string("health sql returned ") + (*r ? "true" : "false");
    return *r;
  }
  auto r = run_program(cx, hook(cx, h.command, "service.health", cx.run.phase, "", std::min(timeout, Millis(30'000))));
  if (!r) return std::unexpected(r.error());
  why = join(h.command, " ") + ": " + outcome_of(*r);
  return r->ok();
}

// Restart one service and wait until it is healthy, within its health timeout (default 60 s) or `deadline`.
Result<void> Executor::restart_service(Context& cx, const std::string& phase, const std::string& name,
                                       std::optional<TimePoint> deadline) {
  auto it = project_.services.find(name);
  if (it == project_.services.end()) return fail(Exit::invalid, "unknown service \"" + name + "\" in phase " + phase);
  if (!runner_) return fail(Exit::internal, "restarting services needs a process runner (a bug)");
  const Service& s = it->second;
  const TimePoint start = clock_.now();
  const Millis budget = s.health ? s.health->timeout : Millis(60'000);
  TimePoint until = start + budget;
  if (deadline) until = std::min(until, *deadline);
  std::string target = s.kind == "systemd"      ? s.unit
                       : s.kind == "kubernetes" ? "deployment/" + s.deployment
                                                : join(s.restart, " ");
  std::vector<std::string> ns;
  if (s.kind == "kubernetes" && !s.namespace_.empty()) ns = {"-n", s.namespace_};
  std::vector<std::string> argv = s.kind == "systemd"      ? std::vector<std::string>{"systemctl", "restart", s.unit}
                                  : s.kind == "kubernetes" ? std::vector<std::string>{"kubectl", "rollout", "restart", target}
                                                           : s.restart;
  argv.insert(argv.end(), ns.begin(), ns.end());
  if (auto r = emit(cx, "service.restarting", phase, "", json{{"service", name}, {"kind", s.kind}, {"argv", argv}}.dump()); !r)
    return r;
  auto unhealthy = [&](const std::string& why, const json& detail) -> Result<void> {
    json payload{{"service", name}, {"reason", why}, {"elapsed_ms", std::chrono::duration_cast<Millis>(clock_.now() - start).count()}};
    if (!detail.is_null()) payload["process"] = detail;
    (void)emit(cx, "service.unhealthy", phase, "", payload.dump());
    return fail(Exit::failed, "service " + name + " did not become healthy after the " + phase + " phase: " + why);
  };
  auto run = [&](std::vector<std::string> args, const std::string& event) -> Result<ProcessResult> {
    Millis left = remaining(clock_.now(), until);
    return run_program(cx, hook(cx, std::move(args), event, phase, "", std::max(left, Millis(1000))));
  };
  auto restarted = run(argv, "service.restart");
  if (!restarted && stops_run(restarted.error())) return std::unexpected(restarted.error());
  if (!restarted) return unhealthy(join(argv, " ") + ": " + restarted.error().message, nullptr);
  if (!restarted->ok()) return unhealthy(join(argv, " ") + " " + outcome_of(*restarted), process_json(*restarted));
  if (s.kind == "systemd") {
    // systemctl restart returns once the unit started; is-active says whether it stayed up.
    auto active = run({"systemctl", "is-active", s.unit}, "service.health");
    if (!active) return unhealthy("systemctl is-active: " + active.error().message, nullptr);
    if (!active->ok()) return unhealthy("systemctl is-active " + s.unit + " " + outcome_of(*active), process_json(*active));
  } else if (s.kind == "kubernetes") {
    long long secs = std::max<long long>(1, remaining(clock_.now(), until).count() / 1000);
    std::vector<std::string> status{"kubectl", "rollout", "status", target, "--timeout=" + std::to_string(secs) + "s"};
    status.insert(status.end(), ns.begin(), ns.end());
    auto rolled = run(status, "service.health");
    if (!rolled) return unhealthy("kubectl rollout status: " + rolled.error().message, nullptr);
    if (!rolled->ok()) return unhealthy(join(status, " ") + " " + outcome_of(*rolled), process_json(*rolled));
  }
  int checks = 0;
  if (s.health) {
    std::string why;
    while (true) {
      ++checks;
      auto ok = healthy_once(cx, s, std::max(remaining(clock_.now(), until), Millis(1000)), why);
      if (!ok && stops_run(ok.error())) return std::unexpected(ok.error());
      if (!ok) return unhealthy(ok.error().message, nullptr);
      if (*ok) break;
      if (clock_.now() + kHealthPoll >= until)
        return unhealthy("not healthy within " + format_duration(budget) + " (" + std::to_string(checks) + " checks; last: " + why + ")", nullptr);
      clock_.sleep_for(kHealthPoll);
      if (auto stop = abort_check(cx)) return std::unexpected(*stop);  // an abort or a signal ends the wait
    }
  }
  return emit(cx, "service.healthy", phase, "",
              json{{"service", name}, {"checks", checks}, {"process", process_json(*restarted)},
                   {"elapsed_ms", std::chrono::duration_cast<Millis>(clock_.now() - start).count()}}.dump());
}

Result<SmokeMeasurement> measure_smoke(const Smoke& s, const SmokeProbes& probes) {
  SmokeMeasurement m;
  if (!s.command.empty()) {
    if (!probes.run) return fail(Exit::internal, "a command smoke check needs a process runner (a bug)");
    auto r = probes.run(s.command, s.timeout);
    if (!r) return std::unexpected(r.error());
    m.ok = r->ok();
    m.what = join(s.command, " ") + " " + outcome_of(*r);
    m.detail = process_json(*r).dump();
  } else if (!s.http.empty()) {
    if (!probes.http) return fail(Exit::internal, "an http smoke check needs an HTTP client (a bug)");
    auto r = probes.http->get(s.http, s.timeout);
    m.ok = r && (s.expect_status ? r->status == s.expect_status : r->status / 100 == 2);
    m.what = "GET " + s.http + (r ? " answered " + std::to_string(r->status) : ": " + r.error().message);
    m.detail = json{{"status", r ? r->status : 0}, {"body", r ? tail(r->body) : ""}}.dump();
  } else {
    if (!probes.sql) return fail(Exit::internal, "an sql smoke check needs a database (a bug)");
    auto r = probes.sql(s.sql, Timeouts{Millis(5000), s.timeout});
    m.ok = r && *r;
    m.what = "sql " + (r ? std::string(*r ? "returned true" : "returned false") : r.error().message);
    m.detail = json{{"result", r ? json(*r) : json(r.error().message)}}.dump();
  }
  return m;
}

// `count` measurements `interval` apart; more than `failure_limit` failures fail the phase.
Result<void> Executor::run_smoke(Context& cx, const std::string& phase, const std::string& name) {
  auto it = project_.smoke.find(name);
  if (it == project_.smoke.end()) return fail(Exit::invalid, "unknown smoke check \"" + name + "\" in phase " + phase);
  const Smoke& s = it->second;
  SmokeProbes probes;
  if (runner_)
    probes.run = [&](const std::vector<std::string>& argv, Millis timeout) {
      return run_program(cx, hook(cx, argv, "smoke", phase, "", timeout));
    };
  probes.http = http_;
  probes.sql = [&](const std::string& sql, const Timeouts& t) { return target_.check(sql, t); };
  int passes = 0, failures = 0;
  json measurements = json::array();
  std::string last_failure;
  for (int i = 0; i < s.count; ++i) {
    if (i > 0) clock_.sleep_for(s.interval);
    if (auto stop = abort_check(cx); stop && i > 0) return std::unexpected(*stop);
    if (!s.sql.empty())  // the database may have been restarted by the phase: the check waits for it back
      if (auto back = reconnect_in_place(cx); !back) return std::unexpected(back.error());
    auto m = measure_smoke(s, probes);
    if (!m && stops_run(m.error())) return std::unexpected(m.error());
    if (!m && m.error().code == Exit::internal) return std::unexpected(m.error());
    if (!m) return fail(Exit::failed, "smoke check " + name + ": " + m.error().message);
    (m->ok ? passes : failures) += 1;
    if (!m->ok) last_failure = m->what;
    measurements.push_back(json::parse(m->detail));
    if (failures > s.failure_limit) break;
  }
  json payload{{"smoke", name}, {"passes", passes}, {"failures", failures}, {"failure_limit", s.failure_limit},
               {"measurements", measurements}};
  if (failures > s.failure_limit) {
    payload["reason"] = last_failure;
    (void)emit(cx, "smoke.failed", phase, "", payload.dump());
    return fail(Exit::failed, "smoke check " + name + " failed after the " + phase + " phase (" + std::to_string(failures) +
                                  " failure(s), limit " + std::to_string(s.failure_limit) + "): " + last_failure);
  }
  return emit(cx, "smoke.passed", phase, "", payload.dump());
}

}  // namespace phasegate
