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

namespace {
bool maybe_rewrite(const sql::Action& a) {
  return a.kind == "alter_type" && (a.type_name == "text" || a.type_name.rfind("varchar", 0) == 0);
}
bool predicts_rewrite(const sql::Action& a) {
  if (a.kind == "add_column") return a.volatile_default || a.serial || a.identity || a.generated_stored;
  if (a.kind == "alter_type") return !maybe_rewrite(a);
  return a.kind == "vacuum_full" || a.kind == "cluster" || a.kind == "set_logged" || a.kind == "truncate";
}
}  // namespace

Prediction predict(const sql::Statement& st) {
  Prediction p;
  for (const auto& a : st.actions) {
    if (a.table.empty() || a.kind == "create_table" || a.lock == sql::Lock::none) continue;
    auto& l = p.locks[a.table];
    if (a.lock > l) l = a.lock;
    if (predicts_rewrite(a)) p.rewrites.insert(a.table);
    if (maybe_rewrite(a)) p.maybe_rewrites.insert(a.table);
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
