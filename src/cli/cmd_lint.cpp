// lint [PLAN|FILE.sql ...] [--format text|json|github|gitlab]: SPEC §4. Exit 0, 3 (error findings) or 2 (does not parse).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/lint_formats.hpp"
#include "cli/output.hpp"
#include "phasegate/adapters.hpp"
#include "phasegate/lint.hpp"

namespace fs = std::filesystem;

namespace phasegate::cli {

namespace {

// Lines of each source, split once (a 20,000-statement file has as many findings).
class SourceLines {
 public:
  explicit SourceLines(const std::map<std::string, std::string_view>& sources) : sources_(sources) {}
  std::string line(const std::string& file, int n) {
    auto it = split_.find(file);
    if (it == split_.end()) {
      std::vector<std::string> lines;
      auto src = sources_.find(file);
      if (src != sources_.end()) {
        std::string_view text = src->second;
        for (size_t at = 0; at < text.size();) {
          size_t end = text.find('\n', at);
          if (end == std::string_view::npos) end = text.size();
          lines.emplace_back(text.substr(at, end - at));
          at = end + 1;
        }
      }
      it = split_.emplace(file, std::move(lines)).first;
    }
    return n >= 1 && static_cast<size_t>(n) <= it->second.size() ? it->second[static_cast<size_t>(n - 1)] : "";
  }

 private:
  const std::map<std::string, std::string_view>& sources_;
  std::map<std::string, std::vector<std::string>> split_;
};

void print_text(const Global& g, const std::vector<lint::Finding>& findings, const lint::Summary& s,
                const std::map<std::string, std::string_view>& sources) {
  SourceLines lines(sources);
  for (const auto& f : findings) {
    const char* colour = f.level == "error" ? "31" : f.level == "warning" ? "33" : "36";
    std::cout << paint(g, "1", f.pos.str()) << ": " << paint(g, colour, f.level + "[" + f.rule + "]") << ": " << f.message << "\n";
    if (f.pos.line > 0) {
      std::cout << "  " << lines.line(f.pos.file, f.pos.line) << "\n";
      std::cout << "  " << std::string(static_cast<size_t>(std::max(0, f.pos.column - 1)), ' ') << paint(g, colour, "^") << "\n";
    }
    if (!f.lock.empty()) std::cout << "  lock: " << f.lock << " (blocks " << f.blocks << ")\n";
    if (!f.help.empty()) std::cout << "  " << paint(g, "32", "help") << ": " << f.help << "\n";
  }
  std::cout << s.errors << " errors, " << s.warnings << " warnings" << (s.infos ? ", " + std::to_string(s.infos) + " infos" : "")
            << " in " << s.statements << " statements (" << s.files
            << (s.files == 1 ? " file" : " files") << ")\n";
}

// Streamed rather than built as a DOM, and written in pieces of ~64 KiB: a 20,000-statement corpus has as many
// findings, and the whole document in one string was ~10 MiB of the peak memory (bench/lint).
void print_json_findings(const std::vector<lint::Finding>& findings, const lint::Summary& s) {
  constexpr size_t kPiece = 64 * 1024;
  std::string out = "{\"findings\": [";
  out.reserve(kPiece + 4096);
  auto q = [&out](const std::string& v) { append_json_string(out, v); };
  for (size_t i = 0; i < findings.size(); ++i) {
    const auto& f = findings[i];
    out += (i ? ",\n  " : "\n  ");
    out += "{\"rule\": ";
    q(f.rule);
    out += ", \"level\": ";
    q(f.level);
    out += ", \"file\": ";
    q(f.pos.file);
    out += ", \"line\": ";
    out += std::to_string(f.pos.line);
    out += ", \"column\": ";
    out += std::to_string(f.pos.column);
    out += ", \"statement\": ";
    q(f.statement);
    out += ", \"lock\": ";
    q(f.lock);
    out += ", \"blocks\": ";
    q(f.blocks);
    out += ", \"message\": ";
    q(f.message);
    out += ", \"help\": ";
    q(f.help);
    out += "}";
    if (out.size() >= kPiece) {
      std::cout << out;
      out.clear();
    }
  }
  out += "\n], \"summary\": {\"errors\": " + std::to_string(s.errors) + ", \"warnings\": " + std::to_string(s.warnings) +
         ", \"infos\": " + std::to_string(s.infos) + ", \"statements\": " + std::to_string(s.statements) +
         ", \"files\": " + std::to_string(s.files) + "}}\n";
  print_json_text(std::move(out));  // main adds "ok" and "exit" (output.hpp)
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int cmd_lint(const Global& g, const std::vector<std::string>& targets, const std::string& format, bool with_db,
             const std::vector<std::string>& enable_args) {
  std::set<std::string> enable;  // --enable and the project's [lint] enable
  for (const auto& id : enable_args) {
    if (auto why = lint::enable_problem(id)) return report(g, Error{Exit::invalid, "--enable: " + *why});
    enable.insert(id);
  }
  std::vector<std::vector<lint::Unit>> groups;  // one History per plan or file
  std::map<std::string, std::string_view> sources;  // what text-format findings quote a line of: no copies
  std::vector<std::string> plan_args;
  for (const auto& t : targets) {
    if (t.size() > 4 && t.ends_with(".sql")) {
      auto text = read_file(t);
      if (!text) return report(g, Error{Exit::invalid, "cannot read " + t});
      groups.emplace_back().push_back(lint::unit_of_sql_file(t, std::move(*text)));
    } else {
      plan_args.push_back(t);
    }
  }
  std::optional<Loaded> loaded;
  if (!plan_args.empty() || targets.empty()) {
    auto l = load_all(g);
    if (!l) return l.error();
    loaded = std::move(*l);
    enable.insert(loaded->project.lint.enable.begin(), loaded->project.lint.enable.end());
    auto selected = select_plans(*loaded, plan_args);
    if (!selected) return report(g, selected.error());
    for (const Plan* p : *selected) {
      sources[p->file] = p->source;
      groups.push_back(lint::units_of_plan(*p));
    }
  }
  std::optional<lint::Catalog> catalog;
  if (with_db) {
    Project fallback;
    const Project& project = loaded ? loaded->project : fallback;
    std::string url = getenv_or(project.url_env.c_str(), project.url);
    if (url.empty()) return report(g, Error{Exit::invalid, "lint --db needs the target database: set " + project.url_env});
    std::set<std::string> tables, functions, dml;
    for (const auto& units : groups) {
      auto t = lint::tables_of(units);
      tables.insert(t.begin(), t.end());
      auto f = lint::default_functions_of(units);
      functions.insert(f.begin(), f.end());
      auto d = lint::dml_statements_of(units);
      dml.insert(d.begin(), d.end());
    }
    auto c = lint::read_catalog(url, tables, functions, dml);
    if (!c) return report(g, c.error());
    catalog = std::move(*c);
  }
  lint::Summary summary;
  std::vector<lint::Finding> findings;
  for (const auto& units : groups) {
    auto f = lint::lint_units(units, summary, catalog ? &*catalog : nullptr, enable);
    if (findings.empty()) findings = std::move(f);
    else findings.insert(findings.end(), std::make_move_iterator(f.begin()), std::make_move_iterator(f.end()));
  }
  summary.files = static_cast<int>(groups.size());
  bool syntax = std::any_of(findings.begin(), findings.end(), [](const lint::Finding& f) { return f.rule == "syntax-error"; });
  if (format == "json") print_json_findings(findings, summary);
  else if (format == "github") print_github(findings, summary);
  else if (format == "gitlab") print_gitlab(findings);
  else {
    for (const auto& units : groups)  // built now: groups no longer grows, so the units' texts stay where they are
      if (units.size() == 1 && units[0].sql_file) sources[units[0].file] = units[0].text;
    print_text(g, findings, summary, sources);
  }
  if (syntax) return static_cast<int>(Exit::invalid);
  return summary.errors > 0 ? static_cast<int>(Exit::lint) : 0;
}

}  // namespace phasegate::cli
