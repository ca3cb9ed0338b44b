// trace PLAN --scratch-url URL: run the plan's statements on a scratch database, one transaction each,
// and print the locks and rewrites PostgreSQL actually produced next to the analyzer's prediction.
// Exit 0 when they agree, 70 on any disagreement (a bug in the analyzer or a new PostgreSQL behaviour).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "phasegate/adapters.hpp"
#include "phasegate/trace.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

namespace {
std::string locks_text(const std::map<std::string, sql::Lock>& locks) {
  std::vector<std::string> parts;
  for (const auto& [rel, l] : locks) parts.push_back(rel + " " + sql::lock_name(l));
  return parts.empty() ? "none" : join(parts, ", ");
}
nlohmann::json locks_json(const std::map<std::string, sql::Lock>& locks) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [rel, l] : locks) j[rel] = sql::lock_name(l);
  return j;
}
}  // namespace

int cmd_trace(const Global& g, const std::string& plan_arg, const std::string& scratch_url) {
  auto loaded = load_all(g);
  if (!loaded) return loaded.error();
  auto plan = select_plan(*loaded, plan_arg);
  if (!plan) return report(g, plan.error());
  if (scratch_url.empty()) return report(g, Error{Exit::invalid, "trace needs --scratch-url URL (a throwaway copy of the schema)"});
  auto scratch = trace::Scratch::connect(scratch_url);
  if (!scratch) return report(g, scratch.error());
  auto scratch_id = (*scratch)->identity();
  if (!scratch_id) return report(g, scratch_id.error());
  std::string target_url = getenv_or(loaded->project.url_env.c_str(), loaded->project.url);
  if (!target_url.empty()) {
    auto target_id = trace::database_identity(target_url);
    if (target_id && *target_id == *scratch_id)
      return report(g, Error{Exit::invalid, "refusing to trace on the target database itself (" + *scratch_id +
                                                "); point --scratch-url at a throwaway copy"});
  }
  int disagreements = 0, statements = 0;
  nlohmann::json rows = nlohmann::json::array();
  for (const Step* step : (*plan)->steps()) {
    if (step->sql.empty()) continue;
    auto parsed = sql::parse(step->sql);
    if (!parsed.script) return report(g, Error{Exit::invalid, "step \"" + step->name + "\": " + parsed.error->message});
    for (const auto& st : parsed.script->statements) {
      bool in_tx = st.allowed_in_transaction && step->transaction.value_or(true);
      if (in_tx)
        if (auto r = (*scratch)->begin(); !r) return report(g, r.error());
      auto o = (*scratch)->observe(st.text, in_tx);
      if (!o) {
        (*scratch)->rollback();
        return report(g, Error{Exit::failed, "step \"" + step->name + "\" failed on the scratch database: " + o.error().message});
      }
      if (in_tx)
        if (auto r = (*scratch)->commit(); !r) return report(g, r.error());
      ++statements;
      auto p = trace::predict(st);
      auto d = trace::disagreements(p, *o);
      disagreements += static_cast<int>(d.size());
      std::vector<std::string> predicted_rw(p.rewrites.begin(), p.rewrites.end()), seen_rw(o->rewritten.begin(), o->rewritten.end());
      rows.push_back({{"phase", phase_name(step->phase)}, {"step", step->name}, {"statement", st.text},
                      {"predicted", {{"locks", locks_json(p.locks)}, {"rewrites", predicted_rw}}},
                      {"observed", {{"observable", o->observable}, {"locks", locks_json(o->locks)}, {"rewritten", seen_rw}, {"ms", o->ms}}},
                      {"disagreements", d}});
      if (g.json) continue;
      char ms[32];
      std::snprintf(ms, sizeof ms, "%.1f ms", o->ms);
      std::cout << paint(g, "1", std::string(phase_name(step->phase)) + "/" + step->name) << "  " << st.text << "\n"
                << "  predicted: " << locks_text(p.locks) << (p.rewrites.empty() ? "" : "; rewrites " + join(predicted_rw, ", "))
                << (p.maybe_rewrites.empty() ? "" : "; may rewrite " + join({p.maybe_rewrites.begin(), p.maybe_rewrites.end()}, ", "))
                << "\n"
                << "  observed:  "
                << (o->observable ? locks_text(o->locks) + (seen_rw.empty() ? "" : "; rewrote " + join(seen_rw, ", "))
                                  : std::string("not observable (runs outside a transaction)"))
                << "  " << ms << "\n";
      for (const auto& line : d) std::cout << "  " << paint(g, "31", "DISAGREE") << ": " << line << "\n";
    }
  }
  int exit = disagreements ? static_cast<int>(Exit::internal) : 0;
  if (g.json) print_json({{"ok", disagreements == 0}, {"exit", exit}, {"statements", rows}, {"disagreements", disagreements}});
  else std::cout << statements << " statements traced, " << disagreements << " disagreements\n";
  return exit;
}

}  // namespace phasegate::cli
