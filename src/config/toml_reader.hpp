#pragma once
// Reads one TOML table with strict keys: every key read is remembered; finish() reports the rest
// as unknown with a did-you-mean. Private to src/config (keeps toml++ out of public headers).
#include <toml++/toml.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "phasegate/config.hpp"

namespace phasegate::config {

SourcePos pos_of(const std::string& file, const toml::node& node);
// Parses a file; reports syntax errors at their file:line:col.
std::optional<toml::table> parse_toml_file(const std::string& file, Diagnostics& diags);

class TableReader {
 public:
  TableReader(const toml::table& table, std::string file, std::string where, Diagnostics& diags);

  std::optional<std::string> str(std::string_view key, bool required = false);
  std::optional<long long> integer(std::string_view key, long long min = 0, long long max = 1'000'000'000);
  std::optional<bool> boolean(std::string_view key);
  std::optional<Millis> duration(std::string_view key);
  std::optional<std::vector<std::string>> strings(std::string_view key, bool non_empty = false);
  const toml::table* table(std::string_view key);
  const toml::array* array(std::string_view key);
  const toml::node* node(std::string_view key);  // marks known, no type check
  // Allows a key without reading it (e.g. handled elsewhere).
  void known(std::string_view key) { known_.insert(std::string(key)); }

  SourcePos pos() const;
  SourcePos pos(std::string_view key) const;
  void error(const SourcePos& at, std::string message);
  const std::string& file() const { return file_; }
  const std::string& where() const { return where_; }
  Diagnostics& diags() { return diags_; }

  // Reports every key that no accessor asked for.
  void finish();

 private:
  const toml::node* lookup(std::string_view key);
  void type_error(std::string_view key, const char* expected);

  const toml::table& table_;
  std::string file_;
  std::string where_;
  Diagnostics& diags_;
  std::set<std::string> known_;
};

}  // namespace phasegate::config
