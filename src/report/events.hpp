#pragma once
// Private to src/report: reading one stored event (its payload, its time) and saying it in words.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "phasegate/report.hpp"

namespace phasegate::report::detail {

using json = nlohmann::json;

// "2026-11-22T04:00:00.123Z" (or without the fraction) -> milliseconds since the epoch.
std::optional<long long> epoch_ms(const std::string& rfc3339);
// Every string that reaches the model: credentials masked (secrets::redact), valid UTF-8.
std::string clean(const std::string& s);
// payload[key] as text ("" when missing; numbers and booleans printed), cleaned.
std::string text_of(const json& j, const char* key);
std::optional<long long> int_of(const json& j, const char* key);
bool flag_of(const json& j, const char* key);  // payload[key] is true
// The payload as an object (a payload that is not JSON reads as {}).
json parse_payload(const std::string& payload);
// Who acted: "principal (os_user@host)" or "os_user@host".
std::string actor_of(const EventRow& e);
std::vector<Blocker> blockers_of(const json& payload);

// The timeline's line for one event: the table of event kinds (timeline.cpp); unknown kinds are said plainly.
Entry describe(const EventRow& e, const json& payload, long long origin_ms);

}  // namespace phasegate::report::detail
