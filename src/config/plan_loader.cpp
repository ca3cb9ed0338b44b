// plans/NNNN-name.toml -> Plan (SPEC §1.2).
#include <algorithm>
#include <filesystem>

#include "config/toml_reader.hpp"
#include "phasegate/text.hpp"

namespace fs = std::filesystem;

namespace phasegate {

namespace config {
GuardSettings read_guards(const toml::table& t, const std::string& file, Diagnostics& diags);
}

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::expand: return "expand";
    case Phase::migrate: return "migrate";
    case Phase::contract: return "contract";
  }
  return "?";
}

std::optional<Phase> parse_phase(std::string_view s) {
  for (Phase p : kPhases)
    if (s == phase_name(p)) return p;
  return std::nullopt;
}

std::vector<const Step*> Plan::steps() const {
  std::vector<const Step*> out;
  for (const auto& ph : phases)
    for (const auto& s : ph.steps) out.push_back(&s);
  return out;
}

namespace {
using config::TableReader;

std::optional<Backfill> read_backfill(TableReader& step, Step& s) {
  const auto* t = step.table("backfill");
  if (!t) return std::nullopt;
  TableReader r(*t, step.file(), step.where() + ".backfill", step.diags());
  Backfill b;
  if (auto table = r.str("table", true)) {
    b.table = *table;
    // At most a quoted schema and table of 63 bytes each: PostgreSQL's limit, and a bound for the adapter's regex.
    if (trim(b.table).empty()) r.error(r.pos("table"), "backfill.table must name a table");
    else if (b.table.size() > 140) r.error(r.pos("table"), "backfill.table is longer than a PostgreSQL table name can be");
  }
  if (auto set = r.str("set", true)) {
    b.set = *set;
    if (trim(b.set).empty()) r.error(r.pos("set"), "backfill.set must say what to set, e.g. \"lvl = lexile / 150\"");
  }
  s.set_pos = r.pos("set");
  b.where = r.str("where").value_or("");
  s.where_pos = r.pos("where");
  if (auto v = r.integer("batch_rows", 1, 10'000'000)) b.batch_rows = static_cast<int>(*v);
  if (auto v = r.duration("target_batch_time", Millis(1))) b.target_batch_time = *v;
  if (auto v = r.duration("pause")) b.pause = *v;
  r.finish();
  return b;
}

Step read_step(const toml::table& t, Phase phase, const std::string& file, Diagnostics& diags) {
  std::string where = std::string(phase_name(phase)) + ".steps";
  TableReader r(t, file, where, diags);
  Step s;
  s.phase = phase;
  s.pos = r.pos();
  if (auto name = r.str("name", true)) {
    s.name = *name;
    if (auto why = config::name_problem(s.name)) r.error(r.pos("name"), "step name " + *why);
  }
  s.sql = r.str("sql").value_or("");
  s.sql_pos = r.pos("sql");
  s.backfill = read_backfill(r, s);
  s.command = r.strings("command", true).value_or(std::vector<std::string>{});
  s.down = r.str("down").value_or("");
  s.down_pos = r.pos("down");
  s.check = r.str("check").value_or("");
  s.check_pos = r.pos("check");
  s.transaction = r.boolean("transaction");
  s.lock_timeout = r.timeout("lock_timeout", true);
  s.statement_timeout = r.timeout("statement_timeout", false);
  s.irreversible = r.boolean("irreversible").value_or(false);
  int kinds = !s.sql.empty() + s.backfill.has_value() + !s.command.empty();
  if (kinds != 1)
    r.error(r.pos(), "step \"" + s.name + "\" needs exactly one of sql, backfill or command");
  if (s.irreversible && !s.down.empty())
    r.error(r.pos("irreversible"), "step \"" + s.name + "\" has both down and irreversible = true; choose one");
  r.finish();
  return s;
}

PhaseSpec read_phase(TableReader& root, Phase phase, int& ordinal) {
  PhaseSpec spec;
  spec.phase = phase;
  const auto* t = root.table(phase_name(phase));
  if (!t) return spec;
  TableReader r(*t, root.file(), phase_name(phase), root.diags());
  spec.pos = r.pos();
  spec.restart = r.strings("restart").value_or(std::vector<std::string>{});
  spec.smoke = r.strings("smoke").value_or(std::vector<std::string>{});
  if (phase == Phase::contract) {
    spec.start = r.str("start").value_or("manual");
    bool ok = spec.start == "manual" || spec.start == "auto" ||
              (spec.start.starts_with("after:") && parse_duration(spec.start.substr(6)));
    if (!ok)
      r.error(r.pos("start"), "contract.start must be \"manual\", \"auto\" or \"after:DURATION\" (e.g. \"after:72h\"), got \"" +
                                  spec.start + "\"");
  }
  if (const auto* steps = r.array("steps")) {
    for (const auto& item : *steps) {
      if (!item.is_table()) {
        r.error(config::pos_of(root.file(), item), "each step must be a table ([[" + std::string(phase_name(phase)) + ".steps]])");
        continue;
      }
      Step s = read_step(*item.as_table(), phase, root.file(), root.diags());
      s.ordinal = ordinal++;
      spec.steps.push_back(std::move(s));
    }
  }
  r.finish();
  return spec;
}

}  // namespace

std::optional<Plan> load_plan(const std::string& file, Diagnostics& diags) {
  Plan plan;
  auto parsed = config::parse_toml_file(file, diags, &plan.source);
  if (!parsed) return std::nullopt;
  plan.file = file;
  plan.id = fs::path(file).stem().string();
  if (fs::path(file).filename() == ".toml") plan.id.clear();  // a file named ".toml" has no id in its name
  TableReader root(*parsed, file, "", diags);
  bool id_given = false;
  if (const auto* t = root.table("plan")) {
    TableReader r(*t, file, "plan", diags);
    plan.pos = r.pos();
    if (auto id = r.str("id")) {
      plan.id = *id;
      id_given = true;
      if (auto why = config::name_problem(plan.id)) r.error(r.pos("id"), "plan id " + *why);
    }
    plan.description = r.str("description").value_or("");
    plan.release = r.str("release").value_or("");
    plan.release_commit = r.str("release_commit").value_or("");
    r.finish();
  }
  if (!id_given)
    if (auto why = config::name_problem(plan.id))
      diags.push_back({SourcePos{file, 1, 1}, "plan id (the file name without .toml) " + *why +
                                                   "; rename the file, or give [plan] id = \"...\""});
  if (const auto* t = root.table("guards")) plan.guards = config::read_guards(*t, file, diags);
  int ordinal = 0;
  for (Phase p : kPhases) plan.phases[static_cast<int>(p)] = read_phase(root, p, ordinal);
  root.finish();
  if (ordinal == 0) diags.push_back({SourcePos{file, 1, 1}, "plan \"" + plan.id + "\" has no steps"});
  return plan;
}

std::vector<Plan> load_plans(const Project& project, Diagnostics& diags) {
  std::vector<std::string> files;
  fs::path dir = fs::path(project.root) / project.plans_dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    diags.push_back({project.plans_dir_pos.line ? project.plans_dir_pos : SourcePos{project.file, 0, 0},
                     "plans directory " + dir.string() + " does not exist"});
    return {};
  }
  fs::directory_iterator it(dir, ec);
  if (ec) {
    diags.push_back({SourcePos{project.file, 0, 0}, "cannot list the plans directory " + dir.string() + ": " + ec.message()});
    return {};
  }
  // Every *.toml entry is a plan: what it is (a regular file, or a symlink to one) is decided by load_plan's
  // stat before anything is opened, so a dangling symlink, a FIFO or a directory is reported, not skipped.
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() >= 5 && name.ends_with(".toml") && !name.starts_with(".#")) files.push_back(it->path().string());
  }
  if (ec) diags.push_back({SourcePos{project.file, 0, 0}, "cannot list the plans directory " + dir.string() + ": " + ec.message()});
  std::sort(files.begin(), files.end());
  std::vector<Plan> plans;
  for (const auto& f : files) {
    std::string shown = fs::relative(f, fs::current_path(ec), ec).string();
    if (auto p = load_plan(shown.empty() ? f : shown, diags)) plans.push_back(std::move(*p));
  }
  return plans;
}

SourcePos locate_in_string(const std::string& source, const SourcePos& value_pos, size_t decoded_offset) {
  // Find the raw byte where the value starts.
  size_t at = 0;
  for (int line = 1; line < value_pos.line && at < source.size(); ++at)
    if (source[at] == '\n') ++line;
  at += static_cast<size_t>(std::max(0, value_pos.column - 1));
  if (at >= source.size()) return value_pos;
  bool literal = source[at] == '\'';
  bool multi = source.compare(at, 3, literal ? "'''" : "\"\"\"") == 0;
  at += multi ? 3 : 1;
  if (multi && at < source.size() && source[at] == '\n') ++at;  // a newline right after """ is trimmed
  else if (multi && source.compare(at, 2, "\r\n") == 0) at += 2;
  size_t decoded = 0;
  while (at < source.size() && decoded < decoded_offset) {
    if (!literal && source[at] == '\\' && at + 1 < source.size()) {
      char c = source[at + 1];
      if (c == 'u') { at += 6; decoded += 1; continue; }
      if (c == 'U') { at += 10; decoded += 1; continue; }
      if (c == '\n' || c == ' ' || c == '\t' || c == '\r') {  // line-ending backslash: skip whitespace
        at += 1;
        while (at < source.size() && std::isspace(static_cast<unsigned char>(source[at]))) ++at;
        continue;
      }
      at += 2;
      decoded += 1;
      continue;
    }
    ++at;
    ++decoded;
  }
  SourcePos out{value_pos.file, 1, 1};
  for (size_t i = 0; i < at && i < source.size(); ++i) {
    if (source[i] == '\n') { ++out.line; out.column = 1; }
    else ++out.column;
  }
  return out;
}

}  // namespace phasegate
