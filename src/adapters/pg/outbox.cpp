// The notification outbox (state schema v5, docs/notify.md): rows queued with their events by the append
// statement (impl.hpp), leased here by whichever phasegate process delivers, then marked. All times are the
// server's, so leases of processes on different hosts agree.
#include "adapters/pg/errors.hpp"
#include "adapters/pg/impl.hpp"

namespace phasegate {

using pg::guarded;

void PgDatabase::set_notify_routes(std::vector<notify::Route> routes) { impl_->routes = std::move(routes); }

Result<bool> PgDatabase::has_outbox() {
  return guarded([&]() -> Result<bool> {
    pqxx::nontransaction n(*impl_->conn);
    return !n.exec_params("SELECT to_regclass($1)", impl_->t("outbox"))[0][0].is_null();
  });
}

Result<std::vector<notify::Delivery>> PgDatabase::claim(int limit, Millis lease) {
  return guarded([&]() -> Result<std::vector<notify::Delivery>> {
    pqxx::work w(*impl_->conn);
    // SKIP LOCKED: two processes delivering at once take different rows; the lease keeps a row from being sent
    // twice while its try is under way (a process that dies mid-try leaves it to be retried when the lease ends).
    auto r = w.exec_params(
        "WITH due AS (SELECT event_id, sink FROM " + impl_->t("outbox") +
            " WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= now()"
            " AND (leased_until IS NULL OR leased_until < now()) ORDER BY event_id LIMIT $1::int FOR UPDATE SKIP LOCKED)"
        " UPDATE " + impl_->t("outbox") + " o SET leased_until = now() + $2::bigint * interval '1 millisecond'"
        " FROM due, " + impl_->t("events") + " e WHERE o.event_id = due.event_id AND o.sink = due.sink AND e.event_id = o.event_id"
        " RETURNING o.event_id, o.sink, o.attempts, to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), e.kind,"
        " coalesce(e.run_id, 0), coalesce(e.plan_id, ''), coalesce(e.phase, ''), coalesce(e.step, ''), coalesce(e.principal, ''),"
        " e.os_user, e.host, e.payload::text, e.hash",
        limit, static_cast<long long>(lease.count()));
    w.commit();
    std::vector<notify::Delivery> out;
    for (const auto& row : r) {
      notify::Delivery d;
      d.event_id = row[0].as<int64_t>();
      d.sink = row[1].as<std::string>();
      d.attempts = row[2].as<int>();
      d.at = row[3].as<std::string>();
      d.kind = row[4].as<std::string>();
      d.run_id = row[5].as<int64_t>();
      d.plan_id = row[6].as<std::string>();
      d.phase = row[7].as<std::string>();
      d.step = row[8].as<std::string>();
      d.principal = row[9].as<std::string>();
      d.os_user = row[10].as<std::string>();
      d.host = row[11].as<std::string>();
      d.payload = row[12].as<std::string>();
      d.hash = row[13].as<std::string>();
      out.push_back(std::move(d));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.event_id < b.event_id; });
    return out;
  });
}

Result<void> PgDatabase::delivered(const notify::Delivery& d) {
  return guarded([&]() -> Result<void> {
    pqxx::work w(*impl_->conn);
    w.exec_params("UPDATE " + impl_->t("outbox") + " SET delivered_at = now(), attempts = attempts + 1, leased_until = NULL,"
                  " last_error = NULL WHERE event_id = $1::bigint AND sink = $2", d.event_id, d.sink);
    w.commit();
    return {};
  });
}

Result<void> PgDatabase::retry(const notify::Delivery& d, Millis after, const std::string& error) {
  return guarded([&]() -> Result<void> {
    pqxx::work w(*impl_->conn);
    w.exec_params("UPDATE " + impl_->t("outbox") + " SET attempts = attempts + 1, leased_until = NULL, last_error = $3,"
                  " next_attempt_at = now() + $4::bigint * interval '1 millisecond' WHERE event_id = $1::bigint AND sink = $2",
                  d.event_id, d.sink, secrets::redact(error), static_cast<long long>(after.count()));
    w.commit();
    return {};
  });
}

Result<void> PgDatabase::give_up(const notify::Delivery& d, const std::string& error, const Event& failed) {
  return guarded([&]() -> Result<void> {
    pqxx::work w(*impl_->conn);
    w.exec_params("UPDATE " + impl_->t("outbox") + " SET gave_up_at = now(), attempts = attempts + 1, leased_until = NULL,"
                  " last_error = $3 WHERE event_id = $1::bigint AND sink = $2", d.event_id, d.sink, secrets::redact(error));
    impl_->append_event_in(w, failed, d.sink);
    w.commit();
    return {};
  });
}

Result<long long> PgDatabase::pending() {
  return guarded([&]() -> Result<long long> {
    pqxx::nontransaction n(*impl_->conn);
    return n.exec("SELECT count(*) FROM " + impl_->t("outbox") + " WHERE delivered_at IS NULL AND gave_up_at IS NULL")[0][0].as<long long>();
  });
}

}  // namespace phasegate
