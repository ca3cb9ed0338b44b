#pragma once
// Signals to phasegate itself (SIGINT from a terminal, SIGTERM from a CI job being cancelled or a service
// manager, SIGHUP from a closed terminal). The first one asks for a graceful stop: the program phasegate runs
// gets the same signal (its process group), the statement in flight is cancelled, and the run stops where it
// is, resumable (docs/state.md, run.interrupted). A second one stops at once: the program's group is killed
// and phasegate exits 128 + signal. The engine and the process runner poll interrupt_signal().
#include <functional>
#include <string>

namespace phasegate {

// The first signal received (SIGINT, SIGTERM, SIGHUP), 0 if none.
int interrupt_signal();
// "SIGINT", "SIGTERM", "SIGHUP", else "signal N".
std::string signal_name(int sig);
// For tests (and the handler): as if `sig` had been received; 0 clears it.
void set_interrupt_signal(int sig);
// The signal, unless an InterruptShield is alive (a rollback must not be cut short by the first signal):
// what the engine, the process runner and the clock's sleeps act on.
int interrupt_pending();
// While one lives, interrupt_pending() is 0; the signal takes effect after the last one is gone.
struct InterruptShield {
  InterruptShield();
  ~InterruptShield();
  InterruptShield(const InterruptShield&) = delete;
  InterruptShield& operator=(const InterruptShield&) = delete;
};
// Records `sig` if no signal was recorded yet (async-signal-safe); true when it was the first.
bool claim_interrupt(int sig);

// The process group of the program phasegate is running now (0: none), for the second signal to kill.
void set_running_group(int pgid);
int running_group();
// The output files of the running program (nullptr: none), removed by the handler of a second signal.
void set_running_outputs(const char* out, const char* err);
void remove_running_outputs();  // async-signal-safe

// Installs the handlers (once per process) and a thread that calls `on_interrupt` callbacks after the first
// signal — outside the signal handler, so they may take locks and talk to the network (e.g. cancel the query
// in flight). Callbacks run at most once each; register returns an id for unregister.
void install_interrupt_handlers();
int on_interrupt(std::function<void()> callback);
void forget_interrupt(int id);

}  // namespace phasegate
