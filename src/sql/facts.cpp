// Statement facts from the protobuf parse tree: what each statement does and the table lock it takes
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

std::string node_name(const PgQuery__Node* node) {
  if (!node || node->node_case == PG_QUERY__NODE__NODE__NOT_SET) return "";
  const auto* field = protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor, node->node_case);
  if (!field || !field->descriptor) return "";
  return static_cast<const ProtobufCMessageDescriptor*>(field->descriptor)->short_name;
}

namespace {

std::string s(const char* c) { return c ? c : ""; }

}  // namespace

void set_relation(Action& a, const PgQuery__RangeVar* rv) {
  if (!rv) return;
  a.schema = s(rv->schemaname);
  a.table = s(rv->relname);
}

namespace {

std::string string_of(const PgQuery__Node* n) {
  return n && n->node_case == PG_QUERY__NODE__NODE_STRING && n->string ? s(n->string->sval) : "";
}

}  // namespace

std::string last_name(PgQuery__Node** names, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i)
    if (auto v = string_of(names[i]); !v.empty()) out = v;
  return out;
}

namespace {

// The last name part of a TypeName, with its integer modifiers: "int4", "varchar(5)".
std::string type_name(const PgQuery__TypeName* tn) {
  if (!tn) return "";
  std::string name = last_name(tn->names, tn->n_names), mods;
  for (size_t i = 0; i < tn->n_typmods; ++i) {
    const auto* m = tn->typmods[i];
    if (m && m->node_case == PG_QUERY__NODE__NODE_A_CONST && m->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL)
      mods += (mods.empty() ? "" : ",") + std::to_string(m->a_const->ival->ival);
  }
  std::string out = mods.empty() ? name : name + "(" + mods + ")";
  for (size_t i = 0; i < tn->n_array_bounds; ++i) out += "[]";  // int4[] is not int4 (a change of type)
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

// Every function called anywhere below `msg`: a reflective walk over protobuf-c's field descriptors, so it
// reaches FuncCalls inside any expression shape.
void collect_functions(const ProtobufCMessage* msg, std::vector<std::string>& out) {
  if (!msg) return;
  if (msg->descriptor == &pg_query__func_call__descriptor) {
    const auto* f = reinterpret_cast<const PgQuery__FuncCall*>(msg);
    if (auto name = last_name(f->funcname, f->n_funcname); !name.empty()) out.push_back(name);
  }
  const auto* d = msg->descriptor;
  const char* base = reinterpret_cast<const char*>(msg);
  for (unsigned i = 0; i < d->n_fields; ++i) {
    const auto& f = d->fields[i];
    if (f.type != PROTOBUF_C_TYPE_MESSAGE) continue;
    if (f.label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *reinterpret_cast<const size_t*>(base + f.quantifier_offset);
      auto* items = *reinterpret_cast<ProtobufCMessage* const* const*>(base + f.offset);
      for (size_t k = 0; k < n; ++k) collect_functions(items[k], out);
      continue;
    }
    if ((f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *reinterpret_cast<const uint32_t*>(base + f.quantifier_offset) != f.id)
      continue;  // not the member the oneof holds
    collect_functions(*reinterpret_cast<ProtobufCMessage* const*>(base + f.offset), out);
  }
}

// CHECK (col IS NOT NULL) -> "col"
std::string not_null_check(const PgQuery__Constraint* c) {
  const auto* e = c->raw_expr;
  if (!e || e->node_case != PG_QUERY__NODE__NODE_NULL_TEST) return "";
  const auto* nt = e->null_test;
  if (nt->nulltesttype != PG_QUERY__NULL_TEST_TYPE__IS_NOT_NULL || !nt->arg || nt->arg->node_case != PG_QUERY__NODE__NODE_COLUMN_REF)
    return "";
  return last_name(nt->arg->column_ref->fields, nt->arg->column_ref->n_fields);
}

std::string constraint_kind(PgQuery__ConstrType t) {
  switch (t) {
    case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN: return "foreign";
    case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK: return "check";
    case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE: return "unique";
    case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY: return "primary";
    case PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION: return "exclusion";
    default: return "";
  }
}

void describe_column_def(Action& a, const PgQuery__ColumnDef* def) {
  a.column = s(def->colname);
  a.type_name = type_name(def->type_name);
  static const std::set<std::string> serials = {"serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"};
  a.serial = serials.count(a.type_name) > 0;
  for (size_t i = 0; i < def->n_constraints; ++i) {
    const auto* n = def->constraints[i];
    if (!n || n->node_case != PG_QUERY__NODE__NODE_CONSTRAINT) continue;
    const auto* con = n->constraint;
    switch (con->contype) {
      case PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT: {
        a.has_default = true;
        collect_functions(&con->base, a.default_functions);
        for (const auto& f : a.default_functions) {
          if (volatile_functions().count(f)) a.volatile_function = f;
          else if (!nonvolatile_functions().count(f) && a.unknown_function.empty()) a.unknown_function = f;
        }
        a.volatile_default = !a.volatile_function.empty();
        break;
      }
      case PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL: a.not_null = true; break;
      case PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY: a.identity = true; break;
      case PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED: a.generated_stored = true; break;
      case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:  // the constraint itself: add_constraint
        a.not_null = true;
        a.primary_key = true;
        break;
      case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN: a.foreign_key = true; break;
      default: break;
    }
  }
}

// The referenced table of a foreign key: SHARE ROW EXCLUSIVE on it too (blocks its writers).
Action referenced_table(const PgQuery__Constraint* con) {
  Action r;
  r.kind = "reference";
  set_relation(r, con->pktable);
  r.name = s(con->conname);
  r.lock = Lock::share_row_exclusive;
  return r;
}

// ADD CONSTRAINT and a constraint declared on an ADD COLUMN are one fact (issue #13): the same rules see both.
void add_constraint(std::vector<Action>& out, const Action& on, const PgQuery__Constraint* con, bool inline_on_column) {
  Action a;
  a.kind = "add_constraint";
  a.schema = on.schema;
  a.table = on.table;
  a.column = inline_on_column ? on.column : "";
  a.lock = Lock::access_exclusive;
  a.constraint = constraint_kind(con->contype);
  a.name = s(con->conname);
  a.not_valid = con->skip_validation;
  a.using_index = !s(con->indexname).empty();
  a.inline_on_column = inline_on_column;
  a.not_null_check_column = a.constraint == "check" ? not_null_check(con) : "";
  if (a.constraint == "foreign" && !inline_on_column) a.lock = Lock::share_row_exclusive;
  if (a.constraint == "foreign") {
    if (inline_on_column) a.columns = {on.column};
    for (size_t i = 0; i < con->n_fk_attrs; ++i) a.columns.push_back(string_of(con->fk_attrs[i]));
  }
  out.push_back(a);
  if (a.constraint == "foreign") out.push_back(referenced_table(con));
}

void alter_table_cmd(const PgQuery__AlterTableStmt* stmt, const PgQuery__AlterTableCmd* cmd, std::vector<Action>& out) {
  Action a;
  set_relation(a, stmt->relation);
  a.lock = Lock::access_exclusive;
  a.column = s(cmd->name);
  a.cascade = cmd->behavior == PG_QUERY__DROP_BEHAVIOR__DROP_CASCADE;
  const PgQuery__Node* def = cmd->def;
  std::vector<const PgQuery__Constraint*> inline_constraints;
  switch (cmd->subtype) {
    case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
      a.kind = "add_column";
      if (def && def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) {
        describe_column_def(a, def->column_def);
        const auto* cd = def->column_def;
        for (size_t i = 0; i < cd->n_constraints; ++i)
          if (const auto* n = cd->constraints[i]; n && n->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
                                                  !constraint_kind(n->constraint->contype).empty())
            inline_constraints.push_back(n->constraint);
      }
      if (a.volatile_default || a.serial || a.identity || a.generated_stored) a.rewrite = Rewrite::yes;
      break;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
      a.kind = "alter_type";
      if (def && def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) a.type_name = type_name(def->column_def->type_name);
      // Without the old type: `maybe` when some type converts to this one without a rewrite (types.cpp);
      // lint resolves it from an earlier CREATE TABLE / ADD COLUMN or the catalog (--db).
      a.rewrite = rewrite_to(a.type_name);
      break;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull: a.kind = "set_not_null"; break;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_DropNotNull: a.kind = "drop_not_null"; break;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
      if (def && def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT) {
        a.column.clear();
        add_constraint(out, a, def->constraint, false);
        return;
      }
      a.kind = "other";
      break;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_ValidateConstraint:
      a.kind = "validate_constraint";
      a.name = a.column;
      a.column.clear();
      a.lock = Lock::share_update_exclusive;
      break;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn: a.kind = "drop_column"; break;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_DropConstraint:
      a.kind = "drop_constraint";
      a.name = a.column;
      a.column.clear();
      break;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_SetLogged:
    case PG_QUERY__ALTER_TABLE_TYPE__AT_SetUnLogged:
      a.kind = "set_logged";
      a.rewrite = Rewrite::yes;
      break;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_SetStatistics:
    case PG_QUERY__ALTER_TABLE_TYPE__AT_SetOptions:  // column attribute options (n_distinct)
    case PG_QUERY__ALTER_TABLE_TYPE__AT_ResetOptions:
    case PG_QUERY__ALTER_TABLE_TYPE__AT_ClusterOn:
    case PG_QUERY__ALTER_TABLE_TYPE__AT_DropCluster:
      a.kind = "other";
      a.lock = Lock::share_update_exclusive;
      break;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_SetRelOptions:
    case PG_QUERY__ALTER_TABLE_TYPE__AT_ResetRelOptions:
      a.kind = "other";
      a.lock = rel_options_lock(def);  // SHARE UPDATE EXCLUSIVE for most storage parameters
      break;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_SetAccessMethod:  // a rewrite unless it is the table's access method already
      a.kind = "other";
      a.rewrite = Rewrite::maybe;
      break;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_AttachPartition:
    case PG_QUERY__ALTER_TABLE_TYPE__AT_AddInherit:
    case PG_QUERY__ALTER_TABLE_TYPE__AT_DropInherit:
      attach_or_inherit(cmd, a, out);
      return;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_EnableTrig:
    case PG_QUERY__ALTER_TABLE_TYPE__AT_DisableTrig:
    case PG_QUERY__ALTER_TABLE_TYPE__AT_EnableTrigAll:
    case PG_QUERY__ALTER_TABLE_TYPE__AT_DisableTrigAll:
    case PG_QUERY__ALTER_TABLE_TYPE__AT_EnableAlwaysTrig:
    case PG_QUERY__ALTER_TABLE_TYPE__AT_EnableReplicaTrig:
    case PG_QUERY__ALTER_TABLE_TYPE__AT_EnableTrigUser:
    case PG_QUERY__ALTER_TABLE_TYPE__AT_DisableTrigUser:
      a.kind = "enable_trigger";
      a.name = a.column;
      a.column.clear();
      a.lock = Lock::share_row_exclusive;
      break;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_SetTableSpace:
      a.kind = "set_tablespace";
      a.name = a.column;  // the tablespace
      a.column.clear();
      a.rewrite = Rewrite::yes;
      break;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartition:
    case PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartitionFinalize: {
      const bool finalize = cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartitionFinalize;
      a.kind = finalize ? "other" : "detach_partition";
      Action part;
      part.kind = "partition";
      if (def && def->node_case == PG_QUERY__NODE__NODE_PARTITION_CMD) {
        a.concurrently = def->partition_cmd->concurrent;
        set_relation(part, def->partition_cmd->name);
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

std::vector<Action> range_vars(const char* kind, PgQuery__Node** list, size_t n, Lock lock, Rewrite rewrite) {
  std::vector<Action> out;
  for (size_t i = 0; i < n; ++i) {
    const PgQuery__RangeVar* rv = nullptr;
    if (list[i]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR) rv = list[i]->range_var;
    else if (list[i]->node_case == PG_QUERY__NODE__NODE_VACUUM_RELATION) rv = list[i]->vacuum_relation->relation;
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

std::vector<Action> drop_objects(const PgQuery__DropStmt* d) {
  std::vector<Action> out;
  for (size_t i = 0; i < d->n_objects; ++i) {
    std::vector<std::string> parts;
    const auto* obj = d->objects[i];
    if (obj && obj->node_case == PG_QUERY__NODE__NODE_LIST)
      for (size_t k = 0; k < obj->list->n_items; ++k) parts.push_back(string_of(obj->list->items[k]));
    else if (auto v = string_of(obj); !v.empty())  // DROP SCHEMA / EXTENSION name: a bare String
      parts.push_back(v);
    Action a;
    a.concurrently = d->concurrent;
    a.cascade = d->behavior == PG_QUERY__DROP_BEHAVIOR__DROP_CASCADE;
    std::string last = parts.empty() ? "" : parts.back();
    a.schema = parts.size() > 1 ? parts[parts.size() - 2] : "";
    if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
      a.kind = "drop_table";
      a.table = last;
      a.lock = Lock::access_exclusive;
    } else if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX) {
      a.kind = "drop_index";
      a.name = last;
      a.lock = a.concurrently ? Lock::share_update_exclusive : Lock::access_exclusive;
    } else if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER) {
      // DROP TRIGGER name ON [schema.]table: the list is [schema,] table, trigger
      a.kind = "drop_trigger";
      a.name = last;
      a.table = parts.size() > 1 ? parts[parts.size() - 2] : "";
      a.schema = parts.size() > 2 ? parts[parts.size() - 3] : "";
      a.lock = Lock::access_exclusive;
    } else {
      a.kind = "drop_other";  // views, types, functions, schemas ...: only CASCADE is a finding of its own
      a.name = last;
      drop_relation_lock(d->remove_type, parts, a);
    }
    out.push_back(a);
  }
  return out;
}

std::string reindex_object(PgQuery__ReindexObjectType k) {
  switch (k) {
    case PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_INDEX: return "index";
    case PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_TABLE: return "table";
    case PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_SCHEMA: return "schema";
    case PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_SYSTEM: return "system";
    case PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_DATABASE: return "database";
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
void table_columns(const PgQuery__CreateStmt* st, const Action& table, std::vector<Action>& out) {
  std::set<std::string> primary, foreign;
  for (size_t i = 0; i < st->n_table_elts; ++i) {
    const auto* e = st->table_elts[i];
    if (!e || e->node_case != PG_QUERY__NODE__NODE_CONSTRAINT) continue;
    const auto* con = e->constraint;
    if (con->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY)
      for (size_t k = 0; k < con->n_keys; ++k) primary.insert(string_of(con->keys[k]));
    if (con->contype == PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN)
      for (size_t k = 0; k < con->n_fk_attrs; ++k) foreign.insert(string_of(con->fk_attrs[k]));
  }
  for (size_t i = 0; i < st->n_table_elts; ++i) {
    const auto* e = st->table_elts[i];
    if (!e || e->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF) continue;
    Action c;
    c.kind = "create_column";
    c.schema = table.schema;
    c.table = table.table;
    describe_column_def(c, e->column_def);
    c.primary_key = c.primary_key || primary.count(c.column);
    c.foreign_key = c.foreign_key || foreign.count(c.column);
    out.push_back(c);
  }
}

}  // namespace

std::string type_name_of(const PgQuery__TypeName* tn) { return type_name(tn); }

std::vector<Action> derive_actions(const PgQuery__Node* n) {
  std::vector<Action> out;
  if (!n) return out;
  switch (n->node_case) {
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT: {
      const auto* st = n->alter_table_stmt;
      if (st->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_TYPE) break;  // ALTER TYPE composite: no table of ours
      for (size_t i = 0; i < st->n_cmds; ++i)
        if (st->cmds[i]->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_CMD) alter_table_cmd(st, st->cmds[i]->alter_table_cmd, out);
      break;
    }
    case PG_QUERY__NODE__NODE_RENAME_STMT: {
      const auto* st = n->rename_stmt;
      Action a;
      set_relation(a, st->relation);
      a.lock = Lock::access_exclusive;
      if (st->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN) {
        a.kind = "rename_column";
        a.column = s(st->subname);
        a.name = s(st->newname);
        out.push_back(a);
      } else if (st->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
        a.kind = "rename_table";
        out.push_back(a);
      } else if (st->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA) {
        a.kind = "rename_schema";
        a.name = s(st->subname);
        a.lock = Lock::none;
        out.push_back(a);
      } else {
        rename_relation_actions(st, out);
      }
      break;
    }
    case PG_QUERY__NODE__NODE_INDEX_STMT: {
      Action a;
      a.kind = "create_index";
      set_relation(a, n->index_stmt->relation);
      a.name = s(n->index_stmt->idxname);
      a.concurrently = n->index_stmt->concurrent;
      a.lock = a.concurrently ? Lock::share_update_exclusive : Lock::share;
      for (size_t i = 0; i < n->index_stmt->n_index_params; ++i) {
        const auto* p = n->index_stmt->index_params[i];
        a.columns.push_back(p && p->node_case == PG_QUERY__NODE__NODE_INDEX_ELEM ? s(p->index_elem->name) : "");
      }
      out.push_back(a);
      break;
    }
    case PG_QUERY__NODE__NODE_DROP_STMT: out = drop_objects(n->drop_stmt); break;
    case PG_QUERY__NODE__NODE_REINDEX_STMT: {
      const auto* st = n->reindex_stmt;
      Action a;
      a.kind = "reindex";
      set_relation(a, st->relation);  // REINDEX INDEX: the index (its table takes the SHARE lock)
      a.name = s(st->name);           // REINDEX SCHEMA / DATABASE / SYSTEM: the schema or database
      a.object = reindex_object(st->kind);
      a.concurrently = option_on(st->params, st->n_params, "concurrently");
      if (a.concurrently && a.object == "system") {  // PostgreSQL refuses it before taking any lock
        a.concurrently = false;
        a.fails = "REINDEX SYSTEM cannot run CONCURRENTLY (\"cannot reindex system catalogs concurrently\")";
      }
      a.lock = a.concurrently ? Lock::share_update_exclusive : Lock::share;
      out.push_back(a);
      break;
    }
    case PG_QUERY__NODE__NODE_VACUUM_STMT: {
      const auto* st = n->vacuum_stmt;
      if (option_on(st->options, st->n_options, "full") && st->is_vacuumcmd) {
        out = range_vars("vacuum_full", st->rels, st->n_rels, Lock::access_exclusive, Rewrite::yes);
        if (out.empty()) out.push_back(every_table("vacuum_full"));  // VACUUM FULL; rewrites every table of the database
      } else if (!st->is_vacuumcmd) {
        out = range_vars("analyze", st->rels, st->n_rels, Lock::share_update_exclusive, Rewrite::no);
      }
      break;
    }
    case PG_QUERY__NODE__NODE_CLUSTER_STMT: {
      Action a;
      if (!n->cluster_stmt->relation) {  // CLUSTER; re-clusters every table clustered before
        out.push_back(every_table("cluster"));
        break;
      }
      a.kind = "cluster";
      set_relation(a, n->cluster_stmt->relation);
      a.lock = Lock::access_exclusive;
      a.rewrite = Rewrite::yes;
      out.push_back(a);
      break;
    }
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
      out = range_vars("truncate", n->truncate_stmt->relations, n->truncate_stmt->n_relations, Lock::access_exclusive,
                       Rewrite::yes);
      break;
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
    case PG_QUERY__NODE__NODE_DELETE_STMT: {
      Action a;
      bool update = n->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT;
      a.kind = update ? "update" : "delete";
      set_relation(a, update ? n->update_stmt->relation : n->delete_stmt->relation);
      a.has_where = (update ? n->update_stmt->where_clause : n->delete_stmt->where_clause) != nullptr;
      a.lock = Lock::row_exclusive;
      out.push_back(a);
      break;
    }
    case PG_QUERY__NODE__NODE_INSERT_STMT: {
      Action a;
      a.kind = "insert";
      set_relation(a, n->insert_stmt->relation);
      const auto* sel = n->insert_stmt->select_stmt;  // absent for DEFAULT VALUES
      a.has_select = sel && sel->node_case == PG_QUERY__NODE__NODE_SELECT_STMT && sel->select_stmt->n_values_lists == 0;
      a.lock = Lock::row_exclusive;
      out.push_back(a);
      break;
    }
    case PG_QUERY__NODE__NODE_CREATE_STMT: {
      Action a;
      a.kind = "create_table";
      set_relation(a, n->create_stmt->relation);
      for (size_t i = 0; i < n->create_stmt->n_table_elts; ++i)  // the columns' types: a later ALTER TYPE knows the old one
        if (const auto* e = n->create_stmt->table_elts[i]; e && e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) {
          a.columns.push_back(s(e->column_def->colname));
          a.types.push_back(type_name(e->column_def->type_name));
        }
      out.push_back(a);
      table_columns(n->create_stmt, a, out);
      create_table_actions(n->create_stmt, out);
      break;
    }
    default:
      if (!object_actions(n, out)) relation_actions(n, out);
      break;
  }
  return out;
}

}  // namespace phasegate::sql
