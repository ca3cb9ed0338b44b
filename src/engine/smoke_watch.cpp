// Continuous smoke checks (seed 004: "code running every 5 minutes that tried to save a pen, and would send an
// alert"): the streak of each check and SmokeWatch, which measures them on their interval after a deploy.
#include <nlohmann/json.hpp>

#include "phasegate/smoke.hpp"

namespace phasegate {

using json = nlohmann::json;

SmokeTurn smoke_after(const SmokeRecord& previous, bool ok, const std::string& reason, TimePoint at, int failure_limit,
                      int64_t deploy_run) {
  SmokeTurn turn{previous, SmokeNotice::none};
  SmokeRecord& r = turn.next;
  if (r.checks == 0) r.since = at;
  r.checks += 1;
  r.last_at = at;
  r.last_ok = ok;
  r.deploy_run = deploy_run;
  if (ok) {
    r.consecutive_failures = 0;
    if (!r.ok) {
      r.ok = true;
      r.since = at;
      turn.notice = SmokeNotice::recovered;
    }
    return turn;
  }
  r.failures += 1;
  r.consecutive_failures += 1;
  r.last_reason = reason;
  if (r.ok && r.consecutive_failures > failure_limit) {
    r.ok = false;
    r.since = at;
    turn.notice = SmokeNotice::failed;
  }
  return turn;
}

SmokeWatch::SmokeWatch(const Project& project, StateStore& store, Clock& clock, SmokeProbes probes)
    : project_(project), store_(store), clock_(clock), probes_(std::move(probes)) {
  for (const auto& [name, s] : project_.smoke)
    if (s.every) checks_.push_back(&s);
}

Result<void> SmokeWatch::tick(int64_t deploy_run, const std::vector<SmokeRecord>& stored) {
  for (const auto& r : stored) records_[r.name] = r;  // another process may have measured meanwhile
  if (deploy_run == 0) return {};
  for (const Smoke* s : checks_) {
    const TimePoint now = clock_.now();
    auto due = due_.find(s->name);
    if (due == due_.end()) {
      // Measured before (by this or an earlier process): next one interval after that one, else now.
      auto rec = records_.find(s->name);
      TimePoint first = rec != records_.end() && rec->second.last_at ? *rec->second.last_at + *s->every : now;
      due = due_.emplace(s->name, first).first;
    }
    // A new deploy is measured at once: its first minutes are when a broken release shows.
    auto rec = records_.find(s->name);
    const bool new_deploy = rec != records_.end() && rec->second.deploy_run != deploy_run;
    if (due->second > now && !new_deploy) continue;
    due->second = now + *s->every;
    if (auto r = measure(*s, deploy_run); !r) return r;
  }
  return {};
}

Result<void> SmokeWatch::measure(const Smoke& s, int64_t deploy_run) {
  auto m = measure_smoke(s, probes_);
  SmokeMeasurement got = m ? *m : SmokeMeasurement{false, m.error().message, json{{"error", m.error().message}}.dump()};
  const TimePoint at = clock_.now();
  SmokeRecord before;
  before.name = s.name;
  if (auto it = records_.find(s.name); it != records_.end()) before = it->second;
  SmokeTurn turn = smoke_after(before, got.ok, got.what, at, s.failure_limit, deploy_run);
  StateChange c;
  c.smoke = turn.next;
  c.smoke_checks_was = before.checks;
  if (turn.notice != SmokeNotice::none) {
    json payload{{"smoke", s.name}, {"continuous", true}, {"deploy_run", deploy_run}, {"every_ms", s.every->count()},
                 {"checks", turn.next.checks}, {"failures", turn.next.failures}};
    if (turn.notice == SmokeNotice::failed) {
      payload["reason"] = got.what;
      payload["consecutive_failures"] = turn.next.consecutive_failures;
      payload["failure_limit"] = s.failure_limit;
      payload["measurement"] = json::parse(got.detail, nullptr, false);
    } else if (before.since) {
      payload["failing_for_ms"] = std::chrono::duration_cast<Millis>(at - *before.since).count();
      payload["last_reason"] = before.last_reason;
    }
    c.add(Event{turn.notice == SmokeNotice::failed ? "smoke.failed" : "smoke.recovered", 0, "", "", "", payload.dump(), at});
  }
  if (auto r = store_.commit(c); !r) return r;
  records_[s.name] = turn.next;
  return {};
}

}  // namespace phasegate
