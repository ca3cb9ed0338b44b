#pragma once
// Notifications (docs/notify.md): which events go to which [notify.NAME] sink, what is sent, and the delivery
// of the outbox — rows written in the same transaction as their event (state schema v5), claimed with a lease
// by whichever phasegate process is running, retried with backoff, recorded as notify.failed when given up.
// Pure decisions here; the outbox (PgDatabase), the HTTP client and the process runner are ports.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "phasegate/ports.hpp"

namespace phasegate {
struct Notifier;
struct Project;
}

namespace phasegate::notify {

// Every event kind phasegate records (SPEC §6 and the ones it added); `events` globs must match one of them.
const std::vector<std::string>& event_kinds();
// `*` matches any run of characters (also none); everything else literally. "run.*" matches "run.failed".
bool glob_match(std::string_view glob, std::string_view kind);
// The problem with one `events` entry ("" when it matches a known kind), with a did-you-mean.
std::string glob_problem(const std::string& glob);

// A sink's routing: the events it wants.
struct Route {
  std::string sink;
  std::vector<std::string> globs;
};
std::vector<Route> routes(const Project& project);
// The sinks an event of `kind` is queued for. A notify.failed event is never queued for the sink it reports
// (`failed_sink`): a receiver that is down would otherwise feed itself a new event per failure.
std::vector<std::string> sinks_for(const std::vector<Route>& routes, std::string_view kind, std::string_view failed_sink = {});

// One queued delivery, with its event, as the outbox hands it out.
struct Delivery {
  int64_t event_id = 0;
  std::string sink;
  int attempts = 0;  // tries before this one
  // The event (pg.hpp's EventRow without the chain columns we do not send).
  std::string at, kind, plan_id, phase, step, principal, os_user, host, payload, hash;
  int64_t run_id = 0;
};

// What the sinks receive.
std::string json_body(const Delivery& d, const std::string& project);   // every field of the event
std::string slack_body(const Delivery& d, const std::string& project);  // text + blocks: what happened, what to do
std::string idempotency_key(const Delivery& d);                          // "<event id>.<first 16 hex of its hash>"
std::string hmac_sha256_hex(const std::string& key, const std::string& data);

// How a try ended.
struct Outcome {
  bool delivered = false;
  bool permanent = false;  // not worth retrying (a 4xx other than 408/429, a command that cannot start, no URL)
  std::string error;       // what went wrong (never the URL or the secret)
};
// Backoff before try `attempt` + 1 (attempt ≥ 1): 1 s, 2 s, 4 s, capped at 5 s.
Millis retry_delay(int attempt);

// The outbox as the dispatcher sees it (PgDatabase implements it on its own session).
class Outbox {
 public:
  virtual ~Outbox() = default;
  // Up to `limit` deliveries due now, leased for `lease` (another process skips them until the lease ends).
  virtual Result<std::vector<Delivery>> claim(int limit, Millis lease) = 0;
  virtual Result<void> delivered(const Delivery& d) = 0;
  virtual Result<void> retry(const Delivery& d, Millis after, const std::string& error) = 0;
  // Gives up and records `failed` (a notify.failed event) in the same transaction.
  virtual Result<void> give_up(const Delivery& d, const std::string& error, const Event& failed) = 0;
  // Deliveries not yet delivered or given up (due now or later).
  virtual Result<long long> pending() = 0;
};

// Sends one delivery to its sink (webhook or command).
class Sender {
 public:
  virtual ~Sender() = default;
  virtual Outcome send(const Delivery& d) = 0;
};

// The settings a delivery needs, from [notify.NAME].
struct SinkSettings {
  int attempts = 3;
  Millis timeout{10'000};
};

// One pass over the due deliveries: send each, then mark it delivered, retry it later or give it up.
// Returns how many were handled (0: nothing due), or the outbox's error.
Result<int> dispatch_due(Outbox& outbox, Sender& sender, const std::map<std::string, SinkSettings>& sinks, Clock& clock);
// The notify.failed event for a delivery given up after `attempts` tries.
Event failed_event(const Delivery& d, int attempts, const std::string& error, TimePoint at);

}  // namespace phasegate::notify

namespace phasegate::notify {
// The real sinks (src/adapters/notify/sender.cpp): webhooks through `http` (URL and secret read from the
// environment at each try), commands through `runner` (argv from the project root, the event JSON on stdin,
// without the database credentials unless [hooks] pass_env names them).
std::unique_ptr<Sender> make_sender(const Project& project, HttpClient& http, ProcessRunner& runner);
std::map<std::string, SinkSettings> sink_settings(const Project& project);
}  // namespace phasegate::notify
