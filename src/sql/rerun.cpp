// Which statements fail (or duplicate their effect) when run a second time although PostgreSQL 15 has a form that
// would not: CREATE ... without IF NOT EXISTS / OR REPLACE, DROP ... without IF EXISTS (require-idempotent).
// Statements with no such form (ADD CONSTRAINT, CREATE TYPE, CREATE DOMAIN, RENAME) are left out: their only
// idempotent spelling is a DO block, which hides the DDL from lint.
#include "sql/facts.hpp"

namespace phasegate::sql {

namespace {
bool given(const char* c) { return c && *c; }

const char* dropped_object(ObjectType t) {
  switch (t) {
    case OBJECT_TABLE: return "DROP TABLE";
    case OBJECT_INDEX: return "DROP INDEX";
    case OBJECT_VIEW: return "DROP VIEW";
    case OBJECT_MATVIEW: return "DROP MATERIALIZED VIEW";
    case OBJECT_SEQUENCE: return "DROP SEQUENCE";
    case OBJECT_TYPE: return "DROP TYPE";
    case OBJECT_DOMAIN: return "DROP DOMAIN";
    case OBJECT_FUNCTION: return "DROP FUNCTION";
    case OBJECT_PROCEDURE: return "DROP PROCEDURE";
    case OBJECT_TRIGGER: return "DROP TRIGGER";
    case OBJECT_SCHEMA: return "DROP SCHEMA";
    case OBJECT_EXTENSION: return "DROP EXTENSION";
    default: return "DROP";
  }
}

void alter_table(const AlterTableStmt* st, std::vector<std::string>& out) {
  if (st->objtype != OBJECT_TABLE) return;
  for (const Node* c : items(st->cmds)) {
    const auto* cmd = PG_AS(c, AlterTableCmd);
    if (!cmd || cmd->missing_ok) continue;
    if (cmd->subtype == AT_AddColumn) out.emplace_back("ADD COLUMN");
    if (cmd->subtype == AT_DropColumn) out.emplace_back("DROP COLUMN");
    if (cmd->subtype == AT_DropConstraint) out.emplace_back("DROP CONSTRAINT");
  }
}
}  // namespace

std::vector<std::string> not_idempotent(const Node* n) {
  std::vector<std::string> out;
  if (!n) return out;
  auto unless = [&](bool guarded, const char* what) {
    if (!guarded) out.emplace_back(what);
  };
  switch (nodeTag(n)) {
    case T_CreateStmt: unless(PG_AS(n, CreateStmt)->if_not_exists, "CREATE TABLE"); break;
    case T_CreateTableAsStmt: {
      const auto* st = PG_AS(n, CreateTableAsStmt);
      if (st->is_select_into) break;
      unless(st->if_not_exists, st->objtype == OBJECT_MATVIEW ? "CREATE MATERIALIZED VIEW" : "CREATE TABLE AS");
      break;
    }
    case T_IndexStmt: {
      const auto* st = PG_AS(n, IndexStmt);
      // Without a name there is no IF NOT EXISTS: a second run builds a second index under another generated name.
      unless(st->if_not_exists, given(st->idxname) ? "CREATE INDEX" : "CREATE INDEX (unnamed)");
      break;
    }
    case T_CreateSeqStmt: unless(PG_AS(n, CreateSeqStmt)->if_not_exists, "CREATE SEQUENCE"); break;
    case T_CreateSchemaStmt: unless(PG_AS(n, CreateSchemaStmt)->if_not_exists, "CREATE SCHEMA"); break;
    case T_CreateExtensionStmt: unless(PG_AS(n, CreateExtensionStmt)->if_not_exists, "CREATE EXTENSION"); break;
    case T_ViewStmt: unless(PG_AS(n, ViewStmt)->replace, "CREATE VIEW"); break;
    case T_CreateFunctionStmt: {
      const auto* st = PG_AS(n, CreateFunctionStmt);
      unless(st->replace, st->is_procedure ? "CREATE PROCEDURE" : "CREATE FUNCTION");
      break;
    }
    case T_CreateTrigStmt: unless(PG_AS(n, CreateTrigStmt)->replace, "CREATE TRIGGER"); break;
    case T_AlterEnumStmt: {
      const auto* st = PG_AS(n, AlterEnumStmt);
      if (given(st->newVal) && !given(st->oldVal)) unless(st->skipIfNewValExists, "ADD VALUE");
      break;
    }
    case T_DropStmt: {
      const auto* st = PG_AS(n, DropStmt);
      unless(st->missing_ok, dropped_object(st->removeType));
      break;
    }
    case T_AlterTableStmt: alter_table(PG_AS(n, AlterTableStmt), out); break;
    default: break;
  }
  return out;
}

}  // namespace phasegate::sql
