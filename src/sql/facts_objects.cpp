// Statements on objects other than columns and indexes (issue #13): triggers, explicit locks, materialized
// views, domains, DROP DATABASE, enum values. Split from facts.cpp; the rules are in src/lint/rules_objects.cpp.
#include "sql/facts.hpp"

namespace phasegate::sql {

namespace {

Lock lock_mode(int mode) {  // LockStmt's mode: PostgreSQL's LOCKMODE numbers 1..8
  static constexpr Lock modes[] = {Lock::none, Lock::access_share, Lock::row_share, Lock::row_exclusive,
                                   Lock::share_update_exclusive, Lock::share, Lock::share_row_exclusive,
                                   Lock::exclusive, Lock::access_exclusive};
  return mode >= 1 && mode <= 8 ? modes[mode] : Lock::access_exclusive;
}

bool has_check(const List* constraints) {
  for (const Node* n : items(constraints))
    if (const auto* c = PG_AS(n, Constraint); c && c->contype == CONSTR_CHECK) return true;
  return false;
}

Action named_action(const char* kind, std::string name) {
  Action a;
  a.kind = kind;
  a.name = std::move(name);
  return a;
}

}  // namespace

bool object_actions(const Node* n, std::vector<Action>& out) {
  switch (nodeTag(n)) {
    case T_CreateTrigStmt: {
      const auto* st = PG_AS(n, CreateTrigStmt);
      Action a = named_action("create_trigger", str(st->trigname));
      set_relation(a, st->relation);
      a.lock = Lock::share_row_exclusive;
      out.push_back(a);
      return true;
    }
    case T_LockStmt: {
      const auto* st = PG_AS(n, LockStmt);
      out = range_vars("lock_table", st->relations, lock_mode(st->mode), Rewrite::no);
      return true;
    }
    case T_RefreshMatViewStmt: {
      const auto* st = PG_AS(n, RefreshMatViewStmt);
      Action a;
      a.kind = "refresh_matview";
      set_relation(a, st->relation);
      a.concurrently = st->concurrent;
      a.lock = a.concurrently ? Lock::exclusive : Lock::access_exclusive;
      a.rewrite = a.concurrently ? Rewrite::no : Rewrite::yes;  // a new relfilenode, filled by the view's query (trace)
      out.push_back(a);
      return true;
    }
    case T_AlterDomainStmt: {
      const auto* st = PG_AS(n, AlterDomainStmt);
      const auto* con = st->subtype == 'C' ? PG_AS(st->def, Constraint) : nullptr;
      if (!con) break;
      Action a = named_action("alter_domain_constraint", last_name(st->typeName));
      a.not_valid = con->skip_validation;
      out.push_back(a);
      return true;
    }
    case T_CreateDomainStmt: {
      const auto* st = PG_AS(n, CreateDomainStmt);
      if (!has_check(st->constraints)) break;
      out.push_back(named_action("create_domain_check", last_name(st->domainname)));
      return true;
    }
    case T_DropdbStmt:
      out.push_back(named_action("drop_database", str(PG_AS(n, DropdbStmt)->dbname)));
      return true;
    case T_AlterEnumStmt: {
      const auto* st = PG_AS(n, AlterEnumStmt);
      const bool add = str(st->oldVal).empty();
      Action a = named_action(add ? "add_enum_value" : "rename_enum_value", last_name(st->typeName));
      a.column = str(add ? st->newVal : st->oldVal);  // the value
      a.positioned = !str(st->newValNeighbor).empty();
      out.push_back(a);
      return true;
    }
    default: return false;
  }
  return true;  // one of ours that yields no action (ALTER DOMAIN other than ADD CONSTRAINT, a domain without CHECK)
}

}  // namespace phasegate::sql
