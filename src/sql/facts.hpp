#pragma once
// Derives Actions from one statement's protobuf parse tree (private to src/sql).
#include <pg_query/pg_query.pb-c.h>

#include "phasegate/sql.hpp"

namespace phasegate::sql {
std::vector<Action> derive_actions(const PgQuery__Node* stmt);
// Statement::not_idempotent (rerun.cpp).
std::vector<std::string> not_idempotent(const PgQuery__Node* stmt);
// DDL on relations beyond derive_actions' core (facts_relations.cpp): policies, rules, statistics, comments,
// views, sequences; renames of indexes, views, triggers, constraints (false: not such a rename); a new table's
// foreign keys and parents; the lock of ALTER ... SET (storage parameters).
void relation_actions(const PgQuery__Node* stmt, std::vector<Action>& out);
bool rename_relation_actions(const PgQuery__RenameStmt* st, std::vector<Action>& out);
void create_table_actions(const PgQuery__CreateStmt* st, std::vector<Action>& out);
Lock rel_options_lock(const PgQuery__Node* def);
// ATTACH PARTITION, [NO] INHERIT: `a` (the table altered) with its lock, and the partition or parent.
void attach_or_inherit(const PgQuery__AlterTableCmd* cmd, Action& a, std::vector<Action>& out);
// DROP VIEW / MATERIALIZED VIEW / SEQUENCE / FOREIGN TABLE / POLICY / RULE: the relation and its lock in `a`.
void drop_relation_lock(PgQuery__ObjectType type, const std::vector<std::string>& names, Action& a);
// Triggers, LOCK TABLE, REFRESH MATERIALIZED VIEW, domains, DROP DATABASE, enum values (facts_objects.cpp);
// false: not such a statement.
bool object_actions(const PgQuery__Node* stmt, std::vector<Action>& out);
// Shared by the facts files.
void set_relation(Action& a, const PgQuery__RangeVar* rv);
std::string last_name(PgQuery__Node** names, size_t n);
std::vector<Action> range_vars(const char* kind, PgQuery__Node** list, size_t n, Lock lock, Rewrite rewrite);
// "AlterTableStmt" for a node holding an AlterTableStmt.
std::string node_name(const PgQuery__Node* node);
// Whether option `name` of a DefElem list (VACUUM (FULL false), REINDEX (CONCURRENTLY off)) is on.
// A TypeName as facts spell it: the last name part, integer modifiers, [] per array bound ("varchar(5)", "int4[]").
std::string type_name_of(const PgQuery__TypeName* tn);
bool option_on(PgQuery__Node** list, size_t n, const char* name);
}
