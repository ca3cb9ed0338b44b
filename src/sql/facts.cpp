// Statement facts from the parse tree: what each statement does and the table lock it takes
// (cross-checked against ../shared/reference/pg15-locks.md and by `phasegate trace`).
#include "sql/facts.hpp"

#include <set>

namespace phasegate::sql {

const char* lock_name(Lock l) {
  switch (l) {
    case Lock::none: return "none";
    case Lock::access_share: return "ACCESS SHARE";
    case Lock::row_share: return "ROW SHARE";
    case Lock::row_exclusive: return "ROW EXCLUSIVE";
    case Lock::share_update_exclusive: return "SHARE UPDATE EXCLUSIVE";
    case Lock::share: return "SHARE";
    case Lock::share_row_exclusive: return "SHARE ROW EXCLUSIVE";
    case Lock::exclusive: return "EXCLUSIVE";
    case Lock::access_exclusive: return "ACCESS EXCLUSIVE";
  }
  return "?";
}

const char* lock_blocks(Lock l) {
  switch (l) {
    case Lock::access_exclusive: return "reads and writes";
    case Lock::exclusive: return "writes and SELECT ... FOR UPDATE";
    case Lock::share_row_exclusive:
    case Lock::share: return "writes";
    case Lock::share_update_exclusive: return "other DDL and VACUUM";
    case Lock::row_exclusive: return "DDL on the table; its row locks block writers of the same rows";
    default: return "nothing of the application";
  }
}

void set_relation(Action& a, const RangeVar* rv) {
  if (!rv) return;
  a.schema = str(rv->schemaname);
  a.table = str(rv->relname);
}

Action on_relation(const char* kind, const RangeVar* rv, Lock lock) {
  Action a;
  a.kind = kind;
  set_relation(a, rv);
  a.lock = lock;
  return a;
}

std::string last_name(const List* names) {
  std::string out;
  for (const Node* n : items(names))
    if (auto v = string_of(n); !v.empty()) out = v;
  return out;
}

namespace {

// The last name part of a TypeName, with its integer modifiers: "int4", "varchar(5)".
std::string type_name(const TypeName* tn) {
  if (!tn) return "";
  std::string name = last_name(tn->names), mods;
  for (const Node* m : items(tn->typmods))
    if (const auto* c = PG_AS(m, A_Const); c && !c->isnull && nodeTag(&c->val) == T_Integer)
      mods += (mods.empty() ? "" : ",") + std::to_string(c->val.ival.ival);
  std::string out = mods.empty() ? name : name + "(" + mods + ")";
  for (size_t i = 0; i < items(tn->arrayBounds).size(); ++i) out += "[]";  // int4[] is not int4 (a change of type)
  return out;
}

const std::set<std::string>& volatile_functions() {
  static const std::set<std::string> names = {"random", "clock_timestamp", "gen_random_uuid", "uuid_generate_v1",
                                              "uuid_generate_v1mc", "uuid_generate_v4", "nextval", "timeofday",
                                              "txid_current", "setseed", "random_normal", "gen_random_bytes"};
  return names;
}

// Built-ins a default may call without a rewrite (stable or immutable: evaluated once, PG 11+ fast default).
// Anything neither here nor in volatile_functions() is assumed volatile without --db (issue #13).
const std::set<std::string>& nonvolatile_functions() {
  static const std::set<std::string> names = {
      "now", "statement_timestamp", "transaction_timestamp", "timezone", "date_trunc", "date_part", "make_date",
      "make_time", "make_timestamp", "make_timestamptz", "make_interval", "to_char", "to_date", "to_timestamp",
      "to_number", "lower", "upper", "btrim", "ltrim", "rtrim", "trim", "length", "char_length", "concat",
      "concat_ws", "replace", "substr", "substring", "left", "right", "lpad", "rpad", "md5", "sha256", "abs",
      "round", "floor", "ceil", "ceiling", "trunc", "power", "sqrt", "mod", "jsonb_build_object", "json_build_object",
      "jsonb_build_array", "json_build_array", "to_jsonb", "to_json", "array_fill", "current_setting", "format",
      "int4range", "int8range", "numrange", "tstzrange", "tsrange", "daterange", "point", "inet", "uuid_nil",
      "uuid_ns_url", "uuid_ns_dns", "uuid_ns_oid", "uuid_ns_x500", "uuid_generate_v3", "uuid_generate_v5"};
  return names;
}

// Every function called anywhere in a default expression: PostgreSQL's raw_expression_tree_walker reaches FuncCalls
// inside any expression shape. It raises an ERROR on a node it does not know, caught by pg_guarded (the calls
// found until then are kept).
struct FunctionWalk {
  Node* expr;
  std::vector<const FuncCall*>* calls;
};

bool find_functions(Node* node, void* calls) {
  if (!node) return false;
  if (const auto* f = PG_AS(node, FuncCall)) static_cast<std::vector<const FuncCall*>*>(calls)->push_back(f);
  return raw_expression_tree_walker(node, find_functions, calls);
}

void collect_functions(const Node* expr, std::vector<std::string>& out) {
  std::vector<const FuncCall*> calls;
  calls.reserve(8);
  FunctionWalk walk{const_cast<Node*>(expr), &calls};
  pg_guarded([](void* w) { find_functions(static_cast<FunctionWalk*>(w)->expr, static_cast<FunctionWalk*>(w)->calls); }, &walk);
  for (const auto* f : calls)
    if (auto name = last_name(f->funcname); !name.empty()) out.push_back(name);
}

// CHECK (col IS NOT NULL) -> "col"
std::string not_null_check(const Constraint* c) {
  const auto* nt = PG_AS(c->raw_expr, NullTest);
  const auto* col = nt && nt->nulltesttype == IS_NOT_NULL ? PG_AS(nt->arg, ColumnRef) : nullptr;
  return col ? last_name(col->fields) : "";
}

std::string constraint_kind(ConstrType t) {
  switch (t) {
    case CONSTR_FOREIGN: return "foreign";
    case CONSTR_CHECK: return "check";
    case CONSTR_UNIQUE: return "unique";
    case CONSTR_PRIMARY: return "primary";
    case CONSTR_EXCLUSION: return "exclusion";
    default: return "";
  }
}

void describe_column_def(Action& a, const ColumnDef* def) {
  a.column = str(def->colname);
  a.type_name = type_name(def->typeName);
  static const std::set<std::string> serials = {"serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"};
  a.serial = serials.count(a.type_name) > 0;
  for (const Node* n : items(def->constraints)) {
    const auto* con = PG_AS(n, Constraint);
    if (!con) continue;
    switch (con->contype) {
      case CONSTR_DEFAULT: {
        a.has_default = true;
        collect_functions(con->raw_expr, a.default_functions);
        for (const auto& f : a.default_functions) {
          if (volatile_functions().count(f)) a.volatile_function = f;
          else if (!nonvolatile_functions().count(f) && a.unknown_function.empty()) a.unknown_function = f;
        }
        a.volatile_default = !a.volatile_function.empty();
        break;
      }
      case CONSTR_NOTNULL: a.not_null = true; break;
      case CONSTR_IDENTITY: a.identity = true; break;
      case CONSTR_GENERATED: a.generated_stored = true; break;
      case CONSTR_PRIMARY:  // the constraint itself: add_constraint
        a.not_null = true;
        a.primary_key = true;
        break;
      case CONSTR_FOREIGN: a.foreign_key = true; break;
      default: break;
    }
  }
}

// The referenced table of a foreign key: SHARE ROW EXCLUSIVE on it too (blocks its writers).
Action referenced_table(const Constraint* con) {
  Action r;
  r.kind = "reference";
  set_relation(r, con->pktable);
  r.name = str(con->conname);
  r.lock = Lock::share_row_exclusive;
  return r;
}

// ADD CONSTRAINT and a constraint declared on an ADD COLUMN are one fact (issue #13): the same rules see both.
void add_constraint(std::vector<Action>& out, const Action& on, const Constraint* con, bool inline_on_column) {
  Action a;
  a.kind = "add_constraint";
  a.schema = on.schema;
  a.table = on.table;
  a.column = inline_on_column ? on.column : "";
  a.lock = Lock::access_exclusive;
  a.constraint = constraint_kind(con->contype);
  a.name = str(con->conname);
  a.not_valid = con->skip_validation;
  a.using_index = !str(con->indexname).empty();
  a.inline_on_column = inline_on_column;
  a.not_null_check_column = a.constraint == "check" ? not_null_check(con) : "";
  if (a.constraint == "foreign" && !inline_on_column) a.lock = Lock::share_row_exclusive;
  if (a.constraint == "foreign") {
    if (inline_on_column) a.columns = {on.column};
    for (const Node* k : items(con->fk_attrs)) a.columns.push_back(string_of(k));
  }
  out.push_back(a);
  if (a.constraint == "foreign") out.push_back(referenced_table(con));
}

void alter_table_cmd(const AlterTableStmt* stmt, const AlterTableCmd* cmd, std::vector<Action>& out) {
  Action a;
  set_relation(a, stmt->relation);
  a.lock = Lock::access_exclusive;
  a.column = str(cmd->name);
  a.cascade = cmd->behavior == DROP_CASCADE;
  const Node* def = cmd->def;
  std::vector<const Constraint*> inline_constraints;
  switch (cmd->subtype) {
    case AT_AddColumn:
      a.kind = "add_column";
      if (const auto* cd = PG_AS(def, ColumnDef)) {
        describe_column_def(a, cd);
        for (const Node* n : items(cd->constraints))
          if (const auto* con = PG_AS(n, Constraint); con && !constraint_kind(con->contype).empty())
            inline_constraints.push_back(con);
      }
      if (a.volatile_default || a.serial || a.identity || a.generated_stored) a.rewrite = Rewrite::yes;
      break;
    case AT_AlterColumnType:
      a.kind = "alter_type";
      if (const auto* cd = PG_AS(def, ColumnDef)) a.type_name = type_name(cd->typeName);
      // Without the old type: `maybe` when some type converts to this one without a rewrite (types.cpp);
      // lint resolves it from an earlier CREATE TABLE / ADD COLUMN or the catalog (--db).
      a.rewrite = rewrite_to(a.type_name);
      break;
    case AT_SetNotNull: a.kind = "set_not_null"; break;
    case AT_DropNotNull: a.kind = "drop_not_null"; break;
    case AT_AddConstraint:
      if (const auto* con = PG_AS(def, Constraint)) {
        a.column.clear();
        add_constraint(out, a, con, false);
        return;
      }
      a.kind = "other";
      break;
    case AT_ValidateConstraint:
      a.kind = "validate_constraint";
      a.name = a.column;
      a.column.clear();
      a.lock = Lock::share_update_exclusive;
      break;
    case AT_DropColumn: a.kind = "drop_column"; break;
    case AT_DropConstraint:
      a.kind = "drop_constraint";
      a.name = a.column;
      a.column.clear();
      break;
    case AT_SetLogged:
    case AT_SetUnLogged:
      a.kind = "set_logged";
      a.rewrite = Rewrite::yes;
      break;
    case AT_SetStatistics:
    case AT_SetOptions:  // column attribute options (n_distinct)
    case AT_ResetOptions:
    case AT_ClusterOn:
    case AT_DropCluster:
      a.kind = "other";
      a.lock = Lock::share_update_exclusive;
      break;
    case AT_SetRelOptions:
    case AT_ResetRelOptions:
      a.kind = "other";
      a.lock = rel_options_lock(def);  // SHARE UPDATE EXCLUSIVE for most storage parameters
      break;
    case AT_SetAccessMethod:  // a rewrite unless it is the table's access method already
      a.kind = "other";
      a.rewrite = Rewrite::maybe;
      break;
    case AT_AttachPartition:
    case AT_AddInherit:
    case AT_DropInherit:
      attach_or_inherit(cmd, a, out);
      return;
    case AT_EnableTrig:
    case AT_DisableTrig:
    case AT_EnableTrigAll:
    case AT_DisableTrigAll:
    case AT_EnableAlwaysTrig:
    case AT_EnableReplicaTrig:
    case AT_EnableTrigUser:
    case AT_DisableTrigUser:
      a.kind = "enable_trigger";
      a.name = a.column;
      a.column.clear();
      a.lock = Lock::share_row_exclusive;
      break;
    case AT_SetTableSpace:
      a.kind = "set_tablespace";
      a.name = a.column;  // the tablespace
      a.column.clear();
      a.rewrite = Rewrite::yes;
      break;
    case AT_DetachPartition:
    case AT_DetachPartitionFinalize: {
      const bool finalize = cmd->subtype == AT_DetachPartitionFinalize;
      a.kind = finalize ? "other" : "detach_partition";
      Action part;
      part.kind = "partition";
      if (const auto* pc = PG_AS(def, PartitionCmd)) {
        a.concurrently = pc->concurrent;
        set_relation(part, pc->name);
      }
      // DETACH ... CONCURRENTLY (PG 14+): SHARE UPDATE EXCLUSIVE on both; without it ACCESS EXCLUSIVE on both.
      a.lock = part.lock = a.concurrently || finalize ? Lock::share_update_exclusive : Lock::access_exclusive;
      part.concurrently = a.concurrently;
      out.push_back(a);
      if (!part.table.empty()) out.push_back(part);
      return;
    }
    default: a.kind = "other"; break;
  }
  out.push_back(a);
  for (const auto* con : inline_constraints) add_constraint(out, a, con, true);
}

}  // namespace

std::vector<Action> range_vars(const char* kind, const List* list, Lock lock, Rewrite rewrite) {
  std::vector<Action> out;
  for (const Node* n : items(list)) {
    const RangeVar* rv = PG_AS(n, RangeVar);
    if (const auto* vr = PG_AS(n, VacuumRelation)) rv = vr->relation;
    Action a;
    a.kind = kind;
    set_relation(a, rv);
    a.lock = lock;
    a.rewrite = rewrite;
    out.push_back(a);
  }
  return out;
}

namespace {

std::vector<Action> drop_objects(const DropStmt* d) {
  std::vector<Action> out;
  for (const Node* obj : items(d->objects)) {
    std::vector<std::string> parts;
    if (const auto* l = PG_AS(obj, List))
      for (const Node* k : items(l)) parts.push_back(string_of(k));
    else if (auto v = string_of(obj); !v.empty())  // DROP SCHEMA / EXTENSION name: a bare String
      parts.push_back(v);
    Action a;
    a.concurrently = d->concurrent;
    a.cascade = d->behavior == DROP_CASCADE;
    std::string last = parts.empty() ? "" : parts.back();
    a.schema = parts.size() > 1 ? parts[parts.size() - 2] : "";
    if (d->removeType == OBJECT_TABLE) {
      a.kind = "drop_table";
      a.table = last;
      a.lock = Lock::access_exclusive;
    } else if (d->removeType == OBJECT_INDEX) {
      a.kind = "drop_index";
      a.name = last;
      a.lock = a.concurrently ? Lock::share_update_exclusive : Lock::access_exclusive;
    } else if (d->removeType == OBJECT_TRIGGER) {
      // DROP TRIGGER name ON [schema.]table: the list is [schema,] table, trigger
      a.kind = "drop_trigger";
      a.name = last;
      a.table = parts.size() > 1 ? parts[parts.size() - 2] : "";
      a.schema = parts.size() > 2 ? parts[parts.size() - 3] : "";
      a.lock = Lock::access_exclusive;
    } else {
      a.kind = "drop_other";  // views, types, functions, schemas ...: only CASCADE is a finding of its own
      a.name = last;
      drop_relation_lock(d->removeType, parts, a);
    }
    out.push_back(a);
  }
  return out;
}

std::string reindex_object(ReindexObjectType k) {
  switch (k) {
    case REINDEX_OBJECT_INDEX: return "index";
    case REINDEX_OBJECT_TABLE: return "table";
    case REINDEX_OBJECT_SCHEMA: return "schema";
    case REINDEX_OBJECT_SYSTEM: return "system";
    case REINDEX_OBJECT_DATABASE: return "database";
    default: return "";
  }
}

// CLUSTER / VACUUM FULL without a table: every table (of the database, or clustered before).
Action every_table(const char* kind) {
  Action a;
  a.kind = kind;
  a.object = "all";
  a.lock = Lock::access_exclusive;
  a.rewrite = Rewrite::yes;
  return a;
}

// CREATE TABLE's columns, one create_column action each (no lock: the table is new), with the keys of the
// table's own PRIMARY KEY / FOREIGN KEY constraints marked on the columns they name.
void table_columns(const CreateStmt* st, const Action& table, std::vector<Action>& out) {
  std::set<std::string> primary, foreign;
  for (const Node* e : items(st->tableElts)) {
    const auto* con = PG_AS(e, Constraint);
    if (!con) continue;
    if (con->contype == CONSTR_PRIMARY)
      for (const Node* k : items(con->keys)) primary.insert(string_of(k));
    if (con->contype == CONSTR_FOREIGN)
      for (const Node* k : items(con->fk_attrs)) foreign.insert(string_of(k));
  }
  for (const Node* e : items(st->tableElts)) {
    const auto* cd = PG_AS(e, ColumnDef);
    if (!cd) continue;
    Action c;
    c.kind = "create_column";
    c.schema = table.schema;
    c.table = table.table;
    describe_column_def(c, cd);
    c.primary_key = c.primary_key || primary.count(c.column);
    c.foreign_key = c.foreign_key || foreign.count(c.column);
    out.push_back(c);
  }
}

Action create_index(const IndexStmt* st) {
  Action a;
  a.kind = "create_index";
  set_relation(a, st->relation);
  a.name = str(st->idxname);
  a.concurrently = st->concurrent;
  a.lock = a.concurrently ? Lock::share_update_exclusive : Lock::share;
  for (const Node* p : items(st->indexParams)) {
    const auto* e = PG_AS(p, IndexElem);
    a.columns.push_back(e ? str(e->name) : "");
  }
  return a;
}

Action reindex(const ReindexStmt* st) {
  Action a;
  a.kind = "reindex";
  set_relation(a, st->relation);  // REINDEX INDEX: the index (its table takes the SHARE lock)
  a.name = str(st->name);         // REINDEX SCHEMA / DATABASE / SYSTEM: the schema or database
  a.object = reindex_object(st->kind);
  a.concurrently = option_on(st->params, "concurrently");
  if (a.concurrently && a.object == "system") {  // PostgreSQL refuses it before taking any lock
    a.concurrently = false;
    a.fails = "REINDEX SYSTEM cannot run CONCURRENTLY (\"cannot reindex system catalogs concurrently\")";
  }
  a.lock = a.concurrently ? Lock::share_update_exclusive : Lock::share;
  return a;
}

void rename(const RenameStmt* st, std::vector<Action>& out) {
  Action a;
  set_relation(a, st->relation);
  a.lock = Lock::access_exclusive;
  if (st->renameType == OBJECT_COLUMN) {
    a.kind = "rename_column";
    a.column = str(st->subname);
    a.name = str(st->newname);
    out.push_back(a);
  } else if (st->renameType == OBJECT_TABLE) {
    a.kind = "rename_table";
    out.push_back(a);
  } else if (st->renameType == OBJECT_SCHEMA) {
    a.kind = "rename_schema";
    a.name = str(st->subname);
    a.lock = Lock::none;
    out.push_back(a);
  } else {
    rename_relation_actions(st, out);
  }
}

std::vector<Action> vacuum(const VacuumStmt* st) {
  std::vector<Action> out;
  if (option_on(st->options, "full") && st->is_vacuumcmd) {
    out = range_vars("vacuum_full", st->rels, Lock::access_exclusive, Rewrite::yes);
    if (out.empty()) out.push_back(every_table("vacuum_full"));  // VACUUM FULL; rewrites every table of the database
  } else if (!st->is_vacuumcmd) {
    out = range_vars("analyze", st->rels, Lock::share_update_exclusive, Rewrite::no);
  }
  return out;
}

Action cluster(const ClusterStmt* st) {
  if (!st->relation) return every_table("cluster");  // CLUSTER; re-clusters every table clustered before
  Action a = on_relation("cluster", st->relation, Lock::access_exclusive);
  a.rewrite = Rewrite::yes;
  return a;
}

Action row_change(const char* kind, const RangeVar* relation, bool has_where) {
  Action a = on_relation(kind, relation, Lock::row_exclusive);
  a.has_where = has_where;
  return a;
}

void create_table(const CreateStmt* st, std::vector<Action>& out) {
  Action a;
  a.kind = "create_table";
  set_relation(a, st->relation);
  for (const Node* e : items(st->tableElts))  // the columns' types: a later ALTER TYPE knows the old one
    if (const auto* cd = PG_AS(e, ColumnDef)) {
      a.columns.push_back(str(cd->colname));
      a.types.push_back(type_name(cd->typeName));
    }
  out.push_back(a);
  table_columns(st, a, out);
  create_table_actions(st, out);
}

}  // namespace

std::string type_name_of(const TypeName* tn) { return type_name(tn); }

std::vector<Action> derive_actions(const Node* n) {
  std::vector<Action> out;
  if (!n) return out;
  switch (nodeTag(n)) {
    case T_AlterTableStmt: {
      const auto* st = PG_AS(n, AlterTableStmt);
      if (st->objtype == OBJECT_TYPE) break;  // ALTER TYPE composite: no table of ours
      for (const Node* c : items(st->cmds))
        if (const auto* cmd = PG_AS(c, AlterTableCmd)) alter_table_cmd(st, cmd, out);
      break;
    }
    case T_RenameStmt: rename(PG_AS(n, RenameStmt), out); break;
    case T_IndexStmt: out.push_back(create_index(PG_AS(n, IndexStmt))); break;
    case T_DropStmt: out = drop_objects(PG_AS(n, DropStmt)); break;
    case T_ReindexStmt: out.push_back(reindex(PG_AS(n, ReindexStmt))); break;
    case T_VacuumStmt: out = vacuum(PG_AS(n, VacuumStmt)); break;
    case T_ClusterStmt: out.push_back(cluster(PG_AS(n, ClusterStmt))); break;
    case T_TruncateStmt:
      out = range_vars("truncate", PG_AS(n, TruncateStmt)->relations, Lock::access_exclusive, Rewrite::yes);
      break;
    case T_UpdateStmt: {
      const auto* st = PG_AS(n, UpdateStmt);
      out.push_back(row_change("update", st->relation, st->whereClause != nullptr));
      break;
    }
    case T_DeleteStmt: {
      const auto* st = PG_AS(n, DeleteStmt);
      out.push_back(row_change("delete", st->relation, st->whereClause != nullptr));
      break;
    }
    case T_InsertStmt: {
      const auto* st = PG_AS(n, InsertStmt);
      Action a = row_change("insert", st->relation, false);
      const auto* sel = PG_AS(st->selectStmt, SelectStmt);  // absent for DEFAULT VALUES
      a.has_select = sel && items(sel->valuesLists).empty();
      out.push_back(a);
      break;
    }
    case T_CreateStmt: create_table(PG_AS(n, CreateStmt), out); break;
    default:
      if (!object_actions(n, out)) relation_actions(n, out);
      break;
  }
  return out;
}

}  // namespace phasegate::sql
