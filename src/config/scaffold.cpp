// `phasegate init` and `phasegate new NAME`.
#include <filesystem>
#include <fstream>
#include <regex>

#include "phasegate/config.hpp"

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

std::string fill(std::string text, const std::string& name) {
  return std::regex_replace(text, std::regex(R"(\{NAME\})"), name);
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
  std::string project_name = name.empty() ? fs::absolute(root).filename().string() : name;
  if (auto r = write_new_file(root / "phasegate.toml", fill(kProjectTemplate, project_name)); !r) return std::unexpected(r.error());
  if (auto r = write_new_file(root / "plans" / "0001-example.toml", fill(kPlanTemplate, "example plan")); !r)
    return std::unexpected(r.error());
  return std::vector<std::string>{(root / "phasegate.toml").string(), (root / "plans/0001-example.toml").string(),
                                  (root / "hooks").string() + "/"};
}

Result<std::string> scaffold_plan(const Project& project, const std::string& name) {
  static const std::regex valid("^[a-z0-9][a-z0-9_-]*$");
  if (!std::regex_match(name, valid))
    return fail(Exit::invalid, "plan name \"" + name + "\" must be lowercase letters, digits, '-' or '_'");
  fs::path dir = fs::path(project.root) / project.plans_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  int next = 1;
  static const std::regex numbered(R"(^(\d{4})-.*\.toml$)");
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    std::string fname = e.path().filename().string();
    if (std::regex_match(fname, m, numbered)) next = std::max(next, std::stoi(m[1]) + 1);
  }
  char prefix[8];
  std::snprintf(prefix, sizeof prefix, "%04d", next);
  fs::path file = dir / (std::string(prefix) + "-" + name + ".toml");
  if (auto r = write_new_file(file, fill(kPlanTemplate, name)); !r) return std::unexpected(r.error());
  return file.string();
}

}  // namespace phasegate
