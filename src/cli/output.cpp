#include "cli/output.hpp"
#include "phasegate/interrupt.hpp"

#include "cli/notify_service.hpp"
#include "phasegate/notify.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <streambuf>
#include <nlohmann/json.hpp>

#include "phasegate/adapters.hpp"
#include "phasegate/engine.hpp"
#include "phasegate/secrets.hpp"
#include "phasegate/text.hpp"

namespace fs = std::filesystem;

namespace phasegate::cli {

namespace {
// Forwards to `to` a line at a time, each through secrets::redact. A partial line goes out on an explicit flush
// (a prompt, a progress bar) or at exit; stderr's lines are flushed as they end, as an unbuffered stream's would be.
class RedactingBuf final : public std::streambuf {
 public:
  RedactingBuf(std::streambuf* to, bool flush_lines) : to_(to), flush_lines_(flush_lines) {}
  void emit() {
    if (line_.empty()) return;
    std::string out = secrets::redact(line_);
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
  g_out = new RedactingBuf(std::cout.rdbuf(), false);
  g_err = new RedactingBuf(std::cerr.rdbuf(), true);
  std::cout.rdbuf(g_out);
  std::cerr.rdbuf(g_err);
  std::cerr.unsetf(std::ios::unitbuf);  // whole lines reach the filter; each is flushed as it ends
  std::atexit([] {
    g_out->emit();
    g_err->emit();
  });
}

void print_json(const nlohmann::json& j) { std::cout << secrets::redact_json(j.dump(2), 2) << "\n"; }

std::string paint(const Global& g, const char* ansi, const std::string& text) {
  if (!g.color) return text;
  return std::string("\033[") + ansi + "m" + text + "\033[0m";
}

void info(const std::string& line) { std::cerr << line << "\n"; }

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
  std::cerr << "run phasegate --help (or phasegate COMMAND --help) for the usage\n";
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

Result<const Plan*> select_plan(const Loaded& loaded, const std::string& arg) {
  std::error_code ec;
  std::vector<std::string> ids;
  for (const auto& p : loaded.plans) {
    if (p.id == arg) return &p;
    if (fs::exists(arg, ec) && fs::equivalent(p.file, arg, ec)) return &p;
    ids.push_back(p.id);
  }
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
