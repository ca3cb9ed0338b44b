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
}
