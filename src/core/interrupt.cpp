// The interrupt flag and the running program's group (phasegate/interrupt.hpp): plain atomics, so the
// signal handler (src/adapters/signals.cpp) may write them and the engine may read them.
#include <signal.h>
#include <unistd.h>

#include <atomic>

#include "phasegate/interrupt.hpp"

namespace phasegate {

namespace {
std::atomic<int> g_signal{0};
std::atomic<int> g_group{0};
std::atomic<int> g_shields{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler writes these");
}  // namespace

int interrupt_signal() { return g_signal.load(); }
void set_interrupt_signal(int sig) { g_signal.store(sig); }
int interrupt_pending() { return g_shields.load() > 0 ? 0 : g_signal.load(); }
InterruptShield::InterruptShield() { g_shields.fetch_add(1); }
InterruptShield::~InterruptShield() { g_shields.fetch_sub(1); }
bool claim_interrupt(int sig) {
  int expected = 0;
  return g_signal.compare_exchange_strong(expected, sig);
}
void set_running_group(int pgid) { g_group.store(pgid); }
int running_group() { return g_group.load(); }

namespace {
char g_out[1024], g_err[1024];
std::atomic<bool> g_outputs{false};
void copy_path(char* to, const char* from) {
  size_t i = 0;
  for (; from && from[i] && i + 1 < sizeof g_out; ++i) to[i] = from[i];
  to[i] = '\0';
}
}  // namespace

void set_running_outputs(const char* out, const char* err) {
  g_outputs.store(false);
  if (!out || !err) return;
  copy_path(g_out, out);
  copy_path(g_err, err);
  g_outputs.store(true);
}

void remove_running_outputs() {
  if (!g_outputs.load()) return;
  ::unlink(g_out);
  ::unlink(g_err);
}

std::string signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
  }
  return "signal " + std::to_string(sig);
}

}  // namespace phasegate
