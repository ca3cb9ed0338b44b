// The analyzer's prediction for one statement and its comparison with what trace observed: every user
// relation the statement locked (docs/commands.md#phasegate-trace-plan---scratch-url-url, "What is compared").
#include <algorithm>

#include "phasegate/trace.hpp"

namespace phasegate::trace {

using L = sql::Lock;

sql::Lock lock_from_pg(const std::string& mode) {
  static const std::map<std::string, L> modes = {
      {"AccessShareLock", L::access_share},       {"RowShareLock", L::row_share},
      {"RowExclusiveLock", L::row_exclusive},     {"ShareUpdateExclusiveLock", L::share_update_exclusive},
      {"ShareLock", L::share},                    {"ShareRowExclusiveLock", L::share_row_exclusive},
      {"ExclusiveLock", L::exclusive},            {"AccessExclusiveLock", L::access_exclusive}};
  auto it = modes.find(mode);
  return it == modes.end() ? L::none : it->second;
}

const char* kind_name(char relkind) {
  switch (relkind) {
    case 'r': return "table";
    case 'p': return "partitioned table";
    case 'm': return "materialized view";
    case 'v': return "view";
    case 'f': return "foreign table";
    case 'i': return "index";
    case 'I': return "partitioned index";
    case 'S': return "sequence";
    case 't': return "TOAST table";
    case 'c': return "composite type";
    default: return "relation";
  }
}

namespace {

bool is_index(char k) { return k == 'i' || k == 'I'; }
void strengthen(std::map<std::string, L>& m, const std::string& rel, L l) {
  auto& x = m[rel];
  x = std::max(x, l);
}

}  // namespace

Prediction predict(const sql::Statement& st, const Catalog& catalog) {
  Prediction p;
  std::set<std::string> reindexed;  // REINDEX TABLE: every index of the table, ACCESS EXCLUSIVE
  for (const auto& a : st.actions) {
    if (a.kind == "drop_statistics")  // DROP STATISTICS: SHARE UPDATE EXCLUSIVE on the table it is on
      if (auto it = catalog.statistics.find(a.name); it != catalog.statistics.end())
        strengthen(p.locks, it->second, L::share_update_exclusive);
    if (a.kind == "create_table" || a.lock == L::none) continue;  // the new table: see "created" relations
    // A statement naming an index (DROP INDEX i, REINDEX INDEX i): ACCESS EXCLUSIVE on the index; on its
    // table ACCESS EXCLUSIVE (DROP) or SHARE (REINDEX).
    const std::string& index = a.kind == "drop_index" ? a.name : a.table;
    if (const auto* r = catalog.find(index); r && is_index(r->kind) && (a.kind == "drop_index" || a.kind == "reindex")) {
      strengthen(p.locks, index, L::access_exclusive);
      if (!r->owner.empty()) strengthen(p.locks, r->owner, a.kind == "reindex" ? L::share : L::access_exclusive);
      continue;
    }
    // Foreign keys the catalog knows: VALIDATE takes ROW SHARE on the referenced table, dropping the constraint
    // (or the referencing table) ACCESS EXCLUSIVE, since the referenced table's triggers go too.
    for (const auto& fk : catalog.foreign_keys) {
      if (fk.table != a.table) continue;
      if (a.kind == "validate_constraint" && fk.name == a.name) strengthen(p.locks, fk.referenced, L::row_share);
      if ((a.kind == "drop_constraint" && fk.name == a.name) || a.kind == "drop_table")
        strengthen(p.locks, fk.referenced, L::access_exclusive);
    }
    if (a.table.empty()) continue;
    strengthen(p.locks, a.table, a.lock);
    if (a.rewrite == sql::Rewrite::yes) p.rewrites.insert(a.table);
    if (a.rewrite == sql::Rewrite::maybe) p.maybe_rewrites.insert(a.table);
    if (a.kind == "reindex") reindexed.insert(a.table);
    // TRUNCATE of a table others reference succeeds only with CASCADE (or with them listed): they are emptied too.
    if (a.kind == "truncate")
      for (std::vector<std::string> todo{a.table}; !todo.empty();) {
        std::string table = todo.back();
        todo.pop_back();
        for (const auto& fk : catalog.foreign_keys)
          if (fk.referenced == table && !p.rewrites.count(fk.table)) {
            strengthen(p.locks, fk.table, L::access_exclusive);
            p.rewrites.insert(fk.table);
            todo.push_back(fk.table);
          }
      }
  }
  // The relations that belong to a locked table (its indexes, TOAST table and index, owned sequences,
  // partitions and inheritance children), to a fixed point: a rewritten table's indexes and TOAST relations
  // are rebuilt under ACCESS EXCLUSIVE, a reindexed table's indexes too; anything else of it may be locked,
  // but never more strongly than the table.
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& [name, rel] : catalog.relations) {
      if (rel.owner.empty() || p.locks.count(name)) continue;
      auto owner = p.locks.find(rel.owner);
      auto owner_at_most = p.at_most.find(rel.owner);
      if (owner == p.locks.end() && owner_at_most == p.at_most.end()) continue;
      const bool rebuilt = (p.rewrites.count(rel.owner) && (is_index(rel.kind) || rel.kind == 't')) ||
                           (reindexed.count(rel.owner) && is_index(rel.kind));
      if (rebuilt) {
        p.locks[name] = L::access_exclusive;
        changed = true;
        continue;
      }
      L bound = std::max(owner != p.locks.end() ? owner->second : L::none,
                         owner_at_most != p.at_most.end() ? owner_at_most->second : L::none);
      auto& at_most = p.at_most[name];
      if (bound > at_most) {
        at_most = bound;
        changed = true;
      }
    }
  }
  return p;
}

Comparison compare(const Prediction& p, const Observation& o) {
  Comparison c;
  if (!o.observable) return c;
  auto kind = [&](const std::string& rel) -> char {
    if (const auto* r = o.after.find(rel)) return r->kind;
    if (const auto* r = o.before.find(rel)) return r->kind;
    return '?';
  };
  auto what = [&](const std::string& rel) { return std::string(kind_name(kind(rel))) + " " + rel; };
  auto owner_of = [&](const std::string& rel) {
    const auto* r = o.before.find(rel);
    return r ? r->owner : std::string();
  };
  for (const auto& [rel, seen] : o.locks) {
    if (o.created.count(rel) || rel.rfind("oid ", 0) == 0) continue;  // invisible to others until commit
    if (auto it = p.locks.find(rel); it != p.locks.end()) {
      if (seen != it->second)
        c.disagreements.push_back("PostgreSQL took " + std::string(sql::lock_name(seen)) + " on " + what(rel) +
                                  "; the analyzer predicted " + sql::lock_name(it->second) + ".");
    } else if (auto at = p.at_most.find(rel); at != p.at_most.end()) {
      if (seen > at->second)
        c.disagreements.push_back("PostgreSQL took " + std::string(sql::lock_name(seen)) + " on " + what(rel) +
                                  ", stronger than the " + sql::lock_name(at->second) + " predicted on " +
                                  what(owner_of(rel)) + " it belongs to.");
    } else if (seen == L::access_share) {
      c.reads.push_back(rel);
    } else {
      c.disagreements.push_back("PostgreSQL took " + std::string(sql::lock_name(seen)) + " on " + what(rel) +
                                ", which the analyzer did not predict.");
    }
  }
  for (const auto& [rel, lock] : p.locks)
    if (!o.locks.count(rel) && !o.created.count(rel))
      c.disagreements.push_back("The analyzer predicted " + std::string(sql::lock_name(lock)) + " on " + what(rel) +
                                ", but PostgreSQL took no lock on it.");
  auto compared = [&](const std::string& rel) { char k = kind(rel); return k == 'r' || k == 'm'; };
  for (const auto& rel : p.rewrites)
    if (compared(rel) && !o.rewritten.count(rel))
      c.disagreements.push_back("The analyzer predicted a rewrite of " + what(rel) + ", but its relfilenode did not change.");
  for (const auto& rel : o.rewritten)
    if (compared(rel) && !p.rewrites.count(rel) && !p.maybe_rewrites.count(rel))
      c.disagreements.push_back("PostgreSQL rewrote " + what(rel) + " (a new relfilenode), which the analyzer did not predict.");
  return c;
}

}  // namespace phasegate::trace
