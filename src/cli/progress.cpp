#include "cli/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <mutex>

#include "phasegate/backfill.hpp"

namespace phasegate::cli {

namespace {
std::string g_status;  // the status line on screen now; empty: none
std::mutex g_mu;       // g_status and the writes around it (the notification thread prints a line too)

size_t display_columns(std::string_view s) {  // as fit_columns counts: UTF-8 characters, CSI sequences none
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
      for (i += 2; i < s.size() && !(s[i] >= 0x40 && s[i] <= 0x7e); ++i) {
      }
      continue;
    }
    if ((static_cast<unsigned char>(s[i]) & 0xc0) != 0x80) ++n;
  }
  return n;
}
}  // namespace

int terminal_columns(int fd) {
  struct winsize ws {};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    char* end = nullptr;
    long n = std::strtol(c, &end, 10);
    if (end != c && *end == '\0' && n > 0 && n < 10000) return static_cast<int>(n);
  }
  return 80;
}

std::string fit_columns(std::string_view s, size_t columns) {
  if (columns == 0) return {};
  std::string out;
  size_t used = 0, cut_at = std::string::npos;  // cut_at: bytes kept if the text needs "…" at the end
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {  // CSI ... final byte: zero columns
      size_t j = i + 2;
      while (j < s.size() && !(s[j] >= 0x40 && s[j] <= 0x7e)) ++j;
      out.append(s.substr(i, std::min(j + 1, s.size()) - i));
      i = j + 1;
      continue;
    }
    size_t len = 1;  // one UTF-8 character: its lead byte says how long it is
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0xf0) len = 4;
    else if (c >= 0xe0) len = 3;
    else if (c >= 0xc0) len = 2;
    len = std::min(len, s.size() - i);
    if (used + 1 == columns && cut_at == std::string::npos) cut_at = out.size();
    if (used == columns) {  // one character too many: the last column becomes "…"
      out.resize(cut_at);
      out += "\u2026";
      if (out.find('\x1b') != std::string::npos) out += "\x1b[0m";
      return out;
    }
    out.append(s.substr(i, len));
    ++used;
    i += len;
  }
  return out;
}

std::string progress_bar_text(const backfill::Progress& p, int columns) {
  const size_t usable = static_cast<size_t>(std::max(columns - 1, 10));
  const int pct = p.done ? 100
                  : p.estimated_total > 0 ? static_cast<int>(std::min<long long>(100, p.scanned * 100 / p.estimated_total))
                                          : 0;
  // What matters most keeps its room: the numbers, then the bar (20 or 10 wide, none on a narrow terminal), then
  // the step's name in what is left (the "->" line above says it in full).
  const std::string numbers = p.line();
  const size_t ncols = display_columns(numbers);
  size_t width = 0;
  for (size_t w : {20, 10})
    if (usable >= 60 && width == 0 && 2 + w + 3 + 1 + ncols <= usable) width = w;
  std::string bar;
  if (width > 0) {
    bar.assign(static_cast<size_t>(pct) * width / 100, '#');
    bar.resize(width, '.');
    bar = "[" + bar + "] ";
  }
  const size_t fixed = 2 + bar.size() + ncols;
  std::string step = fixed + 5 <= usable ? fit_columns(p.step, usable - fixed - 1) + " " : std::string();
  return fit_columns("  " + step + bar + numbers, usable);
}

void print_line(const std::string& line) {
  std::lock_guard lock(g_mu);
  if (g_status.empty()) {
    std::cerr << line << "\n";
    return;
  }
  std::cerr << "\r\x1b[K" << line << "\n" << g_status << std::flush;
}

namespace {
void end_progress_locked() {
  if (g_status.empty()) return;
  g_status.clear();
  std::cerr << "\n" << std::flush;
}
}  // namespace

void end_progress() {
  std::lock_guard lock(g_mu);
  end_progress_locked();
}

void ProgressReporter::operator()(const backfill::Progress& p) {
  if (tty_) {
    std::lock_guard lock(g_mu);
    g_status = progress_bar_text(p, terminal_columns(STDERR_FILENO));
    std::cerr << "\r" << g_status << "\x1b[K" << std::flush;
    if (p.done) end_progress_locked();
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (p.done || !p.paused.empty() || now - last_line_ >= std::chrono::seconds(10)) {  // a pause is said at once
    last_line_ = now;
    print_line("  backfill " + p.step + ": " + p.line());
  }
}

}  // namespace phasegate::cli
