#pragma once
// Credentials are never echoed (docs/secrets.md): every conninfo phasegate is given is remembered here, and
// redact() masks its password wherever it appears — libpq's error messages (which quote a malformed URI or a
// bad percent-escape verbatim), our own messages, event payloads, run and step errors, and everything the CLI
// prints. One process-wide registry: the connections are made in the adapters, the printing in the CLI.
#include <string>

namespace phasegate::secrets {

inline constexpr const char* kMask = "****";
// Secrets shorter than this are masked only where they sit in a conninfo (URI userinfo, password=...),
// not verbatim anywhere: masking every "ab" would make every message unreadable.
inline constexpr std::size_t kMinVerbatim = 4;

// The password a libpq conninfo carries, as libpq reads it: a URI's userinfo (`postgresql://u:PW@h`, up to the
// first '@' before any '/') or `?password=` parameter, or a key=value `password=PW` / `password='a b'` (also a
// `dbname=` holding a URI or conninfo). Percent-escapes and quotes are decoded when they are well formed.
// "" when there is none.
std::string conninfo_password(const std::string& conninfo);

// Remembers the password of `conninfo` (decoded and as written) for redact(); returns it ("" none).
std::string remember_conninfo(const std::string& conninfo);
// Remembers one secret value (e.g. $PGPASSWORD). Empty values are ignored.
void remember(const std::string& secret);
// Forgets every remembered secret (tests).
void forget_all();

// `text` with every remembered secret (at least kMinVerbatim long) replaced by kMask, and the password
// position of any conninfo in it masked (`postgresql://u:****@h`, `password=****`) whether remembered or not.
std::string redact(const std::string& text);
// Every string (keys too) of a JSON document redacted and the document re-serialized (dump(indent)) when
// something was masked; the text as it was otherwise. Text that is not JSON: redact(text).
std::string redact_json(const std::string& json_text, int indent = -1);

}  // namespace phasegate::secrets
