#pragma once
// The PostgreSQL adapter: state store, plan target and the run lock, over one libpqxx connection.
// libpqxx stays inside src/adapters/pg; this header only names our own types.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "phasegate/notify.hpp"
#include "phasegate/ports.hpp"

namespace phasegate {
namespace serve {
struct Reading;
}

struct EventRow {
  int64_t id = 0;
  std::string at;  // RFC 3339 UTC
  int64_t run_id = 0;
  std::string plan_id, phase, step, kind, principal, os_user, host, payload, prev_hash, hash;
  bool chain_ok = true;  // the stored hash matches a recomputation from the row and its predecessor
};

// The end of the event chain against its anchor, the head row written with every append (docs/state.md).
struct ChainCheck {
  bool anchored = true;  // false: a state schema older than v4 (no anchor yet; the next run upgrades it)
  int64_t head_id = 0, newest_id = 0;
  std::string head_hash, newest_hash;
  std::vector<std::string> problems;  // empty: the newest event is the one the head records (and links hold)
  bool ok() const { return problems.empty(); }
};

struct RunRow {
  RunRecord run;
  std::string initiator, os_user, host, created_at, finished_at;
};

class PgDatabase final : public StateStore, public Target, public notify::Outbox {
 public:
  // Connects, names the session (application_name) and sets client_connection_check_interval (PG 14+).
  static Result<std::unique_ptr<PgDatabase>> connect(const std::string& url, const std::string& schema,
                                                     const std::string& application_name);
  ~PgDatabase() override;

  // One runner per target database: a session advisory lock. Exit::blocked names the holder.
  Result<void> lock_runs();
  bool connected() override;
  Result<void> reconnect(Millis budget) override;
  Result<bool> reclaim_run(int64_t run_id) override;
  // Cancels the statement in flight (thread-safe; for SIGINT/SIGTERM to phasegate).
  void cancel_current();
  Result<bool> schema_exists();
  // Where the session is, as libpq resolved it (host name or socket directory, port, database, role): the
  // commands' target banner. Never the password.
  struct Endpoint {
    std::string host, port, database, user;
  };
  Endpoint endpoint();

  Result<void> ensure_schema() override;
  Result<std::vector<StepRecord>> steps(const std::string& plan_id) override;
  Result<std::optional<RunRecord>> open_run(const std::string& plan_id) override;
  Result<std::optional<RunRecord>> latest_run(const std::string& plan_id) override;
  Result<RunRecord> create_run(const RunRecord& run, const Actor& actor, Event created) override;
  Result<void> commit(const StateChange& change) override;
  Result<std::vector<KnownPlan>> known_plans() override;
  Result<std::string> abort_requested(int64_t run_id) override;
  Result<bool> phase_completed(int64_t run_id, const std::string& phase) override;
  // abort RUN: records the request and cancels the live runner's statement; returns the runner's backend pid
  // (0 when no runner holds the run lock).
  Result<int> request_abort(int64_t run_id, const std::string& by);

  Result<bool> check(const std::string& sql, const Timeouts& t) override;
  Result<void> apply_atomically(const std::string& sql, const Timeouts& t,
                                const std::function<StateChange()>& completion) override;
  Result<void> apply_autocommit(const std::vector<std::string>& statements, const Timeouts& t) override;
  Result<IndexState> index_state(const std::string& schema, const std::string& name) override;
  std::vector<Blocker> last_blockers() override;
  Result<BackfillTable> backfill_table(const std::string& table) override;
  Result<BatchResult> backfill_batch(const BatchSql& sql, const std::vector<std::string>& cursor, int limit, int64_t abort_of_run, const Timeouts& t,
                                     const std::function<StateChange(const BatchResult&)>& record) override;
  Result<int> cancel_backends(const std::vector<int>& pids) override;

  // Guard facts and approvals (src/adapters/pg/guards.cpp).
  Result<LoadFacts> load_facts(bool lag, bool connections, const std::optional<std::string>& throttle_query);
  Result<HealthFacts> health_facts(const std::string& table, bool vacuum, bool archive);
  Result<std::string> target_id();  // "<system_identifier>/<current_database()>"
  Result<std::vector<ApprovalRecord>> approval_rows(const std::string& plan_id);  // signature_ok not set
  Result<int64_t> insert_approval(const std::string& plan_id, const std::string& digest, const std::string& target,
                                  const std::string& principal, const std::string& document, const std::string& signature,
                                  TimePoint expires, const std::string& comment);
  // Withdraws approvals with their signed revocations (`revoke`), and records the approval.revoked event naming
  // them (with the documents) in the same transaction. Returns the ids withdrawn (not ones revoked meanwhile).
  struct Revocation {
    int64_t approval_id = 0;
    std::string document, signature;
  };
  Result<std::vector<int64_t>> record_revocations(const std::string& plan_id, const std::string& principal,
                                                  const std::vector<Revocation>& revocations);

  Result<std::vector<EventRow>> events(std::optional<int64_t> run_id);

  // Notifications (src/adapters/pg/outbox.cpp, docs/notify.md): every event appended from now on is queued in the
  // outbox for the sinks whose `events` globs match its kind, in the statement that appends it.
  void set_notify_routes(std::vector<notify::Route> routes);
  Result<std::vector<notify::Delivery>> claim(int limit, Millis lease) override;
  Result<void> delivered(const notify::Delivery& d) override;
  Result<void> retry(const notify::Delivery& d, Millis after, const std::string& error) override;
  Result<void> give_up(const notify::Delivery& d, const std::string& error, const Event& failed) override;
  Result<long long> pending() override;
  // Whether the outbox exists (state schema v5+): a command that does not upgrade the schema may find an older one.
  Result<bool> has_outbox();
  // The chain's end against the head (src/adapters/pg/chain.cpp); `links` also checks every event's prev_hash
  // against its predecessor's hash over the whole table (a full scan: `log` does, `status` does not).
  Result<ChainCheck> check_chain(bool links);
  Result<std::vector<RunRow>> runs(const std::string& plan_id = "");
  // The broadcast status row (src/adapters/pg/broadcast.cpp); `announce` writes it through commit().
  Result<Broadcast> broadcast() override;
  // Everything `serve` shows, in one read-only transaction (src/adapters/pg/snapshot.cpp).
  Result<serve::Reading> reading();
  void set_actor(const Actor& actor);
  void set_crash_point(CrashPoint crash);

 private:
  struct Impl;
  explicit PgDatabase(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The event hash chain (SPEC §5): sha256(prev_hash || suffix), suffix = "\x1f"-joined canonical fields.
std::string event_hash_suffix(const std::string& kind, long long at_ms, int64_t run_id, const std::string& plan_id,
                              const std::string& phase, const std::string& step, const Actor& actor,
                              const std::string& payload);
std::string event_hash(const std::string& prev_hash, const std::string& kind, long long at_ms, int64_t run_id,
                       const std::string& plan_id, const std::string& phase, const std::string& step,
                       const Actor& actor, const std::string& payload);

}  // namespace phasegate
