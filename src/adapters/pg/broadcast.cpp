// The broadcast status row and the continuous smoke checks' records (state schema v5, docs/serve.md); both are
// written inside a StateChange's transaction, with their events.
#include "adapters/pg/impl.hpp"

namespace phasegate {

using pg::guarded;

void PgDatabase::Impl::save_broadcast_in(pqxx::transaction_base& w, const Broadcast& b) {
  // `since` moves only when the level changes: a new message at the same level keeps "maintenance since 01:02".
  w.exec_params("UPDATE " + t("broadcast") + " SET since = CASE WHEN level = $1 THEN since ELSE now() END, level = $1,"
                " message = $2, until = CASE WHEN $3::bigint < 0 THEN NULL ELSE to_timestamp($3::bigint / 1000.0) END,"
                " run_id = $4::bigint, updated_by = NULLIF($5, ''), updated_at = now() WHERE id = 1",
                b.level, secrets::redact(b.message), ms_text(b.until), b.run_id, b.by);
}

void PgDatabase::Impl::save_smoke_in(pqxx::transaction_base& w, const SmokeRecord& r, long long checks_was) {
  auto res = w.exec_params(
      "INSERT INTO " + t("smoke_status") +
          " AS s (name, ok, last_ok, consecutive_failures, checks, failures, since, last_at, last_reason, deploy_run)"
          " VALUES ($1, $2, $3, $4::int, $5::bigint, $6::bigint,"
          " CASE WHEN $7::bigint < 0 THEN NULL ELSE to_timestamp($7::bigint / 1000.0) END,"
          " CASE WHEN $8::bigint < 0 THEN NULL ELSE to_timestamp($8::bigint / 1000.0) END, $9, $10::bigint)"
          " ON CONFLICT (name) DO UPDATE SET ok = EXCLUDED.ok, last_ok = EXCLUDED.last_ok,"
          " consecutive_failures = EXCLUDED.consecutive_failures, checks = EXCLUDED.checks, failures = EXCLUDED.failures,"
          " since = EXCLUDED.since, last_at = EXCLUDED.last_at, last_reason = EXCLUDED.last_reason, deploy_run = EXCLUDED.deploy_run"
          " WHERE s.checks = $11::bigint",
      r.name, r.ok, r.last_ok, r.consecutive_failures, r.checks, r.failures, ms_text(r.since), ms_text(r.last_at),
      secrets::redact(r.last_reason), r.deploy_run, checks_was);
  if (res.affected_rows() != 1) throw pg::SmokeMoved(r.name);
}

Result<Broadcast> PgDatabase::broadcast() {
  return guarded([&]() -> Result<Broadcast> {
    pqxx::nontransaction n(*impl_->conn);
    auto r = n.exec("SELECT level, message, (extract(epoch FROM until) * 1000)::bigint, coalesce(updated_by, ''), run_id,"
                    " (extract(epoch FROM since) * 1000)::bigint FROM " + impl_->t("broadcast") + " WHERE id = 1");
    Broadcast b;
    if (r.empty()) return b;
    b.level = r[0][0].as<std::string>();
    b.message = r[0][1].as<std::string>();
    b.until = pg::from_ms(r[0][2]);
    b.by = r[0][3].as<std::string>();
    b.run_id = r[0][4].as<int64_t>();
    b.since = pg::from_ms(r[0][5]);
    return b;
  });
}

}  // namespace phasegate
