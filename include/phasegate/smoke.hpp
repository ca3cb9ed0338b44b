#pragma once
// Smoke checks ([smoke.NAME], SPEC §1.1): one measurement (shared by a phase's checks and the continuous ones),
// the streak of a continuous check (alert once on the first failure, once on recovery) and SmokeWatch, which
// runs the continuous checks for `phasegate serve` (docs/serve.md).
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "phasegate/config.hpp"
#include "phasegate/ports.hpp"

namespace phasegate {

struct SmokeMeasurement {
  bool ok = false;
  std::string what;    // "hooks/smoke.sh exit 1: no pen saved", "GET http://.../ answered 500", "sql returned false"
  std::string detail;  // JSON object: the program's exit and output tail, the HTTP status and body, the SQL result
};
// How a measurement reaches the world: the caller decides the program's environment and what a lost database
// session means.
struct SmokeProbes {
  std::function<Result<ProcessResult>(const std::vector<std::string>& argv, Millis timeout)> run;
  HttpClient* http = nullptr;
  std::function<Result<bool>(const std::string& sql, const Timeouts& t)> sql;
};
// One measurement (executor_operations.cpp). An error only when the program could not be started (or the
// probe it needs is missing); a failing program, HTTP status or query is a measurement that is not ok.
Result<SmokeMeasurement> measure_smoke(const Smoke& smoke, const SmokeProbes& probes);

// A hook's process for the project: argv as written (relative paths from the project root), the root as working
// directory, `env` added, and without the secrets phasegate holds (the database URL variable, PGPASSWORD) unless
// `secrets` or [hooks] pass_env says so.
ProcessSpec project_hook(const Project& project, std::vector<std::string> argv, Millis timeout,
                         std::vector<std::pair<std::string, std::string>> env, bool secrets = false);

enum class SmokeNotice { none, failed, recovered };
struct SmokeTurn {
  SmokeRecord next;
  SmokeNotice notice = SmokeNotice::none;
};
// The record after one measurement at `at`. More than `failure_limit` consecutive failures turn a passing check
// failing (smoke.failed, once per streak); the first pass after that turns it back (smoke.recovered).
SmokeTurn smoke_after(const SmokeRecord& previous, bool ok, const std::string& reason, TimePoint at, int failure_limit,
                      int64_t deploy_run);

// The continuous checks: each [smoke.NAME] with `every` is measured on its interval once a run completed (the
// deploy), and its record (with smoke.failed / smoke.recovered when the streak turns) is committed through the
// StateStore, where notifications pick the events up.
class SmokeWatch {
 public:
  SmokeWatch(const Project& project, StateStore& store, Clock& clock, SmokeProbes probes);
  bool any() const { return !checks_.empty(); }
  // Measures the checks that are due. `deploy_run`: the newest completed run (0: none yet, nothing is measured);
  // `stored`: the records as last read from the store (the truth about streaks, whoever measured them).
  // An error when a record could not be committed (the database went away): the check is measured again.
  Result<void> tick(int64_t deploy_run, const std::vector<SmokeRecord>& stored);
  // The records this process knows (stored ones updated by its own measurements since).
  const std::map<std::string, SmokeRecord>& records() const { return records_; }

 private:
  Result<void> measure(const Smoke& check, int64_t deploy_run);
  const Project& project_;
  StateStore& store_;
  Clock& clock_;
  SmokeProbes probes_;
  std::vector<const Smoke*> checks_;
  std::map<std::string, TimePoint> due_;
  std::map<std::string, SmokeRecord> records_;
};

}  // namespace phasegate
