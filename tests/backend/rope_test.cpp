// RoPE: ref vs cpu for every head layout (NH, NKV) and head size, with a nonzero pos0 (the
// KV-cache case); v heads must stay untouched; the ref matches an independent formula for one
// element; gradient check of the ref backward; forward∘backward is the identity.
#include "backend/kernel_test_util.h"
#include "lmforge/backend/kernels.h"

namespace lmforge {
namespace {
using test::Pair;

TEST(Rope, RefVsCpu) {
  std::mt19937_64 rng(1);
  for (auto [NH, NKV] : {std::pair{4, 4}, {4, 2}, {6, 1}})
    for (int HS : {8, 16, 64})
      for (int T : {1, 31, 257}) {
        int B = 2, pos0 = T == 31 ? 1000 : 0, QKV = (NH + 2 * NKV) * HS;
        SCOPED_TRACE("NH=" + std::to_string(NH) + " NKV=" + std::to_string(NKV) +
                     " HS=" + std::to_string(HS) + " T=" + std::to_string(T));
        Pair x(B * T * QKV);
        x.fill(rng);
        auto before = x.f.vec();
        ref::rope_forward(x.d.data(), B, T, NH, NKV, HS, 10000.0, pos0);
        cpu::rope_forward(x.f.data(), B, T, NH, NKV, HS, 10000.0f, pos0);
        // Angles up to ~1300 rad: the float cos/sin table (computed in double) is within 1 ulp.
        test::expect_close(x, 2e-6, 2e-6, "rope_forward");
        for (int bt = 0; bt < B * T; bt++)
          for (int i = (NH + NKV) * HS; i < QKV; i++)
            ASSERT_EQ(x.f[(size_t)bt * QKV + i], before[(size_t)bt * QKV + i]) << "v touched";
        ref::rope_backward(x.d.data(), B, T, NH, NKV, HS, 10000.0, pos0);
        cpu::rope_backward(x.f.data(), B, T, NH, NKV, HS, 10000.0f, pos0);
        test::expect_close(x, 4e-6, 4e-6, "rope_backward");
        for (size_t i = 0; i < x.size(); i++) ASSERT_NEAR(x.d[i], before[i], 1e-12) << "identity";
      }
}

TEST(Rope, MatchesFormulaForOneElement) {
  // One head of size 4 at position 3, theta 100: pair (1, 3) rotates by 3·100^(-2/4) = 0.3 rad.
  std::vector<double> x = {1, 2, 3, 4, 0, 0, 0, 0, 9, 9, 9, 9};  // q | k | v, NH = NKV = 1
  std::vector<double> row(12 * 4, 0.0);
  for (int i = 0; i < 12; i++) row[3 * 12 + i] = x[i];
  ref::rope_forward(row.data(), 1, 4, 1, 1, 4, 100.0, 0);
  double a = 0.3;
  EXPECT_NEAR(row[3 * 12 + 1], 2 * std::cos(a) - 4 * std::sin(a), 1e-12);
  EXPECT_NEAR(row[3 * 12 + 3], 4 * std::cos(a) + 2 * std::sin(a), 1e-12);
  EXPECT_NEAR(row[3 * 12 + 0], 1 * std::cos(3.0) - 3 * std::sin(3.0), 1e-12);
}

TEST(Rope, GradientCheck) {
  std::mt19937_64 rng(2);
  int B = 2, T = 3, NH = 4, NKV = 2, HS = 4, QKV = (NH + 2 * NKV) * HS;
  auto x = test::random_vec(rng, B * T * QKV), r = test::random_vec(rng, B * T * QKV);
  std::vector<double> y;
  auto loss = [&] {
    y = x;
    ref::rope_forward(y.data(), B, T, NH, NKV, HS, 10000.0, 5);
    return test::dot(y.data(), r.data(), y.size());
  };
  std::vector<double> g = r;
  ref::rope_backward(g.data(), B, T, NH, NKV, HS, 10000.0, 5);
  EXPECT_LT(test::grad_check_error({x.data()}, {x.size()}, {g.data()}, loss), 1e-6);
}

}  // namespace
}  // namespace lmforge
