// The communicator seam in one process: shard ranges tile any array, the single-process
// collectives leave data as it is, and DataParallelOptimizer with one rank (replicated or asked to
// shard) is exactly clip_grad_norm + AdamW, also through gather_state.
#include "lmforge/dist/comm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lmforge/train/data_parallel.h"
#include "lmforge/train/trainer.h"

using namespace lmforge;

TEST(Comm, ShardRangesTileTheArray) {
  for (size_t n : {0, 1, 7, 8, 1000, 1001}) {
    for (int size : {1, 2, 3, 8}) {
      size_t next = 0, lo = n, hi = 0;
      for (int r = 0; r < size; ++r) {
        ShardRange s = shard_range(n, r, size);
        EXPECT_EQ(s.lo, next) << n << " " << size << " " << r;
        next = s.hi;
        lo = std::min(lo, s.size());
        hi = std::max(hi, s.size());
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(hi - lo, 1u);
    }
  }
}

TEST(Comm, SingleProcessCollectivesAreTheIdentity) {
  auto c = make_single_process_comm();
  EXPECT_EQ(c->rank(), 0);
  EXPECT_EQ(c->size(), 1);
  EXPECT_TRUE(c->is_root());
  std::vector<float> x = {1, 2, 3};
  c->all_reduce(x.data(), x.size());
  c->all_gather(x.data(), x.size());
  std::vector<float> out(3);
  c->reduce_scatter(x.data(), out.data(), 3);
  EXPECT_EQ(out, x);
  EXPECT_EQ(x, (std::vector<float>{1, 2, 3}));
  c->barrier();
}

TEST(Comm, ShardSegmentsCutAndRebase) {
  std::vector<ParamSegment> segs = {{"a", {2, 3}, 0, 6, true}, {"b", {4}, 6, 4, false}};
  auto s = shard_segments(segs, 4, 8);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].name, "a");
  EXPECT_EQ(s[0].offset, 0u);
  EXPECT_EQ(s[0].numel, 2u);
  EXPECT_EQ(s[1].offset, 2u);
  EXPECT_EQ(s[1].numel, 2u);
  EXPECT_FALSE(s[1].decay);
  EXPECT_EQ(shard_segments(segs, 0, 10)[0].shape, (std::vector<int64_t>{2, 3}));
}

TEST(Comm, OneRankOptimizerIsPlainAdamW) {
  const size_t n = 37;
  std::vector<ParamSegment> segs = {{"w", {5, 5}, 0, 25, true}, {"b", {12}, 25, 12, false}};
  for (bool shard : {false, true}) {
    std::vector<float> p1(n), g1(n), p2, g2;
    for (size_t i = 0; i < n; ++i) p1[i] = 0.1f * float(i % 7) - 0.3f, g1[i] = std::sin(float(i));
    p2 = p1;
    g2 = g1;
    AdamWConfig cfg;
    AdamW ref(cfg, segs, n);
    auto comm = make_single_process_comm();
    std::vector<TrainableGroup> groups = {{"", p2.data(), g2.data(), n, segs}};
    DataParallelOptimizer dp(groups, cfg, *comm, shard);
    for (int step = 0; step < 3; ++step) {
      double n1 =
          clip_grad_norm(std::vector<TrainableGroup>{{"", p1.data(), g1.data(), n, segs}}, 0.5);
      ref.update(p1.data(), g1.data(), 1e-2f);
      double n2 = dp.reduce_and_clip(0.5);
      dp.update(1e-2f);
      EXPECT_EQ(n1, n2);
      EXPECT_EQ(p1, p2);
      for (size_t i = 0; i < n; ++i) g1[i] = g2[i] = std::cos(float(i + step));
    }
    auto full = dp.gather_state();
    ASSERT_EQ(full.size(), 1u);
    EXPECT_EQ(full[0]->m(), ref.m());
    EXPECT_EQ(full[0]->v(), ref.v());
    EXPECT_EQ(full[0]->step(), 3);
  }
}
