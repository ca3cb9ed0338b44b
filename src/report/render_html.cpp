// The postmortem as one self-contained HTML file: inline CSS, no script (a Content-Security-Policy forbids any),
// nothing loaded from elsewhere; a bar chart of the run and a timeline to look at, tables to read, print styles.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "phasegate/report.hpp"
#include "phasegate/text.hpp"
#include "report/events.hpp"
#include "report/sections.hpp"

namespace phasegate::report {

namespace {
using namespace detail;

std::string h(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

constexpr const char* kStyle = R"CSS(
:root{--ink:#1d2330;--muted:#5b6474;--line:#dde2ea;--bg:#f6f7fa;--good:#1f8a4c;--warn:#b7791f;--bad:#c53030;--info:#3b6fb6}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);background:var(--bg)}
main{max-width:1100px;margin:0 auto;padding:0 24px 48px}
header.hero{padding:28px 24px;color:#fff;background:linear-gradient(120deg,#27324a,#3b4a6b)}
header.hero.bad{background:linear-gradient(120deg,#7a1f1f,#c53030)}
header.hero.good{background:linear-gradient(120deg,#17603a,#1f8a4c)}
header.hero.warn{background:linear-gradient(120deg,#7a5114,#b7791f)}
header.hero>div{max-width:1100px;margin:0 auto}
.kicker{text-transform:uppercase;letter-spacing:.12em;font-size:12px;opacity:.85;margin:0}
h1{margin:6px 0 8px;font-size:28px;line-height:1.2}
.outcome{margin:0;max-width:900px;opacity:.95}
.preamble{color:var(--muted);font-size:13px;margin:16px 0 0}
h2{font-size:19px;margin:32px 0 12px;padding-bottom:6px;border-bottom:2px solid var(--line)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:12px;margin-top:20px}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.card .v{font-size:24px;font-weight:700}
.card .l{font-weight:600}
.card .m{color:var(--muted);font-size:12px}
.card.none .v{color:#a0a7b4}
dl.facts{display:grid;grid-template-columns:180px 1fr;gap:6px 16px;background:#fff;border:1px solid var(--line);border-radius:10px;padding:16px;margin:20px 0 0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;word-break:break-word}
.failure{background:#fff5f5;border:1px solid #f3b4b4;border-left:6px solid var(--bad);border-radius:8px;padding:12px 16px}
.gantt{background:#fff;border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.grow{display:grid;grid-template-columns:220px 1fr 90px;align-items:center;gap:10px;margin:5px 0}
.grow .name{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.track{position:relative;height:18px;background:#eef1f6;border-radius:4px}
.bar{position:absolute;top:2px;bottom:2px;min-width:4px;border-radius:3px;background:var(--info)}
.bar.good{background:var(--good)}.bar.bad{background:var(--bad)}.bar.warn{background:var(--warn)}
.grow .d{color:var(--muted);font-size:13px;text-align:right}
ol.timeline{list-style:none;margin:0;padding:0 0 0 8px;border-left:3px solid var(--line)}
ol.timeline li{position:relative;margin:0 0 10px 0;padding:6px 10px 6px 22px;background:#fff;border:1px solid var(--line);border-radius:8px;margin-left:14px}
ol.timeline li::before{content:"";position:absolute;left:-25px;top:12px;width:14px;height:14px;border-radius:50%;background:var(--info);border:3px solid var(--bg)}
ol.timeline li.good::before{background:var(--good)}ol.timeline li.warn::before{background:var(--warn)}ol.timeline li.bad::before{background:var(--bad)}
ol.timeline li.bad{border-color:#f3b4b4;background:#fff8f8}
.when{font-variant-numeric:tabular-nums;color:var(--muted);font-size:12px}
.when b{color:var(--ink);font-weight:600}
.who{color:var(--muted);font-size:12px}
.tag{display:inline-block;font-size:11px;padding:0 6px;border-radius:8px;background:#eef1f6;color:var(--muted);margin-left:6px}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line);border-radius:10px;overflow:hidden;font-size:14px}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f0f3f8;font-weight:600}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.ok{color:var(--good);font-weight:600}.ko{color:var(--bad);font-weight:600}
ul.todo{list-style:none;padding:0}
ul.todo li{background:#fff;border:1px solid var(--line);border-left:6px solid var(--warn);border-radius:8px;padding:8px 12px;margin:6px 0}
ul.todo li::before{content:"\2610  ";font-size:16px}
.blank{background:#fff;border:1px dashed #b8c0cc;border-radius:8px;min-height:140px;padding:10px 14px;color:var(--muted);
  background-image:repeating-linear-gradient(#fff 0 27px,#e9edf3 27px 28px)}
footer{color:var(--muted);font-size:12px;margin-top:40px}
@media print{
  body{background:#fff;font-size:11pt}
  header.hero{background:none!important;color:var(--ink);border-bottom:3px solid var(--ink);padding:0 0 10px}
  main{padding:0}
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
  section,li,tr,.card{break-inside:avoid}
  h2{break-after:avoid}
}
)CSS";

const char* tone_class(Tone t) { return tone_name(t); }

std::string hero_tone(const Postmortem& pm) {
  if (pm.state == "completed") return "good";
  if (pm.state == "rolled_back" && !pm.failure) return "good";
  if (pm.state == "blocked" || pm.state == "waiting" || pm.state == "running" || pm.state == "created") return "warn";
  return "bad";
}

void cards(std::ostream& o, const Postmortem& pm) {
  o << "<section class=\"cards\" aria-label=\"key times\">";
  for (const auto& r : time_rows(pm))
    o << "<div class=\"card" << (r.value.empty() ? " none" : "") << "\"><div class=\"v\">" << h(r.value.empty() ? "—" : r.value) << "</div><div class=\"l\">"
      << h(r.label) << "</div><div class=\"m\">" << h(r.meaning) << "</div></div>";
  o << "</section>\n";
}

void facts(std::ostream& o, const Postmortem& pm) {
  auto row = [&](const std::string& k, const std::string& v) { o << "<dt>" << h(k) << "</dt><dd>" << h(v) << "</dd>"; };
  o << "<dl class=\"facts\">";
  row("Plan", pm.plan + (pm.description.empty() ? "" : " — " + pm.description));
  row("Digest", "sha256:" + pm.digest);
  row("Release commit", pm.release_commit.empty() ? "none known" : pm.release_commit);
  row("Started by", pm.started_by + " at " + pm.created_at);
  row("Approved by", approvals_text(pm));
  row("Final state", pm.state + (pm.finished_at.empty() ? "" : " (finished " + pm.finished_at + ")"));
  row("Event log", pm.log_verified ? "hash chain verified" : "ALTERED: " + join(pm.log_problems, "; "));
  o << "</dl>\n";
}

// The run at a glance: one bar per step, restart and smoke check on the run's own time axis.
void gantt(std::ostream& o, const Postmortem& pm) {
  const long long origin = epoch_ms(pm.created_at).value_or(0);
  const long long span = std::max(1LL, pm.times.run_ms.value_or(1));
  auto bar = [&](const std::string& label, const std::string& from, std::optional<long long> ms, const char* tone, const std::string& d) {
    auto start = epoch_ms(from);
    if (!start) return;
    double left = std::clamp(static_cast<double>(*start - origin) * 100.0 / static_cast<double>(span), 0.0, 100.0);
    double width = std::clamp(static_cast<double>(ms.value_or(0)) * 100.0 / static_cast<double>(span), 0.0, 100.0 - left);
    char style[96];
    std::snprintf(style, sizeof style, "left:%.2f%%;width:%.2f%%", left, width);
    o << "<div class=\"grow\"><div class=\"name\" title=\"" << h(label) << "\">" << h(label) << "</div><div class=\"track\"><div class=\"bar " << tone
      << "\" style=\"" << style << "\"></div></div><div class=\"d\">" << h(d) << "</div></div>";
  };
  o << "<section><h2>The run at a glance</h2><div class=\"gantt\">";
  for (const auto& s : pm.steps) {
    if (s.started_at.empty()) continue;
    const char* tone = s.outcome == "completed" ? "good" : s.outcome == "failed" ? "bad" : "warn";
    bar(s.name, s.started_at, s.duration_ms, tone, duration_text(s.duration_ms));
  }
  for (const auto& r : pm.restarts) bar("restart " + r.service, r.at, r.total_ms, r.healthy ? "good" : "bad", duration_text(r.total_ms));
  for (const auto& w : pm.guard_waits) bar("wait: " + w.guard, w.at, w.waited_ms, "warn", duration_text(w.waited_ms));
  if (pm.rollback && !pm.rollback->started_at.empty()) {
    auto a = epoch_ms(pm.rollback->started_at), b = epoch_ms(pm.rollback->finished_at);
    std::optional<long long> ms = a && b ? std::optional<long long>(*b - *a) : std::nullopt;
    bar("rollback", pm.rollback->started_at, ms, pm.rollback->outcome == "completed" ? "warn" : "bad", duration_text(ms));
  }
  o << "</div></section>\n";
}

void timeline(std::ostream& o, const Postmortem& pm) {
  o << "<section><h2>Timeline</h2><ol class=\"timeline\">";
  for (const auto& e : pm.timeline) {
    std::string clock = e.at.size() >= 23 ? e.at.substr(11, 12) : e.at;
    o << "<li class=\"" << tone_class(e.tone) << "\"><div class=\"when\"><b>" << h(clock) << "</b> UTC · +" << h(human_ms(e.offset_ms))
      << "<span class=\"tag\">" << h(e.kind) << "</span></div><div class=\"what\">" << h(e.text) << "</div><div class=\"who\">" << h(e.actor)
      << "</div></li>";
  }
  o << "</ol></section>\n";
}

void table(std::ostream& o, const std::string& title, const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return;
  o << "<section><h2>" << h(title) << "</h2><table><thead><tr>";
  for (const auto& c : head) o << "<th>" << h(c) << "</th>";
  o << "</tr></thead><tbody>";
  for (const auto& r : rows) {
    o << "<tr>";
    for (const auto& c : r) o << "<td>" << h(c) << "</td>";
    o << "</tr>";
  }
  o << "</tbody></table></section>\n";
}

void tables(std::ostream& o, const Postmortem& pm) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : pm.steps) {
    std::vector<std::string> notes;
    if (!s.error.empty()) notes.push_back((s.sqlstate.empty() ? "" : "SQLSTATE " + s.sqlstate + ": ") + s.error);
    if (auto b = backfill_text(s); !b.empty()) notes.push_back(b);
    for (const auto& w : s.waits) notes.push_back(w);
    for (const auto& r : s.lock_retries)
      for (const auto& b : r.blockers) notes.push_back("blocked by " + blocker_text(b));
    if (!s.undo.empty()) notes.push_back("rollback: " + s.undo);
    rows.push_back({s.name, s.phase, s.outcome, std::to_string(s.attempts), duration_text(s.duration_ms), retries_text(s), join(notes, "; ")});
  }
  table(o, "Steps", {"step", "phase", "outcome", "attempts", "duration", "lock retries", "notes"}, rows);
  rows.clear();
  for (const auto& w : pm.guard_waits) rows.push_back({w.at, w.guard, w.reason, w.phase, duration_text(w.waited_ms), w.outcome});
  table(o, "Guard waits", {"since", "guard", "why", "phase", "waited", "outcome"}, rows);
  rows.clear();
  for (const auto& r : pm.restarts)
    rows.push_back({r.at, r.service + (r.during_rollback ? " (rollback)" : ""), r.phase, duration_text(r.restart_ms), duration_text(r.health_ms),
                    duration_text(r.total_ms), pids_text(r), restart_result(r), r.said});
  table(o, "Restarts and health", {"at", "service", "phase", "restart", "health checks", "total", "pids", "result", "it said"}, rows);
  rows.clear();
  for (const auto& s : pm.smoke)
    rows.push_back({s.at, s.name, s.phase, s.passed ? "passed" : "FAILED", std::to_string(s.passes),
                    std::to_string(s.failures) + " (limit " + std::to_string(s.failure_limit) + ")", s.reason});
  table(o, "Smoke checks", {"at", "check", "phase", "result", "passes", "failures", "last failure"}, rows);
}

void rollback(std::ostream& o, const Postmortem& pm) {
  if (!pm.rollback) return;
  const Rollback& rb = *pm.rollback;
  o << "<section><h2>Rollback</h2><p>Started " << h(rb.started_at) << (rb.reason.empty() ? "" : " because: " + h(rb.reason)) << ". Outcome: <b>"
    << h(rb.outcome) << "</b>" << h(rb.finished_at.empty() ? "" : " at " + rb.finished_at)
    << h(rb.resumed ? " (resumed " + std::to_string(rb.resumed) + " time(s) after being cut short)" : "") << ".</p><ol>";
  for (const auto& a : rb.actions)
    o << "<li><span class=\"when\">" << h(a.at) << "</span> <span class=\"" << (a.ok ? "ok" : "ko") << "\">" << (a.ok ? "✓" : "✗") << "</span> " << h(a.detail) << "</li>";
  o << "</ol>";
  for (const auto& n : rb.notes) o << "<p class=\"who\">Left alone on purpose: " << h(n) << "</p>";
  o << "</section>\n";
}

void closing(std::ostream& o, const Postmortem& pm) {
  if (!pm.interruptions.empty()) {
    o << "<section><h2>Interruptions</h2><ul>";
    for (const auto& i : pm.interruptions) o << "<li>" << h(i) << "</li>";
    o << "</ul></section>\n";
  }
  o << "<section><h2>What is left for a human</h2>";
  if (pm.open_items.empty()) o << "<p>Nothing phasegate knows of.</p>";
  else {
    o << "<ul class=\"todo\">";
    for (const auto& i : pm.open_items) o << "<li>" << h(i) << "</li>";
    o << "</ul>";
  }
  o << "</section>\n";
  for (const auto& p : prompts())
    o << "<section id=\"" << h(p.id) << "\"><h2>" << h(p.title) << "</h2><div class=\"blank\">" << h(p.hint) << "</div></section>\n";
}
}  // namespace

std::string render_html(const Postmortem& pm) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"generator\" content=\"phasegate report\">"
    << "<title>Postmortem draft: " << h(pm.title) << "</title><style>" << kStyle << "</style></head>\n<body>\n";
  o << "<header class=\"hero " << hero_tone(pm) << "\"><div><p class=\"kicker\">Postmortem draft · phasegate · run " << pm.run_id << "</p><h1>"
    << h(pm.title) << "</h1><p class=\"outcome\">" << h(pm.outcome) << "</p></div></header>\n<main>\n";
  o << "<p class=\"preamble\">" << h(kPreamble) << "</p>\n";
  cards(o, pm);
  facts(o, pm);
  if (pm.failure) o << "<section><h2>What failed</h2><div class=\"failure\">" << h(failure_text(*pm.failure)) << "</div></section>\n";
  gantt(o, pm);
  timeline(o, pm);
  tables(o, pm);
  rollback(o, pm);
  closing(o, pm);
  o << "<footer>Written by phasegate report from " << pm.timeline.size() << " events of run " << pm.run_id << " (state schema event log"
    << (pm.log_verified ? ", hash chain verified" : ", ALTERED") << ").</footer>\n</main>\n</body></html>\n";
  return o.str();
}

}  // namespace phasegate::report
