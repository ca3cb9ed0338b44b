// Delivering the notification outbox beside whatever command runs (docs/notify.md): the first command that
// opens the target database of a project with [notify.*] sinks starts one thread with a session of its own;
// it sends what is due (this command's events and any an earlier process left), and at exit the command waits a
// little for the queue to drain. Delivery never changes a command's exit code or holds up its work.
#include "cli/notify_service.hpp"

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli/output.hpp"
#include "phasegate/notify.hpp"
#include "phasegate/secrets.hpp"

namespace phasegate::cli {

namespace {
constexpr Millis kPoll{250};
constexpr Millis kDrainBudget{15'000};  // run, abort, rollback: their alerts matter most (retries included)
constexpr Millis kPassBudget{5'000};    // other commands: one try of what they queued, no waiting on backoffs

class Service {
 public:
  Service(const Project& project, std::string url) : project_(project), url_(std::move(url)) {
    sender_ = notify::make_sender(project_, http_, runner_);
    settings_ = notify::sink_settings(project_);
    thread_ = std::thread([this] { loop(); });
  }
  ~Service() { stop(); }

  // Waits for a pass that saw everything this process queued (and, with `drain`, until nothing is queued any
  // more — retries included), at most `budget`; then stops the thread. Returns what is still queued.
  long long finish(Millis budget, bool drain) {
    {
      std::unique_lock lock(m_);
      const uint64_t asked = ++asked_;  // only a pass that starts from now on sees this command's last events
      cv_.notify_all();
      cv_.wait_for(lock, budget, [&] { return passed_ >= asked && (!drain || drained_ || gone_); });
    }
    long long left = left_;
    stop();
    return left;
  }

 private:
  void stop() {
    {
      std::lock_guard lock(m_);
      stop_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

  // One pass: connect when needed, send what is due, count what is left. false: try again after a pause.
  bool pass() {
    {
      std::lock_guard lock(m_);
      pass_ = asked_;
    }
    if (!db_) {
      auto db = PgDatabase::connect(url_, project_.state_schema, "phasegate notify " + std::to_string(::getpid()));
      if (!db) return problem(db.error().message);
      db_ = std::move(*db);
      db_->set_actor(current_actor(""));
      db_->set_notify_routes(notify::routes(project_));
    }
    auto has = db_->has_outbox();
    if (!has) return problem(has.error().message);
    if (!*has) return publish(0);  // a state schema older than v5: nothing can be queued in it yet
    for (;;) {
      auto n = notify::dispatch_due(*db_, *sender_, settings_, clock_);
      if (!n) return problem(n.error().message);
      if (*n == 0) break;
    }
    auto left = db_->pending();
    if (!left) return problem(left.error().message);
    return publish(*left);
  }

  bool publish(long long left) {
    std::lock_guard lock(m_);
    left_ = left;
    drained_ = left == 0;
    gone_ = false;
    passed_ = pass_;
    cv_.notify_all();
    return true;
  }

  bool problem(const std::string& message) {
    db_.reset();
    if (!warned_) {
      warned_ = true;
      std::cerr << "phasegate: notifications: " << secrets::redact(message) << " (queued events stay in the outbox)\n";
    }
    std::lock_guard lock(m_);
    gone_ = true;  // at exit, do not wait for a database that went away
    passed_ = pass_;
    cv_.notify_all();
    return false;
  }

  void loop() {
    for (;;) {
      bool ok = pass();
      std::unique_lock lock(m_);
      if (stop_) return;
      const uint64_t seen = pass_;
      cv_.wait_for(lock, ok ? kPoll : Millis(1000), [&] { return stop_ || asked_ != seen; });
      if (stop_) return;
    }
  }

  const Project project_;
  const std::string url_;
  SystemClock clock_;
  HttplibClient http_;
  BoostProcessRunner runner_;
  std::unique_ptr<notify::Sender> sender_;
  std::map<std::string, notify::SinkSettings> settings_;
  std::unique_ptr<PgDatabase> db_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false, drained_ = false, gone_ = false, warned_ = false;
  uint64_t asked_ = 0, pass_ = 0, passed_ = 0;  // finish() requests; the request a pass started after; the latest pass's
  long long left_ = 0;
  std::thread thread_;
};

std::unique_ptr<Service>& service() {
  static std::unique_ptr<Service> s;
  return s;
}
bool g_drain = false;
}  // namespace

void start_notifications(const Project& project, const std::string& url) {
  if (project.notify.empty() || service()) return;
  service() = std::make_unique<Service>(project, url);
}

void drain_notifications_at_exit() { g_drain = true; }

long long finish_notifications() {
  if (!service()) return 0;
  long long left = service()->finish(g_drain ? kDrainBudget : kPassBudget, g_drain);
  service().reset();
  if (left > 0)
    std::cerr << "phasegate: " << left << " notification" << (left == 1 ? " is" : "s are")
              << " still queued; the next phasegate command delivers them\n";
  return left;
}

}  // namespace phasegate::cli
