// Statement facts for DDL on relations beyond facts.cpp's core: policies, rules, statistics, comments, views,
// sequences, renames of other relations, a new table's references and parents, SET (options) lock levels.
// Each lock measured on PostgreSQL 15 by trace's reference suite (docs/trace-reference.md).
#include "sql/facts.hpp"

namespace phasegate::sql {

namespace {

// The names of a List node: ["public", "t", "c"].
std::vector<std::string> names_of(const Node* n) {
  std::vector<std::string> out;
  if (const auto* l = PG_AS(n, List))
    for (const Node* item : items(l)) out.push_back(string_of(item));
  else if (auto v = string_of(n); !v.empty())
    out.push_back(v);
  return out;
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

void references(const Node* n, std::vector<Action>& out) {
  const auto* con = PG_AS(n, Constraint);
  if (!con || con->contype != CONSTR_FOREIGN) return;
  Action r = on_relation("reference", con->pktable, Lock::share_row_exclusive);
  r.name = str(con->conname);
  out.push_back(r);
}

}  // namespace

Lock rel_options_lock(const Node* def) {
  // reloptions.c: these need ACCESS EXCLUSIVE; every other storage parameter (fillfactor, autovacuum_*,
  // parallel_workers, toast_tuple_target, vacuum_*, toast.* ...) SHARE UPDATE EXCLUSIVE.
  static const std::set<std::string> exclusive = {"user_catalog_table", "check_option", "security_barrier",
                                                  "security_invoker"};
  const auto* list = PG_AS(def, List);
  if (!list) return Lock::access_exclusive;
  Lock l = Lock::share_update_exclusive;
  for (const Node* item : items(list))
    if (const auto* d = PG_AS(item, DefElem); d && exclusive.count(str(d->defname))) l = Lock::access_exclusive;
  return l;
}

void attach_or_inherit(const AlterTableCmd* cmd, Action& a, std::vector<Action>& out) {
  const bool attach = cmd->subtype == AT_AttachPartition;
  const auto* partition = attach ? PG_AS(cmd->def, PartitionCmd) : nullptr;
  // ATTACH (PG 12+): SHARE UPDATE EXCLUSIVE on the partitioned table, ACCESS EXCLUSIVE on the partition.
  // [NO] INHERIT: ACCESS EXCLUSIVE on the child, SHARE UPDATE EXCLUSIVE (ACCESS SHARE for NO INHERIT) on the parent.
  Action other = on_relation(attach ? "partition" : "inherit_parent",
                    attach ? (partition ? partition->name : nullptr) : PG_AS(cmd->def, RangeVar),
                    attach                            ? Lock::access_exclusive
                    : cmd->subtype == AT_AddInherit ? Lock::share_update_exclusive
                                                      : Lock::access_share);
  a.kind = "other";
  a.lock = attach ? Lock::share_update_exclusive : Lock::access_exclusive;
  out.push_back(a);
  if (!other.table.empty()) out.push_back(other);
}

void drop_relation_lock(ObjectType type, const std::vector<std::string>& names, Action& a) {
  switch (type) {
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_SEQUENCE:
    case OBJECT_FOREIGN_TABLE: {
      Action r = named(a.kind.c_str(), names, 0, Lock::access_exclusive);
      a.table = r.table;
      a.lock = r.lock;
      break;
    }
    case OBJECT_POLICY:
    case OBJECT_RULE: {  // [schema,] table, name
      Action r = named(a.kind.c_str(), names, 1, Lock::access_exclusive);
      a.table = r.table;
      a.schema = r.schema;
      a.lock = r.lock;
      break;
    }
    case OBJECT_STATISTIC_EXT:  // SHARE UPDATE EXCLUSIVE on its table (trace: from the catalog)
      a.kind = "drop_statistics";
      break;
    default: break;
  }
}

void create_table_actions(const CreateStmt* cs, std::vector<Action>& out) {
  // A foreign key of the new table: SHARE ROW EXCLUSIVE on the referenced table (blocks its writers).
  for (const Node* e : items(cs->tableElts)) {
    references(e, out);
    if (const auto* cd = PG_AS(e, ColumnDef))
      for (const Node* k : items(cd->constraints)) references(k, out);
  }
  for (const Node* c : items(cs->constraints)) references(c, out);
  // PARTITION OF: ACCESS EXCLUSIVE on the partitioned table; INHERITS: SHARE UPDATE EXCLUSIVE on each parent.
  for (const Node* p : items(cs->inhRelations))
    if (const auto* rv = PG_AS(p, RangeVar))
      out.push_back(on_relation(cs->partbound ? "partition_parent" : "inherit_parent", rv,
                       cs->partbound ? Lock::access_exclusive : Lock::share_update_exclusive));
}

bool rename_relation_actions(const RenameStmt* st, std::vector<Action>& out) {
  switch (st->renameType) {
    case OBJECT_INDEX:  // PG 12+: an index is renamed under SHARE UPDATE EXCLUSIVE
      out.push_back(on_relation("rename_index", st->relation, Lock::share_update_exclusive));
      return true;
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_SEQUENCE:
    case OBJECT_FOREIGN_TABLE:
      out.push_back(on_relation("rename_relation", st->relation, Lock::access_exclusive));
      return true;
    case OBJECT_TRIGGER:
    case OBJECT_TABCONSTRAINT:
    case OBJECT_POLICY:
    case OBJECT_RULE: {
      Action a = on_relation("rename_other", st->relation, Lock::access_exclusive);
      if (a.table.empty()) a = named("rename_other", names_of(st->object), 1, Lock::access_exclusive);  // RULE: [table, rule]
      a.name = str(st->subname);
      out.push_back(a);
      return true;
    }
    default: return false;
  }
}

namespace {

// COMMENT ON: SHARE UPDATE EXCLUSIVE on the relation commented on (or of).
void comment(const CommentStmt* st, std::vector<Action>& out) {
  auto names = names_of(st->object);
  switch (st->objtype) {
    case OBJECT_TABLE:
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_INDEX:
    case OBJECT_SEQUENCE:
    case OBJECT_FOREIGN_TABLE: out.push_back(named("comment", names, 0, Lock::share_update_exclusive)); break;
    case OBJECT_COLUMN:
    case OBJECT_TABCONSTRAINT:
    case OBJECT_TRIGGER:
    case OBJECT_POLICY:
    case OBJECT_RULE: out.push_back(named("comment", names, 1, Lock::share_update_exclusive)); break;
    default: break;
  }
}

}  // namespace

void relation_actions(const Node* n, std::vector<Action>& out) {
  switch (nodeTag(n)) {
    case T_InsertStmt:  // ROW EXCLUSIVE, as UPDATE and DELETE
      out.push_back(on_relation("insert", PG_AS(n, InsertStmt)->relation, Lock::row_exclusive));
      break;
    case T_AlterObjectSchemaStmt:  // ALTER TABLE/VIEW/SEQUENCE ... SET SCHEMA: ACCESS EXCLUSIVE
      if (const auto* st = PG_AS(n, AlterObjectSchemaStmt); st->relation)
        out.push_back(on_relation("set_schema", st->relation, Lock::access_exclusive));
      break;
    case T_CreatePolicyStmt: out.push_back(on_relation("policy", PG_AS(n, CreatePolicyStmt)->table, Lock::access_exclusive)); break;
    case T_AlterPolicyStmt: out.push_back(on_relation("policy", PG_AS(n, AlterPolicyStmt)->table, Lock::access_exclusive)); break;
    case T_RuleStmt: out.push_back(on_relation("create_rule", PG_AS(n, RuleStmt)->relation, Lock::access_exclusive)); break;
    case T_CreateStatsStmt:
      for (const Node* r : items(PG_AS(n, CreateStatsStmt)->relations))
        if (const auto* rv = PG_AS(r, RangeVar)) out.push_back(on_relation("create_statistics", rv, Lock::share_update_exclusive));
      break;
    case T_ViewStmt:  // CREATE VIEW only reads its tables; OR REPLACE locks the view it replaces
      if (const auto* st = PG_AS(n, ViewStmt); st->replace) out.push_back(on_relation("replace_view", st->view, Lock::access_exclusive));
      break;
    case T_AlterSeqStmt:
      out.push_back(on_relation("alter_sequence", PG_AS(n, AlterSeqStmt)->sequence, Lock::share_row_exclusive));
      break;
    case T_CommentStmt: comment(PG_AS(n, CommentStmt), out); break;
    default: break;
  }
}

}  // namespace phasegate::sql
