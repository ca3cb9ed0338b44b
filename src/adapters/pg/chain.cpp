// Tamper evidence of the event log (docs/state.md): the hash chain links each event to its predecessor, and the
// head row — written in the same statement as every append — anchors its end, so deleting the newest events, or
// every event, shows as "the head records event N but the newest is M".
#include "adapters/pg/errors.hpp"
#include "adapters/pg/impl.hpp"

namespace phasegate {

using pg::guarded;

namespace {
std::string short_hash(const std::string& h) { return h.size() > 16 ? h.substr(0, 16) + "..." : h; }
}  // namespace

Result<ChainCheck> PgDatabase::check_chain(bool links) {
  return guarded([&]() -> Result<ChainCheck> {
    pqxx::nontransaction n(*impl_->conn);
    ChainCheck c;
    int version = n.exec("SELECT coalesce(max(version), 0) FROM " + impl_->t("schema_version"))[0][0].as<int>();
    if (version < 4) {
      c.anchored = false;
    } else {
      // One statement, one snapshot: an append commits its event and the head together.
      auto r = n.exec("SELECT h.last_id, h.hash, coalesce(e.event_id, 0), coalesce(e.hash, '') FROM " + impl_->t("event_head") +
                      " h LEFT JOIN LATERAL (SELECT event_id, hash FROM " + impl_->t("events") +
                      " ORDER BY event_id DESC LIMIT 1) e ON true WHERE h.id = 1");
      if (r.empty()) {
        c.problems.push_back("the chain head row (" + impl_->t("event_head") + ") is missing: it was deleted with its trigger disabled");
      } else {
        c.head_id = r[0][0].as<int64_t>();
        c.head_hash = r[0][1].as<std::string>();
        c.newest_id = r[0][2].as<int64_t>();
        c.newest_hash = r[0][3].as<std::string>();
        const std::string head = "the chain head records event #" + std::to_string(c.head_id) + " (hash " + short_hash(c.head_hash) + ")";
        if (c.newest_id == 0 && c.head_id == 0) {
          if (c.head_hash != std::string(64, '0'))
            c.problems.push_back("the events table is empty but the chain head has hash " + short_hash(c.head_hash) +
                                 ": every event was deleted or truncated");
        } else if (c.newest_id == 0)
          c.problems.push_back("the events table is empty but " + head + ": every event was deleted or truncated");
        else if (c.newest_id < c.head_id)
          c.problems.push_back("events missing after #" + std::to_string(c.newest_id) + ": " + head + " but the newest event is #" +
                               std::to_string(c.newest_id) + " (hash " + short_hash(c.newest_hash) + "); the newest events were deleted");
        else if (c.newest_id > c.head_id)
          c.problems.push_back("event #" + std::to_string(c.newest_id) + " is newer than the chain head (#" + std::to_string(c.head_id) +
                               "): events were inserted without phasegate's append (by hand, or by a phasegate older than state schema v4)");
        else if (c.newest_hash != c.head_hash)
          c.problems.push_back("the head says hash " + short_hash(c.head_hash) + " but the newest event #" + std::to_string(c.newest_id) +
                               " has hash " + short_hash(c.newest_hash) + ": it was replaced or altered");
      }
    }
    if (links) {
      auto broken = n.exec(
          "SELECT event_id, coalesce(before, 0), prev_hash, coalesce(expected, '') FROM (SELECT event_id, prev_hash,"
          " lag(event_id) OVER (ORDER BY event_id) AS before, lag(hash) OVER (ORDER BY event_id) AS expected FROM " +
          impl_->t("events") + ") c WHERE prev_hash <> coalesce(expected, repeat('0', 64)) ORDER BY event_id LIMIT 5");
      for (const auto& row : broken) {
        auto id = row[0].as<int64_t>(), before = row[1].as<int64_t>();
        if (before == 0)
          c.problems.push_back("the oldest event #" + std::to_string(id) + " does not start the chain (its prev_hash is " +
                               short_hash(row[2].as<std::string>()) + "): older events were deleted");
        else
          c.problems.push_back("event #" + std::to_string(id) + " does not follow #" + std::to_string(before) + " (prev_hash " +
                               short_hash(row[2].as<std::string>()) + ", #" + std::to_string(before) + " has " +
                               short_hash(row[3].as<std::string>()) + "): events between them were deleted, or one was altered");
      }
    }
    return c;
  });
}

}  // namespace phasegate
