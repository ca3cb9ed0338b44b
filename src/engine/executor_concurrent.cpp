// CONCURRENTLY statements (index builds and drops, REINDEX, DETACH PARTITION): their own lock timeout, the
// invalid index a build that did not finish leaves, and the older transactions they waited for
// (docs/guards/lock-timeout.md#concurrently).
#include <algorithm>

#include "engine/executor_context.hpp"
#include "phasegate/text.hpp"

namespace phasegate {

Timeouts statement_timeouts(const Step& step, const Guards& g, const sql::Statement& st) {
  Timeouts t{step.lock_timeout.value_or(g.lock_timeout), step.statement_timeout.value_or(g.statement_timeout)};
  if (!st.concurrently || step.lock_timeout) return t;  // a step's own lock_timeout is meant for all its statements
  // CREATE INDEX CONCURRENTLY waits for every transaction older than its snapshot, in the whole database, and
  // lock_timeout counts that wait: concurrent_lock_timeout, never longer than statement_timeout (0 = none).
  const Millis c = g.concurrent_lock_timeout;
  t.lock_timeout = c.count() == 0 || c > t.statement_timeout ? t.statement_timeout : c;
  return t;
}

namespace {
std::string qualified_index(const sql::Statement& st) {
  return (st.index_schema.empty() ? "" : sql::quote_ident(st.index_schema) + ".") + sql::quote_ident(st.index_name);
}
}  // namespace

Result<void> Executor::run_concurrent(Context& cx, const Step& step, const sql::Statement& st, const Timeouts& t,
                                      bool resuming) {
  const std::string phase = phase_name(step.phase);
  const bool builds_index = st.node == "IndexStmt" && !st.index_name.empty();
  auto r = with_lock_retries(
      cx, step,
      [&]() -> Result<void> {
        if (builds_index) {
          // Before every attempt: an index of this name that is invalid was left by a build that did not finish
          // (killed, or its lock timeout hit while it waited for older transactions): drop it, build again.
          auto state = target_.index_state(st.index_schema, st.index_name);
          if (!state) return std::unexpected(state.error());
          if (*state == IndexState::valid && resuming) return {};  // built before the process died
          if (*state == IndexState::invalid) {
            (void)emit(cx, "step.retrying", phase, step.name,
                       json{{"reason", "dropping invalid index " + qualified_index(st) + " left by a build that did not finish"}}.dump());
            if (auto d = target_.apply_autocommit({"DROP INDEX CONCURRENTLY IF EXISTS " + qualified_index(st)}, t); !d) return d;
          }
        }
        return target_.apply_autocommit({st.text}, t);
      },
      step.lock_timeout ? "lock_timeout" : "concurrent_lock_timeout", t.lock_timeout);
  if (!r) return r;
  // Who it waited for (older transactions of the database, or lock holders): as a lock wait reports them.
  if (auto waited = target_.last_blockers(); !waited.empty()) {
    std::vector<std::string> who;
    for (const auto& b : waited) who.push_back(describe_blocker(b));
    (void)emit(cx, "step.waited", phase, step.name,
               json{{"statement", st.text},
                    {"reason", "waited for older transactions: " + join(who, "; ")},
                    {"blockers", blockers_json(waited)}}.dump());
  }
  return {};
}

Result<bool> Executor::drop_invalid_indexes(Context& cx, const Step& step, const Timeouts& t) {
  auto parsed = sql::parse(step.sql);
  if (!parsed.script) return false;
  bool only_index_builds = true;
  for (const auto& st : parsed.script->statements) {
    if (st.node != "IndexStmt" || !st.concurrently || st.index_name.empty()) {
      only_index_builds = false;
      continue;
    }
    auto state = target_.index_state(st.index_schema, st.index_name);
    if (!state) return std::unexpected(state.error());
    if (*state == IndexState::valid) only_index_builds = false;  // a real effect: the down undoes it
    if (*state != IndexState::invalid) continue;
    Timeouts ts = statement_timeouts(step, cx.guards, st);
    ts.statement_timeout = std::min(ts.statement_timeout, t.statement_timeout);
    auto d = with_lock_retries(cx, step, [&]() -> Result<void> {
      return target_.apply_autocommit({"DROP INDEX CONCURRENTLY IF EXISTS " + qualified_index(st)}, ts);
    });
    if (!d) return std::unexpected(d.error());
    (void)emit(cx, "rollback.step", phase_name(step.phase), step.name,
               json{{"action", "drop_invalid_index"}, {"ok", true}, {"index", qualified_index(st)}}.dump());
  }
  return only_index_builds;
}

}  // namespace phasegate
