#pragma once
// Private to src/report: what the Markdown and HTML renderings both say, worded once (sections.cpp).
#include <string>
#include <vector>

#include "phasegate/report.hpp"

namespace phasegate::report::detail {

struct TimeRow {
  std::string label, value, meaning;  // value "" = no such moment in this run
};
// The key times; a run where nothing failed has only its duration.
std::vector<TimeRow> time_rows(const Postmortem& pm);

// "alice (approval #3, recorded 2026-...), bob" / "not required" / ...
std::string approvals_text(const Postmortem& pm);
std::string failure_text(const Failure& f);
std::string duration_text(const std::optional<long long>& ms);  // "—" when unknown
std::string retries_text(const StepReport& s);                   // "2 (blocked by pid 41 psql)" / ""
std::string backfill_text(const StepReport& s);                  // "50000 rows, 12 batches, 8200 rows/s" / ""
std::string blocker_text(const Blocker& b);
std::string restart_result(const Restart& r);
std::string pids_text(const Restart& r);  // "41 -> 57" / "—"

// The sections people fill in (a blameless postmortem: expectations and assumptions, then changes).
struct Prompt {
  std::string id, title, hint;
};
const std::vector<Prompt>& prompts();

inline constexpr const char* kPreamble =
    "A blameless draft written by phasegate from the run's hash-chained event log: what was done, when, and what was "
    "observed. It names actions and their effects, not culprits. The sections at the end are for the people involved.";

}  // namespace phasegate::report::detail
