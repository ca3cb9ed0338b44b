// Cross-checks after loading: references, hooks, SQL syntax. Reports every problem, touches no database.
#include <unistd.h>

#include <algorithm>
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

// set/where are pasted into the batch statement (backfill::batch_sql): `UPDATE t SET <set> WHERE <the batch's key
// range> AND (<where>) IS TRUE`. A comment would swallow the rest of that line, a ';' end the statement, an
// unbalanced parenthesis escape the batch's key range (`a) OR (true` updates every row), a $n bind the batch's own
// parameters. Each is refused at its position inside the TOML string, before anything runs. Returns false on one.
bool check_fragment(const Plan& plan, const Step& step, const std::string& text, const SourcePos& at, const char* what,
                    Diagnostics& diags) {
  auto report = [&](size_t offset, const std::string& msg) {
    diags.push_back({locate_in_string(plan.source, at, offset), "backfill." + std::string(what) + " of step \"" + step.name + "\": " + msg});
    return false;
  };
  sql::SyntaxError error;
  auto tokens = sql::scan(text, &error);
  if (!tokens) return report(error.offset, error.message);
  int depth = 0;
  for (const auto& t : *tokens) {
    switch (t.kind) {
      case sql::Token::Kind::comment:
        return report(t.start, "remove the comment: set/where are pasted into the batch statement, where a comment would "
                               "swallow the rest of it");
      case sql::Token::Kind::semicolon:
        return report(t.start, "';' is not allowed: set/where are parts of one UPDATE statement");
      case sql::Token::Kind::param:
        return report(t.start, "positional parameters ($1, ...) are not allowed: the batch statement binds its own");
      case sql::Token::Kind::open_paren: ++depth; break;
      case sql::Token::Kind::close_paren:
        if (--depth < 0) return report(t.start, "unbalanced ')': set/where must be complete expressions");
        break;
      default: break;
    }
  }
  if (depth > 0) return report(text.size(), "unbalanced '(': set/where must be complete expressions");
  return true;
}

void check_backfill(const Plan& plan, const Step& step, Diagnostics& diags) {
  const auto& b = *step.backfill;
  bool ok = check_fragment(plan, step, b.set, step.set_pos, "set", diags);
  if (!b.where.empty()) ok = check_fragment(plan, step, b.where, step.where_pos, "where", diags) && ok;
  if (!ok || b.set.empty() || trim(b.table).empty()) return;
  // The shape of the real batch statement (backfill::batch_sql), so what parses here parses at run time.
  const std::string head = "UPDATE " + sql::quote_ident(b.table) + " SET ";
  const std::string middle = " WHERE true AND (";
  std::string stmt = head + b.set + middle + (b.where.empty() ? "true" : b.where) + ") IS TRUE";
  auto parsed = sql::parse(stmt);
  if (!parsed.error && parsed.script->statements.size() == 1) return;
  size_t off = parsed.error ? parsed.error->offset : 0;
  const size_t set_at = head.size(), where_at = set_at + b.set.size() + middle.size();
  std::string msg = parsed.error ? parsed.error->message : "set/where must form one UPDATE statement";
  if (off >= set_at && off <= set_at + b.set.size() + 1)  // + 1: the error may be at what follows set (" FROM")
    diags.push_back({locate_in_string(plan.source, step.set_pos, std::min(off - set_at, b.set.size())), "backfill.set of step \"" + step.name + "\": " + msg});
  else if (!b.where.empty() && off >= where_at && off <= where_at + b.where.size() + 1)
    diags.push_back({locate_in_string(plan.source, step.where_pos, std::min(off - where_at, b.where.size())), "backfill.where of step \"" + step.name + "\": " + msg});
  else
    diags.push_back({step.pos, "backfill of step \"" + step.name + "\": UPDATE " + b.table + " SET " + b.set +
                                   (b.where.empty() ? "" : " WHERE " + b.where) + " does not parse: " + msg});
}

// A [guards] table, the project's or a plan's: what run would trip over when it applies these guards.
void check_guards(const Project& project, const GuardSettings& g, Diagnostics& diags) {
  auto windows = keys_of(project.windows);
  if (g.windows)
    for (const auto& w : *g.windows) check_reference("window", w, windows, g.pos, diags);
  // Without [approvals] nobody can approve (phasegate approve refuses), so the run would wait for ever (exit 75).
  if (g.approvals.value_or(0) > 0 && !project.approvals)
    diags.push_back({g.pos, "guards.approvals > 0 needs an [approvals] table with allowed_signers in phasegate.toml"});
  if (g.throttle_query)
    if (auto parsed = sql::parse(*g.throttle_query); parsed.error)
      diags.push_back({g.pos, "guards.throttle_query does not parse: " + parsed.error->message});
}

}  // namespace

void validate_project(const Project& project, Diagnostics& diags) {
  check_guards(project, project.guards, diags);
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
    check_executable(project, project.rollback.master->command, "rollback.master", project.rollback.master_pos, diags);
  for (const auto& [name, n] : project.notify) check_executable(project, n.command, "notify." + name, n.pos, diags);
}

void validate_plan(const Project& project, const Plan& plan, Diagnostics& diags) {
  auto services = keys_of(project.services);
  auto smokes = keys_of(project.smoke);
  check_guards(project, plan.guards, diags);
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
