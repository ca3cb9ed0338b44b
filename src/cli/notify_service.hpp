#pragma once
// The notification outbox's delivery thread (notify_service.cpp, docs/notify.md).
#include <string>

#include "phasegate/config.hpp"

namespace phasegate::cli {
// Starts delivering in the background when the project has [notify.*] sinks (once per process).
void start_notifications(const Project& project, const std::string& url);
// Commands that drive runs (run, abort, rollback) wait at exit until the outbox is empty, retries included
// (at most 15 s); the others only until what they queued had one try (at most 5 s).
void drain_notifications_at_exit();
// At exit (main): waits as above, then stops; returns how many deliveries are left (the next command sends them).
long long finish_notifications();
}  // namespace phasegate::cli
