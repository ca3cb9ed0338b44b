#include "cli/output.hpp"
#include "phasegate/interrupt.hpp"

#include "cli/notify_service.hpp"
#include "phasegate/notify.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <streambuf>
#include <nlohmann/json.hpp>

#include "cli/progress.hpp"
#include "phasegate/adapters.hpp"
#include "phasegate/engine.hpp"
#include "phasegate/secrets.hpp"
#include "phasegate/text.hpp"

namespace fs = std::filesystem;

namespace phasegate::cli {

namespace {
// Colour codes are dropped from a stream that is not a terminal (`phasegate run 2>run.log` on a terminal keeps
// colour on stdout, none in the file), so colour follows each stream rather than stdout alone.
std::string without_colour(std::string s) {
  for (size_t at = s.find("\x1b["); at != std::string::npos; at = s.find("\x1b[", at)) {
    size_t end = at + 2;
    while (end < s.size() && !(s[end] >= 0x40 && s[end] <= 0x7e)) ++end;
    s.erase(at, std::min(end + 1, s.size()) - at);
  }
  return s;
}

// Forwards to `to` a line at a time, each through secrets::redact. A partial line goes out on an explicit flush
// (a prompt, a progress bar) or at exit; stderr's lines are flushed as they end, as an unbuffered stream's would be.
class RedactingBuf final : public std::streambuf {
 public:
  RedactingBuf(std::streambuf* to, bool flush_lines, bool strip_colour)
      : to_(to), flush_lines_(flush_lines), strip_colour_(strip_colour) {}
  void emit() {
    if (line_.empty()) return;
    std::string out = secrets::redact(line_);
    if (strip_colour_ && out.find('\x1b') != std::string::npos) out = without_colour(std::move(out));
    line_.clear();
    to_->sputn(out.data(), static_cast<std::streamsize>(out.size()));
    if (flush_lines_) to_->pubsync();
  }

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    line_ += traits_type::to_char_type(c);
    if (c == '\n' || c == '\r') emit();
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {  // whole runs up to each line end
    std::streamsize i = 0;
    while (i < n) {
      std::streamsize end = i;
      while (end < n && s[end] != '\n' && s[end] != '\r') ++end;
      line_.append(s + i, static_cast<size_t>(end - i));
      if (end == n) break;
      line_ += s[end];
      emit();
      i = end + 1;
    }
    return n;
  }
  int sync() override {
    emit();
    return to_->pubsync();
  }

 private:
  std::streambuf* to_;
  bool flush_lines_;
  bool strip_colour_;
  std::string line_;
};
RedactingBuf* g_out = nullptr;
RedactingBuf* g_err = nullptr;

void remember_env_secrets(const std::string& url_env) {
  for (const std::string& var : {url_env, std::string("DATABASE_URL")})
    if (const char* v = std::getenv(var.c_str())) secrets::remember_conninfo(v);
  if (const char* v = std::getenv("PGPASSWORD")) secrets::remember(v);
}
}  // namespace

void redact_console() {
  if (g_out) return;
  remember_env_secrets("DATABASE_URL");
  // Never destroyed: the standard streams outlive every static object, so must their buffers.
  g_out = new RedactingBuf(std::cout.rdbuf(), false, !::isatty(STDOUT_FILENO));
  g_err = new RedactingBuf(std::cerr.rdbuf(), true, !::isatty(STDERR_FILENO));
  std::cout.rdbuf(g_out);
  std::cerr.rdbuf(g_err);
  std::cerr.unsetf(std::ios::unitbuf);  // whole lines reach the filter; each is flushed as it ends
  std::atexit([] {
    g_out->emit();
    g_err->emit();
  });
}

namespace {
// The held document: a DOM, or serialized text (lint), and the fields added to it (the target banner).
std::optional<nlohmann::json> g_doc;
std::optional<std::string> g_doc_text;
nlohmann::json g_doc_fields = nlohmann::json::object();
}  // namespace

void print_json(const nlohmann::json& j) {
  g_doc = j;
  g_doc_text.reset();
}

void print_json_text(std::string object) {
  g_doc_text = std::move(object);
  g_doc.reset();
}

void add_json_field(const std::string& key, const nlohmann::json& value) { g_doc_fields[key] = value; }

int finish_json(int exit) {
  if (g_doc && g_doc->is_object()) {
    nlohmann::json d = *g_doc;
    for (const auto& [k, v] : g_doc_fields.items())
      if (!d.contains(k)) d[k] = v;
    d["ok"] = exit == 0;
    d["exit"] = exit;
    std::cout << secrets::redact_json(d.dump(2), 2) << "\n";
  } else if (g_doc) {
    std::cout << secrets::redact_json(g_doc->dump(2), 2) << "\n";
  } else if (g_doc_text) {
    // {"ok": .., "exit": .., <fields>, <the object's own members>}: inserted after its opening brace.
    std::string& t = *g_doc_text;
    size_t open = t.find_first_not_of(" \n");
    if (open != std::string::npos && t[open] == '{') {  // an object; any other document is printed as it is
      std::string head = "{\"ok\": " + std::string(exit == 0 ? "true" : "false") + ", \"exit\": " + std::to_string(exit);
      for (const auto& [k, v] : g_doc_fields.items()) head += ", " + nlohmann::json(k).dump() + ": " + v.dump();
      size_t rest = t.find_first_not_of(" \n", open + 1);
      bool empty = rest != std::string::npos && t[rest] == '}';
      t.replace(0, open + 1, head + (empty ? "" : ", "));
    }
    std::cout << t << (t.ends_with("\n") ? "" : "\n");
  }
  std::cout.flush();
  g_doc.reset();
  g_doc_text.reset();
  return exit;
}

void announce_target(const Global& g, PgDatabase& db, const Project& project) {
  PgDatabase::Endpoint e = db.endpoint();
  // A socket directory is a path: host:port would read oddly, so it is said as libpq's own messages say it.
  std::string where = (e.host.starts_with("/") ? "socket " + e.host + " port " + e.port : e.host + ":" + e.port) + "/" + e.database;
  add_json_field("target", {{"host", e.host}, {"port", e.port}, {"database", e.database}, {"user", e.user},
                            {"state_schema", project.state_schema}});
  if (!g.json) info(paint(g, "2", "target: " + where + " as " + e.user + " (state schema " + project.state_schema + ")"));
}

bool no_color() {
  const char* v = std::getenv("NO_COLOR");
  return v && *v;
}

std::string paint(const Global& g, const char* ansi, const std::string& text) {
  if (!g.color) return text;
  return std::string("\033[") + ansi + "m" + text + "\033[0m";
}

void info(const std::string& line) { print_line(line); }

void wire(const Global& g, phasegate::Executor& executor, Machinery& m) {
  executor.set_operations(&m.runner, &m.http);
  executor.on_event([&g](const Event& e) { print_event(g, e); });
}

void print_event(const Global& g, const Event& e) {
  std::string where = e.phase + (e.step.empty() ? "" : "/" + e.step);
  auto payload = nlohmann::json::parse(e.payload, nullptr, false);
  if (!payload.is_object()) payload = nlohmann::json::object();
  auto field = [&](const char* k) { return payload.contains(k) ? payload[k].dump() : std::string(); };
  auto text = [&](const char* k) { return payload.contains(k) && payload[k].is_string() ? payload[k].get<std::string>() : std::string(); };
  const std::string& k = e.kind;
  // The bar belongs to the backfill step: the step's end, a phase's, a run's or a rollback's ends it.
  if (k == "step.completed" || k == "step.failed" || k.starts_with("phase.") || k.starts_with("run.") || k.starts_with("rollback."))
    end_progress();
  // Progress is the progress reporter's (a bar on a terminal, a line every 10 s otherwise): only a resume is said.
  if (k == "backfill.progress") {
    if (payload.value("resumed", false))
      info("  " + paint(g, "36", "resume") + " " + where + "  after " + field("scanned") + " keys (" + field("updated") + " updated)");
    return;
  }
  if (k == "step.started") return info("  " + paint(g, "36", "->") + " " + where);
  if (k == "step.completed") return info("  " + paint(g, "32", "ok") + " " + where + "  " + field("duration_ms") + " ms");
  if (k == "step.failed") return info("  " + paint(g, "31", "FAILED") + " " + where + "  " + text("error"));
  if (k == "step.retrying") return info("  " + paint(g, "33", "retry") + " " + where + "  " + e.payload);
  if (k == "step.waited") return info("  " + paint(g, "33", "waited") + " " + where + "  " + text("reason"));
  if (k == "phase.started") return info(paint(g, "1", e.phase));
  if (k == "phase.completed" || k == "phase.failed") return;
  if (k == "guard.wait") return info("  " + paint(g, "33", "wait") + " " + text("reason"));
  if (k == "approval.requested") return;  // the guard.wait line above says it
  if (k == "guard.go") return info("  " + paint(g, "32", "go") + " " + text("guard") + " after " + field("waited_ms") + " ms");
  if (k == "service.restarting") return info("  " + paint(g, "36", "restart") + " " + text("service"));
  if (k == "service.healthy") return info("  " + paint(g, "32", "healthy") + " " + text("service") + "  " + field("elapsed_ms") + " ms");
  if (k == "service.unhealthy") return info("  " + paint(g, "31", "UNHEALTHY") + " " + text("service") + "  " + text("reason"));
  if (k == "smoke.passed")
    return info("  " + paint(g, "32", "smoke ok") + " " + text("smoke") + "  " + field("passes") + " passed, " + field("failures") + " failed");
  if (k == "smoke.failed") return info("  " + paint(g, "31", "SMOKE FAILED") + " " + text("smoke") + "  " + text("reason"));
  if (k == "rollback.started") return info(paint(g, "1;33", "rollback") + "  " + text("reason"));
  if (k == "rollback.step") {
    std::string action = text("action");
    bool ok = payload.value("ok", false);
    std::string what = action == "down" ? "down " + where : action == "restart" ? "restart " + text("service") : "master";
    std::string detail = ok ? text("result") : payload.value("skipped", false) ? text("reason") : text("error");
    return info("  " + (ok ? paint(g, "32", "undone") : paint(g, "33", "left")) + " " + what + (detail.empty() ? "" : "  " + detail));
  }
  if (k == "step.marked") return info("  " + paint(g, "33", "marked") + " " + where + "  " + text("was") + " -> " + text("now"));
  if (k == "rollback.resumed") return info(paint(g, "1;33", "rollback resumed") + " (run " + std::to_string(e.run_id) + ", cut short before)");
  if (k == "run.disconnected")
    return info(paint(g, "1;33", "connection lost") + "  " + text("error") + "; reconnecting (up to " +
                format_duration(Millis(payload.value("reconnect_timeout_ms", 0LL))) + ")");
  if (k == "run.reconnected") return info(paint(g, "32", "reconnected") + " after " + field("reconnect_ms") + " ms; resuming from what the database recorded");
  if (k == "run.interrupted") return info(paint(g, "1;33", "interrupted") + "  " + text("error"));
  if (k == "rollback.completed") return info(paint(g, "32", "rollback completed") + "  " + field("total_ms") + " ms");
  if (k == "rollback.failed") return info(paint(g, "31", "ROLLBACK INCOMPLETE") + "  " + field("left"));
  std::string reason = text("reason");
  info(paint(g, "1", k) + (e.run_id ? " (run " + std::to_string(e.run_id) + ")" : "") + (reason.empty() ? "" : "  " + reason));
}

Result<std::vector<std::string>> vanished_plan_messages(const Loaded& loaded, PgDatabase& pg) {
  auto known = pg.known_plans();
  if (!known) return std::unexpected(known.error());
  std::vector<std::string> out;
  for (const auto& [k, renamed] : vanished_plans(*known, loaded.plans)) out.push_back(describe_vanished(k, renamed));
  return out;
}

nlohmann::json outcome_json(const PlanOutcome& out) {
  return {{"plan", out.plan_id}, {"run", out.run_id}, {"status", run_status_name(out.status)}, {"blocked_by", out.blocked_by},
          {"contract_waiting", out.contract_waiting}, {"exit", static_cast<int>(out.exit)}, {"steps_applied", out.steps_applied},
          {"message", out.message}};
}

void print_diagnostics(const Global& g, const Diagnostics& diags) {
  if (g.json) {
    nlohmann::json problems = nlohmann::json::array();
    for (const auto& d : diags)
      problems.push_back({{"file", d.pos.file}, {"line", d.pos.line}, {"column", d.pos.column}, {"message", d.message}});
    print_json({{"ok", false}, {"exit", 2}, {"problems", problems}});
  }
  for (const auto& d : diags) std::cerr << paint(g, "1", d.pos.str()) << ": " << paint(g, "31", "error") << ": " << d.message << "\n";
  std::cerr << diags.size() << (diags.size() == 1 ? " problem" : " problems") << "; nothing was touched\n";
}

int report(const Global& g, const Error& e) {
  std::string message = secrets::redact(e.message);
  if (g.json) print_json({{"ok", false}, {"exit", static_cast<int>(e.code)}, {"error", message}});
  std::cerr << "phasegate: " << message << "\n";
  return static_cast<int>(e.code);
}

int usage_error(const Global& g, const std::string& message) {
  int code = report(g, Error{Exit::invalid, message});
  std::cerr << "phasegate help lists the commands; phasegate help COMMAND shows a command's options\n";
  return code;
}

std::optional<std::string> project_file(const Global& g) {
  if (g.dir.empty()) return find_project_file(".");
  std::error_code ec;
  auto file = fs::path(g.dir) / "phasegate.toml";  // -C names the root itself; no climbing
  if (fs::exists(file, ec)) return file.string();
  return std::nullopt;
}

std::expected<Loaded, int> load_all(const Global& g) {
  auto file = project_file(g);
  if (!file) {
    std::string where = g.dir.empty() ? fs::current_path().string() + " or its parents" : fs::absolute(g.dir).string();
    return std::unexpected(report(g, Error{Exit::invalid, "no phasegate.toml in " + where + "; run phasegate init, or pass -C DIR"}));
  }
  Diagnostics diags;
  // Paths in messages are relative to where the user stands, so editors can jump to them.
  std::error_code ec;
  std::string shown = fs::relative(*file, fs::current_path(), ec).string();
  auto project = load_project(shown.empty() ? *file : shown, diags);
  Loaded loaded;
  loaded.arg_dir = g.dir;
  if (project) {
    remember_env_secrets(project->url_env);
    secrets::remember_conninfo(project->url);
    loaded.project = *project;
    validate_project(loaded.project, diags);
    loaded.plans = load_plans(loaded.project, diags);
    std::map<std::string, std::string> ids;
    for (const auto& plan : loaded.plans) {
      validate_plan(loaded.project, plan, diags);
      if (auto [it, fresh] = ids.emplace(plan.id, plan.file); !fresh)
        diags.push_back({plan.pos.line ? plan.pos : SourcePos{plan.file, 1, 1},
                         "plan id \"" + plan.id + "\" is also used by " + it->second});
    }
  }
  if (!diags.empty()) {
    print_diagnostics(g, diags);
    return std::unexpected(static_cast<int>(Exit::invalid));
  }
  return loaded;
}

namespace {
const Plan* plan_at(const Loaded& loaded, const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return nullptr;
  for (const auto& p : loaded.plans)
    if (fs::equivalent(p.file, file, ec)) return &p;
  return nullptr;
}
}  // namespace

Result<const Plan*> select_plan(const Loaded& loaded, const std::string& arg) {
  std::vector<std::string> ids;
  for (const auto& p : loaded.plans) {
    if (p.id == arg) return &p;
    ids.push_back(p.id);
  }
  // A path: with -C DIR relative to DIR first (as git -C, make -C and tar -C read it), then to where the user stands.
  const bool relative = fs::path(arg).is_relative() && !loaded.arg_dir.empty();
  // A file at the same relative path in both places is DIR's (the other one is not among DIR's plans).
  if (const Plan* in_dir = relative ? plan_at(loaded, fs::path(loaded.arg_dir) / arg) : nullptr) return in_dir;
  if (const Plan* here = plan_at(loaded, arg)) return here;
  std::string msg = "no plan \"" + arg + "\" in " + loaded.project.plans_dir + "/";
  auto hint = did_you_mean(arg, ids);
  if (!hint.empty()) msg += " (did you mean \"" + hint + "\"?)";
  return fail(Exit::invalid, msg);
}

Result<std::vector<const Plan*>> select_plans(const Loaded& loaded, const std::vector<std::string>& args) {
  std::vector<const Plan*> out;
  for (const auto& arg : args) {
    auto p = select_plan(loaded, arg);
    if (!p) return std::unexpected(p.error());
    out.push_back(*p);
  }
  if (args.empty())
    for (const auto& p : loaded.plans) out.push_back(&p);
  return out;
}

Result<std::unique_ptr<PgDatabase>> open_database(const Project& project, const std::string& purpose) {
  std::string url = getenv_or(project.url_env.c_str(), project.url);
  if (url.empty())
    return fail(Exit::invalid, "no database: set " + project.url_env + " (a libpq conninfo or postgresql:// URI), "
                               "or database.url in phasegate.toml");
  Actor actor = current_actor("");
  auto db = PgDatabase::connect(url, project.state_schema,
                                "phasegate " + purpose + " " + actor.os_user + "@" + actor.host + " pid " + std::to_string(::getpid()));
  if (db) {
    (*db)->set_actor(actor);
    if (!project.notify.empty()) {
      (*db)->set_notify_routes(notify::routes(project));  // its events are queued for the sinks (docs/notify.md)
      start_notifications(project, url);
    }
  }
  return db;
}

CancelOnInterrupt::CancelOnInterrupt(PgDatabase& db) {
  install_interrupt_handlers();
  id_ = on_interrupt([&db] { db.cancel_current(); });
}
CancelOnInterrupt::~CancelOnInterrupt() { forget_interrupt(id_); }

}  // namespace phasegate::cli
