// Rules over facts from the target database (lint --db): size and old transactions.
#include <algorithm>
#include <cstdio>
#include <set>

#include "lint/context.hpp"
#include "phasegate/text.hpp"

namespace phasegate::lint {

namespace {
constexpr long long kBigRows = 100'000;
constexpr long long kBigBytes = 1LL << 30;

std::string human_bytes(long long b) {
  char buf[32];
  if (b >= (1LL << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(b) / (1LL << 30));
  else std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1LL << 20));
  return buf;
}

}  // namespace

const char* heavy_work(const sql::Action& a, const History& h) {
  if (a.rewrite != sql::Rewrite::no && a.kind != "truncate") return "rewrites";  // TRUNCATE's new file is empty: instant
  if (a.kind == "set_not_null" && !h.validated_checks.count(a.table + "." + a.column)) return "scans";
  if (a.kind == "add_constraint" && !a.not_valid && !a.using_index) return "scans";
  if ((a.kind == "create_index" || a.kind == "reindex") && !a.concurrently) return "indexes";
  return nullptr;
}

// Estimated from size alone: rewrites at ~100 MiB/s, scans and index builds at ~250 MiB/s of table+index
// size on a quiet server. Real time under load is longer (seed 000: 1-2 min on dev, 30 on production);
// `phasegate trace` on a copy measures it.
std::string estimate(long long bytes, bool rewrite) {
  double mib = static_cast<double>(bytes) / (1 << 20);
  double seconds = mib / (rewrite ? 100.0 : 250.0);
  char buf[64];
  if (seconds < 60) std::snprintf(buf, sizeof buf, "~%.0f s", seconds < 1 ? 1 : seconds);
  else if (seconds < 3600) std::snprintf(buf, sizeof buf, "~%.0f min", seconds / 60);
  else std::snprintf(buf, sizeof buf, "~%.1f h", seconds / 3600);
  return buf;
}

void database_rules(const Context& cx) {
  if (!cx.catalog || cx.table_is_new()) return;
  const auto& a = cx.action;
  std::string key = a.schema.empty() ? a.table : a.schema + "." + a.table;
  auto it = cx.catalog->tables.find(key);
  if (it != cx.catalog->tables.end()) {
    const char* work = heavy_work(a, cx.history);
    const auto& t = it->second;
    if (work && (t.rows > kBigRows || t.bytes > kBigBytes))
      cx.report("big-table",
                std::string("this ") + work + " \"" + key + "\" (" + std::to_string(t.rows) + " rows, " + human_bytes(t.bytes) +
                    ") under " + sql::lock_name(a.lock) + ": estimated " + estimate(t.bytes, std::string(work) == "rewrites") +
                    " on a quiet server, longer under load",
                "use the online pattern from the rule this statement also breaks, or run it in an off-peak window; "
                "measure with phasegate trace on a copy");
  }
  if ((a.kind == "update" || a.kind == "delete") && it != cx.catalog->tables.end())
    if (auto d = cx.catalog->dml_rows.find(cx.statement.text); d != cx.catalog->dml_rows.end() && d->second > kBigRows)
      cx.report("unbatched-dml",
                std::string(a.kind == "update" ? "this UPDATE" : "this DELETE") + " is estimated (EXPLAIN) to change " +
                    std::to_string(d->second) + " rows of \"" + key + "\" in one transaction: each stays locked until it "
                    "commits, so the application's writes to them wait, and it cannot be stopped without losing all of it",
                a.kind == "update" ? "use a backfill step: backfill = { table = \"" + key + "\", set = \"...\", where = \"...\" } "
                                     "(short keyset batches, resumable; docs/backfill.md)"
                                   : "delete in batches (DELETE ... WHERE id IN (SELECT id ... LIMIT 1000) repeated), in the contract phase");
  if (a.kind == "add_constraint" && a.constraint == "foreign" && !a.columns.empty()) {
    auto leads = [&](const std::vector<std::string>& index) {  // the index starts with the foreign key's columns, in any order
      if (index.size() < a.columns.size()) return false;
      std::set<std::string> head(index.begin(), index.begin() + static_cast<long>(a.columns.size()));
      return head == std::set<std::string>(a.columns.begin(), a.columns.end());
    };
    bool indexed = false;
    if (auto ic = cx.catalog->index_columns.find(key); ic != cx.catalog->index_columns.end())
      indexed = std::any_of(ic->second.begin(), ic->second.end(), leads);
    if (auto hc = cx.history.created_index_columns.find(a.table); hc != cx.history.created_index_columns.end())
      indexed = indexed || std::any_of(hc->second.begin(), hc->second.end(), leads);
    if (!indexed && it != cx.catalog->tables.end())
      cx.report("foreign-key-without-index",
                "no index of \"" + key + "\" starts with the foreign key's columns (" + join(a.columns, ", ") +
                    "): every DELETE or key UPDATE on the referenced table scans \"" + key + "\" for referencing rows, "
                    "under its locks",
                "CREATE INDEX CONCURRENTLY " + a.table + "_" + join(a.columns, "_") + "_idx ON " + key + " (" + join(a.columns, ", ") +
                    ") in a step before the foreign key");
  }
  if (a.lock <= sql::Lock::share_update_exclusive) return;  // weaker locks make no application query queue
  for (const auto& tx : cx.catalog->old_transactions) {
    if (tx.table != key) continue;
    char age[32];
    std::snprintf(age, sizeof age, "%.0f s", tx.age_seconds);
    cx.report("long-transactions",
              "pid " + std::to_string(tx.pid) + " (user " + tx.user + ", application \"" + tx.application + "\", " +
                  tx.state + ") has been in a transaction on \"" + key + "\" for " + age +
                  "; our lock would wait for it and every query on the table would queue behind us. Its query: " + tx.query,
              "let it finish or end it before the deploy; phasegate's lock_timeout and retries limit the damage");
  }
}

}  // namespace phasegate::lint
