#include <algorithm>
#include <thread>

#include "phasegate/adapters.hpp"
#include "phasegate/interrupt.hpp"

namespace phasegate {

TimePoint SystemClock::now() { return std::chrono::system_clock::now(); }

// In slices, so a SIGINT/SIGTERM to phasegate ends a guard wait or a lock-retry backoff within 100 ms.
void SystemClock::sleep_for(Millis d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (!interrupt_pending()) {
    auto left = std::chrono::duration_cast<Millis>(until - std::chrono::steady_clock::now());
    if (left <= Millis(0)) return;
    std::this_thread::sleep_for(std::min(left, Millis(100)));
  }
}

}  // namespace phasegate
