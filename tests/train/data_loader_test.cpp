// The window sampler: deterministic for a seed, exact from a saved position, a permutation of
// non-overlapping windows within each epoch.
#include "lmforge/train/data_loader.h"

#include <gtest/gtest.h>

#include <numeric>
#include <set>
#include <vector>

#include "lmforge/core/error.h"

using namespace lmforge;

namespace {
std::vector<int32_t> corpus(int n) {
  std::vector<int32_t> t(n);
  std::iota(t.begin(), t.end(), 0);  // token value == position, so windows are checkable
  return t;
}
DataLoader make(const std::vector<int32_t>& t, int T, uint64_t seed) {
  return DataLoader([&t](int64_t pos, int64_t n,
                         int32_t* out) { std::copy(t.begin() + pos, t.begin() + pos + n, out); },
                    static_cast<int64_t>(t.size()), T, seed);
}
}  // namespace

TEST(DataLoader, EachEpochVisitsEveryWindowOnce) {
  auto t = corpus(1000);
  const int T = 16;
  DataLoader dl = make(t, T, 7);
  const int64_t W = dl.windows_per_epoch();
  EXPECT_EQ(W, 999 / 16);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::set<int64_t> starts;
    int64_t shift = -1;
    for (int64_t k = 0; k < W; ++k) {
      int64_t s = dl.window_start(epoch * W + k);
      ASSERT_GE(s, 0);
      ASSERT_LE(s + T + 1, 1000);
      if (shift < 0) shift = s % T;
      EXPECT_EQ(s % T, shift);  // one cut per epoch, stride T
      starts.insert(s);
    }
    EXPECT_EQ(static_cast<int64_t>(starts.size()), W);
  }
}

TEST(DataLoader, DeterministicAndResumesExactly) {
  auto t = corpus(5000);
  const int T = 8, B = 3;
  DataLoader a = make(t, T, 42), b = make(t, T, 42), c = make(t, T, 43);
  std::vector<int32_t> xa(B * (T + 1)), xb(B * (T + 1)), xc(B * (T + 1));
  std::vector<std::vector<int32_t>> seen;
  for (int i = 0; i < 20; ++i) {
    a.next_batch(B, xa.data());
    b.next_batch(B, xb.data());
    c.next_batch(B, xc.data());
    EXPECT_EQ(xa, xb);
    seen.push_back(xa);
    for (int k = 0; k < B; ++k)  // each window is T+1 consecutive tokens
      for (int j = 1; j <= T; ++j) EXPECT_EQ(xa[k * (T + 1) + j], xa[k * (T + 1)] + j);
  }
  EXPECT_NE(xa, xc);  // another seed, another order
  EXPECT_EQ(a.position(), 20 * B);
  // A fresh loader set to a saved position continues with the same batches.
  DataLoader r = make(t, T, 42);
  r.set_position(10 * B);
  for (int i = 10; i < 20; ++i) {
    r.next_batch(B, xb.data());
    EXPECT_EQ(xb, seen[i]) << "batch " << i;
  }
}

TEST(DataLoader, TooFewTokensIsAUsageError) {
  auto t = corpus(8);
  EXPECT_THROW(make(t, 8, 1), UsageError);
  EXPECT_NO_THROW(make(t, 7, 1));
}
