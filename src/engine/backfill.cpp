// The pure part of online backfills: batch SQL over the primary key, the cursor, the size controller.
#include "phasegate/backfill.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "phasegate/sql.hpp"
#include "phasegate/text.hpp"

namespace phasegate::backfill {

using json = nlohmann::json;

std::string Cursor::to_json() const {
  return json{{"last", last}, {"scanned", scanned}, {"updated", updated}, {"batches", batches}, {"batch_size", batch_size}}.dump();
}

std::optional<Cursor> Cursor::from_json(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  Cursor c;
  c.last = j.value("last", std::vector<std::string>{});
  c.scanned = j.value("scanned", 0LL);
  c.updated = j.value("updated", 0LL);
  c.batches = j.value("batches", 0LL);
  c.batch_size = j.value("batch_size", 0);
  return c;
}

BatchSql batch_sql(const BackfillTable& t, const Backfill& b, bool has_cursor) {
  // The batch is the key range (cursor, last]: the bound statement finds `last` on the primary key's index
  // (an index-only scan of `limit` keys), the UPDATE names the range with literal-valued parameters (an
  // unnamed statement is planned with them: a custom plan). The UPDATE has no join, so the planner cannot
  // pick a nested loop over a key list or a hash join with a sequential scan (issue #16); `where` is wrapped
  // in IS TRUE so an index on its column cannot replace the key range either (an index on `level` would make
  // `level IS NULL` a scan of every such row of the table, per batch). Same rows as a plain WHERE: NULL is
  // not TRUE.
  const size_t k = t.key.size();
  std::vector<std::string> cols, text, desc, after, upto;
  for (size_t i = 0; i < k; ++i) {
    std::string c = sql::quote_ident(t.key[i].name);
    cols.push_back(c);
    // Aliased: an output column called like the key would be what ORDER BY names, sorting by the text.
    text.push_back(c + "::text AS __phasegate_k" + std::to_string(i + 1));
    desc.push_back(c + " DESC");
    after.push_back('$' + std::to_string(i + 1) + "::" + t.key[i].type);
    upto.push_back('$' + std::to_string((has_cursor ? k : 0) + i + 1) + "::" + t.key[i].type);
  }
  const std::string key = k == 1 ? cols[0] : '(' + join(cols, ", ") + ")";
  auto tuple = [&](const std::vector<std::string>& v) { return k == 1 ? v[0] : '(' + join(v, ", ") + ")"; };
  const std::string from = " FROM " + t.qualified + (has_cursor ? " WHERE " + key + " > " + tuple(after) : "");
  BatchSql s;
  // Without statistics (never analyzed) or with stale ones, the planner estimates a range of the key as a
  // third of the table and prefers a sequential scan of all of it, per batch: the range is always an index
  // path, so disabling sequential scans in the batch's transaction leaves the index (a planner that has no
  // other path still scans; `set` subqueries on other tables keep their plans).
  s.settings = "SET LOCAL enable_seqscan = off";
  s.bound = "SELECT " + join(text, ", ") + from + " ORDER BY " + join(cols, ", ") + " OFFSET $" +
            std::to_string((has_cursor ? k : 0) + 1) + "::bigint LIMIT 1";
  // The count walks the key's index too (ORDER BY + LIMIT): a smaller index would do for count(*) alone.
  s.tail = "SELECT (SELECT count(*) FROM (SELECT 1" + from + " ORDER BY " + join(cols, ", ") + " LIMIT $" + std::to_string((has_cursor ? k : 0) + 1) +
           "::bigint) __phasegate_n), " + join(text, ", ") + from + " ORDER BY " + join(desc, ", ") + " LIMIT 1";
  s.update = "UPDATE " + t.qualified + " SET " + b.set + " WHERE " + (has_cursor ? key + " > " + tuple(after) + " AND " : "") +
             key + " <= " + tuple(upto) + (b.where.empty() ? "" : " AND (" + b.where + ") IS TRUE");
  return s;
}

int next_batch_size(int current, Millis took, Millis target, int max) {
  double t = static_cast<double>(std::max<long long>(took.count(), 1));
  double want = current * static_cast<double>(target.count()) / t;
  want = std::clamp(want, current / 2.0, current * 2.0);
  return std::clamp(static_cast<int>(std::llround(want)), 1, std::max(max, 1));
}

namespace {
std::string count_text(long long n) {
  char buf[32];
  if (n >= 1'000'000) std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else if (n >= 10'000) std::snprintf(buf, sizeof buf, "%.1fk", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%lld", n);
  return buf;
}
}  // namespace

std::string Progress::line() const {
  std::string s = count_text(scanned);
  if (estimated_total > 0) {
    int pct = static_cast<int>(std::min<long long>(100, scanned * 100 / estimated_total));
    s += "/~" + count_text(estimated_total) + " keys (" + std::to_string(pct) + "%)";
  } else {
    s += " keys";
  }
  s += ", " + count_text(updated) + " updated, " + count_text(static_cast<long long>(rows_per_s)) + " keys/s";
  if (eta && !done) s += ", ETA " + format_duration(std::max(Millis(1000), Millis(std::chrono::round<std::chrono::seconds>(*eta))));
  s += ", batch " + std::to_string(batch_size);
  if (!paused.empty()) s += ", paused: " + paused;
  return s;
}

}  // namespace phasegate::backfill
