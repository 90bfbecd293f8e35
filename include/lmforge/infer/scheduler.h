// Continuous batching for a server: client threads submit Jobs (one generation request each) and
// wait for their text; one scheduler thread owns the InferenceModel and runs batched steps over
// up to `slots` active jobs, admitting queued jobs as slots free up (a new job's prompt is
// prefilled in the same forward as the others' decode rows). A cancelled job (its client went
// away) leaves at the next step and frees its slot.
// Prefix caching: a job's Sequence is made at admission, on the scheduler thread, with a KV cache
// from a PrefixCachePool (prefix_cache.h): the pooled cache sharing the longest prefix with its
// prompt, so that prefix is not recomputed. A finished job gives its cache back to the pool
// before its client is told it finished, so the client's next turn finds it.
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

#include "lmforge/data/tokenizer.h"
#include "lmforge/infer/engine.h"
#include "lmforge/infer/generate.h"
#include "lmforge/infer/prefix_cache.h"

namespace lmforge {

class Job {
 public:
  explicit Job(GenerateRequest req) : req_(std::move(req)) {}
  // Client side: waits until there is new text or the job is finished (or timeout_ms passes);
  // moves the pending text into *out. Returns false once finished and drained.
  bool wait_text(std::string* out, int timeout_ms = 1000);
  // Client side: blocks until finished.
  void wait_done();
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }
  // Valid once finished: "" when the job ran, else why it never did (cancelled while queued,
  // the scheduler stopping, or a request its Sequence refused).
  const std::string& error() const { return error_; }
  // Valid once finished with an empty error() (the scheduler no longer touches it).
  const Sequence& sequence() const { return *seq_; }

 private:
  friend class Scheduler;
  GenerateRequest req_;  // moved into seq_ at admission
  std::unique_ptr<Sequence> seq_;
  std::string error_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string text_;
  bool finished_ = false;
  std::atomic<bool> cancelled_{false};
};

struct SchedulerOptions {
  int slots = 4;           // jobs decoded together
  int cache_slots = 8;     // KV caches pooled for prefix reuse (0: none)
  int cache_capacity = 0;  // positions of every KV cache (0: the model's context)
};

class Scheduler {
 public:
  // The model and tokenizer are borrowed and must outlive the scheduler.
  Scheduler(InferenceModel& model, const Tokenizer& tok, const SchedulerOptions& opts);
  ~Scheduler();  // stops the thread; unfinished jobs are finished as cancelled
  void submit(std::shared_ptr<Job> job);
  int slots() const { return slots_; }
  size_t active() const { return n_active_; }
  size_t queued();
  // Jobs that left before finishing because their client cancelled them.
  size_t cancelled_total() const { return n_cancelled_; }
  PrefixCacheStats cache_stats() const { return pool_.stats(); }
  const PrefixCachePool& cache_pool() const { return pool_; }

 private:
  void loop();
  InferenceModel& model_;
  const Tokenizer& tok_;
  int slots_;
  PrefixCachePool pool_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::atomic<size_t> n_active_{0}, n_cancelled_{0};
  bool stop_ = false;
  std::thread thread_;  // last: starts once every member above exists
};

}  // namespace lmforge
