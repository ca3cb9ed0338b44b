// The backfill progress bar fits the terminal (src/cli/progress.cpp): never wider than its columns minus one.
#include <doctest/doctest.h>

#include "cli/progress.hpp"
#include "phasegate/backfill.hpp"

using namespace phasegate;

namespace {
// Columns a string takes on a terminal: UTF-8 characters, not bytes; CSI sequences take none.
size_t columns_of(const std::string& s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
      while (i < s.size() && !(s[i] >= 0x40 && s[i] <= 0x7e && s[i] != '[')) ++i;
      continue;
    }
    if ((static_cast<unsigned char>(s[i]) & 0xc0) != 0x80) ++n;
  }
  return n;
}
backfill::Progress busy(std::string step) {
  backfill::Progress p;
  p.step = std::move(step);
  p.scanned = 1234567;
  p.updated = 1200000;
  p.estimated_total = 2000000;
  p.rows_per_s = 85123;
  p.eta = Millis(9000);
  p.batch_size = 12000;
  return p;
}
}  // namespace

TEST_SUITE("cli::progress") {
  TEST_CASE("fit_columns cuts at the column, counting characters, not bytes or colour codes") {
    CHECK(cli::fit_columns("abcdef", 10) == "abcdef");
    CHECK(cli::fit_columns("abcdef", 6) == "abcdef");
    CHECK(cli::fit_columns("abcdefg", 6) == "abcde\u2026");
    CHECK(cli::fit_columns("äöüäöüä", 4) == "äöü\u2026");
    CHECK(columns_of(cli::fit_columns("\x1b[32mgreen text here\x1b[0m", 8)) == 8);
    CHECK(cli::fit_columns("\x1b[32mok\x1b[0m", 2) == "\x1b[32mok\x1b[0m");
    CHECK(cli::fit_columns("x", 0).empty());
  }
  TEST_CASE("the bar never reaches the last column, whatever the width") {
    for (int cols : {20, 40, 60, 79, 80, 100, 132, 250}) {
      for (const char* step : {"b", "backfill reading_level from lexile for every book in the catalogue", "ünïcödé step ñame"}) {
        auto p = busy(step);
        for (const char* paused : {"", "autovacuum (pid 4242) is vacuuming public.books: waiting until it finishes"}) {
          p.paused = paused;
          std::string bar = cli::progress_bar_text(p, cols);
          INFO("cols=" << cols << " bar=" << bar);
          CHECK(columns_of(bar) <= static_cast<size_t>(cols - 1));
          CHECK(bar.find('\n') == std::string::npos);
        }
      }
    }
  }
  TEST_CASE("the bar shows how far it got") {
    auto p = busy("fill");
    std::string bar = cli::progress_bar_text(p, 120);
    CHECK(bar.find("[############........]") != std::string::npos);  // 61% of 20
    CHECK(bar.find("61%") != std::string::npos);
    p.done = true;
    CHECK(cli::progress_bar_text(p, 120).find("[####################]") != std::string::npos);
    CHECK(cli::progress_bar_text(p, 40).find('[') == std::string::npos);  // narrow: the numbers, not the bar
  }
}
