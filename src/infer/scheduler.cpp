// The scheduler thread: admit (make each new job's Sequence with a pooled cache) → drop cancelled
// → one batched step → hand out text → retire (cache back to the pool, then wake the client).
// Only this thread touches active Sequences; jobs hand text to their clients under the job's own
// mutex, so a slow client never holds up the batch.
#include "lmforge/infer/scheduler.h"

#include <chrono>

namespace lmforge {

bool Job::wait_text(std::string* out, int timeout_ms) {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms),
               [&] { return !text_.empty() || finished_; });
  out->swap(text_);
  text_.clear();
  return !(finished_ && out->empty());
}

void Job::wait_done() {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [&] { return finished_; });
}

Scheduler::Scheduler(InferenceModel& model, const Tokenizer& tok, const SchedulerOptions& opts)
    : model_(model),
      tok_(tok),
      slots_(opts.slots < 1 ? 1 : opts.slots),
      pool_(model.config(), opts.cache_capacity > 0 ? opts.cache_capacity : model.config().n_ctx,
            opts.cache_slots),
      thread_([this] { loop(); }) {}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (auto& j : queue_) {
    std::lock_guard<std::mutex> lk(j->mu_);
    j->error_ = "the server is stopping";
    j->finished_ = true;
    j->cv_.notify_all();
  }
}

void Scheduler::submit(std::shared_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_all();
}

size_t Scheduler::queued() {
  std::lock_guard<std::mutex> lk(mu_);
  return queue_.size();
}

void Scheduler::loop() {
  std::vector<std::shared_ptr<Job>> active, admitted;
  std::vector<Sequence*> seqs;
  // Wakes the client. error_ and seq_ are written before, and the client reads them only after
  // it saw finished_ under the job's mutex.
  auto finish = [](Job& j) {
    std::lock_guard<std::mutex> lk(j.mu_);
    j.finished_ = true;
    j.cv_.notify_all();
  };
  for (;;) {
    admitted.clear();
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !queue_.empty() || !active.empty(); });
      if (stop_) break;
      while ((int)(active.size() + admitted.size()) < slots_ && !queue_.empty()) {
        admitted.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    for (auto& j : admitted) {
      if (j->cancelled()) {  // its client left while it waited: no cache, no Sequence
        j->error_ = "cancelled before it started";
        ++n_cancelled_;
        finish(*j);
        continue;
      }
      try {
        PrefixCachePool::Acquired c = pool_.acquire(j->req_.prompt);
        j->seq_ = std::make_unique<Sequence>(model_, tok_, std::move(j->req_), std::move(c.cache),
                                             pool_.capacity());
        active.push_back(j);
      } catch (const std::exception& e) {
        j->error_ = e.what();
        finish(*j);
      }
    }
    n_active_ = active.size();
    for (auto& j : active)
      if (j->cancelled() && !j->seq_->done()) {
        j->seq_->cancel();
        ++n_cancelled_;
      }
    seqs.clear();
    for (auto& j : active) seqs.push_back(j->seq_.get());
    bool failed = false;
    try {
      step(model_, seqs, [&](size_t i, const std::string& piece) {
        std::lock_guard<std::mutex> lk(active[i]->mu_);
        active[i]->text_ += piece;
        active[i]->cv_.notify_all();
      });
    } catch (...) {
      failed = true;  // a kernel failure ends the batch, not the server
      for (auto& j : active) j->seq_->cancel();
    }
    for (size_t i = 0; i < active.size();) {
      if (active[i]->seq_->done()) {
        std::unique_ptr<KVCache> cache = active[i]->seq_->release_cache();
        if (!failed) pool_.put(std::move(cache));  // a failed forward may have left rows half done
        --n_active_;  // before the client hears of it, so /health never counts it after
        finish(*active[i]);
        active.erase(active.begin() + (long)i);
      } else {
        ++i;
      }
    }
    n_active_ = active.size();
  }
  for (auto& j : active) {
    j->seq_->cancel();
    finish(*j);
  }
}

}  // namespace lmforge
