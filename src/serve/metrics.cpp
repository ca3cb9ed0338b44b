// /metrics (docs/serve.md): the Prometheus text exposition format 0.0.4 — HELP and TYPE before each family,
// histograms as cumulative _bucket{le} series with +Inf, _sum and _count; counters never go down (clamped by
// what this process served before: a run whose end state changes moves between labels, the old series stays).
#include <algorithm>
#include <cstdio>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "phasegate/broadcast.hpp"
#include "phasegate/serve.hpp"

namespace phasegate::serve {

namespace {
std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

class Writer {
 public:
  Writer(std::map<std::string, double>& floor) : floor_(floor) {}
  void family(const std::string& name, const char* type, const char* help) {
    out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  // A sample; counters (and histogram series) are clamped so they never go below what was served before.
  void sample(const std::string& name, const std::string& labels, double v, bool monotonic) {
    std::string series = name + (labels.empty() ? "" : "{" + labels + "}");
    if (monotonic) {
      double& f = floor_[series];
      v = std::max(v, f);
      f = v;
    }
    out_ += series + " " + number(v) + "\n";
  }
  void histogram(const std::string& name, const char* help, const std::string& label,
                 const std::map<std::string, Histogram>& by_label) {
    family(name, "histogram", help);
    for (const auto& [value, h] : by_label) {
      const std::string l = label + "=\"" + escape_label(value) + "\"";
      for (size_t i = 0; i < kBucketCount && i < h.cumulative.size(); ++i)
        sample(name + "_bucket", l + ",le=\"" + number(kBuckets[i]) + "\"", static_cast<double>(h.cumulative[i]), true);
      sample(name + "_bucket", l + ",le=\"+Inf\"", static_cast<double>(h.count), true);
      sample(name + "_sum", l, h.sum, true);
      sample(name + "_count", l, static_cast<double>(h.count), true);
    }
  }
  std::string text() && { return std::move(out_); }

 private:
  std::map<std::string, double>& floor_;
  std::string out_;
};

const std::map<std::string, Histogram>& histograms_of(const Reading& r, const std::string& metric) {
  static const std::map<std::string, Histogram> none;
  auto it = r.histograms.find(metric);
  return it == r.histograms.end() ? none : it->second;
}
}  // namespace

std::string metrics_text(const View& view, TimePoint now, std::map<std::string, double>& floor) {
  Writer w(floor);
  w.family("phasegate_up", "gauge", "1 when the latest read of the state schema succeeded; 0 while the database is away (the last known state is served)");
  w.sample("phasegate_up", "", view.stale || !view.reading ? 0 : 1, false);
  w.family("phasegate_state_age_seconds", "gauge", "Seconds since the last successful read of the state schema");
  w.sample("phasegate_state_age_seconds", "", view.reading ? std::chrono::duration<double>(now - view.read_at).count() : 0, false);
  if (!view.reading) return std::move(w).text();
  const Reading& r = *view.reading;

  const Broadcast b = effective_broadcast(r.broadcast, now);
  w.family("phasegate_broadcast_level", "gauge", "The broadcast status apps show as a banner: 1 for the current level");
  for (const char* level : kBroadcastLevels) w.sample("phasegate_broadcast_level", std::string("level=\"") + level + "\"", b.level == level, false);

  w.histogram("phasegate_run_duration_seconds", "Duration of finished runs, from creation to their end state", "status",
              histograms_of(r, "run_duration"));
  w.histogram("phasegate_guard_wait_seconds", "Time runs waited for a guard to say go, per guard (completed waits)", "guard",
              histograms_of(r, "guard_wait"));
  w.histogram("phasegate_step_duration_seconds", "Duration of completed steps, per phase", "phase", histograms_of(r, "step_duration"));

  w.family("phasegate_lock_retries_total", "counter", "Attempts of a step retried after a lock timeout (step.retrying events)");
  w.sample("phasegate_lock_retries_total", "", static_cast<double>(r.lock_retries), true);
  w.family("phasegate_backfill_rows_total", "counter", "Rows updated by backfill batches");
  w.sample("phasegate_backfill_rows_total", "", static_cast<double>(r.backfill_rows), true);

  long long estimated = 0;
  if (r.current && !r.current->backfill.empty()) {
    auto progress = nlohmann::json::parse(r.current->backfill, nullptr, false);
    if (progress.is_object()) estimated = progress.value("estimated_total", 0LL);
  }
  w.family("phasegate_backfill_rows_estimated", "gauge", "Estimated rows of the table the running backfill walks (0: none runs)");
  w.sample("phasegate_backfill_rows_estimated", "", static_cast<double>(estimated), false);
  w.family("phasegate_run_active", "gauge", "1 while a run is being driven (running or rolling back)");
  w.sample("phasegate_run_active", "", r.current ? 1 : 0, false);

  long long pending = 0, drifted = 0;
  for (const auto& st : view.plans) {
    pending += !st.pending.empty();
    drifted += static_cast<long long>(st.drift.size());
  }
  w.family("phasegate_pending_plans", "gauge", "Plans with expand or migrate steps not applied (what status --check fails on)");
  w.sample("phasegate_pending_plans", "", static_cast<double>(pending), false);
  w.family("phasegate_drifted_steps", "gauge", "Applied steps whose plan file no longer says what was applied (or whose file is gone)");
  w.sample("phasegate_drifted_steps", "", static_cast<double>(drifted), false);

  std::set<std::string> names;
  for (const auto& [name, n] : r.run_smoke_failures) names.insert(name);
  for (const auto& s : r.smoke) names.insert(s.name);
  w.family("phasegate_smoke_failures_total", "counter", "Failed smoke checks: a run's checks that failed its phase, and failed continuous measurements");
  for (const auto& name : names) {
    double n = r.run_smoke_failures.count(name) ? static_cast<double>(r.run_smoke_failures.at(name)) : 0;
    for (const auto& s : r.smoke)
      if (s.name == name) n += static_cast<double>(s.failures);
    w.sample("phasegate_smoke_failures_total", "smoke=\"" + escape_label(name) + "\"", n, true);
  }
  w.family("phasegate_smoke_ok", "gauge", "A continuous smoke check's state: 1 passing, 0 failing (from its first alerted failure to its recovery)");
  for (const auto& s : r.smoke) w.sample("phasegate_smoke_ok", "smoke=\"" + escape_label(s.name) + "\"", s.ok, false);
  return std::move(w).text();
}

}  // namespace phasegate::serve
