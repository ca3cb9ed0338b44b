// A lost session (SPEC §1.1 reconnect_timeout, docs/state.md "A server restart mid-run"): reconnect with
// backoff, take the run lock again, then resume from what the database recorded — or, when the break came
// while a program of the run ran, reclaim the run in place and record the program's known outcome.
#include "engine/executor_context.hpp"

namespace phasegate {

namespace {
constexpr int kMaxOutages = 20;  // broken connections one command reconnects after, then it stops (exit 75)
constexpr const char* kSessionBroke = "the session to the target database broke (a server restart, a failover, a network cut)";
}  // namespace

Result<void> Executor::reconnect(const std::string& plan_id, int64_t run_id, const std::string& what_broke) {
  const TimePoint began = clock_.now();
  if (observer_)  // not recorded yet (nothing can be): the progress output says it now
    observer_(Event{"run.disconnected", run_id, plan_id, "", "",
                    json{{"error", what_broke}, {"reconnect_timeout_ms", project_.reconnect_timeout.count()}}.dump(), clock_.now()});
  auto r = store_.reconnect(project_.reconnect_timeout);
  if (!r) {
    Error e = r.error();
    if (e.code != Exit::interrupted) e.code = Exit::blocked;
    e.message = "plan " + plan_id + ": lost the connection to the target database (" + what_broke + "); " + e.message +
                ". The run stays as last recorded and is resumable: run phasegate run again when the database is up";
    gave_up_ = e;
    return std::unexpected(e);
  }
  auto ms = std::chrono::duration_cast<Millis>(clock_.now() - began).count();
  Event ev{"run.reconnected", run_id, plan_id, "", "", json{{"error", what_broke}, {"reconnect_ms", ms}}.dump(), clock_.now()};
  if (auto w = store_.append_event(ev); !w) return w;
  if (observer_) observer_(ev);
  return {};
}

PlanOutcome Executor::run_plan(const Plan& plan, const RunOptions& options) {
  gave_up_.reset();
  auto ended = [this](PlanOutcome out) {
    announce_outcome(out);
    return out;
  };
  for (int outage = 1;; ++outage) {
    PlanOutcome out = run_plan_once(plan, options);
    if (store_.connected()) return ended(out);
    if (gave_up_) {  // a reconnect in there (after a program) already waited reconnect_timeout
      out.exit = gave_up_->code;
      out.message = gave_up_->message;
      return ended(out);
    }
    // The session broke somewhere in there: nothing after the break was recorded or applied (one session,
    // never silently re-established), so what the database says is the truth to resume from.
    if (outage > kMaxOutages) {
      out.exit = Exit::blocked;
      out.message = "plan " + plan.id + ": the connection to the target database broke " + std::to_string(outage) +
                    " times during this command; stopping here, resumable: run phasegate run again";
      return ended(out);
    }
    if (auto r = reconnect(plan.id, out.run_id, kSessionBroke); !r) {
      out.exit = r.error().code;
      out.message = r.error().message;
      return ended(out);
    }
  }
}

Result<void> Executor::reconnect_in_place(Context& cx) {
  if (store_.connected()) return {};
  if (auto r = reconnect(cx.plan.id, cx.run.id, "the session broke while a program of the run ran (did it restart the database?)"); !r)
    return r;
  if (cx.run.id == 0) return {};
  auto ours = store_.reclaim_run(cx.run.id);
  if (!ours) return std::unexpected(ours.error());
  if (!*ours)
    return fail(Exit::blocked, "plan " + cx.plan.id + ": run " + std::to_string(cx.run.id) +
                                   " was taken over by another phasegate process while this one was disconnected; nothing more was done by this command");
  return {};
}

}  // namespace phasegate
