#pragma once
// Derives Actions from one statement's protobuf parse tree (private to src/sql).
#include <pg_query/pg_query.pb-c.h>

#include "phasegate/sql.hpp"

namespace phasegate::sql {
std::vector<Action> derive_actions(const PgQuery__Node* stmt);
// Statement::not_idempotent (rerun.cpp).
std::vector<std::string> not_idempotent(const PgQuery__Node* stmt);
// "AlterTableStmt" for a node holding an AlterTableStmt.
std::string node_name(const PgQuery__Node* node);
// Whether option `name` of a DefElem list (VACUUM (FULL false), REINDEX (CONCURRENTLY off)) is on.
// A TypeName as facts spell it: the last name part, integer modifiers, [] per array bound ("varchar(5)", "int4[]").
std::string type_name_of(const PgQuery__TypeName* tn);
bool option_on(PgQuery__Node** list, size_t n, const char* name);
}
