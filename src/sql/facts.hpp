#pragma once
// Derives Actions from one statement's libpg_query JSON (private to src/sql).
#include <nlohmann/json.hpp>

#include "phasegate/sql.hpp"

namespace phasegate::sql {
std::vector<Action> derive_actions(const std::string& node, const nlohmann::json& body);
}
