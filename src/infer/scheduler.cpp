// The scheduler thread: admit → drop cancelled → one batched step → hand out text → retire.
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

Scheduler::Scheduler(InferenceModel& model, int slots)
    : model_(model), slots_(slots < 1 ? 1 : slots), thread_([this] { loop(); }) {}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (auto& j : queue_) {
    std::lock_guard<std::mutex> lk(j->mu_);
    j->seq_->cancel();
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
  std::vector<std::shared_ptr<Job>> active;
  std::vector<Sequence*> seqs;
  auto finish = [](Job& j) {
    std::lock_guard<std::mutex> lk(j.mu_);
    j.finished_ = true;
    j.cv_.notify_all();
  };
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !queue_.empty() || !active.empty(); });
      if (stop_) break;
      while ((int)active.size() < slots_ && !queue_.empty()) {
        active.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    for (auto& j : active)
      if (j->cancelled() && !j->seq_->done()) {
        j->seq_->cancel();
        ++n_cancelled_;
      }
    seqs.clear();
    for (auto& j : active) seqs.push_back(j->seq_.get());
    try {
      step(model_, seqs, [&](size_t i, const std::string& piece) {
        std::lock_guard<std::mutex> lk(active[i]->mu_);
        active[i]->text_ += piece;
        active[i]->cv_.notify_all();
      });
    } catch (...) {
      for (auto& j : active) j->seq_->cancel();  // a kernel failure ends the batch, not the server
    }
    for (size_t i = 0; i < active.size();) {
      if (active[i]->seq_->done()) {
        finish(*active[i]);
        active.erase(active.begin() + i);
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
