#include "config/toml_reader.hpp"

#include <sstream>

#include "phasegate/text.hpp"

namespace phasegate::config {

SourcePos pos_of(const std::string& file, const toml::node& node) {
  const auto& src = node.source();
  return SourcePos{file, static_cast<int>(src.begin.line), static_cast<int>(src.begin.column)};
}

std::optional<toml::table> parse_toml_file(const std::string& file, Diagnostics& diags) {
  try {
    return toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    std::string what(e.description());
    diags.push_back({SourcePos{file, static_cast<int>(b.line), static_cast<int>(b.column)},
                     "invalid TOML: " + what});
  }
  return std::nullopt;
}

TableReader::TableReader(const toml::table& table, std::string file, std::string where, Diagnostics& diags)
    : table_(table), file_(std::move(file)), where_(std::move(where)), diags_(diags) {}

SourcePos TableReader::pos() const { return pos_of(file_, table_); }

SourcePos TableReader::pos(std::string_view key) const {
  if (const auto* n = table_.get(key)) return pos_of(file_, *n);
  return pos();
}

void TableReader::error(const SourcePos& at, std::string message) { diags_.push_back({at, std::move(message)}); }

const toml::node* TableReader::lookup(std::string_view key) {
  known_.insert(std::string(key));
  return table_.get(key);
}

void TableReader::type_error(std::string_view key, const char* expected) {
  error(pos(key), "\"" + where_ + (where_.empty() ? "" : ".") + std::string(key) + "\" must be " + expected);
}

std::optional<std::string> TableReader::str(std::string_view key, bool required) {
  const auto* n = lookup(key);
  if (!n) {
    if (required) error(pos(), "missing required key \"" + std::string(key) + "\" in [" + where_ + "]");
    return std::nullopt;
  }
  if (auto v = n->value<std::string>(); v && n->is_string()) return *v;
  type_error(key, "a string");
  return std::nullopt;
}

std::optional<long long> TableReader::integer(std::string_view key, long long min, long long max) {
  const auto* n = lookup(key);
  if (!n) return std::nullopt;
  if (!n->is_integer()) {
    type_error(key, "an integer");
    return std::nullopt;
  }
  long long v = n->as_integer()->get();
  if (v < min || v > max) {
    error(pos(key), "\"" + std::string(key) + "\" must be between " + std::to_string(min) + " and " +
                        std::to_string(max) + ", got " + std::to_string(v));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> TableReader::boolean(std::string_view key) {
  const auto* n = lookup(key);
  if (!n) return std::nullopt;
  if (!n->is_boolean()) {
    type_error(key, "true or false");
    return std::nullopt;
  }
  return n->as_boolean()->get();
}

std::optional<Millis> TableReader::duration(std::string_view key) {
  const auto* n = lookup(key);
  if (!n) return std::nullopt;
  if (!n->is_string()) {
    type_error(key, "a duration string like \"250ms\", \"2s\", \"30m\", \"2h\"");
    return std::nullopt;
  }
  auto text = n->as_string()->get();
  auto d = parse_duration(text);
  if (!d) error(pos(key), "invalid duration \"" + text + "\" for \"" + std::string(key) +
                              "\" (use a number with ms, s, m, h or d, e.g. \"250ms\", \"1h30m\")");
  return d;
}

std::optional<std::vector<std::string>> TableReader::strings(std::string_view key, bool non_empty) {
  const auto* n = lookup(key);
  if (!n) return std::nullopt;
  const auto* arr = n->as_array();
  if (!arr) {
    type_error(key, "an array of strings");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : *arr) {
    if (!item.is_string()) {
      type_error(key, "an array of strings");
      return std::nullopt;
    }
    out.push_back(item.as_string()->get());
  }
  if (non_empty && out.empty()) {
    error(pos(key), "\"" + std::string(key) + "\" must not be empty");
    return std::nullopt;
  }
  return out;
}

const toml::table* TableReader::table(std::string_view key) {
  const auto* n = lookup(key);
  if (!n) return nullptr;
  if (!n->is_table()) {
    type_error(key, "a table");
    return nullptr;
  }
  return n->as_table();
}

const toml::array* TableReader::array(std::string_view key) {
  const auto* n = lookup(key);
  if (!n) return nullptr;
  if (!n->is_array()) {
    type_error(key, "an array");
    return nullptr;
  }
  return n->as_array();
}

const toml::node* TableReader::node(std::string_view key) { return lookup(key); }

void TableReader::finish() {
  std::vector<std::string> candidates(known_.begin(), known_.end());
  for (const auto& [k, v] : table_) {
    std::string key(k.str());
    if (known_.count(key)) continue;
    std::string msg = "unknown key \"" + key + "\"" + (where_.empty() ? "" : " in [" + where_ + "]");
    auto hint = did_you_mean(key, candidates);
    if (!hint.empty()) msg += " (did you mean \"" + hint + "\"?)";
    SourcePos at{file_, static_cast<int>(k.source().begin.line), static_cast<int>(k.source().begin.column)};
    if (at.line == 0) at = pos_of(file_, v);
    error(at, msg);
  }
}

}  // namespace phasegate::config
