// Plan status and drift from the records (SPEC §5.1): what status calls applied is what the database holds.
#include <doctest/doctest.h>

#include "fakes.hpp"

using namespace phasegate;
using namespace phasegate::test;

namespace {
StepRecord record(const Plan& p, const std::string& step, StepStatus status) {
  StepRecord r;
  r.plan_id = p.id;
  r.step = step;
  r.status = status;
  for (const Step* s : p.steps())
    if (s->name == step) {
      r.checksum = step_checksum(*s);
      r.phase = phase_name(s->phase);
      r.ordinal = s->ordinal;
    }
  return r;
}
Plan two_steps() {
  return make_plan("0001-a", {{Phase::expand, "add a", "ALTER TABLE t ADD COLUMN a int"},
                              {Phase::contract, "drop old", "ALTER TABLE t DROP COLUMN old"}});
}
}  // namespace

TEST_SUITE("engine::status") {
  TEST_CASE("a plan file renamed: the vanished id is found, with the file it was probably renamed to") {
    Plan applied = two_steps();
    KnownPlan known{applied.id, {record(applied, "add a", StepStatus::completed)}};
    Plan renamed = applied;
    renamed.id = "0002-a";
    auto gone = vanished_plans({known}, {renamed});
    REQUIRE(gone.size() == 1);
    CHECK(gone[0].first.plan_id == "0001-a");
    CHECK(gone[0].second == "0002-a");
    CHECK(describe_vanished(gone[0].first, gone[0].second).find("probably renamed") != std::string::npos);
    CHECK(vanished_plans({known}, {applied}).empty());
    auto st = missing_plan_status(known, std::nullopt, "");
    CHECK(st.state == PlanState::drifted);
    CHECK(st.file_missing);
    CHECK(st.fails_check());
  }

  TEST_CASE("drift: an edited part-applied step, a step moved out of the contract phase, a removed step") {
    Plan p = two_steps();
    auto running = record(p, "add a", StepStatus::running);
    running.checksum = "0000";  // it ran with other SQL
    CHECK(find_drift(p, {running}).size() == 1);
    CHECK(find_drift(p, {running})[0].describe(p.id).find("was edited while it was") != std::string::npos);
    auto failed_in_tx = running;
    failed_in_tx.status = StepStatus::failed;  // no effect: editing the fix in is fine
    CHECK(find_drift(p, {failed_in_tx}).empty());
    failed_in_tx.partial = true;  // failed part-way outside a transaction: not fine
    CHECK(find_drift(p, {failed_in_tx}).size() == 1);
    auto contract = record(p, "drop old", StepStatus::completed);
    Plan moved = p;
    Step s = moved.phases[2].steps[0];
    s.phase = Phase::expand;
    moved.phases[2].steps.clear();
    moved.phases[0].steps.push_back(s);
    auto d = find_drift(moved, {contract});
    REQUIRE(d.size() == 1);
    CHECK(d[0].describe(p.id).find("moved from the contract phase") != std::string::npos);
    Plan removed = p;
    removed.phases[2].steps.clear();
    CHECK(find_drift(removed, {contract}).size() == 1);
  }

  TEST_CASE("status: pending as a whole after a rollback; part-applied and incomplete fail the check") {
    Plan p = two_steps();
    RunRecord rb;
    rb.status = RunStatus::rolled_back;
    auto st = plan_status(p, {record(p, "add a", StepStatus::pending)}, rb);
    CHECK(st.state == PlanState::rolled_back);
    CHECK(st.fails_check());  // an expand step is pending
    rb.status = RunStatus::rollback_incomplete;
    st = plan_status(p, {record(p, "add a", StepStatus::completed)}, rb);
    CHECK(st.state == PlanState::rollback_incomplete);
    CHECK(st.fails_check());
    RunRecord waiting;
    waiting.status = RunStatus::waiting;
    st = plan_status(p, {record(p, "add a", StepStatus::completed)}, waiting);
    CHECK(st.state == PlanState::waiting);
    CHECK_FALSE(st.fails_check());  // a contract waiting for its start is reported, not failed
  }

  TEST_CASE("a change from a stale view of the run lands nowhere (compare-and-set)") {
    FakeDatabase db;
    RunRecord r;
    r.plan_id = "p";
    auto created = db.create_run(r, Actor{}, Event{"run.created", 0, "p", "", "", "{}", {}});
    REQUIRE(created);
    StateChange moved;
    moved.run = *created;
    moved.run->status = RunStatus::running;
    moved.run_was = RunStatus::created;
    REQUIRE(db.commit(moved));
    StateChange stale = moved;  // still believes the run is `created`
    stale.run->status = RunStatus::rolling_back;
    auto res = db.commit(stale);
    REQUIRE_FALSE(res);
    CHECK(res.error().code == Exit::blocked);
    CHECK(db.runs_[0].status == RunStatus::running);
  }
}
