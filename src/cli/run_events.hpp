#pragma once
// How `log` and `report` read one run: RUN (default: the newest run of the database), its events, and the
// whole event chain checked (cmd_status.cpp).
#include <string>
#include <vector>

#include "phasegate/config.hpp"
#include "phasegate/pg.hpp"

namespace phasegate::cli {

struct RunEvents {
  int64_t run_id = 0;
  std::vector<EventRow> events;
  std::string none;                  // non-empty: there is nothing to show, and why ("no runs yet")
  ChainCheck chain;
  std::vector<std::string> broken;   // events whose stored hash does not verify
  bool ok() const { return chain.ok() && broken.empty(); }
};

// Exit::invalid for a RUN that is not a number or a database without the state schema.
Result<RunEvents> read_run_events(const Project& project, PgDatabase& pg, const std::string& run_arg);

}  // namespace phasegate::cli
