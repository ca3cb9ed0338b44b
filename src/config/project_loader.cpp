// phasegate.toml -> Project (SPEC §1.1). Keys and types only; cross-references are checked in validate.cpp.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <regex>

#include "config/toml_reader.hpp"
#include "phasegate/broadcast.hpp"
#include "phasegate/guards.hpp"
#include "phasegate/lint.hpp"
#include "phasegate/notify.hpp"
#include "phasegate/sql.hpp"
#include "phasegate/text.hpp"

namespace fs = std::filesystem;

namespace phasegate {

std::string SourcePos::str() const {
  std::string out = file;
  if (line > 0) out.append(":").append(std::to_string(line)).append(":").append(std::to_string(column > 0 ? column : 1));
  return out;
}

namespace config {

GuardSettings read_guards(const toml::table& t, const std::string& file, Diagnostics& diags) {
  TableReader r(t, file, "guards", diags);
  GuardSettings g;
  g.pos = r.pos();
  g.windows = r.strings("windows");
  if (auto v = r.integer("approvals", 0, 100)) g.approvals = static_cast<int>(*v);
  g.lock_timeout = r.timeout("lock_timeout", true);
  g.statement_timeout = r.timeout("statement_timeout", false);
  g.concurrent_lock_timeout = r.timeout("concurrent_lock_timeout", true);
  if (auto v = r.integer("lock_retries", 0, 1000)) g.lock_retries = static_cast<int>(*v);
  if (const auto* b = r.table("lock_retry_backoff")) {
    TableReader br(*b, file, "guards.lock_retry_backoff", diags);
    Backoff backoff;
    if (auto v = br.duration("initial")) backoff.initial = *v;
    if (auto v = br.duration("max")) backoff.max = *v;
    if (backoff.max < backoff.initial) br.error(br.pos(), "lock_retry_backoff.max must not be below initial");
    br.finish();
    g.lock_retry_backoff = backoff;
  }
  g.cancel_blockers = r.boolean("cancel_blockers");
  g.max_replication_lag = r.duration("max_replication_lag");
  if (auto v = r.integer("max_active_connections", 1, 1'000'000)) g.max_active_connections = static_cast<int>(*v);
  g.throttle_query = r.str("throttle_query");
  if (const auto* n = r.node("pause_on_vacuum")) {
    if (n->is_boolean()) g.pause_on_vacuum = n->as_boolean()->get() ? VacuumPause::any : VacuumPause::off;
    else if (n->is_string() && n->as_string()->get() == "wraparound") g.pause_on_vacuum = VacuumPause::wraparound;
    else r.error(r.pos("pause_on_vacuum"), "\"pause_on_vacuum\" must be true, false or \"wraparound\"");
  }
  if (auto v = r.integer("max_archive_pending", 0, 1'000'000)) g.max_archive_pending = static_cast<int>(*v);
  r.finish();
  return g;
}

}  // namespace config

namespace {
using config::TableReader;

// libstdc++'s std::regex recurses per character: every text it sees from a file is bounded first.
std::optional<int> parse_clock(const std::string& s) {
  static const std::regex re(R"(^([01]?\d|2[0-3]):([0-5]\d)$)");
  std::smatch m;
  if (s.size() > 5 || !std::regex_match(s, m, re)) return std::nullopt;
  return std::stoi(m[1]) * 60 + std::stoi(m[2]);
}

std::optional<std::vector<int>> parse_days(const std::string& spec) {
  static const char* names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  auto index = [&](const std::string& d) -> int {
    for (int i = 0; i < 7; ++i)
      if (d == names[i]) return i;
    return -1;
  };
  std::vector<int> days;
  std::stringstream ss(spec);
  std::string part;
  while (std::getline(ss, part, ',')) {
    auto dash = part.find('-');
    if (dash == std::string::npos) {
      int d = index(part);
      if (d < 0) return std::nullopt;
      days.push_back(d);
      continue;
    }
    int a = index(part.substr(0, dash)), b = index(part.substr(dash + 1));
    if (a < 0 || b < 0) return std::nullopt;
    for (int d = a;; d = (d + 1) % 7) {
      days.push_back(d);
      if (d == b) break;
    }
  }
  if (days.empty()) return std::nullopt;
  return days;
}

Window read_window(const std::string& name, const toml::table& t, const std::string& file, Diagnostics& diags) {
  TableReader r(t, file, "windows." + name, diags);
  Window w;
  w.name = name;
  w.pos = r.pos();
  if (auto tz = r.str("timezone", true)) {
    w.timezone = *tz;
    if (auto why = guards::time_zone_problem(*tz)) r.error(r.pos("timezone"), *why);
  }
  if (auto o = r.str("overrun")) {
    if (*o != "finish-phase" && *o != "finish-step")
      r.error(r.pos("overrun"), "overrun must be \"finish-phase\" or \"finish-step\", got \"" + *o + "\"");
    w.overrun = *o;
  }
  if (const auto* allow = r.array("allow")) {
    for (const auto& item : *allow) {
      if (!item.is_table()) { r.error(config::pos_of(file, item), "allow entries must be tables"); continue; }
      TableReader ar(*item.as_table(), file, "windows." + name + ".allow", diags);
      WindowAllow a;
      auto days = ar.str("days", true);
      if (days) {
        if (auto parsed = parse_days(*days)) a.days = *parsed;
        else ar.error(ar.pos("days"), "invalid days \"" + *days + "\" (use e.g. \"mon-fri\" or \"sat,sun\")");
      }
      auto start = ar.str("start"), end = ar.str("end");
      if (start.has_value() != end.has_value()) ar.error(ar.pos(), "allow needs both start and end, or neither");
      if (start) {
        a.start_minute = parse_clock(*start);
        if (!a.start_minute) ar.error(ar.pos("start"), "invalid time \"" + *start + "\" (use HH:MM)");
      }
      if (end) {
        a.end_minute = parse_clock(*end);
        if (!a.end_minute) ar.error(ar.pos("end"), "invalid time \"" + *end + "\" (use HH:MM)");
      }
      ar.finish();
      w.allow.push_back(a);
    }
  }
  if (const auto* deny = r.array("deny")) {
    for (const auto& item : *deny) {
      if (!item.is_table()) { r.error(config::pos_of(file, item), "deny entries must be tables"); continue; }
      TableReader dr(*item.as_table(), file, "windows." + name + ".deny", diags);
      WindowDeny d;
      d.from = dr.str("from");
      d.to = dr.str("to");
      d.cron = dr.str("cron");
      d.duration = dr.duration("duration", Millis(1));
      bool dates_ok = true;
      for (const char* key : {"from", "to"}) {
        const auto& date = key[0] == 'f' ? d.from : d.to;
        if (!date) continue;
        if (auto why = guards::date_problem(*date)) {
          dr.error(dr.pos(key), *why);
          dates_ok = false;
        }
      }
      if (dates_ok && d.from && d.to && *d.from > *d.to)  // YYYY-MM-DD: text order is date order
        dr.error(dr.pos("to"), "deny range ends (" + *d.to + ") before it starts (" + *d.from + "); swap from and to");
      bool dates = d.from || d.to, cron = d.cron.has_value();
      if (dates == cron) dr.error(dr.pos(), "a deny entry needs either from/to dates or cron + duration");
      if (cron) {
        if (!dr.node("duration")) dr.error(dr.pos(), "a cron deny entry needs a duration (how long each denial lasts, e.g. \"2h\")");
        if (auto why = guards::cron_problem(*d.cron)) dr.error(dr.pos("cron"), *why);
      } else if (d.duration) {
        dr.error(dr.pos("duration"), "duration belongs to a cron deny entry; from/to deny whole days");
      }
      dr.finish();
      w.deny.push_back(d);
    }
  }
  r.finish();
  return w;
}

// What the HTTP adapter accepts (adapters/http/client.cpp: http(s)://host[...]), so run never refuses a URL that
// validated; bounded, since the adapter matches it with std::regex.
void check_http_url(TableReader& r, const std::string& url) {
  if (url.empty()) return;
  size_t host = url.starts_with("http://") ? 7 : url.starts_with("https://") ? 8 : 0;
  bool control = std::any_of(url.begin(), url.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
  if (!host || host >= url.size() || std::string_view("/?#").find(url[host]) != std::string_view::npos || control ||
      url.size() > 2048)
    r.error(r.pos("http"), "http must be an http:// or https:// URL with a host (at most 2048 characters, no control "
                           "characters), got \"" + truncate_utf8(url, 200) + "\"");
}

std::optional<Health> read_health(TableReader& parent, const std::string& where) {
  const auto* t = parent.table("health");
  if (!t) return std::nullopt;
  TableReader r(*t, parent.file(), where + ".health", parent.diags());
  Health h;
  h.http = r.str("http").value_or("");
  check_http_url(r, h.http);
  h.command = r.strings("command", true).value_or(std::vector<std::string>{});
  h.sql = r.str("sql").value_or("");
  if (auto v = r.integer("expect_status", 100, 599)) h.expect_status = static_cast<int>(*v);
  if (auto v = r.duration("timeout", Millis(1))) h.timeout = *v;
  if (!h.http.empty() + !h.command.empty() + !h.sql.empty() != 1)
    r.error(r.pos(), "health needs exactly one of http, command or sql");
  r.finish();
  return h;
}

Service read_service(const std::string& name, const toml::table& t, const std::string& file, Diagnostics& diags) {
  std::string where = "services." + name;
  TableReader r(t, file, where, diags);
  Service s;
  s.name = name;
  s.pos = r.pos();
  s.kind = r.str("kind", true).value_or("");
  s.unit = r.str("unit").value_or("");
  s.deployment = r.str("deployment").value_or("");
  s.namespace_ = r.str("namespace").value_or("");
  s.restart = r.strings("restart", true).value_or(std::vector<std::string>{});
  s.health = read_health(r, where);
  if (s.kind == "systemd" && s.unit.empty()) r.error(r.pos(), "a systemd service needs \"unit\"");
  else if (s.kind == "kubernetes" && s.deployment.empty()) r.error(r.pos(), "a kubernetes service needs \"deployment\"");
  else if (s.kind == "command" && s.restart.empty()) r.error(r.pos(), "a command service needs \"restart\" (argv)");
  else if (!s.kind.empty() && s.kind != "systemd" && s.kind != "kubernetes" && s.kind != "command")
    r.error(r.pos("kind"), "unknown service kind \"" + s.kind + "\" (use systemd, kubernetes or command)");
  r.finish();
  return s;
}

Smoke read_smoke(const std::string& name, const toml::table& t, const std::string& file, Diagnostics& diags) {
  TableReader r(t, file, "smoke." + name, diags);
  Smoke s;
  s.name = name;
  s.pos = r.pos();
  s.command = r.strings("command", true).value_or(std::vector<std::string>{});
  s.http = r.str("http").value_or("");
  check_http_url(r, s.http);
  s.sql = r.str("sql").value_or("");
  if (auto v = r.integer("expect_status", 100, 599)) s.expect_status = static_cast<int>(*v);
  if (auto v = r.duration("timeout", Millis(1))) s.timeout = *v;
  if (auto v = r.duration("interval")) s.interval = *v;
  if (auto v = r.integer("count", 1, 10'000)) s.count = static_cast<int>(*v);
  if (auto v = r.integer("failure_limit", 0, 10'000)) s.failure_limit = static_cast<int>(*v);
  // Continuous checking by `phasegate serve` (docs/serve.md): at least a second apart.
  if (auto v = r.duration("every", Millis(1000))) s.every = *v;
  int kinds = !s.command.empty() + !s.http.empty() + !s.sql.empty();
  if (kinds != 1) r.error(r.pos(), "a smoke check needs exactly one of command, http or sql");
  r.finish();
  return s;
}

RollbackSettings read_rollback(const toml::table& t, const std::string& file, Diagnostics& diags) {
  TableReader r(t, file, "rollback", diags);
  RollbackSettings rb;
  if (auto v = r.str("on_failure")) {
    if (*v != "rollback" && *v != "pause")
      r.error(r.pos("on_failure"), "on_failure must be \"rollback\" or \"pause\", got \"" + *v + "\"");
    rb.on_failure = *v;
  }
  if (auto v = r.duration("timeout", Millis(1))) rb.timeout = *v;
  if (const auto* m = r.table("master")) {
    TableReader mr(*m, file, "rollback.master", diags);
    rb.master_pos = mr.pos();
    MasterRollback master;
    master.kind = mr.str("kind", true).value_or("");
    master.repo = mr.str("repo").value_or("");
    master.branch = mr.str("branch").value_or("main");
    master.remote = mr.str("remote").value_or("origin");
    master.command = mr.strings("command", true).value_or(std::vector<std::string>{});
    if (master.kind == "git" && master.repo.empty()) mr.error(mr.pos(), "a git master rollback needs \"repo\"");
    else if (master.kind == "command" && master.command.empty())
      mr.error(mr.pos(), "a command master rollback needs \"command\" (argv)");
    else if (!master.kind.empty() && master.kind != "git" && master.kind != "command")
      mr.error(mr.pos("kind"), "master.kind must be \"git\" or \"command\"");
    mr.finish();
    rb.master = master;
  }
  r.finish();
  return rb;
}

AnnounceSettings read_announce(const toml::table& t, const std::string& file, Diagnostics& diags) {
  TableReader r(t, file, "announce", diags);
  AnnounceSettings a;
  a.pos = r.pos();
  // Each key with the check its value must pass (a level, or one line of banner text).
  auto read = [&](const char* key, std::string& out, std::optional<std::string> (*problem)(std::string_view)) {
    auto v = r.str(key);
    if (!v) return;
    if (auto why = problem(*v)) r.error(r.pos(key), std::string("announce.") + key + ": " + *why);
    else out = *v;
  };
  read("during", a.during, broadcast_level_problem);
  read("on_failure", a.on_failure, broadcast_level_problem);
  read("during_message", a.during_message, broadcast_message_problem);
  read("on_failure_message", a.on_failure_message, broadcast_message_problem);
  r.finish();
  return a;
}

bool is_env_name(const std::string& v) {
  static const std::regex re("[A-Za-z_][A-Za-z0-9_]*");
  return std::regex_match(v, re);
}

Notifier read_notifier(const std::string& name, const toml::table& t, const std::string& file, Diagnostics& diags) {
  TableReader r(t, file, "notify." + name, diags);
  Notifier n;
  n.name = name;
  n.pos = r.pos();
  n.webhook_url_env = r.str("webhook_url_env").value_or("");
  n.command = r.strings("command", true).value_or(std::vector<std::string>{});
  n.events = r.strings("events").value_or(std::vector<std::string>{"run.*", "rollback.*"});
  n.events_pos = r.pos("events");
  if (const auto* items = r.node("events") ? r.node("events")->as_array() : nullptr)
    for (size_t i = 0; i < items->size() && i < n.events.size(); ++i)
      if (auto why = notify::glob_problem(n.events[i]); !why.empty()) r.error(config::pos_of(file, *items->get(i)), "notify." + name + ".events: " + why);
  if (auto f = r.str("format")) {
    if (*f != "slack" && *f != "json") r.error(r.pos("format"), "notify." + name + ".format must be \"slack\" or \"json\"");
    n.format = *f;
  }
  n.secret_env = r.str("secret_env").value_or("");
  if (auto a = r.integer("attempts", 1, 10)) n.attempts = static_cast<int>(*a);
  if (auto d = r.duration("timeout", Millis(1))) n.timeout = *d;
  for (const auto* key : {"webhook_url_env", "secret_env"}) {
    const std::string& v = std::string_view(key) == "secret_env" ? n.secret_env : n.webhook_url_env;
    if (!v.empty() && !is_env_name(v))
      r.error(r.pos(key), "notify." + name + "." + key + " must name an environment variable (letters, digits, _), not hold a value");
  }
  if (n.webhook_url_env.empty() == n.command.empty())
    r.error(r.pos(), "a notifier needs exactly one of webhook_url_env or command");
  else if (!n.command.empty() && (r.node("format") || r.node("secret_env")))
    r.error(r.pos(r.node("format") ? "format" : "secret_env"), "notify." + name + ": format and secret_env apply to webhooks only");
  r.finish();
  return n;
}

template <class T, class Fn>
void read_named_tables(TableReader& root, std::string_view key, std::map<std::string, T>& out, Fn read) {
  const auto* t = root.table(key);
  if (!t) return;
  for (const auto& [k, v] : *t) {
    std::string name(k.str());
    if (auto why = config::name_problem(name))
      root.error(SourcePos{root.file(), static_cast<int>(k.source().begin.line), static_cast<int>(k.source().begin.column)},
                 "the name of [" + std::string(key) + ".\"" + name + "\"] " + *why);
    if (!v.is_table()) {
      root.error(config::pos_of(root.file(), v), '[' + std::string(key) + "." + name + "] must be a table");
      continue;
    }
    out.emplace(name, read(name, *v.as_table(), root.file(), root.diags()));
  }
}

// The state schema is created, written and locked by phasegate: it must be a plain identifier (the DDL names it
// unquoted), not one PostgreSQL reserves (pg_*, information_schema) and not the application's own `public`.
std::optional<std::string> state_schema_problem(const std::string& schema) {
  static const std::regex ident("^[a-z_][a-z0-9_]{0,62}$");
  if (schema.size() > 63 || !std::regex_match(schema, ident))
    return "state_schema must be a lowercase SQL identifier (a-z, 0-9, _; at most 63), got \"" + schema + "\"";
  if (schema.starts_with("pg_") || schema == "information_schema")
    return "state_schema \"" + schema + "\" is a PostgreSQL system schema (pg_* and information_schema are reserved); "
           "use a schema of phasegate's own, e.g. \"phasegate\"";
  if (schema == "public")
    return "state_schema \"public\" is the application's schema; phasegate keeps its tables in a schema of its own "
           "(default \"phasegate\") so they never mix with the application's";
  if (!sql::parse("CREATE SCHEMA " + schema).script || !sql::parse("SELECT * FROM " + schema + ".t").script)
    return "state_schema \"" + schema + "\" is a reserved SQL word; choose another name, e.g. \"phasegate\"";
  return std::nullopt;
}

// postgresql://user:secret@host, password=secret (conninfo) or ?password=secret / &password=secret. By hand, not
// std::regex: a long url would overflow the stack in libstdc++'s recursive matcher (found by the loader fuzzer).
bool url_has_password(const std::string& url) {
  for (std::string_view scheme : {"postgres://", "postgresql://"}) {
    if (!url.starts_with(scheme)) continue;
    size_t end = url.find_first_of("/@", scheme.size());
    if (end != std::string::npos && url[end] == '@' && url.substr(scheme.size(), end - scheme.size()).find(':') != std::string::npos)
      return true;
  }
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  for (size_t at = url.find("password"); at != std::string::npos; at = url.find("password", at + 1)) {
    size_t after = at + 8;
    if (at > 0 && (url[at - 1] == '?' || url[at - 1] == '&') && after < url.size() && url[after] == '=') return true;
    if (at > 0 && !space(url[at - 1])) continue;
    while (after < url.size() && space(url[after])) ++after;
    if (after < url.size() && url[after] == '=') return true;
  }
  return false;
}

}  // namespace

std::optional<Project> load_project(const std::string& file, Diagnostics& diags) {
  auto parsed = config::parse_toml_file(file, diags);
  if (!parsed) return std::nullopt;
  Project p;
  p.file = file;
  p.root = fs::absolute(file).parent_path().string();
  TableReader root(*parsed, file, "", diags);
  if (const auto* t = root.table("project")) {
    TableReader r(*t, file, "project", diags);
    p.name = r.str("name", true).value_or("");
    p.plans_dir = r.str("plans_dir").value_or("plans");
    p.plans_dir_pos = r.pos("plans_dir");
    p.state_schema = r.str("state_schema").value_or("phasegate");
    if (auto why = state_schema_problem(p.state_schema)) r.error(r.pos("state_schema"), *why);
    r.finish();
  } else {
    root.error(SourcePos{file, 1, 1}, "missing [project] table with at least name = \"...\"");
  }
  if (const auto* t = root.table("database")) {
    TableReader r(*t, file, "database", diags);
    p.url_env = r.str("url_env").value_or("DATABASE_URL");
    p.url = r.str("url").value_or("");
    if (auto v = r.duration("reconnect_timeout")) p.reconnect_timeout = *v;
    if (!p.url.empty() && url_has_password(p.url))
      r.error(r.pos("url"), "database.url contains a password; keep secrets out of the file: use url_env "
                            "(default DATABASE_URL) or ~/.pgpass");
    r.finish();
  }
  if (const auto* t = root.table("guards")) p.guards = config::read_guards(*t, file, diags);
  read_named_tables(root, "windows", p.windows, read_window);
  if (const auto* t = root.table("approvals")) {
    TableReader r(*t, file, "approvals", diags);
    ApprovalSettings a;
    a.pos = r.pos();
    a.allowed_signers = r.str("allowed_signers", true).value_or("");
    if (auto v = r.duration("valid_for", Millis(1))) {
      if (*v > Millis(7LL * 86'400'000)) r.error(r.pos("valid_for"), "approvals.valid_for must be at most 7d");
      a.valid_for = *v;
    }
    a.allow_initiator = r.boolean("allow_initiator").value_or(false);
    r.finish();
    p.approvals = a;
  }
  read_named_tables(root, "services", p.services, read_service);
  read_named_tables(root, "smoke", p.smoke, read_smoke);
  if (const auto* t = root.table("rollback")) p.rollback = read_rollback(*t, file, diags);
  read_named_tables(root, "notify", p.notify, read_notifier);
  if (const auto* t = root.table("announce")) p.announce = read_announce(*t, file, diags);
  if (const auto* t = root.table("hooks")) {
    TableReader r(*t, file, "hooks", diags);
    p.hook_pass_env = r.strings("pass_env").value_or(std::vector<std::string>{});
    r.finish();
  }
  if (const auto* t = root.table("lint")) {
    TableReader r(*t, file, "lint", diags);
    p.lint.pos = r.pos();
    auto ids = r.strings("enable");
    const auto* items = ids ? r.node("enable")->as_array() : nullptr;
    for (size_t i = 0; items && i < ids->size(); ++i) {
      const std::string& id = (*ids)[i];
      if (auto why = lint::enable_problem(id)) r.error(config::pos_of(file, *items->get(i)), "lint.enable: " + *why);
      else if (std::find(p.lint.enable.begin(), p.lint.enable.end(), id) == p.lint.enable.end()) p.lint.enable.push_back(id);
    }
    r.finish();
  }
  root.finish();
  return p;
}

std::optional<std::string> find_project_file(const std::string& start_dir) {
  std::error_code ec;
  fs::path dir = fs::absolute(start_dir, ec);
  while (true) {
    auto candidate = dir / "phasegate.toml";
    if (fs::exists(candidate, ec)) return candidate.string();
    if (!dir.has_parent_path() || dir.parent_path() == dir) return std::nullopt;
    dir = dir.parent_path();
  }
}

Guards merge_guards(const GuardSettings& project, const GuardSettings& plan) {
  Guards g;
  auto pick = [](const auto& over, const auto& base, auto& out) {
    if (over) out = *over;
    else if (base) out = *base;
  };
  pick(plan.windows, project.windows, g.windows);
  pick(plan.approvals, project.approvals, g.approvals);
  pick(plan.lock_timeout, project.lock_timeout, g.lock_timeout);
  pick(plan.statement_timeout, project.statement_timeout, g.statement_timeout);
  pick(plan.concurrent_lock_timeout, project.concurrent_lock_timeout, g.concurrent_lock_timeout);
  pick(plan.lock_retries, project.lock_retries, g.lock_retries);
  pick(plan.lock_retry_backoff, project.lock_retry_backoff, g.lock_retry_backoff);
  pick(plan.cancel_blockers, project.cancel_blockers, g.cancel_blockers);
  g.max_replication_lag = plan.max_replication_lag ? plan.max_replication_lag : project.max_replication_lag;
  g.max_active_connections = plan.max_active_connections ? plan.max_active_connections : project.max_active_connections;
  g.throttle_query = plan.throttle_query ? plan.throttle_query : project.throttle_query;
  pick(plan.pause_on_vacuum, project.pause_on_vacuum, g.pause_on_vacuum);
  pick(plan.max_archive_pending, project.max_archive_pending, g.max_archive_pending);
  return g;
}

}  // namespace phasegate
