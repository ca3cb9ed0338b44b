#include <thread>

#include "phasegate/adapters.hpp"

namespace phasegate {

TimePoint SystemClock::now() { return std::chrono::system_clock::now(); }
void SystemClock::sleep_for(Millis d) { std::this_thread::sleep_for(d); }

}  // namespace phasegate
