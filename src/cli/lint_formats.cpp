// lint --format github | gitlab (docs/ci.md).
#include "cli/lint_formats.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>

#include "phasegate/sql.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

namespace {

// GitHub's escaping of workflow command data (actions/toolkit's escapeData) and properties (escapeProperty).
std::string gh_escape(const std::string& v, bool property) {
  std::string out;
  for (char c : v) {
    if (c == '%') out += "%25";
    else if (c == '\r') out += "%0D";
    else if (c == '\n') out += "%0A";
    else if (property && c == ':') out += "%3A";
    else if (property && c == ',') out += "%2C";
    else out += c;
  }
  return out;
}

// A Markdown table cell: one line, pipes escaped.
std::string md_cell(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

void write_step_summary(const std::vector<lint::Finding>& findings, const lint::Summary& s) {
  const char* path = std::getenv("GITHUB_STEP_SUMMARY");
  if (!path || !*path) return;
  std::ofstream out(path, std::ios::app);
  out << "### phasegate lint\n\n"
      << s.errors << " errors, " << s.warnings << " warnings, " << s.infos << " infos in " << s.statements << " statements ("
      << s.files << (s.files == 1 ? " file" : " files") << ")\n\n";
  if (!findings.empty()) {
    out << "| level | rule | where | finding |\n|---|---|---|---|\n";
    for (const auto& f : findings)
      out << "| " << f.level << " | `" << md_cell(f.rule) << "` | " << md_cell(f.pos.str()) << " | " << md_cell(f.message) << " |\n";
  }
  out << "\n";
  if (!out) std::cerr << "phasegate: cannot append to GITHUB_STEP_SUMMARY (" << path << "); the annotations are printed anyway\n";
}

const char* gitlab_severity(const std::string& level) {
  return level == "error" ? "major" : level == "warning" ? "minor" : "info";
}

}  // namespace

void append_json_string(std::string& out, const std::string& v) {
  out += '"';
  size_t run = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(v, run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      }
    }
  }
  out.append(v, run, v.size() - run);
  out += '"';
}

void print_github(const std::vector<lint::Finding>& findings, const lint::Summary& summary) {
  for (const auto& f : findings)
    std::cout << "::" << (f.level == "info" ? "notice" : f.level) << " file=" << gh_escape(f.pos.file, true)
              << ",line=" << f.pos.line << ",col=" << f.pos.column << ",title=" << gh_escape(f.rule, true)
              << "::" << gh_escape(f.message, false) << "\n";
  write_step_summary(findings, summary);
}

void print_gitlab(const std::vector<lint::Finding>& findings) {
  std::string out = "[";
  std::map<std::string, int> seen;  // equal rule+file+statement: ranked in file order
  for (size_t i = 0; i < findings.size(); ++i) {
    const auto& f = findings[i];
    std::string key = f.rule + '\x1f' + f.pos.file + '\x1f' + sql::canonical_tokens(f.statement).value_or(f.statement);
    std::string fingerprint = sha256_hex(key + '\x1f' + std::to_string(seen[key]++));
    out += i ? ",\n  " : "\n  ";
    out += "{\"description\": ";
    append_json_string(out, valid_utf8(f.message + (f.help.empty() ? "" : " Fix: " + f.help)));
    out += ", \"check_name\": ";
    append_json_string(out, f.rule);
    out += ", \"fingerprint\": \"" + fingerprint + "\", \"severity\": \"" + gitlab_severity(f.level) + "\", \"location\": {\"path\": ";
    append_json_string(out, valid_utf8(f.pos.file));
    out += ", \"lines\": {\"begin\": " + std::to_string(std::max(1, f.pos.line)) + "}}}";
  }
  out += findings.empty() ? "]\n" : "\n]\n";
  std::cout << out;
}

}  // namespace phasegate::cli
