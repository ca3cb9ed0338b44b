#include "phasegate/error.hpp"

namespace phasegate {

const char* exit_name(Exit code) {
  switch (code) {
    case Exit::ok: return "ok";
    case Exit::failed: return "failed";
    case Exit::invalid: return "invalid";
    case Exit::lint: return "lint";
    case Exit::pending: return "pending";
    case Exit::needs_human: return "needs_human";
    case Exit::aborted: return "aborted";
    case Exit::disagree: return "disagree";
    case Exit::unavailable: return "unavailable";
    case Exit::internal: return "internal";
    case Exit::blocked: return "blocked";
    case Exit::interrupted: return "interrupted";
  }
  return "internal";
}

}  // namespace phasegate

#include "phasegate/ports.hpp"

namespace phasegate {

std::string ProcessResult::describe() const {
  std::string s = signal ? "killed by signal " + std::to_string(signal) : "exit " + std::to_string(exit_code);
  if (timed_out) s += " after its timeout";
  if (forwarded) s += " (interrupted: phasegate got signal " + std::to_string(forwarded) + ")";
  else if (interrupted) s += " (interrupted: the run was aborted)";
  return s + " (" + format_duration(elapsed) + ")";
}

}  // namespace phasegate
