// Which statements fail (or duplicate their effect) when run a second time although PostgreSQL 15 has a form that
// would not: CREATE ... without IF NOT EXISTS / OR REPLACE, DROP ... without IF EXISTS (require-idempotent).
// Statements with no such form (ADD CONSTRAINT, CREATE TYPE, CREATE DOMAIN, RENAME) are left out: their only
// idempotent spelling is a DO block, which hides the DDL from lint.
#include "sql/facts.hpp"

namespace phasegate::sql {

namespace {
bool given(const char* c) { return c && *c; }  // protobuf-c leaves unset strings as ""

const char* dropped_object(PgQuery__ObjectType t) {
  switch (t) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE: return "DROP TABLE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX: return "DROP INDEX";
    case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW: return "DROP VIEW";
    case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW: return "DROP MATERIALIZED VIEW";
    case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE: return "DROP SEQUENCE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_TYPE: return "DROP TYPE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_DOMAIN: return "DROP DOMAIN";
    case PG_QUERY__OBJECT_TYPE__OBJECT_FUNCTION: return "DROP FUNCTION";
    case PG_QUERY__OBJECT_TYPE__OBJECT_PROCEDURE: return "DROP PROCEDURE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER: return "DROP TRIGGER";
    case PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA: return "DROP SCHEMA";
    case PG_QUERY__OBJECT_TYPE__OBJECT_EXTENSION: return "DROP EXTENSION";
    default: return "DROP";
  }
}
}  // namespace

std::vector<std::string> not_idempotent(const PgQuery__Node* n) {
  std::vector<std::string> out;
  if (!n) return out;
  auto unless = [&](bool guarded, const char* what) {
    if (!guarded) out.emplace_back(what);
  };
  switch (n->node_case) {
    case PG_QUERY__NODE__NODE_CREATE_STMT: unless(n->create_stmt->if_not_exists, "CREATE TABLE"); break;
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT: {
      const auto* st = n->create_table_as_stmt;
      if (st->is_select_into) break;
      unless(st->if_not_exists, st->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW ? "CREATE MATERIALIZED VIEW" : "CREATE TABLE AS");
      break;
    }
    case PG_QUERY__NODE__NODE_INDEX_STMT: {
      const auto* st = n->index_stmt;
      // Without a name there is no IF NOT EXISTS: a second run builds a second index under another generated name.
      unless(st->if_not_exists, given(st->idxname) ? "CREATE INDEX" : "CREATE INDEX (unnamed)");
      break;
    }
    case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT: unless(n->create_seq_stmt->if_not_exists, "CREATE SEQUENCE"); break;
    case PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT: unless(n->create_schema_stmt->if_not_exists, "CREATE SCHEMA"); break;
    case PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT: unless(n->create_extension_stmt->if_not_exists, "CREATE EXTENSION"); break;
    case PG_QUERY__NODE__NODE_VIEW_STMT: unless(n->view_stmt->replace, "CREATE VIEW"); break;
    case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
      unless(n->create_function_stmt->replace, n->create_function_stmt->is_procedure ? "CREATE PROCEDURE" : "CREATE FUNCTION");
      break;
    case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT: unless(n->create_trig_stmt->replace, "CREATE TRIGGER"); break;
    case PG_QUERY__NODE__NODE_ALTER_ENUM_STMT:
      if (given(n->alter_enum_stmt->new_val) && !given(n->alter_enum_stmt->old_val)) unless(n->alter_enum_stmt->skip_if_new_val_exists, "ADD VALUE");
      break;
    case PG_QUERY__NODE__NODE_DROP_STMT: unless(n->drop_stmt->missing_ok, dropped_object(n->drop_stmt->remove_type)); break;
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT: {
      const auto* st = n->alter_table_stmt;
      if (st->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) break;
      for (size_t i = 0; i < st->n_cmds; ++i) {
        if (st->cmds[i]->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD) continue;
        const auto* cmd = st->cmds[i]->alter_table_cmd;
        if (cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn) unless(cmd->missing_ok, "ADD COLUMN");
        if (cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn) unless(cmd->missing_ok, "DROP COLUMN");
        if (cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DropConstraint) unless(cmd->missing_ok, "DROP CONSTRAINT");
      }
      break;
    }
    default: break;
  }
  return out;
}

}  // namespace phasegate::sql
