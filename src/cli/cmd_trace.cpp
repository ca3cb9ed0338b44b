// trace PLAN --scratch-url URL: run the plan's statements on a copy of a scratch database, one transaction each,
// and print the locks (on every user relation) and rewrites PostgreSQL actually produced next to the analyzer's
// prediction. Exit 0 when they agree, 7 on any disagreement (a bug in the analyzer or a new PostgreSQL behaviour).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "phasegate/adapters.hpp"
#include "phasegate/trace.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

namespace {
// Locks on the relations that existed before the statement (a created one is shown under "created").
std::string locks_text(const std::map<std::string, sql::Lock>& locks, const std::set<std::string>& created = {}) {
  std::vector<std::string> parts;
  for (const auto& [rel, l] : locks)
    if (!created.count(rel)) parts.push_back(rel + " " + sql::lock_name(l));
  return parts.empty() ? "none" : join(parts, ", ");
}
nlohmann::json locks_json(const std::map<std::string, sql::Lock>& locks, const std::set<std::string>& created = {}) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [rel, l] : locks)
    if (!created.count(rel)) j[rel] = sql::lock_name(l);
  return j;
}
// relation -> its kind ("index", "table" ...) for every relation in the observation.
nlohmann::json kinds_json(const trace::Observation& o) {
  nlohmann::json j = nlohmann::json::object();
  auto add = [&](const std::string& rel) {
    if (const auto* r = o.after.find(rel)) j[rel] = trace::kind_name(r->kind);
    else if (const auto* b = o.before.find(rel)) j[rel] = trace::kind_name(b->kind);
  };
  for (const auto& lock : o.locks) add(lock.first);
  for (const auto& rel : o.rewritten) add(rel);
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
  if (auto c = (*scratch)->copy(); !c) return report(g, c.error());
  int disagreements = 0, statements = 0;
  nlohmann::json rows = nlohmann::json::array();
  for (const Step* step : (*plan)->steps()) {
    if (step->sql.empty()) continue;
    auto parsed = sql::parse(step->sql);
    if (!parsed.script) return report(g, Error{Exit::invalid, "step \"" + step->name + "\": " + parsed.error->message});
    for (const auto& st : parsed.script->statements) {
      if (st.transaction_control) continue;  // each statement gets its own transaction here
      bool in_tx = st.allowed_in_transaction && step->transaction.value_or(true);
      auto o = (*scratch)->observe(st.text, in_tx);
      if (!o) return report(g, Error{Exit::failed, "step \"" + step->name + "\" failed on the scratch database: " + o.error().message});
      ++statements;
      auto p = trace::predict(st, o->before);
      auto cmp = trace::compare(p, *o);
      disagreements += static_cast<int>(cmp.disagreements.size());
      std::vector<std::string> predicted_rw(p.rewrites.begin(), p.rewrites.end()), seen_rw(o->rewritten.begin(), o->rewritten.end());
      std::vector<std::string> created(o->created.begin(), o->created.end()), tables_rw;  // the text names tables only
      for (const auto& rel : seen_rw)
        if (const auto* r = o->before.find(rel); r && (r->kind == 'r' || r->kind == 'm')) tables_rw.push_back(rel);
      rows.push_back({{"phase", phase_name(step->phase)}, {"step", step->name}, {"statement", st.text},
                      {"predicted", {{"locks", locks_json(p.locks)}, {"at_most", locks_json(p.at_most)}, {"rewrites", predicted_rw}}},
                      {"observed", {{"observable", o->observable}, {"locks", locks_json(o->locks, o->created)},
                                    {"kinds", kinds_json(*o)}, {"created", created}, {"reads", cmp.reads},
                                    {"rewritten", seen_rw}, {"ms", o->ms}}},
                      {"disagreements", cmp.disagreements}});
      if (g.json) continue;
      char ms[32];
      std::snprintf(ms, sizeof ms, "%.1f ms", o->ms);
      std::cout << paint(g, "1", std::string(phase_name(step->phase)) + "/" + step->name) << "  " << st.text << "\n"
                << "  predicted: " << locks_text(p.locks) << (p.rewrites.empty() ? "" : "; rewrites " + join(predicted_rw, ", "))
                << (p.maybe_rewrites.empty() ? "" : "; may rewrite " + join({p.maybe_rewrites.begin(), p.maybe_rewrites.end()}, ", "))
                << "\n"
                << "  observed:  "
                << (o->observable ? locks_text(o->locks, o->created) + (tables_rw.empty() ? "" : "; rewrote " + join(tables_rw, ", "))
                                  : std::string("not observable (runs outside a transaction)"))
                << "  " << ms << "\n";
      if (!created.empty()) std::cout << "  created:   " << join(created, ", ") << " (ACCESS EXCLUSIVE until commit; not compared)\n";
      for (const auto& line : cmp.disagreements) std::cout << "  " << paint(g, "31", "DISAGREE") << ": " << line << "\n";
    }
  }
  int exit = disagreements ? static_cast<int>(Exit::disagree) : 0;
  if (g.json) print_json({{"ok", disagreements == 0}, {"exit", exit}, {"statements", rows}, {"disagreements", disagreements}});
  else std::cout << statements << " statements traced, " << disagreements << " disagreements\n";
  return exit;
}

}  // namespace phasegate::cli
