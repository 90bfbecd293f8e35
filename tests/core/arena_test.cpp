// ParamArena: packing order (consecutive entries form one matrix), alignment, zeroing, lookups.
#include "lmforge/core/arena.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "lmforge/core/error.h"
#include "lmforge/core/rng.h"

using namespace lmforge;

TEST(Arena, PacksEntriesInOrderWithoutGaps) {
  ParamArena a;
  a.add("q", {3, 5});
  a.add("k", {1, 5});
  a.add("bias", {7});
  a.finalize();
  EXPECT_EQ(a.numel(), 15u + 5u + 7u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % 64, 0u);
  EXPECT_EQ(a.get("q"), a.data());
  EXPECT_EQ(a.get("k"), a.get("q") + 15);  // q and k form one (4,5) matrix
  EXPECT_EQ(a.get("bias"), a.data() + 20);
  EXPECT_EQ(a.info("bias").shape, std::vector<int64_t>{7});
  ASSERT_EQ(a.entries().size(), 3u);
  EXPECT_EQ(a.entries()[1].name, "k");
  for (size_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a.data()[i], 0.0f);
}

TEST(Arena, ErrorsAndClone) {
  ParamArena a;
  a.add("w", {2, 2});
  EXPECT_THROW(a.add("w", {1}), RuntimeError);
  EXPECT_THROW(a.get("w"), RuntimeError);  // before finalize
  a.finalize();
  EXPECT_THROW(a.add("x", {1}), RuntimeError);
  EXPECT_THROW(a.get("nope"), RuntimeError);
  a.get("w")[3] = 5.0f;
  ParamArena g = a.clone_layout();
  EXPECT_EQ(g.numel(), a.numel());
  EXPECT_EQ(g.get("w")[3], 0.0f);
  g.copy_from(a);
  EXPECT_EQ(g.get("w")[3], 5.0f);
  g.zero();
  EXPECT_EQ(g.get("w")[3], 0.0f);
  ParamArena other;
  other.add("v", {4});
  other.finalize();
  EXPECT_THROW(g.copy_from(other), RuntimeError);
}

TEST(Rng, DeterministicAndRoughlyNormal) {
  Rng a(42), b(42);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  Rng c(a.state());
  EXPECT_EQ(c.next_u64(), a.next_u64());
  Rng r(7);
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double x = r.normal();
    s += x;
    s2 += x * x;
  }
  EXPECT_NEAR(s / n, 0.0, 0.01);
  EXPECT_NEAR(s2 / n, 1.0, 0.01);
  EXPECT_NE(seed_for(1, "a"), seed_for(1, "b"));
  EXPECT_NE(seed_for(1, "a"), seed_for(2, "a"));
}
