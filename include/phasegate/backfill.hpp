#pragma once
// Online backfill (issue #5): keyset batches over the primary key. This header is the pure part: the SQL
// of one batch, the cursor kept in the state store, the batch-size controller and progress arithmetic.
#include <optional>
#include <string>
#include <vector>

#include "phasegate/config.hpp"
#include "phasegate/ports.hpp"

namespace phasegate::backfill {

// The cursor stored (as JSON) in the step's `cursor` column, committed with each batch.
struct Cursor {
  std::vector<std::string> last;  // the last primary key scanned, one text value per key column; empty: start
  long long scanned = 0;          // keys walked so far
  long long updated = 0;          // rows the UPDATE changed (those matching `where`)
  long long batches = 0;
  int batch_size = 0;  // the next batch's size (the controller's state)
  std::string to_json() const;
  static std::optional<Cursor> from_json(const std::string& text);
};

// One batch: the key range (cursor, the limit-th key after it] found on the primary key's index, then one
// UPDATE of that range filtered by `where` — no join, so its plan is an index range scan whatever the
// statistics say (docs/backfill.md). Parameters: see BatchSql.
BatchSql batch_sql(const BackfillTable& table, const Backfill& b, bool has_cursor);

// Steers the batch size toward `target` batch time: proportional, at most ×2 / ÷2 per batch, within [1, max].
int next_batch_size(int current, Millis took, Millis target, int max);
inline int first_batch_size(const Backfill& b) { return std::min(b.batch_rows, 100); }

struct Progress {
  std::string plan, step;
  long long scanned = 0, updated = 0, estimated_total = 0;
  double rows_per_s = 0;
  std::optional<Millis> eta;
  int batch_size = 0;
  Millis last_batch{0};
  bool done = false;
  std::string paused;  // a guard between batches says wait: why ("autovacuum (pid 42) is vacuuming public.items: ...")
  std::string line() const;  // "1.2M/2.0M keys (60%), 85.1k rows/s, ETA 9s, batch 12000[, paused: why]"
};

}  // namespace phasegate::backfill
