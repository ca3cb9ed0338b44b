#pragma once
// `phasegate serve` (docs/serve.md): what one read of the state schema holds, and the pure renderings of it —
// /status JSON and /metrics in the Prometheus text format. The reading is taken on an interval by one thread with
// one connection (cli/cmd_serve.cpp); HTTP requests only render the last one.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "phasegate/engine.hpp"
#include "phasegate/ports.hpp"

namespace phasegate::serve {

// Upper bounds (seconds) of the duration histograms: from a quick step to a long backfill.
inline constexpr double kBuckets[] = {0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 10800, 43200};
inline constexpr size_t kBucketCount = sizeof(kBuckets) / sizeof(kBuckets[0]);

struct Histogram {
  std::vector<long long> cumulative;  // observations <= kBuckets[i] (size kBucketCount)
  long long count = 0;
  double sum = 0;
};

// One read of the state schema, in one read-only transaction (src/adapters/pg/snapshot.cpp).
struct Reading {
  bool schema = false;  // false: the state schema does not exist yet (no run ever)
  Broadcast broadcast;
  std::vector<StepRecord> steps;        // every step row
  std::vector<RunRecord> latest_runs;   // the newest run of each plan
  // The run being driven (running, or rolling back), with the latest event that names a step.
  struct Current {
    RunRecord run;
    std::string started_at;   // RFC 3339
    std::string step, step_event, step_at;
    std::string backfill;     // the latest backfill.progress payload of that step (JSON, "" when none)
  };
  std::optional<Current> current;
  int64_t deployed_run = 0;   // the newest completed run: continuous smoke checks start after it
  std::string deployed_plan, deployed_at;
  // metric -> label value -> histogram: "run_duration" by status, "guard_wait" by guard, "step_duration" by phase
  std::map<std::string, std::map<std::string, Histogram>> histograms;
  long long lock_retries = 0;   // step.retrying events
  long long backfill_rows = 0;  // rows updated by backfill batches (events, and the running steps' cursors)
  std::map<std::string, long long> run_smoke_failures;  // smoke.failed events of runs, per check
  std::vector<SmokeRecord> smoke;                       // the continuous checks' records
};

// The status truth of `status --check` (engine/status.cpp's plan_status, vanished_plans, missing_plan_status) over
// a reading's rows.
std::vector<PlanStatus> plan_statuses(const std::vector<Plan>& plans, const Reading& reading);

// What the last good read said, and how old it is.
struct View {
  const Reading* reading = nullptr;  // null: nothing was ever read
  std::vector<PlanStatus> plans;
  TimePoint read_at{};
  bool stale = false;      // the latest read failed (the database is away): this is the last known state
  std::string read_error;  // why the latest read failed
  std::string version = "0.1.0";
};
std::string status_json(const View& view, TimePoint now);
// Counters are clamped by `floor` (the largest value served so far by this process): a counter never goes down.
std::string metrics_text(const View& view, TimePoint now, std::map<std::string, double>& floor);

}  // namespace phasegate::serve
