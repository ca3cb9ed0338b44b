// Cross-checks after loading: references, hooks, SQL syntax. Reports every problem, touches no database.
#include <unistd.h>

#include <filesystem>
#include <set>

#include "phasegate/config.hpp"
#include "phasegate/sql.hpp"
#include "phasegate/text.hpp"

namespace fs = std::filesystem;

namespace phasegate {

namespace {

std::vector<std::string> keys_of(const auto& map) {
  std::vector<std::string> out;
  for (const auto& [k, v] : map) out.push_back(k);
  return out;
}

void check_reference(const std::string& kind, const std::string& name, const std::vector<std::string>& known,
                     const SourcePos& at, Diagnostics& diags) {
  for (const auto& k : known)
    if (k == name) return;
  std::string msg = "unknown " + kind + " \"" + name + "\"";
  auto hint = did_you_mean(name, known);
  if (!hint.empty()) msg += " (did you mean \"" + hint + "\"?)";
  else if (known.empty()) msg += " (none is defined in phasegate.toml)";
  else msg += " (defined: " + join(known, ", ") + ")";
  diags.push_back({at, msg});
}

// argv[0] must be an executable file: relative paths are resolved against the project root,
// bare names against PATH.
void check_executable(const Project& project, const std::vector<std::string>& argv, const std::string& what,
                      const SourcePos& at, Diagnostics& diags) {
  if (argv.empty()) return;
  const std::string& exe = argv[0];
  std::error_code ec;
  if (exe.find('/') == std::string::npos) {
    const char* path = std::getenv("PATH");
    std::stringstream ss(path ? path : "");
    std::string dir;
    while (std::getline(ss, dir, ':'))
      if (!dir.empty() && ::access((fs::path(dir) / exe).c_str(), X_OK) == 0) return;
    diags.push_back({at, what + ": \"" + exe + "\" is not found on PATH"});
    return;
  }
  fs::path p = fs::path(exe).is_absolute() ? fs::path(exe) : fs::path(project.root) / exe;
  if (!fs::exists(p, ec)) diags.push_back({at, what + ": hook " + exe + " does not exist (looked at " + p.string() + ")"});
  else if (!fs::is_regular_file(p, ec)) diags.push_back({at, what + ": hook " + exe + " is not a file"});
  else if (::access(p.c_str(), X_OK) != 0)
    diags.push_back({at, what + ": hook " + exe + " is not executable (chmod +x " + exe + ")"});
}

void check_sql(const Plan& plan, const std::string& text, const SourcePos& at, const std::string& what,
               Diagnostics& diags, const Step& step) {
  if (text.empty()) return;
  auto parsed = sql::parse(text);
  if (parsed.error) {
    diags.push_back({locate_in_string(plan.source, at, parsed.error->offset),
                     what + " of step \"" + step.name + "\": " + parsed.error->message});
    return;
  }
  const auto& script = *parsed.script;
  if (script.statements.empty()) {
    diags.push_back({at, what + " of step \"" + step.name + "\" holds no statement"});
    return;
  }
  for (const auto& st : script.statements) {
    if (st.transaction_control)
      diags.push_back({locate_in_string(plan.source, at, st.offset),
                       what + " of step \"" + step.name + "\": remove BEGIN/COMMIT/ROLLBACK; phasegate runs each step in "
                       "its own transaction (set transaction = false to run it outside one)"});
  }
  if (what == "sql" && step.transaction.value_or(false) && !script.allowed_in_transaction()) {
    for (const auto& st : script.statements)
      if (!st.allowed_in_transaction)
        diags.push_back({locate_in_string(plan.source, at, st.offset),
                         "step \"" + step.name + "\" has transaction = true but this statement cannot run inside a "
                         "transaction block (" + st.node + ")"});
  }
  if (what == "check" && (script.statements.size() != 1 || script.statements[0].node != "SelectStmt"))
    diags.push_back({at, "check of step \"" + step.name + "\" must be one SELECT returning a boolean"});
}

void check_backfill(const Plan& plan, const Step& step, Diagnostics& diags) {
  const auto& b = *step.backfill;
  std::string stmt = "UPDATE " + sql::quote_ident(b.table) + " SET " + b.set;
  if (!b.where.empty()) stmt += " WHERE " + b.where;
  auto parsed = sql::parse(stmt);
  if (parsed.error)
    diags.push_back({step.pos, "backfill of step \"" + step.name + "\": \"" + stmt + "\" does not parse: " + parsed.error->message});
  else if (parsed.script->statements.size() != 1)
    diags.push_back({step.pos, "backfill of step \"" + step.name + "\": set/where must not contain ';'"});
  (void)plan;
}

}  // namespace

void validate_project(const Project& project, Diagnostics& diags) {
  auto windows = keys_of(project.windows);
  if (project.guards.windows)
    for (const auto& w : *project.guards.windows) check_reference("window", w, windows, project.guards.pos, diags);
  if (project.guards.approvals.value_or(0) > 0 && !project.approvals)
    diags.push_back({project.guards.pos, "guards.approvals > 0 needs an [approvals] table with allowed_signers"});
  if (project.approvals) {
    std::error_code ec;
    fs::path p = fs::path(project.root) / project.approvals->allowed_signers;
    if (!project.approvals->allowed_signers.empty() && !fs::exists(p, ec))
      diags.push_back({project.approvals->pos, "approvals.allowed_signers: " + p.string() + " does not exist"});
  }
  for (const auto& [name, s] : project.services) {
    check_executable(project, s.restart, "services." + name + ".restart", s.pos, diags);
    if (s.health) check_executable(project, s.health->command, "services." + name + ".health", s.pos, diags);
    if (s.health && !s.health->sql.empty() && sql::parse(s.health->sql).error)
      diags.push_back({s.pos, "services." + name + ".health.sql does not parse: " + sql::parse(s.health->sql).error->message});
  }
  for (const auto& [name, s] : project.smoke) {
    check_executable(project, s.command, "smoke." + name, s.pos, diags);
    if (!s.sql.empty() && sql::parse(s.sql).error)
      diags.push_back({s.pos, "smoke." + name + ".sql does not parse: " + sql::parse(s.sql).error->message});
  }
  if (project.rollback.master)
    check_executable(project, project.rollback.master->command, "rollback.master", SourcePos{project.file, 0, 0}, diags);
  for (const auto& [name, n] : project.notify) check_executable(project, n.command, "notify." + name, n.pos, diags);
  if (project.guards.throttle_query && sql::parse(*project.guards.throttle_query).error)
    diags.push_back({project.guards.pos, "guards.throttle_query does not parse: " + sql::parse(*project.guards.throttle_query).error->message});
}

void validate_plan(const Project& project, const Plan& plan, Diagnostics& diags) {
  auto services = keys_of(project.services);
  auto smokes = keys_of(project.smoke);
  auto windows = keys_of(project.windows);
  if (plan.guards.windows)
    for (const auto& w : *plan.guards.windows) check_reference("window", w, windows, plan.guards.pos, diags);
  std::set<std::string> names;
  for (const auto& ph : plan.phases) {
    for (const auto& s : ph.restart) check_reference("service", s, services, ph.pos, diags);
    for (const auto& s : ph.smoke) check_reference("smoke check", s, smokes, ph.pos, diags);
    for (const auto& step : ph.steps) {
      if (!step.name.empty() && !names.insert(step.name).second)
        diags.push_back({step.pos, "duplicate step name \"" + step.name + "\" (names must be unique in a plan)"});
      check_sql(plan, step.sql, step.sql_pos, "sql", diags, step);
      check_sql(plan, step.down, step.down_pos, "down", diags, step);
      check_sql(plan, step.check, step.check_pos, "check", diags, step);
      if (step.backfill) check_backfill(plan, step, diags);
      check_executable(project, step.command, "step \"" + step.name + "\" command", step.pos, diags);
    }
  }
}

}  // namespace phasegate
