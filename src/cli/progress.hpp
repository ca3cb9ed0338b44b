#pragma once
// Backfill progress on stderr. On a terminal: one status line at the bottom, redrawn in place and never wider
// than the terminal (a wrapped line cannot be redrawn with \r), with every other line printed above it (clear,
// print, redraw). Without a terminal: a plain line every 10 s, at once for a pause, and at the end.
#include <chrono>
#include <string>
#include <string_view>

namespace phasegate::backfill {
struct Progress;
}

namespace phasegate::cli {

// The width of the terminal on fd: TIOCGWINSZ, else $COLUMNS, else 80.
int terminal_columns(int fd);
// s in at most `columns` columns: UTF-8 characters count one, ANSI colour sequences none; a cut ends in "…".
std::string fit_columns(std::string_view s, size_t columns);
// The bar for a terminal `columns` wide: it leaves the last column free (terminals differ in how they wrap there).
std::string progress_bar_text(const backfill::Progress& p, int columns);

// A line on stderr; while a status line is shown it is cleared first and redrawn below the line.
void print_line(const std::string& line);
// The status line is over: it stays on screen as it was last drawn, and the next line starts below it.
void end_progress();

class ProgressReporter {
 public:
  explicit ProgressReporter(bool tty) : tty_(tty) {}
  void operator()(const backfill::Progress& p);

 private:
  bool tty_;
  std::chrono::steady_clock::time_point last_line_ = std::chrono::steady_clock::now() - std::chrono::hours(1);
};

}  // namespace phasegate::cli
