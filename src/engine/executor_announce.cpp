// [announce] (SPEC §1.1): a run sets the broadcast status apps show as a banner — `during` while a phase that
// changes the database runs, `on_failure` when the run fails, back to ok when it succeeds (broadcast.hpp decides).
// Each announcement is the broadcast row and its status.announced event in one transaction. An announcement is
// a courtesy to the app's users: one that cannot be read or written never stops or fails the run.
#include <nlohmann/json.hpp>

#include "engine/executor_context.hpp"

namespace phasegate {

void Executor::announce(int64_t run_id, const std::string& plan_id, const std::string& phase, RunMoment moment) {
  if (!project_.announce.enabled() || run_id == 0) return;  // nothing is read or written without [announce]
  auto stored = store_.broadcast();
  if (!stored) return;
  const TimePoint now = clock_.now();
  auto next = run_announcement(project_.announce, *stored, now, moment, plan_id, phase, run_id);
  if (!next) return;
  static constexpr const char* kMoment[] = {"phase_started", "succeeded", "failed", "stopped"};
  StateChange c;
  c.broadcast = *next;
  c.add(Event{"status.announced", run_id, plan_id, phase, "",
              json{{"level", next->level}, {"message", next->message}, {"until", nullptr}, {"automatic", true},
                   {"moment", kMoment[static_cast<int>(moment)]}, {"was", stored->level}}.dump(),
              now});
  if (store_.commit(c)) observe(c);
}

void Executor::announce_outcome(const PlanOutcome& out) {
  if (out.run_id == 0) return;  // no run was created or resumed: nothing of this command to announce
  const RunMoment moment = out.exit == Exit::ok                                          ? RunMoment::succeeded
                           : out.exit == Exit::failed || out.exit == Exit::needs_human ? RunMoment::failed
                                                                                        : RunMoment::stopped;
  announce(out.run_id, out.plan_id, "", moment);
}

}  // namespace phasegate
