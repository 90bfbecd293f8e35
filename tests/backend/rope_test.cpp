// RoPE: ref vs cpu for every head layout (NH, NKV) and head size, with a nonzero pos0 (the
// KV-cache case); v heads must stay untouched; the ref matches an independent formula for one
// element; gradient check of the ref backward; forward∘backward is the identity. Packed rows
// (pos): ref vs cpu (packed documents, and scattered large positions), the gradient check, each
// document rotated as if alone (bitwise), pos = pos0+t == no pos (bitwise, pos0 then ignored).
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

TEST(Rope, PackedRefVsCpu) {
  std::mt19937_64 rng(3);
  for (auto [NH, NKV] : {std::pair{4, 4}, {6, 1}})
    for (int HS : {8, 64})
      for (int T : {1, 33, 200})
        for (bool scattered : {false, true}) {
          int B = 3, QKV = (NH + 2 * NKV) * HS;
          SCOPED_TRACE("NH=" + std::to_string(NH) + " NKV=" + std::to_string(NKV) +
                       " HS=" + std::to_string(HS) + " T=" + std::to_string(T) +
                       " scattered=" + std::to_string(scattered));
          auto pos = test::mixed_pos(rng, B, T);
          // Scattered: positions spread over [0, 50000], far more than B·T distinct values (the
          // cpu kernel then builds its table per token instead of per position).
          std::uniform_int_distribution<int32_t> far(0, 50000);
          if (scattered)
            for (auto& p : pos) p = far(rng);
          Pair x(B * T * QKV);
          x.fill(rng);
          auto before = x.f.vec();
          ref::rope_forward(x.d.data(), B, T, NH, NKV, HS, 10000.0, 123, pos.data());
          cpu::rope_forward(x.f.data(), B, T, NH, NKV, HS, 10000.0f, 123, pos.data());
          // Angles up to 5e4 rad, computed in double by both: the float table is within 1 ulp.
          test::expect_close(x, 2e-6, 2e-6, "rope_forward");
          for (int bt = 0; bt < B * T; bt++)
            for (int i = (NH + NKV) * HS; i < QKV; i++)
              ASSERT_EQ(x.f[(size_t)bt * QKV + i], before[(size_t)bt * QKV + i]) << "v touched";
          ref::rope_backward(x.d.data(), B, T, NH, NKV, HS, 10000.0, 123, pos.data());
          cpu::rope_backward(x.f.data(), B, T, NH, NKV, HS, 10000.0f, 123, pos.data());
          test::expect_close(x, 4e-6, 4e-6, "rope_backward");
          for (size_t i = 0; i < x.size(); i++) ASSERT_NEAR(x.d[i], before[i], 1e-12) << "identity";
        }
}

TEST(Rope, PackedGradientCheck) {
  std::mt19937_64 rng(4);
  int B = 2, T = 5, NH = 4, NKV = 2, HS = 4, QKV = (NH + 2 * NKV) * HS;
  auto pos = test::packed_pos({{2, 1, 2}, {1, 4}});
  auto x = test::random_vec(rng, B * T * QKV), r = test::random_vec(rng, B * T * QKV);
  std::vector<double> y;
  auto loss = [&] {
    y = x;
    ref::rope_forward(y.data(), B, T, NH, NKV, HS, 10000.0, 5, pos.data());
    return test::dot(y.data(), r.data(), y.size());
  };
  std::vector<double> g = r;
  ref::rope_backward(g.data(), B, T, NH, NKV, HS, 10000.0, 5, pos.data());
  EXPECT_LT(test::grad_check_error({x.data()}, {x.size()}, {g.data()}, loss), 1e-6);
}

TEST(Rope, PackedEqualsEachDocumentAlone) {
  // Each document of a packed row is rotated exactly as the same tokens alone at pos0 = 0, bit
  // for bit (the cpu table holds the same float per position whatever the row), both ways.
  std::mt19937_64 rng(5);
  int B = 3, T = 150, NH = 4, NKV = 2, HS = 16;
  size_t QKV = (size_t)(NH + 2 * NKV) * HS;
  auto pos = test::mixed_pos(rng, B, T);
  Pair x(B * T * QKV);
  x.fill(rng);
  Pair y = x;
  ref::rope_forward(y.d.data(), B, T, NH, NKV, HS, 10000.0, 0, pos.data());
  cpu::rope_forward(y.f.data(), B, T, NH, NKV, HS, 10000.0f, 0, pos.data());
  Pair g = x;  // used as an incoming gradient
  ref::rope_backward(g.d.data(), B, T, NH, NKV, HS, 10000.0, 0, pos.data());
  cpu::rope_backward(g.f.data(), B, T, NH, NKV, HS, 10000.0f, 0, pos.data());
  for (const test::Doc& d : test::documents(pos, B, T)) {
    SCOPED_TRACE("b=" + std::to_string(d.b) + " t0=" + std::to_string(d.t0));
    auto xd = test::take_rows(x.d.data(), T, QKV, d), gd = xd;
    auto xf = test::take_rows(x.f.data(), T, QKV, d), gf = xf;
    ref::rope_forward(xd.data(), 1, d.len, NH, NKV, HS, 10000.0, 0);
    cpu::rope_forward(xf.data(), 1, d.len, NH, NKV, HS, 10000.0f, 0);
    ref::rope_backward(gd.data(), 1, d.len, NH, NKV, HS, 10000.0, 0);
    cpu::rope_backward(gf.data(), 1, d.len, NH, NKV, HS, 10000.0f, 0);
    ASSERT_EQ(test::take_rows(y.d.data(), T, QKV, d), xd);
    ASSERT_EQ(test::take_rows(y.f.data(), T, QKV, d), xf);
    ASSERT_EQ(test::take_rows(g.d.data(), T, QKV, d), gd);
    ASSERT_EQ(test::take_rows(g.f.data(), T, QKV, d), gf);
  }
}

TEST(Rope, PosOverridesPos0) {
  // pos = pos0 + t reproduces the pos0 path bit for bit, and the pos0 argument is then ignored.
  std::mt19937_64 rng(6);
  int B = 2, T = 40, NH = 4, NKV = 2, HS = 16, QKV = (NH + 2 * NKV) * HS;
  for (int pos0 : {0, 700}) {
    std::vector<int32_t> pos(B * T);
    for (int i = 0; i < B * T; i++) pos[i] = pos0 + i % T;
    Pair a(B * T * QKV);
    a.fill(rng);
    Pair b = a;
    ref::rope_forward(a.d.data(), B, T, NH, NKV, HS, 10000.0, pos0);
    cpu::rope_forward(a.f.data(), B, T, NH, NKV, HS, 10000.0f, pos0);
    ref::rope_forward(b.d.data(), B, T, NH, NKV, HS, 10000.0, 31, pos.data());
    cpu::rope_forward(b.f.data(), B, T, NH, NKV, HS, 10000.0f, 31, pos.data());
    EXPECT_EQ(a.d.vec(), b.d.vec());
    EXPECT_EQ(a.f.vec(), b.f.vec());
    ref::rope_backward(a.d.data(), B, T, NH, NKV, HS, 10000.0, pos0);
    cpu::rope_backward(a.f.data(), B, T, NH, NKV, HS, 10000.0f, pos0);
    ref::rope_backward(b.d.data(), B, T, NH, NKV, HS, 10000.0, -5, pos.data());
    cpu::rope_backward(b.f.data(), B, T, NH, NKV, HS, 10000.0f, -5, pos.data());
    EXPECT_EQ(a.d.vec(), b.d.vec());
    EXPECT_EQ(a.f.vec(), b.f.vec());
  }
}

}  // namespace
}  // namespace lmforge
