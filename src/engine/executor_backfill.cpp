// Backfill steps of the Executor (issue #5; docs/backfill.md).
#include "engine/executor_context.hpp"

namespace phasegate {

// Keyset batches over the primary key (issue #5): each batch is one short transaction that also moves the
// cursor, so a kill at any instant resumes exactly after the last committed batch. Guards are asked between
// batches; the batch size steers toward target_batch_time.
Result<void> Executor::run_backfill(Context& cx, const Step& step, const Timeouts& t) {
  const Backfill& b = *step.backfill;
  const std::string phase = phase_name(step.phase);
  auto& rec = cx.records[step.name];
  auto table = target_.backfill_table(b.table);
  if (!table) return std::unexpected(table.error());
  backfill::Cursor cur;
  // Resume from the cursor after a kill, a guard pause, an abort — and after a failed batch: the rows of
  // earlier batches are committed, so starting over would apply `set` to them twice. A rollback clears the
  // cursor with the step (pending again), so a re-run after a rollback starts from the first key.
  if (!rec.cursor.empty())
    if (auto c = backfill::Cursor::from_json(rec.cursor)) cur = *c;
  if (cur.batch_size <= 0) cur.batch_size = backfill::first_batch_size(b);
  if (cur.batches > 0)
    (void)emit(cx, "backfill.progress", phase, step.name,
               json{{"resumed", true}, {"scanned", cur.scanned}, {"updated", cur.updated}, {"last", cur.last}}.dump());

  // The health stops (guards::check_health) ask about this table between batches.
  struct During {
    Context& cx;
    ~During() {
      cx.backfill_table.clear();
      cx.backfill_progress.reset();
    }
  } during{cx};
  cx.backfill_table = table->qualified;
  cx.health_due = TimePoint{};
  cx.backfill_progress = backfill::Progress{cx.plan.id, step.name, cur.scanned, cur.updated, table->estimated_rows, 0, std::nullopt,
                                            cur.batch_size, Millis(0), false, {}};
  const TimePoint began = clock_.now();
  const long long scanned_before = cur.scanned;
  // The first batch is reported at once (its estimate and rate: serve's /status shows an ETA from the start), then
  // at most every 5 s.
  TimePoint last_event = began - std::chrono::seconds(5);
  for (bool first = true;; first = false) {
    // Later batches ask for an abort in their own first round trip (below); signals are asked here always.
    if (auto stop = first ? abort_check(cx) : interrupted(cx)) return std::unexpected(*stop);
    // Load, window (finish-step) and the health stops between batches; before the first batch the step's
    // own gate has just asked the others, so only the health stops can newly say wait there.
    if (auto g = guard_gate(cx, Gate::step); !g) return g;
    const BatchSql sql = backfill::batch_sql(*table, b, !cur.last.empty());
    const TimePoint t0 = clock_.now();
    backfill::Cursor next;
    std::optional<StateChange> completed;
    std::string abort_by;
    auto r = with_lock_retries(cx, step, [&]() -> Result<void> {
      auto got = target_.backfill_batch(sql, cur.last, cur.batch_size, cx.abort_seen ? 0 : cx.run.id, t, [&](const BatchResult& br) {
        next = cur;
        next.scanned += br.scanned;
        next.updated += br.updated;
        next.batches += 1;
        if (!br.last.empty()) next.last = br.last;
        completed.reset();
        StepRecord moved = rec;  // the cursor moves with the rows, in their transaction
        moved.cursor = next.to_json();
        if (br.scanned < cur.batch_size) {  // walked past the last key: the step is done with this batch
          const std::string before = rec.cursor;  // memory follows only once the batch committed
          rec.cursor = moved.cursor;
          auto ms = std::chrono::duration_cast<Millis>(clock_.now() - *rec.started_at).count();
          completed = step_change(cx, step, StepTrigger::finish,
                                  json{{"duration_ms", ms}, {"backfill", {{"scanned", next.scanned}, {"updated", next.updated}, {"batches", next.batches}}}}.dump())
                          .value();
          rec.cursor = before;
          return *completed;
        }
        StateChange c;
        c.steps.push_back(moved);
        return c;
      });
      if (!got) return std::unexpected(got.error());
      abort_by = got->aborted_by;
      return {};
    });
    if (r && !abort_by.empty()) return std::unexpected(aborted_by(cx, abort_by));
    if (!r) {
      if (r.error().sqlstate == sqlstate::kQueryCanceled)  // cancelled: by `phasegate abort`, or a statement_timeout
        if (auto aborted = abort_check(cx)) return std::unexpected(*aborted);
      return r;
    }
    const Millis took = std::chrono::duration_cast<Millis>(clock_.now() - t0);
    const int size_used = cur.batch_size;
    cur = next;
    cur.batch_size = backfill::next_batch_size(size_used, took, b.target_batch_time, b.batch_rows);
    rec.cursor = cur.to_json();
    const TimePoint now = clock_.now();
    backfill::Progress p{cx.plan.id, step.name, cur.scanned, cur.updated, table->estimated_rows, 0, std::nullopt,
                         cur.batch_size, took, completed.has_value(), {}};
    double secs = std::chrono::duration<double>(now - began).count();
    if (secs > 0) p.rows_per_s = (cur.scanned - scanned_before) / secs;
    if (p.rows_per_s > 0 && p.estimated_total > cur.scanned)
      p.eta = Millis(static_cast<long long>((p.estimated_total - cur.scanned) / p.rows_per_s * 1000));
    cx.backfill_progress = p;
    if (progress_) progress_(p);
    if (completed) {
      rec = completed->steps.front();
      observe(*completed);
      return {};
    }
    crash("after-batch:" + step.name);
    if (now - last_event >= std::chrono::seconds(5)) {
      last_event = now;
      (void)emit(cx, "backfill.progress", phase, step.name,
                 json{{"scanned", p.scanned}, {"updated", p.updated}, {"estimated_total", p.estimated_total},
                      {"rows_per_s", static_cast<long long>(p.rows_per_s)}, {"batch_size", p.batch_size}}.dump());
    }
    if (b.pause > Millis(0)) clock_.sleep_for(b.pause);
  }
}

}  // namespace phasegate
