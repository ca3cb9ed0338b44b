// Off-peak windows (SPEC §3.1), evaluated in the window's IANA zone with the system tz database.
// An allow range opens at the first instant the local clock reaches `start` on an allowed day and closes at
// the first instant after that the local clock reaches `end` (the next day when end <= start). A local time
// inside a spring-forward gap resolves to the transition (the first valid instant after it); an ambiguous one
// (the repeated autumn hour) to its first occurrence, so the repeat neither closes nor reopens a window.
// Deny ranges (whole local days, or cron + duration) beat allow.
#include <date/tz.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "phasegate/guards.hpp"

namespace phasegate::guards {

namespace {

using Interval = std::pair<TimePoint, TimePoint>;
using date::local_days;
using date::local_seconds;

TimePoint to_instant(const date::time_zone* tz, local_seconds lt) {
  auto info = tz->get_info(lt);
  if (info.result == date::local_info::nonexistent) return TimePoint(info.first.end);  // the transition
  return TimePoint(date::sys_seconds{lt.time_since_epoch()} - info.first.offset);     // unique or earliest
}

int weekday_of(local_days d) { return static_cast<int>(date::weekday{d}.c_encoding()); }  // 0 = Sunday

std::optional<local_days> parse_day(const std::string& ymd) {
  std::istringstream in(ymd);
  local_days d;
  in >> date::parse("%F", d);
  if (in.fail()) return std::nullopt;
  return d;
}

// A 5-field cron spec: minute hour day-of-month month day-of-week; *, lists, ranges and */step.
struct Cron {
  std::set<int> minute, hour, dom, month, dow;
  bool dom_any = true, dow_any = true;
};

std::optional<std::set<int>> cron_field(const std::string& f, int lo, int hi) {
  std::set<int> out;
  std::stringstream ss(f);
  std::string part;
  while (std::getline(ss, part, ',')) {
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string::npos) {
      step = std::stoi(part.substr(slash + 1));
      part = part.substr(0, slash);
    }
    int a = lo, b = hi;
    if (part != "*") {
      auto dash = part.find('-');
      a = std::stoi(part.substr(0, dash));
      b = dash == std::string::npos ? a : std::stoi(part.substr(dash + 1));
    }
    if (a < lo || b > hi || a > b || step < 1) return std::nullopt;
    for (int v = a; v <= b; v += step) out.insert(v == 7 && hi == 7 ? 0 : v);
  }
  return out;
}

std::optional<Cron> parse_cron(const std::string& spec) {
  std::istringstream in(spec);
  std::string f[5];
  for (auto& x : f)
    if (!(in >> x)) return std::nullopt;
  try {
    auto mi = cron_field(f[0], 0, 59), ho = cron_field(f[1], 0, 23), dm = cron_field(f[2], 1, 31),
         mo = cron_field(f[3], 1, 12), dw = cron_field(f[4], 0, 7);
    if (!mi || !ho || !dm || !mo || !dw) return std::nullopt;
    return Cron{*mi, *ho, *dm, *mo, *dw, f[2] == "*", f[4] == "*"};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool cron_day_matches(const Cron& c, local_days d) {
  date::year_month_day ymd{d};
  if (!c.month.count(static_cast<int>(static_cast<unsigned>(ymd.month())))) return false;
  bool dom = c.dom.count(static_cast<int>(static_cast<unsigned>(ymd.day()))) > 0;
  bool dow = c.dow.count(weekday_of(d)) > 0;
  if (!c.dom_any && !c.dow_any) return dom || dow;  // cron: either restricted field may match
  return dom && dow;
}

struct Intervals {
  std::vector<Interval> allow, deny;
};

// Every allow and deny interval touching local days [from, to].
Result<Intervals> intervals(const Window& w, const date::time_zone* tz, local_days from, local_days to) {
  Intervals out;
  for (local_days d = from; d <= to; d += date::days{1}) {
    for (const auto& a : w.allow) {
      if (std::find(a.days.begin(), a.days.end(), weekday_of(d)) == a.days.end()) continue;
      if (!a.start_minute) {
        out.allow.push_back({to_instant(tz, local_seconds{d}), to_instant(tz, local_seconds{d + date::days{1}})});
        continue;
      }
      auto start = local_seconds{d} + std::chrono::minutes(*a.start_minute);
      auto end_day = *a.end_minute <= *a.start_minute ? d + date::days{1} : d;
      auto end = local_seconds{end_day} + std::chrono::minutes(*a.end_minute);
      out.allow.push_back({to_instant(tz, start), to_instant(tz, end)});
    }
    for (const auto& dn : w.deny) {
      if (!dn.cron) continue;
      auto cron = parse_cron(*dn.cron);
      if (!cron) return fail(Exit::invalid, "window " + w.name + ": invalid cron \"" + *dn.cron + "\"");
      if (!cron_day_matches(*cron, d)) continue;
      for (int h : cron->hour)
        for (int m : cron->minute) {
          auto t = to_instant(tz, local_seconds{d} + std::chrono::hours(h) + std::chrono::minutes(m));
          out.deny.push_back({t, t + dn.duration.value_or(Millis(0))});
        }
    }
  }
  for (const auto& dn : w.deny) {
    if (dn.cron) continue;
    auto a = parse_day(dn.from.value_or(dn.to.value_or(""))), b = parse_day(dn.to.value_or(dn.from.value_or("")));
    if (!a || !b) return fail(Exit::invalid, "window " + w.name + ": invalid deny dates");
    out.deny.push_back({to_instant(tz, local_seconds{*a}), to_instant(tz, local_seconds{*b + date::days{1}})});
  }
  // Merge overlapping or touching allow intervals so "closes" means the window really closes.
  std::sort(out.allow.begin(), out.allow.end());
  std::vector<Interval> merged;
  for (const auto& iv : out.allow) {
    if (iv.second <= iv.first) continue;
    if (!merged.empty() && iv.first <= merged.back().second) merged.back().second = std::max(merged.back().second, iv.second);
    else merged.push_back(iv);
  }
  out.allow = std::move(merged);
  std::sort(out.deny.begin(), out.deny.end());
  return out;
}

const Interval* containing(const std::vector<Interval>& ivs, TimePoint t) {
  for (const auto& iv : ivs)
    if (iv.first <= t && t < iv.second) return &iv;
  return nullptr;
}

}  // namespace

std::string local_time(const std::string& timezone, TimePoint t) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  try {
    return date::format("%F %T %Z", date::make_zoned(date::locate_zone(timezone), secs));
  } catch (const std::exception&) {
    return date::format("%F %T UTC", secs);
  }
}

std::string rfc3339(TimePoint t) {
  return date::format("%FT%TZ", std::chrono::time_point_cast<std::chrono::seconds>(t));
}

std::optional<TimePoint> parse_rfc3339(const std::string& s) {
  for (const char* fmt : {"%FT%TZ", "%FT%T%Ez", "%FT%T%z"}) {
    std::istringstream in(s);
    date::sys_seconds t;
    in >> date::parse(fmt, t);
    if (!in.fail()) return TimePoint(t);
  }
  return std::nullopt;
}

Result<WindowState> evaluate(const Window& w, TimePoint at) {
  const date::time_zone* tz = nullptr;
  try {
    tz = date::locate_zone(w.timezone);
  } catch (const std::exception&) {
    return fail(Exit::invalid, "window " + w.name + ": unknown time zone \"" + w.timezone + "\" (use an IANA name like Australia/Brisbane)");
  }
  auto today = date::floor<date::days>(tz->to_local(std::chrono::time_point_cast<std::chrono::seconds>(at)));
  auto iv = intervals(w, tz, today - date::days{2}, today + date::days{400});
  if (!iv) return std::unexpected(iv.error());
  WindowState st{w.name, w.timezone, at, false, "", std::nullopt, std::nullopt};
  const Interval* allow = containing(iv->allow, at);
  const Interval* deny = containing(iv->deny, at);
  st.open = allow && !deny;
  st.reason = deny ? "inside a deny range" : allow ? "inside an allow range" : "outside every allow range";
  if (st.open) {
    TimePoint close = allow->second;
    for (const auto& d : iv->deny)
      if (d.first > at && d.first < close) close = d.first;
    st.next_close = close;
    return st;
  }
  // The earliest instant >= at inside an allow interval and outside every deny interval.
  for (const auto& a : iv->allow) {
    if (a.second <= at) continue;
    TimePoint p = std::max(a.first, at);
    for (bool moved = true; moved && p < a.second;) {
      moved = false;
      for (const auto& d : iv->deny)
        if (d.first <= p && p < d.second) {
          p = d.second;
          moved = true;
        }
    }
    if (p < a.second) {
      st.next_open = p;
      break;
    }
  }
  return st;
}

Result<WindowState> evaluate_any(const std::vector<const Window*>& ws, TimePoint at) {
  std::optional<WindowState> best;
  for (const Window* w : ws) {
    auto st = evaluate(*w, at);
    if (!st) return st;
    if (st->open) return st;
    if (!best || (st->next_open && (!best->next_open || *st->next_open < *best->next_open))) best = *st;
  }
  if (!best) return WindowState{"", "", at, true, "no window configured", std::nullopt, std::nullopt};
  return *best;
}

}  // namespace phasegate::guards
