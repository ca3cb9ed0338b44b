#include <doctest/doctest.h>

#include <set>

#include "phasegate/engine.hpp"

using namespace phasegate;

TEST_SUITE("engine::state_machine") {
  TEST_CASE("the table is deterministic: one target per (state, trigger)") {
    std::set<std::pair<int, int>> seen;
    for (const auto& t : run_transitions())
      CHECK_MESSAGE(seen.insert({static_cast<int>(t.from), static_cast<int>(t.on)}).second, describe_transitions());
  }
  TEST_CASE("terminal states have no way out") {
    for (const auto& t : run_transitions()) CHECK_FALSE(is_terminal(t.from));
  }
  TEST_CASE("every non-terminal state can be aborted") {
    for (auto s : {RunStatus::created, RunStatus::running, RunStatus::waiting, RunStatus::blocked}) {
      auto t = next_transition(s, RunTrigger::abort);
      REQUIRE(t);
      CHECK(t->to == RunStatus::aborted);
    }
  }
  TEST_CASE("the happy path and its events") {
    CHECK(next_transition(RunStatus::created, RunTrigger::start)->event == std::string("run.started"));
    CHECK(next_transition(RunStatus::running, RunTrigger::all_done)->to == RunStatus::completed);
    CHECK(next_transition(RunStatus::waiting, RunTrigger::resume)->to == RunStatus::running);
    CHECK(next_transition(RunStatus::running, RunTrigger::lock_exhausted)->to == RunStatus::blocked);
  }
  TEST_CASE("an undefined transition is an internal error, never a silent no-op") {
    auto t = next_transition(RunStatus::completed, RunTrigger::start);
    REQUIRE_FALSE(t);
    CHECK(t.error().code == Exit::internal);
  }
  TEST_CASE("the table prints") { CHECK(describe_transitions().find("created --start--> running [run.started]") != std::string::npos); }
}
