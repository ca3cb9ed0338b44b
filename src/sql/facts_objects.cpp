// Statements on objects other than columns and indexes (issue #13): triggers, explicit locks, materialized
// views, domains, DROP DATABASE, enum values. Split from facts.cpp; the rules are in src/lint/rules_objects.cpp.
#include "sql/facts.hpp"

namespace phasegate::sql {

namespace {
std::string s(const char* c) { return c ? c : ""; }

Lock lock_mode(int32_t mode) {  // LockStmt's mode: PostgreSQL's LOCKMODE numbers 1..8
  static constexpr Lock modes[] = {Lock::none, Lock::access_share, Lock::row_share, Lock::row_exclusive,
                                   Lock::share_update_exclusive, Lock::share, Lock::share_row_exclusive,
                                   Lock::exclusive, Lock::access_exclusive};
  return mode >= 1 && mode <= 8 ? modes[mode] : Lock::access_exclusive;
}

bool has_check(PgQuery__Node** constraints, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (constraints[i] && constraints[i]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
        constraints[i]->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_CHECK)
      return true;
  return false;
}

}  // namespace

bool object_actions(const PgQuery__Node* n, std::vector<Action>& out) {
  switch (n->node_case) {
    case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT: {
      Action a;
      a.kind = "create_trigger";
      set_relation(a, n->create_trig_stmt->relation);
      a.name = s(n->create_trig_stmt->trigname);
      a.lock = Lock::share_row_exclusive;
      out.push_back(a);
      return true;
    }
    case PG_QUERY__NODE__NODE_LOCK_STMT: {
      const auto* st = n->lock_stmt;
      out = range_vars("lock_table", st->relations, st->n_relations, lock_mode(st->mode), Rewrite::no);
      return true;
    }
    case PG_QUERY__NODE__NODE_REFRESH_MAT_VIEW_STMT: {
      Action a;
      a.kind = "refresh_matview";
      set_relation(a, n->refresh_mat_view_stmt->relation);
      a.concurrently = n->refresh_mat_view_stmt->concurrent;
      a.lock = a.concurrently ? Lock::exclusive : Lock::access_exclusive;
      a.rewrite = a.concurrently ? Rewrite::no : Rewrite::yes;  // a new relfilenode, filled by the view's query (trace)
      out.push_back(a);
      return true;
    }
    case PG_QUERY__NODE__NODE_ALTER_DOMAIN_STMT: {
      const auto* st = n->alter_domain_stmt;
      if (s(st->subtype) != "C" || !st->def || st->def->node_case != PG_QUERY__NODE__NODE_CONSTRAINT) break;
      Action a;
      a.kind = "alter_domain_constraint";
      a.name = last_name(st->type_name, st->n_type_name);
      a.not_valid = st->def->constraint->skip_validation;
      out.push_back(a);
      return true;
    }
    case PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT: {
      const auto* st = n->create_domain_stmt;
      if (!has_check(st->constraints, st->n_constraints)) break;
      Action a;
      a.kind = "create_domain_check";
      a.name = last_name(st->domainname, st->n_domainname);
      out.push_back(a);
      return true;
    }
    case PG_QUERY__NODE__NODE_DROPDB_STMT: {
      Action a;
      a.kind = "drop_database";
      a.name = s(n->dropdb_stmt->dbname);
      out.push_back(a);
      return true;
    }
    case PG_QUERY__NODE__NODE_ALTER_ENUM_STMT: {
      const auto* st = n->alter_enum_stmt;
      Action a;
      a.kind = s(st->old_val).empty() ? "add_enum_value" : "rename_enum_value";
      a.name = last_name(st->type_name, st->n_type_name);
      a.column = s(a.kind == "add_enum_value" ? st->new_val : st->old_val);  // the value
      a.positioned = !s(st->new_val_neighbor).empty();
      out.push_back(a);
      return true;
    }
    default: return false;
  }
  return true;  // one of ours that yields no action (ALTER DOMAIN other than ADD CONSTRAINT, a domain without CHECK)
}

}  // namespace phasegate::sql
