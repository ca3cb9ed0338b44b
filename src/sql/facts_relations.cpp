// Statement facts for DDL on relations beyond facts.cpp's core: policies, rules, statistics, comments, views,
// sequences, renames of other relations, a new table's references and parents, SET (options) lock levels.
// Each lock measured on PostgreSQL 15 by trace's reference suite (docs/trace-reference.md).
#include <set>

#include "sql/facts.hpp"

namespace phasegate::sql {

namespace {

std::string s(const char* c) { return c ? c : ""; }

std::string string_of(const PgQuery__Node* n) {
  return n && n->node_case == PG_QUERY__NODE__NODE_STRING && n->string ? s(n->string->sval) : "";
}

// The names of a List node: ["public", "t", "c"].
std::vector<std::string> names_of(const PgQuery__Node* n) {
  std::vector<std::string> out;
  if (n && n->node_case == PG_QUERY__NODE__NODE_LIST)
    for (size_t i = 0; i < n->list->n_items; ++i) out.push_back(string_of(n->list->items[i]));
  else if (auto v = string_of(n); !v.empty())
    out.push_back(v);
  return out;
}

Action on(const char* kind, const PgQuery__RangeVar* rv, Lock lock) {
  Action a;
  a.kind = kind;
  if (rv) {
    a.schema = s(rv->schemaname);
    a.table = s(rv->relname);
  }
  a.lock = lock;
  return a;
}

// names[size - 1 - from_end] as the relation, the one before it as its schema.
Action named(const char* kind, const std::vector<std::string>& names, size_t from_end, Lock lock) {
  Action a;
  a.kind = kind;
  a.lock = lock;
  if (names.size() > from_end) {
    a.table = names[names.size() - 1 - from_end];
    if (names.size() > from_end + 1) a.schema = names[names.size() - 2 - from_end];
  }
  return a;
}

void references(const PgQuery__Node* n, std::vector<Action>& out) {
  if (!n || n->node_case != PG_QUERY__NODE__NODE_CONSTRAINT || n->constraint->contype != PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN) return;
  Action r = on("reference", n->constraint->pktable, Lock::share_row_exclusive);
  r.name = s(n->constraint->conname);
  out.push_back(r);
}

}  // namespace

Lock rel_options_lock(const PgQuery__Node* def) {
  // reloptions.c: these need ACCESS EXCLUSIVE; every other storage parameter (fillfactor, autovacuum_*,
  // parallel_workers, toast_tuple_target, vacuum_*, toast.* ...) SHARE UPDATE EXCLUSIVE.
  static const std::set<std::string> exclusive = {"user_catalog_table", "check_option", "security_barrier",
                                                  "security_invoker"};
  Lock l = Lock::share_update_exclusive;
  if (!def || def->node_case != PG_QUERY__NODE__NODE_LIST) return Lock::access_exclusive;
  for (size_t i = 0; i < def->list->n_items; ++i) {
    const auto* item = def->list->items[i];
    if (item->node_case == PG_QUERY__NODE__NODE_DEF_ELEM && exclusive.count(s(item->def_elem->defname)))
      l = Lock::access_exclusive;
  }
  return l;
}

void attach_or_inherit(const PgQuery__AlterTableCmd* cmd, Action& a, std::vector<Action>& out) {
  const bool attach = cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AttachPartition;
  const PgQuery__Node* def = cmd->def;
  // ATTACH (PG 12+): SHARE UPDATE EXCLUSIVE on the partitioned table, ACCESS EXCLUSIVE on the partition.
  // [NO] INHERIT: ACCESS EXCLUSIVE on the child, SHARE UPDATE EXCLUSIVE (ACCESS SHARE for NO INHERIT) on the parent.
  Action other = on(attach ? "partition" : "inherit_parent",
                    attach && def && def->node_case == PG_QUERY__NODE__NODE_PARTITION_CMD ? def->partition_cmd->name
                    : !attach && def && def->node_case == PG_QUERY__NODE__NODE_RANGE_VAR ? def->range_var
                                                                                         : nullptr,
                    attach ? Lock::access_exclusive
                    : cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddInherit ? Lock::share_update_exclusive
                                                                                : Lock::access_share);
  a.kind = "other";
  a.lock = attach ? Lock::share_update_exclusive : Lock::access_exclusive;
  out.push_back(a);
  if (!other.table.empty()) out.push_back(other);
}

void drop_relation_lock(PgQuery__ObjectType type, const std::vector<std::string>& names, Action& a) {
  switch (type) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
    case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
    case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
    case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE: {
      Action r = named(a.kind.c_str(), names, 0, Lock::access_exclusive);
      a.table = r.table;
      a.lock = r.lock;
      break;
    }
    case PG_QUERY__OBJECT_TYPE__OBJECT_POLICY:
    case PG_QUERY__OBJECT_TYPE__OBJECT_RULE: {  // [schema,] table, name
      Action r = named(a.kind.c_str(), names, 1, Lock::access_exclusive);
      a.table = r.table;
      a.schema = r.schema;
      a.lock = r.lock;
      break;
    }
    case PG_QUERY__OBJECT_TYPE__OBJECT_STATISTIC_EXT:  // SHARE UPDATE EXCLUSIVE on its table (trace: from the catalog)
      a.kind = "drop_statistics";
      break;
    default: break;
  }
}

void create_table_actions(const PgQuery__CreateStmt* cs, std::vector<Action>& out) {
  // A foreign key of the new table: SHARE ROW EXCLUSIVE on the referenced table (blocks its writers).
  for (size_t i = 0; i < cs->n_table_elts; ++i) {
    const auto* e = cs->table_elts[i];
    references(e, out);
    if (e && e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
      for (size_t k = 0; k < e->column_def->n_constraints; ++k) references(e->column_def->constraints[k], out);
  }
  for (size_t i = 0; i < cs->n_constraints; ++i) references(cs->constraints[i], out);
  // PARTITION OF: ACCESS EXCLUSIVE on the partitioned table; INHERITS: SHARE UPDATE EXCLUSIVE on each parent.
  for (size_t i = 0; i < cs->n_inh_relations; ++i)
    if (cs->inh_relations[i]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR)
      out.push_back(on(cs->partbound ? "partition_parent" : "inherit_parent", cs->inh_relations[i]->range_var,
                       cs->partbound ? Lock::access_exclusive : Lock::share_update_exclusive));
}

bool rename_relation_actions(const PgQuery__RenameStmt* st, std::vector<Action>& out) {
  switch (st->rename_type) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX:  // PG 12+: an index is renamed under SHARE UPDATE EXCLUSIVE
      out.push_back(on("rename_index", st->relation, Lock::share_update_exclusive));
      return true;
    case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
    case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
    case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
    case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
      out.push_back(on("rename_relation", st->relation, Lock::access_exclusive));
      return true;
    case PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER:
    case PG_QUERY__OBJECT_TYPE__OBJECT_TABCONSTRAINT:
    case PG_QUERY__OBJECT_TYPE__OBJECT_POLICY:
    case PG_QUERY__OBJECT_TYPE__OBJECT_RULE: {
      Action a = on("rename_other", st->relation, Lock::access_exclusive);
      if (a.table.empty()) a = named("rename_other", names_of(st->object), 1, Lock::access_exclusive);  // RULE: [table, rule]
      a.name = s(st->subname);
      out.push_back(a);
      return true;
    }
    default: return false;
  }
}

void relation_actions(const PgQuery__Node* n, std::vector<Action>& out) {
  switch (n->node_case) {
    case PG_QUERY__NODE__NODE_INSERT_STMT:  // ROW EXCLUSIVE, as UPDATE and DELETE
      out.push_back(on("insert", n->insert_stmt->relation, Lock::row_exclusive));
      break;
    case PG_QUERY__NODE__NODE_ALTER_OBJECT_SCHEMA_STMT:  // ALTER TABLE/VIEW/SEQUENCE ... SET SCHEMA: ACCESS EXCLUSIVE
      if (n->alter_object_schema_stmt->relation)
        out.push_back(on("set_schema", n->alter_object_schema_stmt->relation, Lock::access_exclusive));
      break;
    case PG_QUERY__NODE__NODE_CREATE_POLICY_STMT:
      out.push_back(on("policy", n->create_policy_stmt->table, Lock::access_exclusive));
      break;
    case PG_QUERY__NODE__NODE_ALTER_POLICY_STMT:
      out.push_back(on("policy", n->alter_policy_stmt->table, Lock::access_exclusive));
      break;
    case PG_QUERY__NODE__NODE_RULE_STMT:
      out.push_back(on("create_rule", n->rule_stmt->relation, Lock::access_exclusive));
      break;
    case PG_QUERY__NODE__NODE_CREATE_STATS_STMT:
      for (size_t i = 0; i < n->create_stats_stmt->n_relations; ++i)
        if (n->create_stats_stmt->relations[i]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR)
          out.push_back(on("create_statistics", n->create_stats_stmt->relations[i]->range_var, Lock::share_update_exclusive));
      break;
    case PG_QUERY__NODE__NODE_VIEW_STMT:  // CREATE VIEW only reads its tables; OR REPLACE locks the view it replaces
      if (n->view_stmt->replace) out.push_back(on("replace_view", n->view_stmt->view, Lock::access_exclusive));
      break;
    case PG_QUERY__NODE__NODE_ALTER_SEQ_STMT:
      out.push_back(on("alter_sequence", n->alter_seq_stmt->sequence, Lock::share_row_exclusive));
      break;
    case PG_QUERY__NODE__NODE_COMMENT_STMT: {  // SHARE UPDATE EXCLUSIVE on the relation commented on (or of)
      const auto* st = n->comment_stmt;
      auto names = names_of(st->object);
      switch (st->objtype) {
        case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
        case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
        case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
        case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX:
        case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
        case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
          out.push_back(named("comment", names, 0, Lock::share_update_exclusive));
          break;
        case PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN:
        case PG_QUERY__OBJECT_TYPE__OBJECT_TABCONSTRAINT:
        case PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER:
        case PG_QUERY__OBJECT_TYPE__OBJECT_POLICY:
        case PG_QUERY__OBJECT_TYPE__OBJECT_RULE:
          out.push_back(named("comment", names, 1, Lock::share_update_exclusive));
          break;
        default: break;
      }
      break;
    }
    default: break;
  }
}

}  // namespace phasegate::sql
