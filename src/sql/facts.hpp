#pragma once
// Derives Actions from one statement's parse tree — PostgreSQL's own nodes (sql/pg_nodes.hpp) — private to src/sql.
#include "sql/pg_nodes.hpp"

#include "phasegate/sql.hpp"

namespace phasegate::sql {
std::vector<Action> derive_actions(const Node* stmt);
// Statement::not_idempotent (rerun.cpp).
std::vector<std::string> not_idempotent(const Node* stmt);
// DDL on relations beyond derive_actions' core (facts_relations.cpp): policies, rules, statistics, comments,
// views, sequences; renames of indexes, views, triggers, constraints (false: not such a rename); a new table's
// foreign keys and parents; the lock of ALTER ... SET (storage parameters).
void relation_actions(const Node* stmt, std::vector<Action>& out);
bool rename_relation_actions(const RenameStmt* st, std::vector<Action>& out);
void create_table_actions(const CreateStmt* st, std::vector<Action>& out);
Lock rel_options_lock(const Node* def);
// ATTACH PARTITION, [NO] INHERIT: `a` (the table altered) with its lock, and the partition or parent.
void attach_or_inherit(const AlterTableCmd* cmd, Action& a, std::vector<Action>& out);
// DROP VIEW / MATERIALIZED VIEW / SEQUENCE / FOREIGN TABLE / POLICY / RULE: the relation and its lock in `a`.
void drop_relation_lock(ObjectType type, const std::vector<std::string>& names, Action& a);
// Triggers, LOCK TABLE, REFRESH MATERIALIZED VIEW, domains, DROP DATABASE, enum values (facts_objects.cpp);
// false: not such a statement.
bool object_actions(const Node* stmt, std::vector<Action>& out);
// Shared by the facts files.
void set_relation(Action& a, const RangeVar* rv);
Action on_relation(const char* kind, const RangeVar* rv, Lock lock);  // an action of `kind` on rv under `lock`
std::string last_name(const List* names);
std::vector<Action> range_vars(const char* kind, const List* list, Lock lock, Rewrite rewrite);
// "AlterTableStmt" for an AlterTableStmt node (node_names.cpp: the statement tags); "" for other nodes.
std::string node_name(const Node* node);
std::vector<std::string> statement_node_names();
// A TypeName as facts spell it: the last name part, integer modifiers, [] per array bound ("varchar(5)", "int4[]").
std::string type_name_of(const TypeName* tn);
// Where parse() cuts a big script (chunks.cpp): byte offsets of chunks of whole statements of at least
// `chunk_bytes` (the first is 0), and about how many statements the text holds (a reserve hint).
struct ChunkPlan {
  std::vector<size_t> starts;
  size_t statements = 0;
};
ChunkPlan plan_chunks(std::string_view text, size_t chunk_bytes);
// Whether option `name` of a DefElem list (VACUUM (FULL false), REINDEX (CONCURRENTLY off)) is on.
bool option_on(const List* list, const char* name);
}
