// The analyzer's prediction for one statement and its comparison with what trace observed.
#include "phasegate/trace.hpp"

namespace phasegate::trace {

sql::Lock lock_from_pg(const std::string& mode) {
  using L = sql::Lock;
  static const std::map<std::string, L> modes = {
      {"AccessShareLock", L::access_share},       {"RowShareLock", L::row_share},
      {"RowExclusiveLock", L::row_exclusive},     {"ShareUpdateExclusiveLock", L::share_update_exclusive},
      {"ShareLock", L::share},                    {"ShareRowExclusiveLock", L::share_row_exclusive},
      {"ExclusiveLock", L::exclusive},            {"AccessExclusiveLock", L::access_exclusive}};
  auto it = modes.find(mode);
  return it == modes.end() ? L::none : it->second;
}

Prediction predict(const sql::Statement& st) {
  Prediction p;
  for (const auto& a : st.actions) {
    if (a.table.empty() || a.kind == "create_table" || a.lock == sql::Lock::none) continue;
    auto& l = p.locks[a.table];
    if (a.lock > l) l = a.lock;
    if (a.rewrite == sql::Rewrite::yes) p.rewrites.insert(a.table);
    if (a.rewrite == sql::Rewrite::maybe) p.maybe_rewrites.insert(a.table);
  }
  return p;
}

std::vector<std::string> disagreements(const Prediction& p, const Observation& o) {
  std::vector<std::string> out;
  if (!o.observable) return out;
  for (const auto& [table, lock] : p.locks) {
    auto it = o.locks.find(table);
    sql::Lock seen = it == o.locks.end() ? sql::Lock::none : it->second;
    if (seen != lock)
      out.push_back(std::string("lock on ") + table + ": predicted " + sql::lock_name(lock) + ", observed " + sql::lock_name(seen));
  }
  for (const auto& table : p.rewrites)
    if (!o.rewritten.count(table)) out.push_back("rewrite of " + table + " predicted but relfilenode did not change");
  for (const auto& table : o.rewritten)
    if (!p.rewrites.count(table) && !p.maybe_rewrites.count(table) && p.locks.count(table)) out.push_back("rewrite of " + table + " observed but not predicted");
  return out;
}

}  // namespace phasegate::trace
