// init, new, validate: files only, never a database.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "phasegate/lint.hpp"

namespace phasegate::cli {

int cmd_init(const Global& g, const std::string& name) {
  auto made = scaffold_project(g.dir.empty() ? "." : g.dir, name);
  if (!made) return report(g, made.error());
  if (g.json) print_json({{"ok", true}, {"created", *made}});
  else
    for (const auto& f : *made) std::cout << "created " << f << "\n";
  if (!g.json) std::cout << "next: set DATABASE_URL, edit plans/0001-example.toml, then phasegate validate\n";
  return 0;
}

int cmd_new(const Global& g, const std::string& name) {
  auto file = project_file(g);
  if (!file) return report(g, Error{Exit::invalid, "no phasegate.toml here or in a parent; run phasegate init first"});
  Diagnostics diags;
  auto project = load_project(*file, diags);
  if (!project || !diags.empty()) {
    print_diagnostics(g, diags);
    return static_cast<int>(Exit::invalid);
  }
  auto made = scaffold_plan(*project, name);
  if (!made) return report(g, made.error());
  if (g.json) print_json({{"ok", true}, {"created", *made}});
  else std::cout << "created " << *made << "\n";
  return 0;
}

int cmd_validate(const Global& g, const std::vector<std::string>& plans) {
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  auto selected = select_plans(*loaded, plans);
  if (!selected) return report(g, selected.error());
  const std::vector<const Plan*>& chosen = *selected;
  size_t steps = 0;
  nlohmann::json list = nlohmann::json::array();
  lint::Summary lint_summary;  // the same analysis run uses; lint's findings do not make the files invalid
  for (const Plan* p : chosen) {
    (void)lint::lint_units(lint::units_of_plan(*p), lint_summary, nullptr,
                           {loaded->project.lint.enable.begin(), loaded->project.lint.enable.end()});
    steps += p->steps().size();
    list.push_back({{"plan", p->id}, {"file", p->file}, {"steps", p->steps().size()}});
  }
  if (g.json)
    print_json({{"ok", true}, {"exit", 0}, {"problems", nlohmann::json::array()}, {"plans", list},
                {"lint", {{"errors", lint_summary.errors}, {"warnings", lint_summary.warnings}}}});
  else
    std::cout << "ok: " << loaded->project.file << " and " << chosen.size() << " plan" << (chosen.size() == 1 ? "" : "s")
              << " (" << steps << " steps) are valid\n"
              << "lint: " << lint_summary.errors << " errors, " << lint_summary.warnings << " warnings"
              << (lint_summary.errors ? " (run refuses error-level findings; phasegate lint shows them)" : "") << "\n";
  return 0;
}

}  // namespace phasegate::cli
