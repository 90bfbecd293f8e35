// Continuous batching for a server: client threads submit Jobs (one Sequence each) and wait for
// their text; one scheduler thread owns the InferenceModel and runs batched steps over up to
// `slots` active jobs, admitting queued jobs as slots free up (a new job's prompt is prefilled in
// the same forward as the others' decode rows). A cancelled job (its client went away) leaves
// at the next step and frees its slot.
// Not here: HTTP or JSON (serve/), fairness beyond first-come-first-served.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lmforge/infer/engine.h"
#include "lmforge/infer/generate.h"

namespace lmforge {

class Job {
 public:
  explicit Job(std::unique_ptr<Sequence> seq) : seq_(std::move(seq)) {}
  // Client side: waits until there is new text or the job is finished (or timeout_ms passes);
  // moves the pending text into *out. Returns false once finished and drained.
  bool wait_text(std::string* out, int timeout_ms = 1000);
  // Client side: blocks until finished.
  void wait_done();
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }
  // Valid once finished (the scheduler no longer touches it).
  const Sequence& sequence() const { return *seq_; }

 private:
  friend class Scheduler;
  std::unique_ptr<Sequence> seq_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string text_;
  bool finished_ = false;
  std::atomic<bool> cancelled_{false};
};

class Scheduler {
 public:
  Scheduler(InferenceModel& model, int slots);
  ~Scheduler();  // stops the thread; unfinished jobs are finished as cancelled
  void submit(std::shared_ptr<Job> job);
  int slots() const { return slots_; }
  size_t active() const { return n_active_; }
  size_t queued();
  // Jobs that left before finishing because their client cancelled them.
  size_t cancelled_total() const { return n_cancelled_; }

 private:
  void loop();
  InferenceModel& model_;
  int slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::atomic<size_t> n_active_{0}, n_cancelled_{0};
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace lmforge
