#pragma once
// Private to src/report: the parts of build() after the events are folded (open_items.cpp).
#include <string>
#include <vector>

#include "phasegate/report.hpp"

namespace phasegate::report::detail {

// The plan's approvals of this digest: the ones run.started counted, and the others on record then.
void add_approvals(Postmortem& pm, const Input& in);
// run, detect, and (when the rollback's end recorded none) undo / revert / restart / recover.
void derive_times(Postmortem& pm, const Input& in);
// What is left for a human, each item one instruction.
std::vector<std::string> open_items(const Postmortem& pm, const Input& in);
// The title and the one sentence of how the run ended.
void describe_outcome(Postmortem& pm);

}  // namespace phasegate::report::detail
