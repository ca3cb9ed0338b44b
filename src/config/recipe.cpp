// Recipes: a [recipe] header (variables) and a plan template with ${placeholders}; docs/recipes.md.
#include "phasegate/recipe.hpp"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>
#include <sstream>

#include "config/toml_reader.hpp"
#include "phasegate/sql.hpp"
#include "phasegate/text.hpp"

namespace fs = std::filesystem;

namespace phasegate::recipe {

namespace {

constexpr size_t kMaxName = 63;  // NAMEDATALEN - 1: PostgreSQL cuts longer names without a word

struct KindRow {
  Kind kind;
  const char* name;
};
constexpr KindRow kKinds[] = {{Kind::ident, "ident"}, {Kind::columns, "columns"}, {Kind::sql, "sql"}, {Kind::integer, "integer"}};

std::optional<Kind> kind_of(const std::string& s) {
  for (const auto& k : kKinds)
    if (s == k.name) return k.kind;
  return std::nullopt;
}

bool is_var_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

// One ${...} of a text: where it starts and ends (past the '}'), the variable and its form ("", text, literal).
struct Placeholder {
  size_t start = 0, end = 0;
  std::string var, form;
};

// The next placeholder at or after `from`; nullopt when none. A "${" without a well-formed rest is reported.
Result<std::optional<Placeholder>> next_placeholder(const std::string& text, size_t from) {
  size_t at = text.find("${", from);
  if (at == std::string::npos) return std::optional<Placeholder>{};
  size_t close = text.find('}', at);
  if (close == std::string::npos) return fail(Exit::invalid, "\"${\" without a closing \"}\"");
  std::string inside = text.substr(at + 2, close - at - 2);
  Placeholder p{at, close + 1, inside, ""};
  if (auto colon = inside.find(':'); colon != std::string::npos) {
    p.var = inside.substr(0, colon);
    p.form = inside.substr(colon + 1);
  }
  if (p.var.empty() || !std::all_of(p.var.begin(), p.var.end(), is_var_char))
    return fail(Exit::invalid, "\"${" + inside + "}\" is not a placeholder: write ${name}, ${name:text} or ${name:literal}");
  if (!p.form.empty() && p.form != "text" && p.form != "literal")
    return fail(Exit::invalid, "unknown form \":" + p.form + "\" in \"${" + inside + "}\" (known: :text, :literal)");
  return std::optional<Placeholder>{p};
}

int line_at(const std::string& text, size_t offset) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(std::min(offset, text.size())), '\n'));
}

std::vector<std::string> split_columns(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(trim(item));
  return out;
}

// Escapes for a TOML basic string ("..." or """..."""): backslash, quote and control characters.
std::string toml_escape(const std::string& v) {
  std::string out;
  for (unsigned char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += static_cast<char>(c);
  }
  return out;
}

std::optional<std::string> name_problem(const std::string& what, const std::string& v) {
  if (trim(v).empty()) return what + " is empty";
  if (v.size() > kMaxName)
    return what + " \"" + v + "\" is " + std::to_string(v.size()) + " bytes; PostgreSQL cuts names at 63 bytes (set a shorter one)";
  if (std::any_of(v.begin(), v.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
    return what + " holds a control character";
  return std::nullopt;
}

// Whether `v` is a good value of `var` (after defaults are resolved).
std::optional<std::string> value_problem(const Variable& var, const std::string& v) {
  const std::string what = "--set " + var.name;
  if (v.find('\0') != std::string::npos) return what + " holds a NUL byte";
  switch (var.kind) {
    case Kind::ident: return name_problem(what, v);
    case Kind::columns:
      for (const auto& c : split_columns(v))
        if (auto p = name_problem(what + " (a column of \"" + v + "\")", c)) return p;
      return std::nullopt;
    case Kind::sql:
      if (trim(v).empty()) return what + " is empty";
      return std::nullopt;
    case Kind::integer:
      if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }) || std::stol(v) == 0)
        return what + " must be a positive whole number, not \"" + v + "\"";
      return std::nullopt;
  }
  return std::nullopt;
}

// A resolved value as SQL (the kind's own form), as plain text, or as a string literal.
std::string render(const Variable& var, const std::string& v, const std::string& form) {
  if (form == "literal") return quote_literal(v);
  if (form == "text") return var.kind == Kind::columns ? join(split_columns(v), ", ") : v;
  if (var.kind == Kind::ident) return quote_ident(v);
  if (var.kind == Kind::columns) {
    std::vector<std::string> q;
    for (const auto& c : split_columns(v)) q.push_back(quote_ident(c));
    return join(q, ", ");
  }
  return v;
}

// Replaces every placeholder of `text` with `with(var, form)`.
Result<std::string> substitute(const std::string& text, const std::function<Result<std::string>(const Placeholder&)>& with) {
  std::string out;
  size_t from = 0;
  for (;;) {
    auto p = next_placeholder(text, from);
    if (!p) return std::unexpected(p.error());
    if (!*p) break;
    out.append(text, from, (*p)->start - from);
    auto v = with(**p);
    if (!v) return v;
    out += *v;
    from = (*p)->end;
  }
  out.append(text, from, std::string::npos);
  return out;
}

}  // namespace

const char* kind_name(Kind k) {
  for (const auto& row : kKinds)
    if (row.kind == k) return row.name;
  return "?";
}

std::string quote_ident(const std::string& name) {
  bool plain = !name.empty() && !(name[0] >= '0' && name[0] <= '9') && std::all_of(name.begin(), name.end(), is_var_char);
  if (plain) {  // a keyword (even an unreserved one) is quoted too: always right, never ambiguous
    auto tokens = sql::scan(name);
    plain = tokens && tokens->size() == 1 && tokens->front().kind == sql::Token::Kind::identifier && !tokens->front().keyword;
  }
  if (plain) return name;
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string quote_literal(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

Result<Recipe> parse(const std::string& name, const std::string& file, const std::string& text) {
  Recipe r{name, file, "", {}, "", 1};
  size_t body = std::string::npos;
  for (size_t at = 0; at < text.size();) {
    size_t eol = text.find('\n', at);
    std::string line = trim(text.substr(at, eol == std::string::npos ? std::string::npos : eol - at));
    if (line == "[plan]") {
      body = at;
      break;
    }
    if (eol == std::string::npos) break;
    at = eol + 1;
  }
  if (body == std::string::npos) return fail(Exit::invalid, file + ": recipe has no [plan] line");
  r.body = text.substr(body);
  r.body_line = line_at(text, body);
  Diagnostics diags;
  toml::table header;
  try {
    header = toml::parse(std::string_view(text).substr(0, body), file);
  } catch (const toml::parse_error& e) {
    return fail(Exit::invalid, file + ":" + std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column) +
                                   ": recipe header: " + std::string(e.description()));
  }
  const toml::table* meta = header["recipe"].as_table();
  if (!meta) return fail(Exit::invalid, file + ": recipe has no [recipe] table before its [plan] line");
  config::TableReader reader(*meta, file, "[recipe]", diags);
  r.summary = reader.str("summary", true).value_or("");
  if (const toml::table* vars = reader.table("vars")) {
    for (const auto& [key, node] : *vars) {
      Variable v{std::string(key.str()), Kind::ident, "", std::nullopt, static_cast<int>(node.source().begin.line)};
      const toml::table* t = node.as_table();
      if (!t) {
        diags.push_back({config::pos_of(file, node), "recipe variable \"" + v.name + "\" must be a table { kind, help, default }"});
        continue;
      }
      config::TableReader vr(*t, file, "[recipe.vars." + v.name + "]", diags);
      std::string kind = vr.str("kind").value_or("ident");
      if (auto k = kind_of(kind)) v.kind = *k;
      else vr.error(vr.pos("kind"), "unknown kind \"" + kind + "\" (known: ident, columns, sql, integer)");
      v.help = vr.str("help", true).value_or("");
      v.default_value = vr.str("default");
      vr.finish();
      r.vars.push_back(std::move(v));
    }
  }
  reader.finish();
  if (!diags.empty()) return fail(Exit::invalid, diags.front().str());
  std::sort(r.vars.begin(), r.vars.end(), [](const Variable& a, const Variable& b) { return a.line < b.line; });
  // Every placeholder of the body and of the defaults names a variable.
  std::set<std::string> names;
  for (const auto& v : r.vars) names.insert(v.name);
  auto check = [&](const std::string& text, int first_line) -> Result<void> {
    size_t from = 0;
    for (;;) {
      auto p = next_placeholder(text, from);
      if (!p) return fail(Exit::invalid, file + ":" + std::to_string(first_line + line_at(text, from) - 1) + ": " + p.error().message);
      if (!*p) return {};
      if (!names.contains((*p)->var))
        return fail(Exit::invalid, file + ":" + std::to_string(first_line + line_at(text, (*p)->start) - 1) + ": ${" + (*p)->var +
                                       "} names no variable of [recipe.vars]");
      from = (*p)->end;
    }
  };
  if (auto c = check(r.body, r.body_line); !c) return std::unexpected(c.error());
  for (const auto& v : r.vars)
    if (v.default_value)
      if (auto c = check(*v.default_value, v.line); !c) return std::unexpected(c.error());
  return r;
}

Result<std::string> instantiate(const Recipe& r, const std::map<std::string, std::string>& values, const std::string& command) {
  std::map<std::string, const Variable*> by_name;
  std::vector<std::string> names;
  for (const auto& v : r.vars) {
    by_name[v.name] = &v;
    names.push_back(v.name);
  }
  for (const auto& [key, _] : values)
    if (!by_name.contains(key)) {
      std::string hint = did_you_mean(key, names);
      return fail(Exit::invalid, "recipe " + r.name + " has no variable \"" + key + "\"" +
                                     (hint.empty() ? "" : " (did you mean \"" + hint + "\"?)") + "; its variables: " + join(names, ", "));
    }
  std::vector<std::string> missing;
  for (const auto& v : r.vars)
    if (!v.default_value && !values.contains(v.name)) missing.push_back(v.name + " (" + v.help + ")");
  if (!missing.empty())
    return fail(Exit::invalid, "recipe " + r.name + " needs --set for: " + join(missing, "; ") + "; nothing was written");
  // Resolve every value: given, or the default with its own placeholders filled (names as plain text for
  // ident/columns defaults, the kind's SQL form for sql defaults).
  std::map<std::string, std::string> resolved;
  std::set<std::string> resolving;
  std::function<Result<std::string>(const Variable&)> resolve = [&](const Variable& v) -> Result<std::string> {
    if (auto it = resolved.find(v.name); it != resolved.end()) return it->second;
    if (!resolving.insert(v.name).second) return fail(Exit::invalid, r.file + ":" + std::to_string(v.line) + ": default of \"" + v.name + "\" refers to itself");
    std::string value;
    if (auto given = values.find(v.name); given != values.end()) value = given->second;
    else {
      auto filled = substitute(*v.default_value, [&](const Placeholder& p) -> Result<std::string> {
        const Variable& ref = *by_name.at(p.var);
        auto rv = resolve(ref);
        if (!rv) return rv;
        if (v.kind == Kind::sql) return render(ref, *rv, p.form);
        return ref.kind == Kind::columns && p.form.empty() ? join(split_columns(*rv), "_") : *rv;
      });
      if (!filled) return filled;
      value = *filled;
    }
    if (auto why = value_problem(v, value))
      return fail(Exit::invalid, *why + (values.contains(v.name) ? "" : " (its default, from the other values)") + "; nothing was written");
    resolving.erase(v.name);
    return resolved[v.name] = value;
  };
  for (const auto& v : r.vars)
    if (auto rv = resolve(v); !rv) return std::unexpected(rv.error());
  auto body = substitute(r.body, [&](const Placeholder& p) -> Result<std::string> {
    const Variable& v = *by_name.at(p.var);
    return toml_escape(render(v, resolved.at(v.name), p.form));
  });
  if (!body) return body;
  std::string values_line;
  for (const auto& v : r.vars) values_line += " " + v.name + "=" + resolved.at(v.name) + (&v == &r.vars.back() ? "" : ",");
  auto one_line = [](std::string s) {  // each comment stays one line whatever the values hold
    for (char& c : s)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return s;
  };
  std::string head = "# Made by: " + one_line(command) + "\n# from recipe " + r.name + " (docs/recipes.md#" + r.name +
                     "): " + one_line(r.summary) + "\n#" + one_line(values_line);
  return head + "\n\n" + *body;
}

std::map<std::string, std::string> find_all(const std::vector<std::string>& dirs) {
  std::map<std::string, std::string> out;
  for (const auto& d : dirs) {
    std::error_code ec;
    if (d.empty() || !fs::is_directory(d, ec)) continue;
    for (const auto& e : fs::directory_iterator(d, ec))
      if (e.path().extension() == ".toml" && e.is_regular_file(ec)) out[e.path().stem().string()] = e.path().string();
    return out;
  }
  return out;
}

}  // namespace phasegate::recipe
