#pragma once
// PgDatabase's private state and helpers, shared by the translation units of src/adapters/pg.
#include <pqxx/pqxx>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "adapters/pg/errors.hpp"
#include "phasegate/notify.hpp"
#include "phasegate/pg.hpp"
#include "phasegate/secrets.hpp"

namespace phasegate {

namespace pg {
// Advisory lock keys (two-int form): classid says what, objid says which state schema.
constexpr int kRunLockClass = 1347900487;     // one runner per target database
constexpr int kSchemaLockClass = 1347900489;  // serializes schema creation and upgrades

inline long long to_ms(TimePoint t) { return std::chrono::duration_cast<Millis>(t.time_since_epoch()).count(); }
inline std::optional<TimePoint> from_ms(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return TimePoint(Millis(f.as<long long>()));
}
inline std::string ms_text(std::optional<TimePoint> t) { return t ? std::to_string(to_ms(*t)) : "-1"; }

// pg_locks rows (alias l) of the session holding the run lock; parameters $1 = kRunLockClass, $2 = schema.
inline constexpr const char* kRunLockHolder =
    "l.locktype = 'advisory' AND l.granted AND l.classid = $1::int::oid"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND l.objid::bigint = (hashtext($2)::bigint + 4294967296) % 4294967296 AND l.objsubid = 2";

// The columns read_steps_rows / read_run read, in their order (pg_database.cpp).
inline constexpr const char* kStepColumns =
    "plan_id, step, phase, ordinal, status, attempts, checksum, coalesce(run_id, 0), coalesce(applied_by, ''),"
    " (extract(epoch FROM started_at) * 1000)::bigint, (extract(epoch FROM finished_at) * 1000)::bigint,"
    " coalesce(error, ''), coalesce(cursor::text, ''), coalesce(down_checksum, ''), partial";
inline constexpr const char* kRunColumns = "run_id, plan_id, digest, status, phase, initiator, error, release_commit, cause";
std::vector<StepRecord> read_steps_rows(const pqxx::result& r);
RunRecord read_run(const pqxx::row& row);

// When the blocker watch starts sampling: half the lock timeout, between 20 ms and 1 s.
inline Millis watch_delay(const Timeouts& t) { return std::clamp(t.lock_timeout / 2, Millis(20), Millis(1000)); }

inline std::string timeouts_sql(const Timeouts& t, bool local) {
  std::string set = local ? "SET LOCAL " : "SET ";
  return set + "lock_timeout = '" + std::to_string(t.lock_timeout.count()) + "ms'; " + set + "statement_timeout = '" +
         std::to_string(t.statement_timeout.count()) + "ms'";
}
}  // namespace pg

using pg::from_ms;
using pg::kRunLockClass;
using pg::kRunLockHolder;
using pg::kSchemaLockClass;
using pg::ms_text;
using pg::timeouts_sql;
using pg::watch_delay;
using pg::to_ms;

// While a step's statement runs, samples pg_blocking_pids(our backend) from a second session, so a lock
// timeout can name who blocked us (SPEC §3.3). One thread per database handle, started on first use and
// armed around each statement (a thread per statement cost a backfill batch ~0.1 ms of its few ms);
// nothing is sampled before `delay`, so fast statements cost two mutex operations. The second session is
// opened on the first sample and kept. Implemented in guards.cpp.
class BlockerWatch {
 public:
  explicit BlockerWatch(std::string url) : url_(std::move(url)) {}
  ~BlockerWatch();  // stops and joins the thread
  void arm(int backend_pid, Millis delay);  // clears what was seen before
  void disarm();
  std::vector<Blocker> seen();
  // Armed for one statement: disarms when it goes out of scope.
  struct Armed {
    BlockerWatch* watch;
    ~Armed() { watch->disarm(); }
  };
 private:
  void loop();
  const std::string url_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool armed_ = false;
  uint64_t generation_ = 0;  // one per arm(): a sample belongs to the statement it was taken for
  int pid_ = 0;
  std::chrono::steady_clock::time_point due_;
  std::optional<std::chrono::steady_clock::time_point> sleeping_until_;  // the thread waits for this due
  std::vector<Blocker> seen_;
  std::thread thread_;
};

struct PgDatabase::Impl {
  std::string url;
  std::unique_ptr<BlockerWatch> blockers;  // samples who blocks the latest apply_* (made with url)
  std::unique_ptr<pqxx::connection> conn;
  std::mutex conn_mu;  // conn's replacement (reconnect) against cancel_current from the signal watcher
  std::string application_name;
  int backend_pid = 0;
  int previous_backend_pid = 0;  // the session's before the latest reconnect
  bool holds_run_lock = false;  // lock_runs succeeded: a reconnect takes the lock again
  std::string schema;  // already a valid lowercase identifier (checked by the loader)
  Actor actor;
  CrashPoint crash;
  std::vector<notify::Route> routes;  // [notify.*]: which sinks each appended event is queued for

  // A text[] literal of names (sink names are [A-Za-z0-9_-] but quoted anyway).
  static std::string text_array(const std::vector<std::string>& items) {
    std::string s = "{";
    for (size_t i = 0; i < items.size(); ++i) {
      s += i ? ",\"" : "\"";
      for (char c : items[i]) {
        if (c == '"' || c == '\\') s += '\\';
        s += c;
      }
      s += '"';
    }
    return s + "}";
  }

  std::string t(const char* table) const { return schema + "." + table; }

  // Starts sampling who blocks our backend for the statement about to run (see BlockerWatch).
  BlockerWatch::Armed watch_blockers(const Timeouts& timeouts) {
    if (!blockers) blockers = std::make_unique<BlockerWatch>(url);
    blockers->arm(conn->backendpid(), watch_delay(timeouts));
    return BlockerWatch::Armed{blockers.get()};
  }

  // The bookkeeping statements run twice per step: prepared once per connection (see prepare()).
  void prepare() {
    conn->prepare("pg_save_step",
        "INSERT INTO " + t("steps") +
            " (plan_id, step, phase, ordinal, status, attempts, checksum, run_id, applied_by, started_at, finished_at, error, cursor,"
            " down_checksum, partial)"
            " VALUES ($1, $2, $3, $4::int, $5, $6::int, $7, NULLIF($8::bigint, 0), NULLIF($9, ''),"
            " CASE WHEN $10::bigint < 0 THEN NULL ELSE to_timestamp($10::bigint / 1000.0) END,"
            " CASE WHEN $11::bigint < 0 THEN NULL ELSE to_timestamp($11::bigint / 1000.0) END, NULLIF($12, ''),"
            " NULLIF($13, '')::jsonb, NULLIF($14, ''), $15::boolean)"
            " ON CONFLICT (plan_id, step) DO UPDATE SET phase = EXCLUDED.phase, ordinal = EXCLUDED.ordinal,"
            " status = EXCLUDED.status, attempts = EXCLUDED.attempts, checksum = EXCLUDED.checksum, run_id = EXCLUDED.run_id,"
            " applied_by = EXCLUDED.applied_by, started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,"
            " error = EXCLUDED.error, cursor = EXCLUDED.cursor, down_checksum = EXCLUDED.down_checksum, partial = EXCLUDED.partial");
    conn->prepare("pg_update_run",
        "UPDATE " + t("runs") + " SET status = $2, phase = $3, error = NULLIF($4, ''), cause = NULLIF($5, ''),"
        " release_commit = NULLIF($6, ''), updated_at = now(),"
        " runner_pid = CASE WHEN $2 = 'running' THEN pg_backend_pid() ELSE runner_pid END,"
        " finished_at = CASE WHEN $2 IN ('completed', 'failed', 'aborted', 'rolled_back', 'rollback_incomplete') THEN now() END"
        " WHERE run_id = $1::bigint AND ($7 = '' OR status = $7)");
    conn->prepare("pg_mark_plan",
        "INSERT INTO " + t("plans") + " (plan_id, digest, status, applied_at) VALUES ($1, $2, $3, CASE WHEN $3 = 'applied' THEN now() END)"
        " ON CONFLICT (plan_id) DO UPDATE SET digest = EXCLUDED.digest, status = EXCLUDED.status, updated_at = now(),"
        " applied_at = CASE WHEN EXCLUDED.status = 'applied' THEN now() WHEN EXCLUDED.status IN ('rolled_back') THEN NULL"
        " ELSE " + t("plans") + ".applied_at END");
    // One statement appends an event: FOR UPDATE on the head row serializes appenders and, in READ COMMITTED,
    // returns the newest committed head after a wait; the hash is sha256(prev_hash || $11) as in event_hash().
    // The head records the new event's id and hash (v4): the anchor `log` checks the chain's end against.
    conn->prepare("pg_event_append",
        "WITH h AS (SELECT hash FROM " + t("event_head") + " WHERE id = 1 FOR UPDATE),"
        " n AS (SELECT h.hash AS prev, encode(sha256(convert_to(h.hash || $11, 'UTF8')), 'hex') AS hash FROM h),"
        " ins AS (INSERT INTO " + t("events") +
            " (at, at_ms, run_id, plan_id, phase, step, kind, principal, os_user, host, payload, prev_hash, hash)"
            " SELECT to_timestamp($1::bigint / 1000.0), $1::bigint, NULLIF($2::bigint, 0), NULLIF($3, ''),"
            " NULLIF($4, ''), NULLIF($5, ''), $6, NULLIF($7, ''), $8, $9, $10::jsonb, n.prev, n.hash FROM n RETURNING event_id)"
        " UPDATE " + t("event_head") + " SET hash = n.hash, last_id = ins.event_id FROM n, ins WHERE id = 1");
    // The same, queueing the event for the notification sinks $12 (a text[]) in the same statement (v5).
    conn->prepare("pg_event_append_outbox",
        "WITH h AS (SELECT hash FROM " + t("event_head") + " WHERE id = 1 FOR UPDATE),"
        " n AS (SELECT h.hash AS prev, encode(sha256(convert_to(h.hash || $11, 'UTF8')), 'hex') AS hash FROM h),"
        " ins AS (INSERT INTO " + t("events") +
            " (at, at_ms, run_id, plan_id, phase, step, kind, principal, os_user, host, payload, prev_hash, hash)"
            " SELECT to_timestamp($1::bigint / 1000.0), $1::bigint, NULLIF($2::bigint, 0), NULLIF($3, ''),"
            " NULLIF($4, ''), NULLIF($5, ''), $6, NULLIF($7, ''), $8, $9, $10::jsonb, n.prev, n.hash FROM n RETURNING event_id),"
        " q AS (INSERT INTO " + t("outbox") + " (event_id, sink) SELECT ins.event_id, unnest($12::text[]) FROM ins)"
        " UPDATE " + t("event_head") + " SET hash = n.hash, last_id = ins.event_id FROM n, ins WHERE id = 1");
    prepared = true;
  }
  bool prepared = false;

  void save_step_in(pqxx::transaction_base& w, const StepRecord& s) {
    if (!prepared) prepare();
    w.exec_prepared("pg_save_step", s.plan_id, s.step, s.phase, s.ordinal, step_status_name(s.status), s.attempts,
                    s.checksum, s.run_id, s.applied_by, ms_text(s.started_at), ms_text(s.finished_at), secrets::redact(s.error), s.cursor,
                    s.down_checksum, s.partial);
  }

  // Everything of one StateChange inside the caller's transaction.
  void commit_in(pqxx::transaction_base& w, const StateChange& c) {
    if (!prepared) prepare();
    if (c.run) {
      auto r = w.exec_prepared("pg_update_run", c.run->id, run_status_name(c.run->status), c.run->phase, secrets::redact(c.run->error),
                               c.run->cause, c.run->release_commit, c.run_was ? run_status_name(*c.run_was) : "");
      if (r.affected_rows() != 1) throw pg::RunMoved(c.run->id);
    }
    for (const auto& s : c.steps) save_step_in(w, s);
    if (c.plan) w.exec_prepared("pg_mark_plan", c.plan->plan_id, c.plan->digest, c.plan->state);
    if (c.broadcast) save_broadcast_in(w, *c.broadcast);
    if (c.smoke) save_smoke_in(w, *c.smoke, c.smoke_checks_was);
    for (const auto& e : c.events) append_event_in(w, e);
  }
  // The broadcast row (since: kept while the level stays) and a continuous smoke check's record (broadcast.cpp).
  void save_broadcast_in(pqxx::transaction_base& w, const Broadcast& b);
  void save_smoke_in(pqxx::transaction_base& w, const SmokeRecord& r, long long checks_was);

  // `failed_sink`: the sink a notify.failed event reports on, which it is not queued for (notify::sinks_for).
  void append_event_in(pqxx::transaction_base& w, const Event& e, std::string_view failed_sink = {}) {
    if (!prepared) prepare();
    long long at = to_ms(e.at);
    // A command step's output may echo DATABASE_URL: credentials are masked before they are stored (and hashed).
    std::string payload = e.payload.empty() ? "{}" : secrets::redact_json(e.payload);
    std::string suffix = event_hash_suffix(e.kind, at, e.run_id, e.plan_id, e.phase, e.step, actor, payload);
    auto sinks = notify::sinks_for(routes, e.kind, failed_sink);
    auto r = sinks.empty()
                 ? w.exec_prepared("pg_event_append", at, e.run_id, e.plan_id, e.phase, e.step, e.kind, actor.principal, actor.os_user,
                                   actor.host, payload, suffix)
                 : w.exec_prepared("pg_event_append_outbox", at, e.run_id, e.plan_id, e.phase, e.step, e.kind, actor.principal,
                                   actor.os_user, actor.host, payload, suffix, text_array(sinks));
    if (r.affected_rows() != 1)
      throw std::runtime_error("the event chain head row (" + t("event_head") + ") is missing: no event can be appended");
  }
};

}  // namespace phasegate
