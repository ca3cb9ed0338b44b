// The postmortem as Markdown (GitHub-flavoured: tables, task lists), for a wiki page or an issue.
#include <algorithm>
#include <cctype>
#include <sstream>

#include "phasegate/report.hpp"
#include "phasegate/text.hpp"
#include "report/sections.hpp"

namespace phasegate::report {

namespace {
using namespace detail;

// Text that Markdown shows as written: no HTML, emphasis, links or code spans, and no table-cell breaks.
std::string md(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  auto word = [&](size_t i) { return i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) != 0); };
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '_' && i > 0 && word(i - 1) && word(i + 1)) {  // inside a word it is no emphasis: reading_level stays readable
      out += c;
      continue;
    }
    switch (c) {
      case '\n': case '\r': out += ' '; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '\\': case '`': case '*': case '_': case '|': case '[': case ']': case '~':
        out += '\\';
        out += c;
        break;
      default: out += c;
    }
  }
  return out;
}

const char* mark(Tone t) {
  switch (t) {
    case Tone::good: return "✓";
    case Tone::warn: return "⚠";
    case Tone::bad: return "✗";
    case Tone::info: return "·";
  }
  return "·";
}

void facts(std::ostream& o, const Postmortem& pm) {
  o << "| | |\n|---|---|\n";
  o << "| Plan | " << md(pm.plan) << (pm.description.empty() ? "" : " — " + md(pm.description)) << " |\n";
  o << "| Digest | sha256:" << md(pm.digest) << " |\n";
  o << "| Release commit | " << (pm.release_commit.empty() ? "none known" : md(pm.release_commit)) << " |\n";
  o << "| Started by | " << md(pm.started_by) << " at " << md(pm.created_at) << " |\n";
  o << "| Approved by | " << md(approvals_text(pm)) << " |\n";
  o << "| Final state | " << md(pm.state) << (pm.finished_at.empty() ? "" : " (finished " + md(pm.finished_at) + ")") << " |\n";
  o << "| Event log | " << (pm.log_verified ? "hash chain verified" : "**ALTERED**: " + md(join(pm.log_problems, "; "))) << " |\n\n";
}

void times(std::ostream& o, const Postmortem& pm) {
  o << "## Key times\n\n| | | measured |\n|---|---|---|\n";
  for (const auto& r : time_rows(pm)) o << "| " << r.label << " | " << (r.value.empty() ? "—" : r.value) << " | " << md(r.meaning) << " |\n";
  o << "\n";
}

void timeline(std::ostream& o, const Postmortem& pm) {
  o << "## Timeline\n\n| time (UTC) | since start | | what happened | who |\n|---|---|---|---|---|\n";
  for (const auto& e : pm.timeline)
    o << "| " << md(e.at) << " | +" << human_ms(e.offset_ms) << " | " << mark(e.tone) << " | " << md(e.text) << " | " << md(e.actor) << " |\n";
  o << "\n";
}

void steps(std::ostream& o, const Postmortem& pm) {
  o << "## Steps\n\n| step | phase | outcome | attempts | duration | lock retries | notes |\n|---|---|---|---|---|---|---|\n";
  for (const auto& s : pm.steps) {
    std::vector<std::string> notes;
    if (!s.error.empty()) notes.push_back((s.sqlstate.empty() ? "" : "SQLSTATE " + s.sqlstate + ": ") + s.error);
    if (auto b = backfill_text(s); !b.empty()) notes.push_back(b);
    for (const auto& w : s.waits) notes.push_back(w);
    if (!s.undo.empty()) notes.push_back("rollback: " + s.undo);
    o << "| " << md(s.name) << " | " << md(s.phase) << " | " << md(s.outcome) << " | " << s.attempts << " | " << duration_text(s.duration_ms) << " | "
      << md(retries_text(s)) << " | " << md(join(notes, "; ")) << " |\n";
  }
  o << "\n";
  for (const auto& s : pm.steps)
    for (const auto& r : s.lock_retries) {
      o << "- " << md(r.at) << " step " << md(s.name) << ": " << (r.cancelled_blockers ? "cancelled the sessions blocking it" : "lock timeout, attempt " + std::to_string(r.attempt) + ", retried after " + human_ms(r.wait_ms)) << "\n";
      for (const auto& b : r.blockers) o << "  - blocked by " << md(blocker_text(b)) << "\n";
    }
  if (std::any_of(pm.steps.begin(), pm.steps.end(), [](const StepReport& s) { return !s.lock_retries.empty(); })) o << "\n";
}

void operations(std::ostream& o, const Postmortem& pm) {
  if (!pm.guard_waits.empty()) {
    o << "## Guard waits\n\n| since | guard | why | phase | waited | outcome |\n|---|---|---|---|---|---|\n";
    for (const auto& w : pm.guard_waits)
      o << "| " << md(w.at) << " | " << md(w.guard) << " | " << md(w.reason) << " | " << md(w.phase) << " | " << duration_text(w.waited_ms) << " | "
        << md(w.outcome) << " |\n";
    o << "\n";
  }
  if (!pm.restarts.empty()) {
    o << "## Restarts and health\n\n| at | service | phase | restart | health checks | total | pids | result | it said |\n|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& r : pm.restarts)
      o << "| " << md(r.at) << " | " << md(r.service) << (r.during_rollback ? " (rollback)" : "") << " | " << md(r.phase) << " | "
        << duration_text(r.restart_ms) << " | " << duration_text(r.health_ms) << " | " << duration_text(r.total_ms) << " | "
        << pids_text(r) << " | " << md(restart_result(r)) << " | " << md(r.said) << " |\n";
    o << "\n";
  }
  if (!pm.smoke.empty()) {
    o << "## Smoke checks\n\n| at | check | phase | result | passes | failures (limit) | last failure |\n|---|---|---|---|---|---|---|\n";
    for (const auto& s : pm.smoke)
      o << "| " << md(s.at) << " | " << md(s.name) << " | " << md(s.phase) << " | " << (s.passed ? "passed" : "**FAILED**") << " | " << s.passes
        << " | " << s.failures << " (" << s.failure_limit << ") | " << md(s.reason) << " |\n";
    o << "\n";
  }
}

void rollback(std::ostream& o, const Postmortem& pm) {
  if (!pm.rollback) return;
  const Rollback& rb = *pm.rollback;
  o << "## Rollback\n\nStarted " << md(rb.started_at) << (rb.reason.empty() ? "" : " because: " + md(rb.reason)) << ". Outcome: **" << md(rb.outcome)
    << "**" << (rb.finished_at.empty() ? "" : " at " + md(rb.finished_at)) << (rb.resumed ? " (resumed " + std::to_string(rb.resumed) + " time(s) after being cut short)" : "")
    << ".\n\n";
  int n = 0;
  for (const auto& a : rb.actions)
    o << ++n << ". " << md(a.at) << " — " << (a.ok ? "✓ " : "✗ ") << md(a.detail) << "\n";
  if (!rb.actions.empty()) o << "\n";
  for (const auto& note : rb.notes) o << "- left alone on purpose: " << md(note) << "\n";
  if (!rb.notes.empty()) o << "\n";
}
}  // namespace

std::string render_markdown(const Postmortem& pm) {
  std::ostringstream o;
  o << "# Postmortem draft: " << md(pm.title) << "\n\n> " << kPreamble << "\n\n" << md(pm.outcome) << "\n\n";
  facts(o, pm);
  times(o, pm);
  if (pm.failure) o << "## What failed\n\n" << md(failure_text(*pm.failure)) << "\n\n";
  timeline(o, pm);
  steps(o, pm);
  operations(o, pm);
  rollback(o, pm);
  if (!pm.interruptions.empty()) {
    o << "## Interruptions\n\n";
    for (const auto& i : pm.interruptions) o << "- " << md(i) << "\n";
    o << "\n";
  }
  o << "## What is left for a human\n\n";
  if (pm.open_items.empty()) o << "Nothing phasegate knows of.\n";
  for (const auto& i : pm.open_items) o << "- [ ] " << md(i) << "\n";
  o << "\n";
  for (const auto& p : prompts()) o << "## " << p.title << "\n\n_" << md(p.hint) << "_\n\n- \n\n";
  return o.str();
}

}  // namespace phasegate::report
