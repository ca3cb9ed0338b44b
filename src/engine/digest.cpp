// Step checksums and plan digests (SPEC §5). The digest is SHA-256 over a canonical JSON rendering of
// the plan (object keys sorted by nlohmann::json) with each SQL text replaced by its token checksum.
#include <nlohmann/json.hpp>

#include "phasegate/engine.hpp"
#include "phasegate/sql.hpp"
#include "phasegate/text.hpp"

namespace phasegate {

using json = nlohmann::json;

std::string step_checksum(const Step& step) {
  if (!step.sql.empty()) return sql::checksum(step.sql);
  if (step.backfill) {
    const auto& b = *step.backfill;
    // The batch tuning knobs do not change meaning; table, set and where do.
    return sha256_hex("backfill\x1f" + b.table + "\x1f" + sql::canonical_tokens(b.set).value_or(b.set) + "\x1f" +
                      sql::canonical_tokens(b.where).value_or(b.where));
  }
  return sha256_hex("command\x1f" + join(step.command, "\x1f"));
}

namespace {
json optional_ms(const std::optional<Millis>& d) { return d ? json(d->count()) : json(nullptr); }

json guards_json(const GuardSettings& g) {
  json j = json::object();
  if (g.windows) j["windows"] = *g.windows;
  if (g.approvals) j["approvals"] = *g.approvals;
  if (g.lock_timeout) j["lock_timeout"] = g.lock_timeout->count();
  if (g.statement_timeout) j["statement_timeout"] = g.statement_timeout->count();
  if (g.concurrent_lock_timeout) j["concurrent_lock_timeout"] = g.concurrent_lock_timeout->count();
  if (g.lock_retries) j["lock_retries"] = *g.lock_retries;
  if (g.cancel_blockers) j["cancel_blockers"] = *g.cancel_blockers;
  if (g.max_replication_lag) j["max_replication_lag"] = g.max_replication_lag->count();
  if (g.max_active_connections) j["max_active_connections"] = *g.max_active_connections;
  if (g.throttle_query) j["throttle_query"] = sql::checksum(*g.throttle_query);
  if (g.pause_on_vacuum) j["pause_on_vacuum"] = static_cast<int>(*g.pause_on_vacuum);
  if (g.max_archive_pending) j["max_archive_pending"] = *g.max_archive_pending;
  return j;
}
}  // namespace

std::string plan_digest(const Plan& plan) {
  json j;
  j["id"] = plan.id;
  j["description"] = plan.description;
  j["release"] = plan.release;
  j["guards"] = guards_json(plan.guards);
  for (const auto& ph : plan.phases) {
    json p;
    p["restart"] = ph.restart;
    p["smoke"] = ph.smoke;
    if (ph.phase == Phase::contract) p["start"] = ph.start;
    p["steps"] = json::array();
    for (const auto& s : ph.steps) {
      json st;
      st["name"] = s.name;
      st["checksum"] = step_checksum(s);
      st["down"] = s.down.empty() ? "" : sql::checksum(s.down);
      st["check"] = s.check.empty() ? "" : sql::checksum(s.check);
      st["transaction"] = s.transaction ? json(*s.transaction) : json(nullptr);
      st["lock_timeout"] = optional_ms(s.lock_timeout);
      st["statement_timeout"] = optional_ms(s.statement_timeout);
      st["irreversible"] = s.irreversible;
      p["steps"].push_back(st);
    }
    j[phase_name(ph.phase)] = p;
  }
  return sha256_hex(j.dump());
}

}  // namespace phasegate
