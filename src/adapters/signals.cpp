// The SIGINT / SIGTERM / SIGHUP handling declared in phasegate/interrupt.hpp. The handler only does what is
// async-signal-safe: store the signal, write a byte to a self-pipe (the watcher thread wakes and runs the
// callbacks), and on a second signal kill the running program's group and _exit.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <thread>

#include "phasegate/interrupt.hpp"

namespace phasegate {

namespace {
int g_pipe[2] = {-1, -1};
std::mutex g_mu;
std::map<int, std::function<void()>>& callbacks() {
  static std::map<int, std::function<void()>> m;
  return m;
}
int g_next_id = 1;

void write_all(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  ssize_t ignored = ::write(STDERR_FILENO, s, n);
  (void)ignored;
}

extern "C" void on_signal(int sig) {
  if (claim_interrupt(sig)) {
    write_all("\nphasegate: interrupted: stopping at the next safe point (a rollback in progress is finished first); interrupt again to stop at once\n");
    char b = 1;
    ssize_t ignored = ::write(g_pipe[1], &b, 1);
    (void)ignored;
    return;
  }
  int pg = running_group();
  if (pg > 0) ::kill(-pg, SIGKILL);
  remove_running_outputs();
  write_all("\nphasegate: interrupted again: stopped at once; the next phasegate run resumes from what is recorded\n");
  ::_exit(128 + sig);
}

void watch() {
  char b;
  while (::read(g_pipe[0], &b, 1) < 0) {
  }
  // Held while the callbacks run: forget_interrupt() waits for a running one (its owner may be going away).
  std::lock_guard lock(g_mu);
  std::map<int, std::function<void()>> todo;
  todo.swap(callbacks());
  if (!interrupt_pending()) return;  // shielded (a rollback runs): its statements are not cancelled
  for (auto& [id, fn] : todo) fn();
}
}  // namespace

void install_interrupt_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (::pipe2(g_pipe, O_CLOEXEC) != 0) return;
    std::thread(watch).detach();
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  });
}

int on_interrupt(std::function<void()> callback) {
  std::lock_guard lock(g_mu);
  int id = g_next_id++;
  callbacks()[id] = std::move(callback);
  return id;
}

void forget_interrupt(int id) {
  std::lock_guard lock(g_mu);
  callbacks().erase(id);
}

}  // namespace phasegate
