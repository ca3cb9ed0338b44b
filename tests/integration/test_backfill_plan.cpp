// The backfill batch's plan cannot flip (issue #16): EXPLAIN (FORMAT JSON) of every batch statement, with
// statistics that lie in both directions, at several cursor positions, on a real server. Any access to the
// table other than a range of its primary key index (a nested loop over a key list, a hash or merge join, a
// sequential scan, a sort, another index) fails, naming the statement and the plan. A negative control runs
// the checker on the old statement shape (a materialized key list joined into the UPDATE) under the same
// statistics: the checker must reject it, or it proves nothing.
#include <doctest/doctest.h>

#include "pg_test.hpp"

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "phasegate/backfill.hpp"
#include "phasegate/pg.hpp"

using namespace phasegate;
using json = nlohmann::json;

namespace {
using test::admin_url;
using test::fresh_database;

// What is wrong with one plan: empty when every access to `table` is a range of `pkey`.
void plan_faults(const json& node, const std::string& table, const std::string& pkey, std::vector<std::string>& faults) {
  const std::string type = node.value("Node Type", "");
  const std::string rel = node.value("Relation Name", "");
  const std::string index = node.value("Index Name", "");
  if (type == "Nested Loop" || type == "Hash Join" || type == "Merge Join" || type == "CTE Scan" || type == "Sort" ||
      type == "Incremental Sort" || type == "Materialize" || type == "Hash")
    faults.push_back(type);
  // A bitmap heap scan is a range too when its bitmap comes from the primary key (checked on the child).
  if (rel == table && type != "ModifyTable" && type != "Bitmap Heap Scan" &&
      !((type == "Index Scan" || type == "Index Only Scan") && index == pkey))
    faults.push_back(type + " on " + table + (index.empty() ? "" : " using " + index));
  if (type == "Bitmap Index Scan" && index != pkey) faults.push_back("Bitmap Index Scan using " + index);
  if (node.contains("Plans"))
    for (const auto& child : node["Plans"]) plan_faults(child, table, pkey, faults);
}

struct Explained {
  std::string text;  // the plan, readable, for the failure message
  std::vector<std::string> faults;
};
Explained explain(pqxx::connection& c, const std::string& sql, const std::vector<std::string>& params, const std::string& table,
                  const std::string& pkey, const std::string& settings) {
  pqxx::work w(c);
  if (!settings.empty()) w.exec(settings);
  auto r = w.exec_params("EXPLAIN (FORMAT JSON) " + sql, pqxx::prepare::make_dynamic_params(params));
  auto plan = json::parse(r[0][0].c_str());
  Explained e;
  plan_faults(plan[0]["Plan"], table, pkey, e.faults);
  auto t = w.exec_params("EXPLAIN " + sql, pqxx::prepare::make_dynamic_params(params));
  for (const auto& row : t) e.text += std::string(row[0].c_str()) + "\n";
  return e;
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
std::vector<std::string> texts(const pqxx::row& row) {
  std::vector<std::string> v;
  for (const auto& f : row) v.push_back(f.c_str());
  return v;
}

// The keys at which the batches are checked: the start, a quarter, the middle, near the end.
std::vector<std::vector<std::string>> cursors(pqxx::connection& c, const std::string& table, const std::string& cols) {
  pqxx::work w(c);
  std::vector<std::vector<std::string>> out{{}};
  for (const char* frac : {"0.25", "0.5", "0.999"}) {
    auto r = w.exec("SELECT " + cols + " FROM " + table + " ORDER BY " + cols + " OFFSET (SELECT (count(*) * " + frac +
                    ")::bigint FROM " + table + ") LIMIT 1");
    out.push_back(texts(r[0]));
  }
  return out;
}

// Every statement of the batch at every cursor position: bound, tail, update over (cursor, bound].
void check_batches(pqxx::connection& c, const BackfillTable& t, const Backfill& b, const std::string& table, const std::string& pkey,
                   const std::string& cols, int limit) {
  for (const auto& cursor : cursors(c, t.qualified, cols)) {
    auto sql = backfill::batch_sql(t, b, !cursor.empty());
    std::vector<std::string> last;
    {
      pqxx::work w(c);
      auto r = w.exec_params(sql.bound, pqxx::prepare::make_dynamic_params(concat(cursor, {std::to_string(limit - 1)})));
      if (r.empty()) r = w.exec_params(sql.tail, pqxx::prepare::make_dynamic_params(concat(cursor, {std::to_string(limit)})));
      REQUIRE(!r.empty());
      last = texts(r[0]);
      if (last.size() > t.key.size()) last.erase(last.begin());  // the tail's first column is the count
    }
    std::string at = cursor.empty() ? "(start)" : cursor[0];
    for (auto [what, stmt, params] : {std::tuple{"bound", sql.bound, concat(cursor, {std::to_string(limit - 1)})},
                                      std::tuple{"tail", sql.tail, concat(cursor, {std::to_string(limit)})}, std::tuple{"update", sql.update, concat(cursor, last)}}) {
      auto e = explain(c, stmt, params, table, pkey, sql.settings);
      INFO(std::string(what), " at cursor ", at, ": ", stmt, "\n", e.text);
      CHECK(e.faults.empty());
    }
  }
}

// The old statement (before issue #16): the batch's keys materialized, then joined into the UPDATE.
std::string old_statement(bool has_cursor) {
  std::string walk = std::string("SELECT id AS k FROM public.items") + (has_cursor ? " WHERE id > $1::bigint" : "") + " ORDER BY id LIMIT " +
                     (has_cursor ? "$2" : "$1") + "::int";
  return "WITH b AS MATERIALIZED (" + walk + "), u AS (UPDATE public.items SET level = v * 2 FROM b WHERE items.id = b.k" +
         (has_cursor ? " AND items.id > $1::bigint" : "") + " AND items.id <= (SELECT max(k) FROM b) AND (level IS NULL) RETURNING 1)"
         " SELECT count(*) FROM u";
}
}  // namespace

TEST_SUITE("adapters::pg::backfill") {
  TEST_CASE("the batch plan is a primary-key range whatever the statistics say") {
    REQUIRE_MESSAGE(!admin_url().empty(), "set PHASEGATE_TEST_URL (scripts/test.sh does)");
    auto url = fresh_database("pg_it_backfill_plan");
    pqxx::connection c(url);
    {
      pqxx::nontransaction n(c);
      // autovacuum off on the tables: the statistics stay the lies this test sets up.
      n.exec("CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, level int) WITH (autovacuum_enabled = false)");
      n.exec("INSERT INTO items SELECT g, g % 100, 1 FROM generate_series(1, 200000) g");
      n.exec("CREATE INDEX items_level ON items (level)");
      n.exec("CREATE TABLE lines (order_id bigint, line int, qty int NOT NULL, total int, PRIMARY KEY (order_id, line))"
             " WITH (autovacuum_enabled = false)");
      n.exec("INSERT INTO lines SELECT o, l, o % 7, 1 FROM generate_series(1, 40000) o, generate_series(1, 5) l");
      n.exec("CREATE INDEX lines_total ON lines (total)");
      n.exec("CREATE TABLE tags (name text PRIMARY KEY, v int, w int) WITH (autovacuum_enabled = false)");
      n.exec("INSERT INTO tags SELECT 'tag ' || g, g, 1 FROM generate_series(1, 100000) g");
      n.exec("CREATE INDEX tags_w ON tags (w)");
    }
    BackfillTable items{"public.items", {{"id", "bigint"}}, 200000};
    BackfillTable lines{"public.lines", {{"order_id", "bigint"}, {"line", "integer"}}, 200000};
    BackfillTable tags{"public.tags", {{"name", "text"}}, 100000};
    const Backfill fill_level{"items", "level = v * 2", "level IS NULL", 2000, Millis(200), Millis(0)};
    const Backfill fill_total{"lines", "total = qty * 3", "total IS NULL", 2000, Millis(200), Millis(0)};
    const Backfill fill_w{"tags", "w = v", "w IS NULL", 1000, Millis(200), Millis(0)};
    const Backfill no_where{"items", "level = v * 2", "", 1000, Millis(200), Millis(0)};

    auto all = [&](const std::string& situation) {
      INFO("statistics: ", situation);
      for (int limit : {1000, 2000, 20000}) {
        CAPTURE(limit);
        check_batches(c, items, fill_level, "items", "items_pkey", "id", limit);
        check_batches(c, items, no_where, "items", "items_pkey", "id", limit);
        check_batches(c, lines, fill_total, "lines", "lines_pkey", "order_id, line", limit);
        check_batches(c, tags, fill_w, "tags", "tags_pkey", "name", limit);
      }
    };
    pqxx::connection admin(url);
    pqxx::nontransaction n(admin);
    // 1. Never analyzed: no column statistics at all.
    all("never analyzed");
    // 2. The case: analyzed while the column was filled, then emptied — the statistics say
    //    `level IS NULL` matches no row, while it matches every row.
    n.exec("ANALYZE items; ANALYZE lines; ANALYZE tags");
    n.exec("UPDATE items SET level = NULL; UPDATE lines SET total = NULL; UPDATE tags SET w = NULL");
    for (const char* t : {"items", "lines", "tags"}) n.exec(std::string("VACUUM ") + t);  // the visibility map, not the statistics
    all("analyzed full, then emptied");

    // The checker rejects the old statement under these statistics (else the checks above prove nothing).
    {
      auto e = explain(c, old_statement(true), {"100000", "2000"}, "items", "items_pkey", "");
      INFO(e.text);
      CHECK_FALSE(e.faults.empty());
    }
    // 3. The opposite lie: analyzed empty, then filled — `where` looks like it matches every row.
    n.exec("ANALYZE items; ANALYZE lines; ANALYZE tags");
    n.exec("UPDATE items SET level = 1 WHERE id % 10 <> 0; UPDATE lines SET total = 1 WHERE line <> 3;"
           " UPDATE tags SET w = 1 WHERE v % 10 <> 0");
    for (const char* t : {"items", "lines", "tags"}) n.exec(std::string("VACUUM ") + t);
    all("analyzed empty, then mostly filled");
    // 4. Row-count lie: the table analyzed tiny, then grown tenfold.
    n.exec("TRUNCATE items; INSERT INTO items SELECT g, g % 100, NULL FROM generate_series(1, 20000) g; ANALYZE items");
    n.exec("INSERT INTO items SELECT g, g % 100, NULL FROM generate_series(20001, 200000) g");
    n.exec("VACUUM items");
    all("analyzed at a tenth of its size");
  }

  TEST_CASE("batches over misleading statistics fill every row once and end after the last key") {
    auto url = fresh_database("pg_it_backfill_batches");
    {
      pqxx::connection c(url);
      pqxx::nontransaction n(c);
      n.exec("CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, level int, n int NOT NULL DEFAULT 0)"
             " WITH (autovacuum_enabled = false)");
      n.exec("INSERT INTO items SELECT g * 3, g % 100, 1 FROM generate_series(1, 50000) g");  // gaps in the keys
      n.exec("CREATE INDEX items_level ON items (level)");
      n.exec("ANALYZE items");
      n.exec("UPDATE items SET level = NULL WHERE id % 7 <> 0");  // a 7th stays filled: `where` skips it
    }
    auto db = PgDatabase::connect(url, "phasegate", "phasegate-test");
    REQUIRE(db);
    BackfillTable t{"public.items", {{"id", "bigint"}}, 50000};
    const Backfill b{"items", "level = v * 2, n = n + 1", "level IS NULL", 1000, Millis(200), Millis(0)};
    std::vector<std::string> cursor;
    long long scanned = 0, updated = 0, batches = 0;
    for (;;) {
      auto r = (*db)->backfill_batch(backfill::batch_sql(t, b, !cursor.empty()), cursor, 1000, 0, Timeouts{},
                                     [](const BatchResult&) { return StateChange{}; });
      REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
      scanned += r->scanned;
      updated += r->updated;
      ++batches;
      if (!r->last.empty()) cursor = r->last;
      if (r->scanned < 1000) break;
      REQUIRE(batches < 100);
    }
    CHECK(scanned == 50000);
    CHECK(batches == 51);  // 50 full batches; the 51st finds nothing after the last key
    CHECK(cursor == std::vector<std::string>{"150000"});
    pqxx::connection c(url);
    pqxx::nontransaction n(c);
    const long long skipped = n.exec("SELECT count(*) FROM items WHERE id % 7 = 0")[0][0].as<long long>();
    CHECK(updated == 50000 - skipped);
    CHECK(n.exec("SELECT count(*) FROM items WHERE level IS NULL")[0][0].as<long long>() == 0);
    CHECK(n.exec("SELECT count(*) FROM items WHERE n <> CASE WHEN id % 7 = 0 THEN 0 ELSE 1 END")[0][0].as<long long>() == 0);
  }
}
