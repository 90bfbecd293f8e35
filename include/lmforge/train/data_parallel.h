// The optimizer side of data parallelism: averages the trainable groups' gradients over the
// ranks, clips them with the global norm and applies AdamW, either replicated (every rank holds
// the whole AdamW state: gradients all-reduced in buckets) or sharded (ZeRO-1: gradients
// reduce-scattered, rank r keeps the AdamW moments of its range shard_range(numel, r, N) of each
// group and updates only those parameters, then the parameters are all-gathered). With one rank
// both are exactly the plain AdamW update.
// Checkpoints always hold the whole AdamW state in the single-process layout (gathered from the
// shards when sharded), so a checkpoint does not depend on how the optimizer was sharded.
// Not here: the loop (trainer.cpp), the arithmetic (optimizer.h, backend kernels).
#pragma once
#include <cstddef>
#include <filesystem>
#include <memory>
#include <vector>

#include "lmforge/dist/comm.h"
#include "lmforge/train/optimizer.h"
#include "lmforge/train/trainer.h"

namespace lmforge {

// Floats per all-reduce call when the gradients are all-reduced (8 MiB): large enough that the
// per-call latency is negligible, small enough to bound the transport's staging buffers.
inline constexpr size_t kGradBucketFloats = size_t{1} << 21;

// Segments of [lo, hi) of a flat arena, rebased to lo (segments cut by the range keep their name
// and are shortened; shapes of cut segments are not meaningful).
std::vector<ParamSegment> shard_segments(const std::vector<ParamSegment>& segments, size_t lo,
                                         size_t hi);

class DataParallelOptimizer {
 public:
  DataParallelOptimizer(const std::vector<TrainableGroup>& groups, const AdamWConfig& config,
                        Comm& comm, bool shard);

  // Averages the gradients over the ranks and clips them to max_norm (<= 0: no clipping) by the
  // global norm; returns the norm before clipping (the same on every rank).
  double reduce_and_clip(double max_norm);
  // One AdamW step with rate lr on every group (after reduce_and_clip).
  void update(float lr);

  void set_step(int64_t step);
  // Whole-state AdamW objects in the single-process layout, one per group: when replicated, the
  // optimizer's own (no copy: a checkpoint must not add the moments again to the peak memory);
  // when sharded, copies gathered from every rank (a collective, call it on every rank). Valid
  // until the next update.
  std::vector<std::shared_ptr<const AdamW>> gather_state();
  // Restores every group's state from a checkpoint directory (each rank reads its range).
  void load_state(const std::filesystem::path& dir);
  // Bytes of AdamW state this rank holds.
  size_t state_bytes() const;

 private:
  struct Group {
    TrainableGroup g;
    ShardRange range;               // this rank's range (the whole group when replicated)
    std::unique_ptr<AdamW> opt;     // over the range
    std::vector<float> grad_shard;  // reduced gradients of the range (sharded only)
  };
  Comm& comm_;
  bool shard_;
  AdamWConfig config_;
  std::vector<Group> groups_;
};

}  // namespace lmforge
