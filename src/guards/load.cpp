// The load guard (SPEC §3.4): replication lag, active connections, the user's throttle query.
#include "phasegate/guards.hpp"

namespace phasegate::guards {

Verdict check_load(const Guards& g, const LoadFacts& f) {
  if (g.max_replication_lag && f.replication_lag && *f.replication_lag > *g.max_replication_lag)
    return {false, "replication_lag",
            "replication lag " + format_duration(*f.replication_lag) + " > max_replication_lag " + format_duration(*g.max_replication_lag),
            std::nullopt};
  if (g.max_active_connections && f.active_connections && *f.active_connections > *g.max_active_connections)
    return {false, "active_connections",
            std::to_string(*f.active_connections) + " active connections > max_active_connections " +
                std::to_string(*g.max_active_connections),
            std::nullopt};
  if (g.throttle_query && f.throttle.value_or(false))
    return {false, "throttle_query", "throttle_query returned true: " + *g.throttle_query, std::nullopt};
  return {};
}

Verdict check_health(const Guards& g, const HealthFacts& f) {
  if (f.vacuum && (g.pause_on_vacuum == VacuumPause::any || (g.pause_on_vacuum == VacuumPause::wraparound && f.vacuum_must_finish)))
    return {false, "vacuum", *f.vacuum + " (pause_on_vacuum: the backfill waits for it)", std::nullopt};
  if (g.max_archive_pending > 0 && f.archive_pending && *f.archive_pending > g.max_archive_pending)
    return {false, "archive_pending",
            std::to_string(*f.archive_pending) + " WAL segments wait for archive_command > max_archive_pending " +
                std::to_string(g.max_archive_pending),
            std::nullopt};
  return {};
}

}  // namespace phasegate::guards
