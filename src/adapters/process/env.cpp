#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "phasegate/adapters.hpp"

namespace phasegate {

std::string getenv_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

Actor current_actor(const std::string& principal_flag) {
  Actor a;
  a.principal = principal_flag.empty() ? getenv_or("PHASEGATE_PRINCIPAL") : principal_flag;
  a.os_user = getenv_or("USER", getenv_or("LOGNAME", "unknown"));
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  a.host = host[0] ? host : "unknown";
  return a;
}

CrashPoint crash_point_from_env() {
  std::string target = getenv_or("PHASEGATE_CRASH_AT");
  if (target.empty()) return nullptr;
  return [target](const std::string& point) {
    if (point == target) ::kill(::getpid(), SIGKILL);
  };
}

}  // namespace phasegate
