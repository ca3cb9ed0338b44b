// The credential mask (docs/secrets.md): conninfo passwords are remembered when a connection string is
// seen, and redact() masks them, and any password position of a conninfo, in text before it leaves the process
// or reaches the state schema.
#include "phasegate/secrets.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <vector>

namespace phasegate::secrets {

namespace {

struct Found {
  std::string raw, decoded;  // as written, and as libpq uses it ("" when the escapes are malformed)
  bool any = false;
};

bool starts_with_uri(const std::string& s) { return s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0; }

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// libpq's conninfo_uri_decode: %XX escapes; false on a malformed one (or %00).
bool percent_decode(const std::string& in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

Found from_uri(const std::string& s) {
  Found f;
  std::string rest = s.substr(s.find("://") + 3);
  // libpq: the userinfo ends at the first '@' met before any '/'; the password follows its first ':'.
  auto end = rest.find_first_of("@/");
  if (end != std::string::npos && rest[end] == '@') {
    std::string userinfo = rest.substr(0, end);
    if (auto colon = userinfo.find(':'); colon != std::string::npos && colon + 1 < userinfo.size()) {
      f.raw = userinfo.substr(colon + 1);
      f.any = true;
    }
  }
  // ...?password=PW&... (a parameter overrides the userinfo, as in libpq)
  if (auto q = rest.find('?'); q != std::string::npos) {
    std::string params = rest.substr(q + 1);
    size_t pos = 0;
    while (pos <= params.size()) {
      auto amp = params.find('&', pos);
      std::string kv = params.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
      if (auto eq = kv.find('='); eq != std::string::npos) {
        std::string key;
        if (!percent_decode(kv.substr(0, eq), key)) key = kv.substr(0, eq);
        if (key == "password" && eq + 1 < kv.size()) {
          f.raw = kv.substr(eq + 1);
          f.any = true;
        }
      }
      if (amp == std::string::npos) break;
      pos = amp + 1;
    }
  }
  if (f.any && !percent_decode(f.raw, f.decoded)) f.decoded.clear();
  return f;
}

Found parse(const std::string& s, int depth);

// libpq's conninfo_parse: keyword = value pairs; a value is 'quoted' (\' and \\ escape) or runs to whitespace.
Found from_keywords(const std::string& s, int depth) {
  Found f;
  size_t i = 0, n = s.size();
  auto space = [&](size_t k) { return k < n && std::isspace(static_cast<unsigned char>(s[k])); };
  while (i < n) {
    while (space(i)) ++i;
    if (i >= n) break;
    size_t k0 = i;
    while (i < n && s[i] != '=' && !space(i)) ++i;
    std::string key = s.substr(k0, i - k0);
    while (space(i)) ++i;
    if (i >= n || s[i] != '=') break;  // libpq: missing "=" (it names only the keyword)
    ++i;
    while (space(i)) ++i;
    std::string value, raw;
    if (i < n && s[i] == '\'') {
      size_t v0 = ++i;
      while (i < n && s[i] != '\'') {
        if (s[i] == '\\' && i + 1 < n) ++i;
        value += s[i++];
      }
      raw = s.substr(v0, i - v0);
      if (i < n) ++i;  // the closing quote (unterminated: what was read so far)
    } else {
      size_t v0 = i;
      while (i < n && !space(i)) {
        if (s[i] == '\\' && i + 1 < n) ++i;
        value += s[i++];
      }
      raw = s.substr(v0, i - v0);
    }
    if (key == "password" && !value.empty()) {
      f = Found{raw, value, true};
    } else if (key == "dbname" && depth < 2 && (starts_with_uri(value) || value.find('=') != std::string::npos)) {
      if (Found inner = parse(value, depth + 1); inner.any) f = inner;  // libpq expands such a dbname
    }
  }
  return f;
}

Found parse(const std::string& s, int depth) { return starts_with_uri(s) ? from_uri(s) : from_keywords(s, depth); }

// The text of `s` inside a JSON string (nlohmann's dump and PostgreSQL's jsonb output escape alike).
std::string json_escaped(const std::string& s) {
  std::string quoted = nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::vector<std::string>& registry() {  // longest first, so a secret inside another is masked as part of it
  static std::vector<std::string> r;
  return r;
}

void add_variant(std::vector<std::string>& r, const std::string& v) {
  if (v.size() < kMinVerbatim || std::find(r.begin(), r.end(), v) != r.end()) return;
  r.push_back(v);
}

void replace_all(std::string& text, const std::string& what, const std::string& with) {
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + with.size()))
    text.replace(pos, what.size(), with);
}

// `needle` is lowercase ASCII. Every line phasegate prints passes here (redact_console): candidates for the first
// byte are found with memchr (both cases), each then compared with an ASCII fold — not a fold and compare per byte
// (~6% of linting a 20k-statement file), nor a locale-aware tolower() call (~2% before that; bench/lint).
bool icontains(const std::string& text, const char* needle) {
  const size_t n = std::char_traits<char>::length(needle);
  if (n == 0) return true;
  if (text.size() < n) return false;
  auto fold = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; };
  const char lower = needle[0], upper = lower >= 'a' && lower <= 'z' ? static_cast<char>(lower - ('a' - 'A')) : lower;
  const char* const begin = text.data();
  const char* const last = begin + (text.size() - n);  // the last position a match can start at
  const char* lo = static_cast<const char*>(std::memchr(begin, lower, text.size()));
  const char* up = upper == lower ? nullptr : static_cast<const char*>(std::memchr(begin, upper, text.size()));
  while (lo || up) {
    const char* at = !up || (lo && lo < up) ? lo : up;
    if (at > last) return false;
    size_t k = 1;
    while (k < n && fold(at[k]) == needle[k]) ++k;
    if (k == n) return true;
    const size_t from = static_cast<size_t>(at - begin) + 1, left = text.size() - from;
    if (at == lo) lo = static_cast<const char*>(std::memchr(begin + from, lower, left));
    else up = static_cast<const char*>(std::memchr(begin + from, upper, left));
  }
  return false;
}

}  // namespace

std::string conninfo_password(const std::string& conninfo) {
  Found f = parse(conninfo, 0);
  return f.decoded.empty() ? f.raw : f.decoded;
}

void remember(const std::string& secret) {
  if (secret.empty()) return;
  std::lock_guard lk(registry_mutex());
  auto& r = registry();
  add_variant(r, secret);
  add_variant(r, json_escaped(secret));
  std::stable_sort(r.begin(), r.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string remember_conninfo(const std::string& conninfo) {
  Found f = parse(conninfo, 0);
  if (!f.any) return "";
  remember(f.raw);
  remember(f.decoded);
  return f.decoded.empty() ? f.raw : f.decoded;
}

void forget_all() {
  std::lock_guard lk(registry_mutex());
  registry().clear();
}

std::string redact(const std::string& text) {
  std::string out = text;
  {
    std::lock_guard lk(registry_mutex());
    for (const auto& s : registry()) replace_all(out, s, kMask);
  }
  // Structural: whatever sits in a conninfo's password position, remembered or not.
  if (out.find("://") != std::string::npos) {
    static const std::regex uri(R"((postgres(?:ql)?://[^:@/\s"'\\]*:)[^@/\s"'\\]+@)", std::regex::icase);
    out = std::regex_replace(out, uri, std::string("$1") + kMask + "@");
  }
  if (icontains(out, "password")) {
    static const std::regex kv(R"(\b((?:pg)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&'"\\]+))", std::regex::icase);
    out = std::regex_replace(out, kv, std::string("$1") + kMask);
  }
  return out;
}

std::string redact_json(const std::string& json_text, int indent) {
  std::string plain = redact(json_text);
  if (plain == json_text) return json_text;  // nothing to mask: the document as it was
  auto doc = nlohmann::json::parse(json_text, nullptr, false);
  if (doc.is_discarded()) return plain;
  auto walk = [](auto& self, nlohmann::json& j) -> void {
    if (j.is_string()) {
      j = redact(j.get<std::string>());
    } else if (j.is_array()) {
      for (auto& e : j) self(self, e);
    } else if (j.is_object()) {
      nlohmann::json out = nlohmann::json::object();
      for (auto& [k, v] : j.items()) {
        self(self, v);
        out[redact(k)] = std::move(v);
      }
      j = std::move(out);
    }
  };
  walk(walk, doc);
  return doc.dump(indent);
}

}  // namespace phasegate::secrets
