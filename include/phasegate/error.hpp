#pragma once
// Errors carried through the core as std::expected<T, Error>; each maps to a stable exit code (SPEC §2.1).
#include <expected>
#include <string>

namespace phasegate {

enum class Exit : int {
  ok = 0,
  failed = 1,          // the run failed and was rolled back cleanly
  invalid = 2,         // invalid usage, config or plan (or drift); nothing was touched
  lint = 3,            // lint found error-level findings
  pending = 4,         // status --check: pending or drifted plans
  needs_human = 5,     // rollback incomplete or on_failure = "pause"
  aborted = 6,         // aborted by an operator
  disagree = 7,        // trace: PostgreSQL took a lock or did a rewrite the analyzer did not predict (or vice versa)
  unavailable = 69,    // cannot reach or write the target database when the command starts; nothing was changed
  internal = 70,       // a bug
  blocked = 75,        // a guard said wait (window, approvals, load, lock held); retry later
  interrupted = 130,   // phasegate got SIGINT/SIGTERM/SIGHUP: stopped where it was, resumable (the process
                       // exits 128 + the signal: 130, 143, 129)
};

struct Error {
  Error(Exit c = Exit::internal, std::string m = {}, std::string s = {})
      : code(c), message(std::move(m)), sqlstate(std::move(s)) {}
  Exit code;
  std::string message;
  std::string sqlstate;  // set when the error came from PostgreSQL
};

// An operator's abort or a signal to phasegate: the run stops (not a failure of the step).
inline bool stops_run(const Error& e) { return e.code == Exit::aborted || e.code == Exit::interrupted; }

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(Exit code, std::string message, std::string sqlstate = {}) {
  return std::unexpected(Error{code, std::move(message), std::move(sqlstate)});
}

const char* exit_name(Exit code);

// The SQLSTATEs the engine acts on, by name.
namespace sqlstate {
inline constexpr const char* kLockNotAvailable = "55P03";  // lock_timeout hit
inline constexpr const char* kQueryCanceled = "57014";     // pg_cancel_backend (abort) or statement_timeout
inline constexpr const char* kConnectionLost = "08006";    // the connection broke (server restart, failover, network)
}  // namespace sqlstate

}  // namespace phasegate
