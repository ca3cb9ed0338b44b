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
// Reads a regular file without ever blocking (a FIFO or device is refused by its type before it is opened,
// and it is opened O_NONBLOCK); problems are reported at `file` and yield nullopt.
std::optional<std::string> read_regular_file(const std::string& file, Diagnostics& diags);
// Parses a file; reports syntax errors at their file:line:col. `text`, when given, receives the file's bytes
// (the same bytes that were parsed, so positions and text agree).
std::optional<toml::table> parse_toml_file(const std::string& file, Diagnostics& diags, std::string* text = nullptr);
// Why a name (a step, plan id, service, window...) is refused: empty or blank, or holding control characters
// (they would forge lines in logs, events and the approval document). nullopt when fine.
std::optional<std::string> name_problem(std::string_view name);

class TableReader {
 public:
  TableReader(const toml::table& table, std::string file, std::string where, Diagnostics& diags);

  // Strings with a NUL byte are reported (they would be cut short where they reach C APIs) and returned as read.
  std::optional<std::string> str(std::string_view key, bool required = false);
  std::optional<long long> integer(std::string_view key, long long min = 0, long long max = 1'000'000'000);
  std::optional<bool> boolean(std::string_view key);
  // A duration of at least `min` (Millis(1): zero is refused) and at most kMaxDuration.
  std::optional<Millis> duration(std::string_view key, Millis min = Millis(0));
  // lock_timeout / statement_timeout: PostgreSQL reads 0 as "no timeout", so "0s" is refused; with allow_none,
  // "none" is accepted and read as Millis(0). At most kMaxPgTimeout.
  std::optional<Millis> timeout(std::string_view key, bool allow_none);
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
