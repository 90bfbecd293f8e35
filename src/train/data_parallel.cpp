// Gradient averaging, global-norm clipping and AdamW over N ranks, replicated or ZeRO-1 sharded
// (see data_parallel.h).
#include "lmforge/train/data_parallel.h"

#include <algorithm>
#include <cmath>

#include "lmforge/backend/ops.h"
#include "lmforge/train/checkpoint.h"

namespace lmforge {

std::vector<ParamSegment> shard_segments(const std::vector<ParamSegment>& segments, size_t lo,
                                         size_t hi) {
  std::vector<ParamSegment> out;
  for (const auto& s : segments) {
    const size_t a = std::max(s.offset, lo), b = std::min(s.offset + s.numel, hi);
    if (a >= b) continue;
    ParamSegment c = s;
    c.offset = a - lo;
    c.numel = b - a;
    if (c.numel != s.numel) c.shape = {int64_t(c.numel)};
    out.push_back(std::move(c));
  }
  return out;
}

DataParallelOptimizer::DataParallelOptimizer(const std::vector<TrainableGroup>& groups,
                                             const AdamWConfig& config, Comm& comm, bool shard)
    : comm_(comm), shard_(shard && comm.size() > 1), config_(config) {
  for (const auto& g : groups) {
    Group x;
    x.g = g;
    x.range = shard_ ? shard_range(g.numel, comm.rank(), comm.size()) : ShardRange{0, g.numel};
    x.opt = std::make_unique<AdamW>(config, shard_segments(g.segments, x.range.lo, x.range.hi),
                                    x.range.size());
    if (shard_) x.grad_shard.resize(x.range.size());
    groups_.push_back(std::move(x));
  }
}

double DataParallelOptimizer::reduce_and_clip(double max_norm) {
  const int N = comm_.size();
  const float inv_n = 1.0f / float(N);
  double ss = 0;
  for (auto& x : groups_) {
    float* grads = x.g.grads;
    float* mine = grads;  // the reduced gradients this rank updates with
    if (shard_) {
      comm_.reduce_scatter(grads, x.grad_shard.data(), x.g.numel);
      mine = x.grad_shard.data();
    } else if (N > 1) {
      for (size_t at = 0; at < x.g.numel; at += kGradBucketFloats)
        comm_.all_reduce(grads + at, std::min(kGradBucketFloats, x.g.numel - at));
    }
    if (N > 1) ops::scale_inplace(mine, inv_n, x.range.size());
    ss += ops::sum_squares(mine, x.range.size());
  }
  if (shard_) comm_.all_reduce(&ss, 1);  // each rank summed its own range
  const double norm = std::sqrt(ss);
  if (max_norm > 0 && norm > max_norm) {  // as clip_grad_norm (trainer.h)
    const float s = static_cast<float>(max_norm / (norm + 1e-6));
    for (auto& x : groups_)
      ops::scale_inplace(shard_ ? x.grad_shard.data() : x.g.grads, s, x.range.size());
  }
  return norm;
}

void DataParallelOptimizer::update(float lr) {
  for (auto& x : groups_) {
    const float* grads = shard_ ? x.grad_shard.data() : x.g.grads;
    x.opt->update(x.g.params + x.range.lo, grads, lr);
    if (shard_) comm_.all_gather(x.g.params, x.g.numel);
  }
}

void DataParallelOptimizer::set_step(int64_t step) {
  for (auto& x : groups_) x.opt->set_step(step);
}

std::vector<std::shared_ptr<const AdamW>> DataParallelOptimizer::gather_state() {
  std::vector<std::shared_ptr<const AdamW>> out;
  for (auto& x : groups_) {
    if (!shard_) {  // the whole state already: a non-owning pointer to it
      out.emplace_back(std::shared_ptr<const AdamW>(), x.opt.get());
      continue;
    }
    auto full = std::make_unique<AdamW>(config_, x.g.segments, x.g.numel);
    full->set_step(x.opt->step());
    std::copy(x.opt->m().begin(), x.opt->m().end(), full->m().begin() + x.range.lo);
    std::copy(x.opt->v().begin(), x.opt->v().end(), full->v().begin() + x.range.lo);
    comm_.all_gather(full->m().data(), x.g.numel);
    comm_.all_gather(full->v().data(), x.g.numel);
    out.push_back(std::move(full));
  }
  return out;
}

void DataParallelOptimizer::load_state(const std::filesystem::path& dir) {
  for (auto& x : groups_) {
    AdamW full(config_, x.g.segments, x.g.numel);
    load_optimizer_state(dir, full, x.g.prefix);
    x.opt->set_step(full.step());
    std::copy(full.m().begin() + x.range.lo, full.m().begin() + x.range.hi, x.opt->m().begin());
    std::copy(full.v().begin() + x.range.lo, full.v().begin() + x.range.hi, x.opt->v().begin());
  }
}

size_t DataParallelOptimizer::state_bytes() const {
  size_t b = 0;
  for (const auto& x : groups_) b += 2 * x.range.size() * sizeof(float);
  return b;
}

}  // namespace lmforge
