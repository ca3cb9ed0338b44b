// report [RUN] --format md|html|json: the blameless postmortem draft of a run (docs/report.md). It reads what
// `log` reads (read_run_events) plus the run, step and approval rows; src/report decides and renders.
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "cli/output.hpp"
#include "cli/run_events.hpp"
#include "phasegate/report.hpp"
#include "phasegate/secrets.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

namespace {
Result<report::Input> gather(const Loaded& loaded, PgDatabase& pg, const RunEvents& read) {
  report::Input in;
  auto runs = pg.runs();
  if (!runs) return std::unexpected(runs.error());
  auto row = std::find_if(runs->begin(), runs->end(), [&](const RunRow& r) { return r.run.id == read.run_id; });
  if (row == runs->end())
    return std::unexpected(Error{Exit::invalid, "no run " + std::to_string(read.run_id) + " in this database (phasegate runs lists them)"});
  in.run = *row;
  in.events = read.events;
  const std::string& plan = row->run.plan_id;
  for (const auto& p : loaded.plans)
    if (p.id == plan) in.description = p.description;
  auto steps = pg.steps(plan);
  if (!steps) return std::unexpected(steps.error());
  in.steps = std::move(*steps);
  auto latest = pg.latest_run(plan);
  if (!latest) return std::unexpected(latest.error());
  in.latest = *latest && (*latest)->id == read.run_id;
  auto approvals = pg.approval_rows(plan);
  if (!approvals) return std::unexpected(approvals.error());
  in.approvals = std::move(*approvals);
  in.log_problems = read.chain.problems;
  in.log_problems.insert(in.log_problems.end(), read.broken.begin(), read.broken.end());
  return in;
}
}  // namespace

int cmd_report(const Global& g, const std::string& run_arg, const std::string& format) {
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  // The webhook URLs (they carry their tokens) and HMAC secrets this project names: masked too, should an
  // event quote one (the sending process masked what it knew; this one may know more).
  for (const auto& [name, n] : loaded->project.notify)
    for (const std::string& var : {n.webhook_url_env, n.secret_env})
      if (const char* v = var.empty() ? nullptr : std::getenv(var.c_str())) secrets::remember(v);
  auto db = open_database(loaded->project, "report");
  if (!db) return report(g, db.error());
  auto read = read_run_events(loaded->project, **db, run_arg);
  if (!read) return report(g, read.error());
  auto nothing = [&]() {
    if (read->ok()) return report(g, Error{Exit::invalid, read->none});
    return report(g, Error{Exit::needs_human, read->none + ", but the event log says there were events: it was altered outside phasegate (" +
                                                  join(read->chain.problems, "; ") + "); phasegate log shows the chain"});
  };
  if (read->run_id == 0) return nothing();  // no runs at all
  auto in = gather(*loaded, **db, *read);   // (an unknown RUN is refused here, by name)
  if (!in) return report(g, in.error());
  if (read->events.empty()) return nothing();
  const report::Postmortem pm = report::build(*in);
  std::cout << (format == "html" ? report::render_html(pm) : format == "json" ? report::render_json(pm) : report::render_markdown(pm));
  std::cout.flush();
  if (pm.log_verified) return 0;
  std::cerr << "phasegate: the event log of this database was altered outside phasegate; the report says where, and a human must act (exit 5)\n";
  return static_cast<int>(Exit::needs_human);
}

}  // namespace phasegate::cli
