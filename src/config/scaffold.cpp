// `phasegate init` and `phasegate new NAME`.
#include <filesystem>
#include <fstream>
#include <regex>
#include <unistd.h>
#include <algorithm>

#include "phasegate/config.hpp"
#include "phasegate/recipe.hpp"
#include "phasegate/text.hpp"

namespace fs = std::filesystem;

namespace phasegate {

namespace {

constexpr const char* kProjectTemplate = R"(# phasegate project config — see docs/plan-format.md
[project]
name = "{NAME}"
plans_dir = "plans"
state_schema = "phasegate"

[database]
url_env = "DATABASE_URL"       # libpq conninfo or URI read from this variable

[guards]
windows = []                   # names of [windows.*]; empty = no window guard
approvals = 0                  # distinct approvers needed; 0 disables
lock_timeout = "2s"
statement_timeout = "30m"
lock_retries = 8

[rollback]
on_failure = "rollback"
)";

constexpr const char* kPlanTemplate = R"([plan]
description = "{NAME}"
# release = "v1.2.3"

[expand]                       # additive, backward-compatible changes; old code keeps working
[[expand.steps]]
name = "add column"
sql = "ALTER TABLE example ADD COLUMN note text"
down = "ALTER TABLE example DROP COLUMN note"

# [migrate]                    # data changes in small transactions
# [[migrate.steps]]
# name = "backfill note"
# backfill = { table = "example", set = "note = ''", where = "note IS NULL", batch_rows = 5000 }

# [contract]                   # destructive clean-up once no old code runs; starts only on --phase contract
# [[contract.steps]]
# name = "drop old column"
# sql = "ALTER TABLE example DROP COLUMN old_note"
# irreversible = true
)";

// `name` inside a TOML basic string: a directory may be called anything, even `a "quoted" \ name`.
std::string fill(const std::string& text, const std::string& name) {
  std::string escaped;
  for (unsigned char c : name) {
    if (c == '"' || c == '\\') escaped += '\\';
    if (c < 0x20 || c == 0x7f) escaped += ' ';
    else escaped += static_cast<char>(c);
  }
  std::string out = text;
  for (size_t at; (at = out.find("{NAME}")) != std::string::npos;) out.replace(at, 6, escaped);
  return out;
}

// The directory's own name: "." and "dir/" have none of their own, so ask the file system.
std::string directory_name(const fs::path& root) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(root, ec), ec);
  if (ec) p = fs::absolute(root).lexically_normal();
  if (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  std::string n = p.filename().string();
  return n.empty() || n == "." || n == ".." ? "project" : n;
}

// plans/NNNN-NAME.toml with the next free number. Refused: a bad name, or a plan of that name already there
// (two plans named alike would differ only in their number; pick another name or edit that plan).
Result<fs::path> next_plan_file(const Project& project, const std::string& name) {
  static const std::regex valid("^[a-z0-9][a-z0-9_-]*$");
  if (!std::regex_match(name, valid))
    return fail(Exit::invalid, "plan name \"" + name + "\" must be lowercase letters, digits, '-' or '_'");
  fs::path dir = fs::path(project.root) / project.plans_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  int next = 1;
  static const std::regex numbered(R"(^(\d{4,})-(.*)\.toml$)");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  for (const auto& fname : files) {
    std::smatch m;
    if (!std::regex_match(fname, m, numbered)) continue;
    if (m[2] == name)
      return fail(Exit::invalid, (dir / fname).string() + " is already a plan named \"" + name +
                                     "\"; nothing was changed (choose another name, or edit that plan)");
    if (m[1].length() <= 6) next = std::max(next, std::stoi(m[1]) + 1);
  }
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "%04d", next);
  return dir / (std::string(prefix) + "-" + name + ".toml");
}

Result<void> write_new_file(const fs::path& path, const std::string& text) {
  std::error_code ec;
  if (fs::exists(path, ec)) return fail(Exit::invalid, path.string() + " already exists; nothing was changed");
  std::ofstream out(path);
  out << text;
  if (!out) return fail(Exit::invalid, "cannot write " + path.string());
  return {};
}

}  // namespace

Result<std::vector<std::string>> scaffold_project(const std::string& dir, const std::string& name) {
  fs::path root(dir);
  std::error_code ec;
  if (fs::exists(root / "phasegate.toml", ec))
    return fail(Exit::invalid, (root / "phasegate.toml").string() + " already exists; nothing was changed");
  fs::create_directories(root / "plans", ec);
  fs::create_directories(root / "hooks", ec);
  if (ec) return fail(Exit::invalid, "cannot create directories in " + root.string() + ": " + ec.message());
  std::string project_name = name.empty() ? directory_name(root) : name;
  if (auto r = write_new_file(root / "phasegate.toml", fill(kProjectTemplate, project_name)); !r) return std::unexpected(r.error());
  if (auto r = write_new_file(root / "plans" / "0001-example.toml", fill(kPlanTemplate, "example plan")); !r)
    return std::unexpected(r.error());
  return std::vector<std::string>{(root / "phasegate.toml").string(), (root / "plans/0001-example.toml").string(),
                                  (root / "hooks").string() + "/"};
}

Result<std::string> scaffold_plan(const Project& project, const std::string& name) {
  auto file = next_plan_file(project, name);
  if (!file) return std::unexpected(file.error());
  if (auto r = write_new_file(*file, fill(kPlanTemplate, name)); !r) return std::unexpected(r.error());
  return file->string();
}

Result<std::string> scaffold_recipe_plan(const Project& project, const std::string& name, const recipe::Recipe& r,
                                         const std::map<std::string, std::string>& values, const std::string& command) {
  auto file = next_plan_file(project, name);
  if (!file) return std::unexpected(file.error());
  auto text = recipe::instantiate(r, values, command);
  if (!text) return std::unexpected(text.error());
  // Loaded and validated as `validate` would, from a private copy: a value that makes bad SQL (a misspelt
  // type) is reported at the would-be file's line:column and nothing is written.
  std::error_code ec;
  fs::path scratch = fs::temp_directory_path(ec) / ("phasegate-new-" + std::to_string(::getpid()));
  fs::create_directories(scratch, ec);
  fs::path copy = scratch / file->filename();
  Diagnostics diags;
  {
    std::ofstream out(copy);
    out << *text;
  }
  if (auto plan = load_plan(copy.string(), diags)) validate_plan(project, *plan, diags);
  fs::remove_all(scratch, ec);
  if (!diags.empty()) {
    std::vector<std::string> lines;
    for (auto d : diags) {
      if (d.pos.file == copy.string()) d.pos.file = file->string();
      lines.push_back(d.str());
    }
    return fail(Exit::invalid, "recipe " + r.name + " with these values does not make a valid plan (nothing was written):\n" +
                                   join(lines, "\n"));
  }
  if (auto w = write_new_file(*file, *text); !w) return std::unexpected(w.error());
  return file->string();
}

}  // namespace phasegate
