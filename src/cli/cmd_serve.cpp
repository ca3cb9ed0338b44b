// serve: /status, /metrics, /healthz over HTTP (docs/serve.md). One thread reads the state schema on an interval
// with one connection and measures the continuous smoke checks; HTTP requests only render the last reading. The
// database going away is survived: the last known state is served marked stale, and the session comes back with
// backoff. SIGTERM (or SIGINT) stops it cleanly: exit 0.
#include <iostream>
#include <mutex>

#include "cli/output.hpp"
#include "phasegate/interrupt.hpp"
#include "phasegate/serve.hpp"
#include "phasegate/smoke.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

namespace {
struct Listen {
  std::string host;
  int port = 0;
};

Result<Listen> parse_listen(const std::string& text) {
  auto colon = text.rfind(':');
  auto bad = [&] {
    return fail(Exit::invalid, "--listen: \"" + truncate_utf8(text, 80) + "\" is not HOST:PORT (127.0.0.1:9464, [::1]:9464, :9464 for every address)");
  };
  if (colon == std::string::npos || colon + 1 >= text.size() || text.size() > 300) return bad();
  Listen l;
  l.host = text.substr(0, colon);
  if (l.host.empty()) l.host = "0.0.0.0";
  if (l.host.size() > 2 && l.host.front() == '[' && l.host.back() == ']') l.host = l.host.substr(1, l.host.size() - 2);
  const std::string port = text.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return bad();
  l.port = std::stoi(port);
  if (l.port > 65535) return bad();
  return l;
}

// What the HTTP threads render: the last good reading and whether the latest read failed.
struct Shared {
  std::mutex mu;
  std::optional<serve::Reading> reading;
  std::vector<PlanStatus> plans;
  TimePoint read_at{};
  bool stale = false;
  std::string error;
  std::map<std::string, double> floor;  // counters served so far (they never go down)
  serve::View view() {
    serve::View v;
    v.reading = reading ? &*reading : nullptr;
    v.plans = plans;
    v.read_at = read_at;
    v.stale = stale;
    v.read_error = error;
    return v;
  }
};

// The session is gone: one attempt now and then, 250 ms doubling to 5 s apart.
struct Reconnect {
  Millis wait{250};
  std::chrono::steady_clock::time_point next{};
  bool attempt(PgDatabase& pg, std::string& why) {
    const auto now = std::chrono::steady_clock::now();
    if (now < next) return false;
    auto r = pg.reconnect(Millis(1));
    if (r) {
      wait = Millis(250);
      info("phasegate serve: reconnected to the database");
      return true;
    }
    why = r.error().message;
    next = now + wait;
    wait = std::min(wait * 2, Millis(5000));
    return false;
  }
};

void routes(HttpServer& server, Shared& shared, Clock& clock) {
  server.get("/status", [&] {
    std::lock_guard lock(shared.mu);
    return HttpServer::Response{shared.reading ? 200 : 503, "application/json", serve::status_json(shared.view(), clock.now())};
  });
  server.get("/metrics", [&] {
    std::lock_guard lock(shared.mu);
    return HttpServer::Response{200, "text/plain; version=0.0.4; charset=utf-8", serve::metrics_text(shared.view(), clock.now(), shared.floor)};
  });
  // Liveness of serve itself (a database away is /status's "stale", not a reason to restart serve).
  server.get("/healthz", [&] {
    std::lock_guard lock(shared.mu);
    return HttpServer::Response{200, "application/json", std::string("{\"ok\":true,\"stale\":") + (shared.stale || !shared.reading ? "true" : "false") + "}"};
  });
}
}  // namespace

int cmd_serve(const Global& g, const ServeArgs& a) {
  auto listen = parse_listen(a.listen);
  if (!listen) return report(g, listen.error());
  auto interval = parse_duration(a.interval);
  if (!interval || *interval < Millis(100) || *interval > Millis(3'600'000))
    return report(g, Error{Exit::invalid, "--interval: \"" + truncate_utf8(a.interval, 40) + "\" is not a duration between 100ms and 1h"});
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  const Project& project = loaded->project;
  auto db = open_database(project, "serve");
  if (!db) return report(g, db.error());
  auto& pg = **db;
  if (auto r = pg.ensure_schema(); !r) return report(g, r.error());

  CancelOnInterrupt cancel(pg);

  Machinery m;
  Shared shared;
  HttpServer server;
  routes(server, shared, m.clock);
  auto port = server.bind(listen->host, listen->port);
  if (!port) return report(g, port.error());

  // Continuous smoke checks ([smoke.NAME] every): after the newest completed run, on their interval.
  int64_t deploy_run = 0;
  std::string deploy_plan;
  SmokeProbes probes;
  probes.run = [&](const std::vector<std::string>& argv, Millis timeout) {
    return m.runner.run(project_hook(project, argv, timeout,
                                     {{"PHASEGATE_EVENT", "smoke"}, {"PHASEGATE_SMOKE_MODE", "continuous"}, {"PHASEGATE_RUN_ID", std::to_string(deploy_run)},
                                      {"PHASEGATE_PLAN", deploy_plan}}));
  };
  probes.http = &m.http;
  probes.sql = [&](const std::string& sql, const Timeouts& t) { return pg.check(sql, t); };
  SmokeWatch watch(project, pg, m.clock, probes);

  server.start();
  info("phasegate serve: listening on http://" + (listen->host.find(':') != std::string::npos ? "[" + listen->host + "]" : listen->host) +
       ":" + std::to_string(*port) + " (/status, /metrics, /healthz); reading the state schema every " + format_duration(*interval));
  Reconnect reconnect;
  while (!interrupt_signal()) {
    std::string why;
    if (!pg.connected() && !reconnect.attempt(pg, why)) {
      std::lock_guard lock(shared.mu);
      if (!shared.stale) info("phasegate serve: the database is away (" + why + "); serving the last known state, marked stale");
      shared.stale = true;
      if (!why.empty()) shared.error = why;
    } else if (auto r = pg.reading(); !r) {
      std::lock_guard lock(shared.mu);
      if (!shared.stale) info("phasegate serve: reading the state schema failed (" + r.error().message + "); serving the last known state");
      shared.stale = true;
      shared.error = r.error().message;
    } else {
      deploy_run = r->deployed_run;
      deploy_plan = r->deployed_plan;
      std::vector<SmokeRecord> stored = r->smoke;
      {
        std::vector<PlanStatus> plans = serve::plan_statuses(loaded->plans, *r);
        std::lock_guard lock(shared.mu);
        shared.reading = std::move(*r);
        shared.plans = std::move(plans);
        shared.read_at = m.clock.now();
        shared.stale = false;
        shared.error.clear();
      }
      if (watch.any() && !interrupt_signal())
        if (auto t = watch.tick(deploy_run, stored); !t) info("phasegate serve: recording a smoke check failed: " + t.error().message);
    }
    m.clock.sleep_for(*interval);  // ends early on a signal
  }
  server.stop();
  info("phasegate serve: " + signal_name(interrupt_signal()) + ": stopped");
  return 0;
}

}  // namespace phasegate::cli
