// Guard gates of the Executor (SPEC §3): which guards apply where, waiting them out or stopping with exit
// 75, and noticing `phasegate abort` while waiting.
#include <algorithm>

#include "engine/executor_context.hpp"
#include "phasegate/interrupt.hpp"
#include "phasegate/text.hpp"

namespace phasegate {

namespace {
constexpr Millis kLongestSleep{5 * 60'000};  // re-evaluate a waiting guard at least this often
constexpr Millis kApprovalPoll{30'000};
constexpr Millis kHealthInterval{1000};  // backfill health facts are asked at most this often while healthy
}  // namespace

// The verdict of every guard that applies at this point, first "wait" wins: the window (before the run,
// before each phase, and before each step when overrun = "finish-step"), approvals (before the run), load
// (before each step).
Result<guards::Verdict> Executor::verdict(Context& cx, Gate at) {
  const TimePoint now = clock_.now();
  std::vector<const Window*> windows;
  bool finish_step = false;
  for (const auto& name : cx.guards.windows) {
    auto it = project_.windows.find(name);
    if (it == project_.windows.end()) return fail(Exit::invalid, "unknown window \"" + name + "\"");
    windows.push_back(&it->second);
    finish_step = finish_step || it->second.overrun == "finish-step";
  }
  if (!windows.empty() && (at != Gate::step || finish_step)) {
    auto w = guards::evaluate_any(windows, now);
    if (!w) return std::unexpected(w.error());
    if (!w->open) {
      std::string when = w->next_open ? "; it opens " + guards::rfc3339(*w->next_open) + " (" +
                                            guards::local_time(w->timezone, *w->next_open) + ")"
                                      : "; it does not open within a year";
      return guards::Verdict{false, "window", "window " + join(cx.guards.windows, ", ") + " is closed: " + w->reason + when,
                             w->next_open};
    }
  }
  if (at == Gate::run && cx.guards.approvals > 0) {
    if (!probe_) return fail(Exit::internal, "approvals are required but no guard probe was given (a bug)");
    auto target = probe_->target_id();
    if (!target) return std::unexpected(target.error());
    auto records = probe_->approvals(cx.plan.id);
    if (!records) return std::unexpected(records.error());
    guards::QuorumQuestion q{cx.guards.approvals, cx.plan.id, cx.digest, *target, actor_.principal,
                             project_.approvals && project_.approvals->allow_initiator, now};
    auto quorum = guards::count_approvals(q, *records);
    cx.approved_by = quorum.counted;
    if (!quorum.met())
      return guards::Verdict{false, "approvals",
                             "plan " + cx.plan.id + " has " + quorum.summary() + "; each approver runs: phasegate approve " +
                                 cx.plan.id + " --key ~/.ssh/id_ed25519",
                             std::nullopt};
  }
  if (at == Gate::step && (cx.guards.max_replication_lag || cx.guards.max_active_connections || cx.guards.throttle_query)) {
    if (!probe_) return fail(Exit::internal, "load guards are configured but no guard probe was given (a bug)");
    auto load = probe_->load(cx.guards.max_replication_lag.has_value(), cx.guards.max_active_connections.has_value(),
                             cx.guards.throttle_query);
    if (!load) return std::unexpected(load.error());
    if (auto v = guards::check_load(cx.guards, *load); !v.go) return v;
  }
  // Backfill health stops: between batches, at most once a second while healthy, at every re-check while not.
  const bool vacuum = cx.guards.pause_on_vacuum != VacuumPause::off, archive = cx.guards.max_archive_pending > 0;
  if (at == Gate::step && !cx.backfill_table.empty() && (vacuum || archive) && probe_ && now >= cx.health_due) {
    auto health = probe_->health(cx.backfill_table, vacuum, archive);
    if (!health) return std::unexpected(health.error());
    auto v = guards::check_health(cx.guards, *health);
    cx.health_due = v.go ? now + kHealthInterval : now;
    return v;
  }
  return guards::Verdict{};
}

// Waits out a guard (SPEC §3): a closed window or missing approvals exit 75 at once unless --wait was
// given; load always waits with backoff (bounded by --wait=DUR). guard.wait / guard.go mark each change.
Result<void> Executor::guard_gate(Context& cx, Gate at) {
  Millis backoff{1000};
  const std::string phase = cx.run.phase;
  for (;;) {
    auto v = verdict(cx, at);
    if (!v) return std::unexpected(v.error());
    const TimePoint now = clock_.now();
    if (v->go) {
      if (!cx.waiting_on.empty()) {
        auto waited = std::chrono::duration_cast<Millis>(now - cx.wait_since).count();
        if (auto r = emit(cx, "guard.go", phase, "", json{{"guard", cx.waiting_on}, {"waited_ms", waited}}.dump()); !r) return r;
        cx.waiting_on.clear();
      }
      return {};
    }
    const bool may_wait = cx.options.wait.has_value() || v->guard == "replication_lag" || v->guard == "active_connections" ||
                          v->guard == "throttle_query" || v->guard == "vacuum" || v->guard == "archive_pending";
    if (v->guard != cx.waiting_on) {
      json payload{{"guard", v->guard}, {"reason", v->reason}, {"waiting", may_wait}};
      if (v->retry_at) payload["retry_at"] = guards::rfc3339(*v->retry_at);
      if (auto r = emit(cx, "guard.wait", phase, "", payload.dump()); !r) return r;
      if (cx.backfill_progress && progress_) {  // a backfill between batches: its progress says why it stopped
        backfill::Progress p = *cx.backfill_progress;
        p.paused = v->reason;
        p.eta.reset();
        progress_(p);
      }
      if (v->guard == "approvals")
        if (auto r = emit(cx, "approval.requested", phase, "", json{{"reason", v->reason}, {"needed", cx.guards.approvals}}.dump()); !r)
          return r;
      if (cx.waiting_on.empty()) cx.wait_since = now;
      cx.waiting_on = v->guard;
    }
    cx.blocked_by = v->guard;
    if (auto aborted = abort_check(cx)) return std::unexpected(*aborted);  // (a signal even before the run exists)
    if (!may_wait) return fail(Exit::blocked, v->reason + ". Nothing was changed; retry later, or add --wait to wait for it");
    if (!cx.wait_deadline && cx.options.wait && *cx.options.wait != Millis::max()) cx.wait_deadline = now + *cx.options.wait;
    if (cx.wait_deadline && now >= *cx.wait_deadline)
      return fail(Exit::blocked, v->reason + ". Gave up after waiting " + format_duration(*cx.options.wait) + " (--wait)");
    Millis sleep = v->retry_at ? std::chrono::ceil<Millis>(*v->retry_at - now)
                   : v->guard == "approvals" ? kApprovalPoll
                                             : backoff;
    if (v->guard != "window" && v->guard != "approvals") backoff = std::min(backoff * 2, Millis(30'000));
    sleep = std::clamp(sleep, Millis(1), kLongestSleep);
    if (cx.wait_deadline) sleep = std::min(sleep, std::chrono::ceil<Millis>(*cx.wait_deadline - now));
    clock_.sleep_for(std::max(sleep, Millis(1)));
  }
}

// `phasegate abort RUN` sets a flag (and cancels our running statement): checked before every step, between
// batches, while a guard waits and while a program of the run runs.
std::optional<Error> Executor::interrupted(Context& cx) {
  int sig = interrupt_pending();
  if (!sig) return std::nullopt;
  return Error{Exit::interrupted,
               "plan " + cx.plan.id + ": phasegate got " + signal_name(sig) + " and stopped where it was" +
                   (cx.run.id ? "; run " + std::to_string(cx.run.id) + " is resumable: phasegate run " + cx.plan.id +
                                    " continues it, phasegate abort " + std::to_string(cx.run.id) + " rolls it back"
                              : "; nothing was started")};
}

std::optional<Error> Executor::abort_check(Context& cx) {
  if (auto stop = interrupted(cx)) return stop;
  if (cx.run.id == 0 || cx.abort_seen) return std::nullopt;
  auto by = store_.abort_requested(cx.run.id);
  if (!by || by->empty()) return std::nullopt;
  return aborted_by(cx, *by);
}

Error Executor::aborted_by(Context& cx, const std::string& by) {
  return Error{Exit::aborted, "plan " + cx.plan.id + ": run " + std::to_string(cx.run.id) + " aborted by " + by};
}

}  // namespace phasegate
