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

std::string batch_sql(const BackfillTable& t, const Backfill& b, bool has_cursor) {
  // The batch's key columns get private names so `set`/`where` may name the table's columns unqualified
  // (an `id` in `set` would otherwise be ambiguous between the table and the batch).
  std::vector<std::string> cols, aliased, alias, params, desc, joined, last;
  for (size_t i = 0; i < t.key.size(); ++i) {
    std::string c = sql::quote_ident(t.key[i].name), a = "__phasegate_k" + std::to_string(i + 1);
    cols.push_back(c);
    aliased.push_back(c + " AS " + a);
    alias.push_back(a);
    params.push_back("$" + std::to_string(i + 1) + "::" + t.key[i].type);
    desc.push_back(a + " DESC");
    joined.push_back(t.qualified + "." + c + " = __phasegate_b." + a);
    last.push_back("__phasegate_l." + a + "::text");
  }
  const std::string limit = "$" + std::to_string(has_cursor ? t.key.size() + 1 : 1);
  std::string walk = "SELECT " + join(aliased, ", ") + " FROM " + t.qualified;
  if (has_cursor) walk += " WHERE (" + join(cols, ", ") + ") > (" + join(params, ", ") + ")";
  walk += " ORDER BY " + join(cols, ", ") + " LIMIT " + limit + "::int";
  // The key range is repeated on the UPDATE side: without it the planner may join the batch against the
  // whole primary key from its start (a merge join that gets slower the further the cursor is; bench/README).
  std::vector<std::string> qualified;
  for (const auto& c : cols) qualified.push_back(t.qualified + "." + c);
  std::string cond = join(joined, " AND ");
  if (has_cursor) cond += " AND (" + join(qualified, ", ") + ") > (" + join(params, ", ") + ")";
  cond += " AND (" + join(qualified, ", ") + ") <= (SELECT " + join(alias, ", ") + " FROM __phasegate_b ORDER BY " + join(desc, ", ") + " LIMIT 1)";
  if (!b.where.empty()) cond += " AND (" + b.where + ")";
  // Our CTE and alias names are prefixed: a table called b, u or l must not collide with them.
  return "WITH __phasegate_b AS MATERIALIZED (" + walk + "),\n __phasegate_u AS (UPDATE " + t.qualified + " SET " + b.set +
         " FROM __phasegate_b WHERE " + cond + " RETURNING 1)\nSELECT (SELECT count(*) FROM __phasegate_u), (SELECT count(*) FROM __phasegate_b), " +
         join(last, ", ") + " FROM (SELECT 1) __phasegate_one LEFT JOIN LATERAL (SELECT * FROM __phasegate_b ORDER BY " + join(desc, ", ") +
         " LIMIT 1) __phasegate_l ON true";
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
  return s;
}

}  // namespace phasegate::backfill
