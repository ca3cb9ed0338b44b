#pragma once
// Small real-world adapters used by the CLI.
#include <string>

#include "phasegate/ports.hpp"

namespace phasegate {

class SystemClock final : public Clock {
 public:
  TimePoint now() override;
  void sleep_for(Millis d) override;
};

// The actor for events: principal from --as or PHASEGATE_PRINCIPAL, OS user, host name.
Actor current_actor(const std::string& principal_flag);
std::string getenv_or(const char* name, const std::string& fallback = "");
// PHASEGATE_CRASH_AT=<point>: kill -9 ourselves when the engine reaches that named point (crash tests).
CrashPoint crash_point_from_env();

}  // namespace phasegate
