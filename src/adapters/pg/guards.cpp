// Facts for the guards from the target database: load (SPEC §3.4), the target's identity and stored
// approvals (§3.2), and the blocker watch that names who held the lock a step waited for (§3.3).
#include <nlohmann/json.hpp>

#include "adapters/pg/errors.hpp"
#include "adapters/pg/impl.hpp"

namespace phasegate {

using pg::guarded;

void BlockerWatch::arm(int backend_pid, Millis delay) {
  bool wake = true;
  {
    std::lock_guard lk(m_);
    armed_ = true;
    ++generation_;
    pid_ = backend_pid;
    due_ = std::chrono::steady_clock::now() + delay;
    seen_.clear();
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
    // Asleep until an earlier statement's due: it wakes then, sees the new generation and sleeps until this
    // due. Waking it now (a context switch per backfill batch) is only needed when this due comes first.
    wake = !sleeping_until_ || due_ < *sleeping_until_;
  }
  if (wake) cv_.notify_all();
}

void BlockerWatch::disarm() {
  std::lock_guard lk(m_);
  armed_ = false;  // the thread notices at its next wake-up: nothing to wait for here
}

std::vector<Blocker> BlockerWatch::seen() {
  std::lock_guard lk(m_);
  return seen_;
}

BlockerWatch::~BlockerWatch() {
  {
    std::lock_guard lk(m_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BlockerWatch::loop() {
  std::unique_ptr<pqxx::connection> conn;
  std::unique_lock lk(m_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || armed_; });
    if (stop_) return;
    const uint64_t gen = generation_;
    auto current = [&] { return !stop_ && armed_ && generation_ == gen; };
    // Sleeps until the statement has run for `delay`; disarm() does not wake us (it stays cheap), so a
    // disarmed generation is noticed here, at due_, or by the next arm().
    sleeping_until_ = due_;
    const bool woken = cv_.wait_until(lk, due_, [&] { return stop_ || generation_ != gen; });
    sleeping_until_.reset();
    if (woken || !current()) continue;
    const int pid = pid_;
    while (current()) {
      lk.unlock();
      std::vector<Blocker> seen;
      try {
        if (!conn) {
          conn = std::make_unique<pqxx::connection>(url_);
          pqxx::nontransaction(*conn).exec("SET application_name = 'phasegate-blocker-watch'");
        }
        pqxx::nontransaction n(*conn);
        auto rows = n.exec_params(
            "SELECT a.pid, coalesce(a.usename::text, ''), coalesce(a.application_name, ''), coalesce(a.state, ''),"
            " left(coalesce(a.query, ''), 300), coalesce(extract(epoch FROM now() - a.xact_start), 0)::float8"
            " FROM pg_stat_activity a WHERE a.pid = ANY(pg_blocking_pids($1)) ORDER BY a.pid",
            pid);
        for (const auto& r : rows)
          seen.push_back({r[0].as<int>(), r[1].c_str(), r[2].c_str(), r[3].c_str(), r[4].c_str(), r[5].as<double>()});
      } catch (const std::exception&) {
        conn.reset();  // naming blockers is best effort: a failed sample never fails the step; reconnect next time
      }
      lk.lock();
      if (!seen.empty() && generation_ == gen) seen_ = std::move(seen);
      cv_.wait_for(lk, std::chrono::milliseconds(100), [&] { return !current(); });
    }
  }
}

Result<LoadFacts> PgDatabase::load_facts(bool lag, bool connections, const std::optional<std::string>& throttle_query) {
  return guarded([&]() -> Result<LoadFacts> {
    LoadFacts f;
    {
      pqxx::nontransaction n(*impl_->conn);
      if (lag) {
        // replay_lag is NULL once a standby has caught up and WAL is idle: that is no lag.
        auto r = n.exec(
            "SELECT count(*)::int, coalesce(max(extract(epoch FROM greatest(write_lag, flush_lag, replay_lag)) * 1000), 0)::bigint"
            " FROM pg_stat_replication");
        f.standbys = r[0][0].as<int>();
        if (f.standbys > 0) f.replication_lag = Millis(r[0][1].as<long long>());
      }
      if (connections)
        f.active_connections = n.exec("SELECT count(*)::int FROM pg_stat_activity WHERE state = 'active'"
                                      " AND backend_type = 'client backend' AND pid <> pg_backend_pid()")[0][0].as<int>();
    }
    if (throttle_query) {
      auto r = check(*throttle_query, Timeouts{Millis(1000), Millis(5000)});
      if (!r) return fail(Exit::failed, "throttle_query failed: " + r.error().message, r.error().sqlstate);
      f.throttle = *r;
    }
    return f;
  });
}

Result<HealthFacts> PgDatabase::health_facts(const std::string& table, bool vacuum, bool archive) {
  return guarded([&]() -> Result<HealthFacts> {
    pqxx::nontransaction n(*impl_->conn);
    // pg_stat_progress_vacuum shows relid (and pg_stat_activity the query) of other roles' backends only to
    // members of pg_read_all_stats: without it a VACUUM by someone else is not seen (docs/guards/load.md).
    // Counting .ready files needs pg_monitor (or superuser); without it, or with archive_mode off, NULL.
    auto r = n.exec_params(
        "SELECT (SELECT CASE WHEN a.backend_type = 'autovacuum worker' THEN"
        "   'autovacuum' || CASE WHEN a.query LIKE '%to prevent wraparound%' THEN ' (to prevent wraparound)' ELSE '' END"
        "   ELSE 'VACUUM by ' || coalesce(a.usename::text, '?') END || ' (pid ' || p.pid || ') is vacuuming ' || $1 || ': ' || p.phase ||"
        "   CASE WHEN p.heap_blks_total > 0 THEN ', ' || (100 * p.heap_blks_scanned / p.heap_blks_total) || '% of the heap scanned' ELSE '' END"
        "   FROM pg_stat_progress_vacuum p LEFT JOIN pg_stat_activity a ON a.pid = p.pid"
        "   WHERE $2 AND p.relid = to_regclass($1) ORDER BY p.pid LIMIT 1),"
        " (SELECT bool_or(a.backend_type IS DISTINCT FROM 'autovacuum worker' OR a.query LIKE '%to prevent wraparound%')"
        "   FROM pg_stat_progress_vacuum p LEFT JOIN pg_stat_activity a ON a.pid = p.pid WHERE $2 AND p.relid = to_regclass($1)),"
        " CASE WHEN NOT $3 OR current_setting('archive_mode') = 'off'"
        "   OR NOT has_function_privilege('pg_ls_archive_statusdir()', 'EXECUTE') THEN NULL"
        "   ELSE (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready') END",
        table, vacuum, archive);
    HealthFacts f;
    if (!r[0][0].is_null()) f.vacuum = r[0][0].as<std::string>();
    f.vacuum_must_finish = !r[0][1].is_null() && r[0][1].as<bool>();
    if (!r[0][2].is_null()) f.archive_pending = r[0][2].as<long long>();
    return f;
  });
}

Result<std::string> PgDatabase::target_id() {
  return guarded([&]() -> Result<std::string> {
    pqxx::nontransaction n(*impl_->conn);
    auto r = n.exec("SELECT (SELECT system_identifier FROM pg_control_system())::text || '/' || current_database()");
    return std::string(r[0][0].c_str());
  });
}

Result<std::vector<ApprovalRecord>> PgDatabase::approval_rows(const std::string& plan_id) {
  return guarded([&]() -> Result<std::vector<ApprovalRecord>> {
    pqxx::nontransaction n(*impl_->conn);
    // The revocation columns through to_jsonb, so a state schema before v4 (status does not upgrade) reads as
    // "none". An approval.revoked event names the approvals it withdrew (before v4: the principal, and so every
    // approval of theirs recorded before it): the log remembers a revocation a changed row forgot.
    auto rows = n.exec_params("SELECT approval_id, plan_id, principal, document, signature, coalesce(comment, ''),"
                              " (extract(epoch FROM created_at) * 1000)::bigint, (extract(epoch FROM revoked_at) * 1000)::bigint,"
                              " coalesce(to_jsonb(a) ->> 'revocation', ''), coalesce(to_jsonb(a) ->> 'revocation_signature', ''),"
                              " (SELECT coalesce(min(e.event_id), 0) FROM " + impl_->t("events") + " e WHERE e.kind = 'approval.revoked'"
                              "   AND e.plan_id = a.plan_id AND (e.payload -> 'approvals' @> to_jsonb(a.approval_id)"
                              "   OR (NOT e.payload ? 'approvals' AND lower(e.payload ->> 'principal') = lower(a.principal)"
                              "       AND e.at >= a.created_at)))"
                              " FROM " + impl_->t("approvals") + " a WHERE plan_id = $1 ORDER BY approval_id",
                              plan_id);
    std::vector<ApprovalRecord> out;
    for (const auto& r : rows) {
      ApprovalRecord a;
      a.id = r[0].as<int64_t>();
      a.plan_id = r[1].c_str();
      a.principal = r[2].c_str();
      a.document = r[3].c_str();
      a.signature = r[4].c_str();
      a.comment = r[5].c_str();
      a.created_at = from_ms(r[6]).value_or(TimePoint{});
      a.revoked_at = from_ms(r[7]);
      a.revocation = r[8].c_str();
      a.revocation_signature = r[9].c_str();
      a.revoked_event = r[10].as<int64_t>();
      out.push_back(std::move(a));
    }
    return out;
  });
}

Result<int64_t> PgDatabase::insert_approval(const std::string& plan_id, const std::string& digest, const std::string& target,
                                            const std::string& principal, const std::string& document,
                                            const std::string& signature, TimePoint expires, const std::string& comment) {
  return guarded([&]() -> Result<int64_t> {
    pqxx::work w(*impl_->conn);
    auto r = w.exec_params("INSERT INTO " + impl_->t("approvals") +
                               " (plan_id, digest, target, principal, document, signature, expires_at, comment)"
                               " VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7::bigint / 1000.0), NULLIF($8, ''))"
                               " RETURNING approval_id",
                           plan_id, digest, target, principal, document, signature, to_ms(expires), comment);
    w.commit();
    return r[0][0].as<int64_t>();
  });
}

Result<std::vector<int64_t>> PgDatabase::record_revocations(const std::string& plan_id, const std::string& principal,
                                                              const std::vector<Revocation>& revocations) {
  return guarded([&]() -> Result<std::vector<int64_t>> {
    pqxx::work w(*impl_->conn);  // the rows and their approval.revoked event in one transaction
    std::vector<int64_t> done;
    nlohmann::json signed_docs = nlohmann::json::array();
    for (const auto& r : revocations) {
      auto u = w.exec_params("UPDATE " + impl_->t("approvals") +
                                 " SET revoked_at = now(), revocation = $3, revocation_signature = $4"
                                 " WHERE approval_id = $1::bigint AND plan_id = $2 AND revoked_at IS NULL AND revocation IS NULL",
                             r.approval_id, plan_id, r.document, r.signature);
      if (u.affected_rows() != 1) continue;  // revoked meanwhile
      done.push_back(r.approval_id);
      signed_docs.push_back({{"approval", r.approval_id}, {"document", r.document}, {"signature", r.signature}});
    }
    if (!done.empty())
      impl_->append_event_in(w, Event{"approval.revoked", 0, plan_id, "", "",
                                      nlohmann::json{{"principal", principal}, {"revoked", done.size()}, {"approvals", done},
                                                     {"revocations", signed_docs}}.dump(),
                                      std::chrono::system_clock::now()});
    w.commit();
    return done;
  });
}

}  // namespace phasegate
