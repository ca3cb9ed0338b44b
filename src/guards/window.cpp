// Off-peak windows (SPEC §3.1), evaluated in the window's IANA zone with the system tz database.
// An allow range opens at the first instant the local clock reaches `start` on an allowed day and closes at
// the first instant after that the local clock reaches `end` (the next day when end <= start). A local time
// inside a spring-forward gap resolves to the transition (the first valid instant after it); an ambiguous one
// (the repeated autumn hour) to its first occurrence, so the repeat neither closes nor reopens a window.
// Deny ranges (whole local days, or cron + duration) beat allow.
#include <date/tz.h>

#include <algorithm>
#include <expected>
#include <regex>
#include <set>
#include <sstream>

#include "phasegate/guards.hpp"
#include "phasegate/text.hpp"

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

const char* const kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                               "July",    "August",   "September", "October", "November", "December"};

// YYYY-MM-DD of a day that exists, or why not.
std::expected<local_days, std::string> parse_day(const std::string& ymd) {
  static const std::regex re(R"(^(\d{4})-(\d{2})-(\d{2})$)");
  std::smatch m;
  if (ymd.size() != 10 || !std::regex_match(ymd, m, re)) return std::unexpected("invalid date \"" + ymd + "\" (use YYYY-MM-DD)");
  int y = std::stoi(m[1]);
  unsigned mo = static_cast<unsigned>(std::stoi(m[2])), d = static_cast<unsigned>(std::stoi(m[3]));
  if (mo < 1 || mo > 12) return std::unexpected("invalid date \"" + ymd + "\": there is no month " + std::to_string(mo));
  date::year_month_day ymdv{date::year{y}, date::month{mo}, date::day{d}};
  if (!ymdv.ok()) {
    auto last = date::year_month_day_last{date::year{y}, date::month_day_last{date::month{mo}}}.day();
    return std::unexpected("invalid date \"" + ymd + "\": " + kMonths[mo - 1] + " " + std::to_string(y) + " has " +
                           std::to_string(static_cast<unsigned>(last)) + " days");
  }
  return local_days{ymdv};
}

// A 5-field cron spec: minute hour day-of-month month day-of-week; *, lists, ranges and steps.
struct Cron {
  std::set<int> minute, hour, dom, month, dow;
  bool dom_any = true, dow_any = true;
};

struct CronFieldSpec {
  const char* name;
  int lo, hi;
};
constexpr CronFieldSpec kCronFields[5] = {
    {"minute", 0, 59}, {"hour", 0, 23}, {"day-of-month", 1, 31}, {"month", 1, 12}, {"day-of-week", 0, 7}};

// A plain number of at most 3 digits (no sign, no trailing junk).
std::optional<int> cron_number(const std::string& s) {
  if (s.empty() || s.size() > 3 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return std::stoi(s);
}

std::expected<std::set<int>, std::string> cron_field(const std::string& f, const CronFieldSpec& spec) {
  const std::string where = std::string(spec.name) + " field \"" + f + "\"";
  const std::string range = std::to_string(spec.lo) + "-" + std::to_string(spec.hi);
  std::set<int> out;
  size_t begin = 0;
  while (true) {
    size_t comma = f.find(',', begin);
    std::string part = f.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
    if (part.empty()) return std::unexpected(where + ": empty list item");
    int step = 1;
    bool stepped = false;
    if (auto slash = part.find('/'); slash != std::string::npos) {
      auto n = cron_number(part.substr(slash + 1));
      if (!n || *n < 1 || *n > spec.hi - spec.lo + 1)
        return std::unexpected(where + ": step \"" + part.substr(slash + 1) + "\" must be a number from 1 to " +
                               std::to_string(spec.hi - spec.lo + 1));
      step = *n;
      stepped = true;
      part = part.substr(0, slash);
    }
    int a = spec.lo, b = spec.hi;
    if (part != "*") {
      auto dash = part.find('-');
      auto x = cron_number(part.substr(0, dash));
      auto y = dash == std::string::npos ? x : cron_number(part.substr(dash + 1));
      if (!x || !y) return std::unexpected(where + ": \"" + part + "\" is not a number, a range a-b or *");
      if (stepped && dash == std::string::npos)
        return std::unexpected(where + ": a step needs * or a range before it (e.g. */15 or 0-30/15)");
      a = *x;
      b = *y;
      if (a < spec.lo || a > spec.hi || b < spec.lo || b > spec.hi)
        return std::unexpected(where + ": " + std::to_string(a < spec.lo || a > spec.hi ? a : b) + " is out of range " + range);
      if (a > b) return std::unexpected(where + ": range " + part + " runs backwards");
    }
    for (int v = a; v <= b; v += step) out.insert(v == 7 && spec.hi == 7 ? 0 : v);  // day-of-week 7 = Sunday
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  return out;
}

std::expected<Cron, std::string> parse_cron(const std::string& spec) {
  if (!spec.empty() && spec.front() == '@')
    return std::unexpected("cron \"" + spec + "\": nicknames like " + spec + " are not supported; write the 5 fields (e.g. \"0 0 * * *\")");
  std::istringstream in(spec);
  std::vector<std::string> f;
  for (std::string x; in >> x;) f.push_back(x);
  if (f.size() != 5)
    return std::unexpected("cron \"" + spec + "\" has " + std::to_string(f.size()) +
                           " fields; it needs 5: minute hour day-of-month month day-of-week");
  std::set<int> sets[5];
  for (int i = 0; i < 5; ++i) {
    auto v = cron_field(f[static_cast<size_t>(i)], kCronFields[i]);
    if (!v) return std::unexpected("cron \"" + spec + "\": " + v.error());
    sets[i] = std::move(*v);
  }
  return Cron{sets[0], sets[1], sets[2], sets[3], sets[4], f[2] == "*", f[4] == "*"};
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
      if (!cron) return fail(Exit::invalid, "window " + w.name + ": " + cron.error());
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
    if (!a || !b) return fail(Exit::invalid, "window " + w.name + ": " + (a ? b.error() : a.error()));
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

std::optional<std::string> time_zone_problem(const std::string& name) {
  if (name.empty()) return "timezone must not be empty (use an IANA name like Australia/Brisbane)";
  // Zone names are short; a long text is no zone (and std::regex and the did-you-mean would be slow on it).
  if (name.size() > 100) return "unknown time zone \"" + truncate_utf8(name, 40) + "\" (use an IANA name like Australia/Brisbane)";
  // Fixed offsets: "+10:00", "-0530", "UTC+10", "GMT-3", "Etc/GMT+10" (whose sign is inverted: it means UTC-10).
  static const std::regex offset(R"(^((Etc/)?(UTC|GMT|UT|Z)\s*)?[+-]\s*\d.*$|^(Etc/)?(UTC|GMT)[+-]?0$)", std::regex::icase);
  if (std::regex_match(name, offset))
    return "timezone \"" + name + "\" is a fixed UTC offset; a window follows a place's clock, daylight saving included: "
           "use the IANA name of the place, like Australia/Brisbane or Europe/Berlin (or \"UTC\" for UTC itself)";
  if (name == "localtime" || name == "posixrules")  // files in zoneinfo, but the machine's zone, not a place's
    return "timezone \"" + name + "\" is whatever zone the machine running phasegate is set to; name the place's IANA "
           "zone, like Australia/Brisbane";
  try {
    (void)date::locate_zone(name);
    return std::nullopt;
  } catch (const std::exception&) {
  }
  std::vector<std::string> names;
  try {
    for (const auto& z : date::get_tzdb().zones) names.emplace_back(z.name());
  } catch (const std::exception&) {
  }
  std::string msg = "unknown time zone \"" + name + "\"";
  auto hint = did_you_mean(name, names);
  if (!hint.empty()) msg += " (did you mean \"" + hint + "\"?)";
  else msg += " (use an IANA name of the system tz database, like Australia/Brisbane)";
  return msg;
}

std::optional<std::string> cron_problem(const std::string& spec) {
  auto c = parse_cron(spec);
  if (c) return std::nullopt;
  return c.error();
}

std::optional<std::string> date_problem(const std::string& ymd) {
  auto d = parse_day(ymd);
  if (d) return std::nullopt;
  return d.error();
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
