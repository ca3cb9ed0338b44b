#include "config/toml_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <regex>
#include <sstream>

#include "phasegate/text.hpp"

namespace phasegate::config {

SourcePos pos_of(const std::string& file, const toml::node& node) {
  const auto& src = node.source();
  return SourcePos{file, static_cast<int>(src.begin.line), static_cast<int>(src.begin.column)};
}

std::optional<std::string> read_regular_file(const std::string& file, Diagnostics& diags) {
  auto refuse = [&](const std::string& why) -> std::optional<std::string> {
    diags.push_back({SourcePos{file, 0, 0}, why});
    return std::nullopt;
  };
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    int err = errno;
    struct stat link {};
    if (err == ENOENT && ::lstat(file.c_str(), &link) == 0 && S_ISLNK(link.st_mode))
      return refuse("is a dangling symlink (what it points to does not exist)");
    return refuse(std::string("cannot read: ") + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) return refuse("is a directory, not a file");
  if (S_ISFIFO(st.st_mode)) return refuse("is a FIFO (named pipe), not a file");
  if (!S_ISREG(st.st_mode)) return refuse("is not a regular file (a device or a socket)");
  // O_NONBLOCK: should the path have become a FIFO since stat, open() does not wait for a writer.
  int fd = ::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return refuse(std::string("cannot read: ") + std::strerror(errno));
  std::string text;
  bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  char buf[65536];
  for (ssize_t n; regular && (n = ::read(fd, buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return refuse(std::string("cannot read: ") + std::strerror(err));
    }
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (!regular) return refuse("is not a regular file");
  return text;
}

std::optional<toml::table> parse_toml_file(const std::string& file, Diagnostics& diags, std::string* text) {
  auto bytes = read_regular_file(file, diags);
  if (!bytes) return std::nullopt;
  try {
    auto table = toml::parse(*bytes, file);
    if (text) *text = std::move(*bytes);
    return table;
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    std::string what(e.description());
    diags.push_back({SourcePos{file, static_cast<int>(b.line), static_cast<int>(b.column)},
                     "invalid TOML: " + what});
  }
  return std::nullopt;
}

std::optional<std::string> name_problem(std::string_view name) {
  if (trim(name).empty()) return std::string(name.empty() ? "must not be empty" : "must not be blank");
  for (size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    bool c1 = c == 0xC2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) >= 0x80 &&
              static_cast<unsigned char>(name[i + 1]) <= 0x9F;  // U+0080..U+009F in UTF-8
    if (c < 0x20 || c == 0x7F || c1) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "%04X", c1 ? static_cast<unsigned char>(name[i + 1]) : c);
      return "must not contain control characters (U+" + std::string(hex) + " at character " + std::to_string(i + 1) + ")";
    }
  }
  return std::nullopt;
}

namespace {
// A NUL inside a string reaches libpq, libpg_query and execve as the end of the string: whatever follows would
// be dropped silently, so it is refused.
void check_nul(TableReader& r, std::string_view key, const std::string& value, const std::string& what) {
  if (auto at = value.find('\0'); at != std::string::npos)
    r.error(r.pos(key), what + " contains a NUL byte (\\u0000) at character " + std::to_string(at + 1) +
                            "; PostgreSQL and the operating system would cut the string there");
}
}  // namespace

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
  if (auto v = n->value<std::string>(); v && n->is_string()) {
    check_nul(*this, key, *v, "\"" + where_ + (where_.empty() ? "" : ".") + std::string(key) + "\"");
    return *v;
  }
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
    error(pos(key), '"' + std::string(key) + "\" must be between " + std::to_string(min) + " and " +
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

std::optional<Millis> TableReader::duration(std::string_view key, Millis min) {
  const auto* n = lookup(key);
  if (!n) return std::nullopt;
  if (!n->is_string()) {
    type_error(key, "a duration string like \"250ms\", \"2s\", \"30m\", \"2h\"");
    return std::nullopt;
  }
  auto text = n->as_string()->get();
  auto d = parse_duration(text);
  static const std::regex well_formed(R"(^(\d+(ms|s|min|m|h|d))+$)");
  if (!d && text.size() <= 200 && std::regex_match(text, well_formed))  // bounded: std::regex recurses per character
    error(pos(key), "duration \"" + text + "\" for \"" + std::string(key) + "\" is longer than the " +
                        format_duration(kMaxDuration) + " phasegate accepts");
  else if (!d)
    error(pos(key), "invalid duration \"" + text + "\" for \"" + std::string(key) +
                        "\" (use a number with ms, s, m, h or d, e.g. \"250ms\", \"1h30m\")");
  else if (*d < min)
    error(pos(key), "\"" + std::string(key) + "\" must be " + (min == Millis(1) ? "more than 0" : "at least " + format_duration(min)) +
                        ", got \"" + text + "\"");
  if (d && *d < min) return std::nullopt;
  return d;
}

std::optional<Millis> TableReader::timeout(std::string_view key, bool allow_none) {
  const auto* n = lookup(key);
  if (!n) return std::nullopt;
  const std::string k(key);
  if (n->is_string() && n->as_string()->get() == "none") {
    if (allow_none) return Millis(0);  // SET LOCAL lock_timeout = '0ms': PostgreSQL's "no timeout"
    error(pos(key), "\"" + k + "\" cannot be \"none\": phasegate bounds every statement with it, and command steps "
                    "and rollbacks too; write a generous limit such as \"24h\"");
    return std::nullopt;
  }
  auto d = duration(key);
  if (!d) return d;
  if (*d == Millis(0)) {
    if (allow_none)
      error(pos(key), k + " = \"" + n->as_string()->get() + "\" would disable the lock timeout (PostgreSQL reads 0 as no "
                      "timeout): a step could wait for its lock forever while every query on the table queues behind it. "
                      "Write " + k + " = \"none\" if you really want no timeout");
    else
      error(pos(key), k + " = \"" + n->as_string()->get() + "\" would disable the statement timeout (PostgreSQL reads 0 as "
                      "no timeout); phasegate also bounds command steps and rollbacks with it: write a generous limit such as \"24h\"");
    return std::nullopt;
  }
  if (*d > kMaxPgTimeout) {
    error(pos(key), k + " = \"" + n->as_string()->get() + "\" is above PostgreSQL's limit of " + format_duration(kMaxPgTimeout) +
                        " (2147483647ms)");
    return std::nullopt;
  }
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
    check_nul(*this, key, out.back(), "an item of \"" + where_ + (where_.empty() ? "" : ".") + std::string(key) + "\"");
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
