// init, new, validate: files only, never a database.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/output.hpp"
#include "phasegate/lint.hpp"
#include "phasegate/recipe.hpp"
#include "phasegate/text.hpp"

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

namespace {

// Where recipes are looked up, first match wins: $PHASEGATE_RECIPES_DIR; the installed share/phasegate/recipes
// next to the binary's bin/; the source tree the binary was built from (PHASEGATE_SOURCE_DIR/plans).
std::vector<std::string> recipe_dirs() {
  if (const char* env = std::getenv("PHASEGATE_RECIPES_DIR"); env && *env) return {env};
  std::vector<std::string> dirs;
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) dirs.push_back((std::filesystem::path(std::string(exe, static_cast<size_t>(n))).parent_path().parent_path() /
                             "share/phasegate/recipes").string());
#ifdef PHASEGATE_SOURCE_DIR
  dirs.push_back(std::string(PHASEGATE_SOURCE_DIR) + "/plans");
#endif
  return dirs;
}

Result<recipe::Recipe> load_recipe(const std::string& name) {
  auto dirs = recipe_dirs();
  auto found = recipe::find_all(dirs);
  if (found.empty())
    return fail(Exit::invalid, std::getenv("PHASEGATE_RECIPES_DIR") && *std::getenv("PHASEGATE_RECIPES_DIR")
                                   ? "PHASEGATE_RECIPES_DIR=" + dirs.front() + " holds no recipes (*.toml)"
                                   : "no recipes found (looked in " + join(dirs, ", ") + "); set PHASEGATE_RECIPES_DIR");
  auto it = found.find(name);
  if (it == found.end()) {
    std::vector<std::string> names;
    for (const auto& [n, _] : found) names.push_back(n);
    std::string hint = did_you_mean(name, names);
    return fail(Exit::invalid, "unknown recipe \"" + name + "\"" + (hint.empty() ? "" : " (did you mean \"" + hint + "\"?)") +
                                   "; recipes: " + join(names, ", "));
  }
  std::ifstream in(it->second, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return fail(Exit::invalid, "cannot read recipe " + it->second);
  return recipe::parse(name, it->second, text.str());
}

// KEY=VALUE pairs of --set; a repeated key or one without '=' is refused.
Result<std::map<std::string, std::string>> parse_sets(const std::vector<std::string>& sets) {
  std::map<std::string, std::string> values;
  for (const auto& s : sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) return fail(Exit::invalid, "--set \"" + s + "\": write KEY=VALUE");
    if (!values.emplace(s.substr(0, eq), s.substr(eq + 1)).second)
      return fail(Exit::invalid, "--set " + s.substr(0, eq) + " is given twice");
  }
  return values;
}

}  // namespace

int cmd_new(const Global& g, const std::string& name, const std::string& recipe_name, const std::vector<std::string>& sets) {
  if (recipe_name.empty() && !sets.empty()) return report(g, Error{Exit::invalid, "--set needs --recipe"});
  auto file = project_file(g);
  if (!file) return report(g, Error{Exit::invalid, "no phasegate.toml here or in a parent; run phasegate init first"});
  Diagnostics diags;
  auto project = load_project(*file, diags);
  if (!project || !diags.empty()) {
    print_diagnostics(g, diags);
    return static_cast<int>(Exit::invalid);
  }
  Result<std::string> made = fail(Exit::internal, "");
  if (recipe_name.empty()) made = scaffold_plan(*project, name);
  else {
    auto r = load_recipe(recipe_name);
    if (!r) return report(g, r.error());
    auto values = parse_sets(sets);
    if (!values) return report(g, values.error());
    std::string command = "phasegate new " + name + " --recipe " + recipe_name;
    for (const auto& s : sets) command += " --set " + recipe::quote_literal(s);
    made = scaffold_recipe_plan(*project, name, *r, *values, command);
  }
  if (!made) return report(g, made.error());
  if (g.json) print_json({{"ok", true}, {"created", *made}, {"recipe", recipe_name}});
  else std::cout << "created " << *made << (recipe_name.empty() ? "" : " from recipe " + recipe_name) << "\n";
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
