// Per-head q/k RMSNorm (Qwen3): ref vs cpu at odd shapes (GQA layouts, HS 1..128, N 1..257) with
// guard regions, v heads untouched, the fused op equals RMSNorm applied head by head (composed,
// both backends), a finite-difference gradient check of the ref backward in double (input and both
// weights), accumulation (weights +=, input gradient =), null saves/gradients (inference, frozen
// weights). Every test that calls cpu:: runs once per ISA path (test::IsaPaths: avx2, avx512),
// plus finite differences through each path's own float forward against its backward.
#include "backend/kernel_test_util.h"
#include "lmforge/backend/kernels.h"

namespace lmforge {
namespace {
class QkNormIsa : public test::IsaPaths {};  // each test once per ISA path
using test::Pair;

struct Shape {
  int N, NH, NKV, HS;
};
std::string name(const Shape& s) {
  return "N=" + std::to_string(s.N) + " NH=" + std::to_string(s.NH) +
         " NKV=" + std::to_string(s.NKV) + " HS=" + std::to_string(s.HS);
}
const std::vector<Shape> kShapes = {{1, 1, 1, 1},   {31, 4, 2, 8},   {33, 6, 1, 64},
                                    {257, 2, 2, 2}, {5, 16, 8, 128}, {7, 3, 3, 31}};

TEST_P(QkNormIsa, RefVsCpu) {
  std::mt19937_64 rng(1);
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(name(s));
    const size_t QKV = (size_t)(s.NH + 2 * s.NKV) * s.HS, H = (size_t)s.NH + s.NKV;
    Pair x(s.N * QKV), keep(s.N * H * s.HS), rstd(s.N * H), wq(s.HS), wk(s.HS);
    x.fill(rng, 2.0, 0.3);
    wq.fill(rng, 1.0, 1.0);
    wk.fill(rng, 1.0, 1.0);
    const auto before = x.f.vec();
    ref::qk_norm_forward(x.d.data(), keep.d.data(), rstd.d.data(), wq.d.data(), wk.d.data(), s.N,
                         s.NH, s.NKV, s.HS, 1e-6);
    cpu::qk_norm_forward(x.f.data(), keep.f.data(), rstd.f.data(), wq.f.data(), wk.f.data(), s.N,
                         s.NH, s.NKV, s.HS, 1e-6f);
    test::expect_close(x, 1e-5, 1e-5, "qk_norm_forward out");
    test::expect_close(keep, 0, 0, "qk_norm_forward saved input");
    test::expect_close(rstd, 1e-6, 1e-5, "qk_norm_forward rstd");
    for (int n = 0; n < s.N; n++)
      for (size_t i = H * s.HS; i < QKV; i++)
        ASSERT_EQ(x.f[n * QKV + i], before[n * QKV + i]) << "v touched";

    Pair d(s.N * QKV), dwq(s.HS), dwk(s.HS);
    d.fill(rng);
    dwq.fill(rng);  // accumulated into: start from nonzero values
    dwk.fill(rng);
    const auto dbefore = d.f.vec();
    ref::qk_norm_backward(d.d.data(), dwq.d.data(), dwk.d.data(), keep.d.data(), wq.d.data(),
                          wk.d.data(), rstd.d.data(), s.N, s.NH, s.NKV, s.HS);
    cpu::qk_norm_backward(d.f.data(), dwq.f.data(), dwk.f.data(), keep.f.data(), wq.f.data(),
                          wk.f.data(), rstd.f.data(), s.N, s.NH, s.NKV, s.HS);
    test::expect_close(d, 2e-5, 2e-5, "qk_norm_backward dinp");
    test::expect_close(dwq, 1e-4, 1e-5, "qk_norm_backward dq_weight");
    test::expect_close(dwk, 1e-4, 1e-5, "qk_norm_backward dk_weight");
    for (int n = 0; n < s.N; n++)
      for (size_t i = H * s.HS; i < QKV; i++)
        ASSERT_EQ(d.f[n * QKV + i], dbefore[n * QKV + i]) << "dv touched";
  }
}

TEST_P(QkNormIsa, EqualsRmsnormPerHead) {
  // The fused op is RMSNorm over each head: the q heads with q_weight, the k heads with k_weight.
  std::mt19937_64 rng(2);
  const int N = 9, NH = 4, NKV = 2, HS = 24, QKV = (NH + 2 * NKV) * HS, H = NH + NKV;
  Pair x(N * QKV), keep(N * H * HS), rstd(N * H), wq(HS), wk(HS), d(N * QKV), dwq(HS), dwk(HS);
  x.fill(rng);
  wq.fill(rng, 0.5, 1.0);
  wk.fill(rng, 0.5, 1.0);
  d.fill(rng);
  dwq.set(0);
  dwk.set(0);
  Pair y = x, g = d;
  ref::qk_norm_forward(y.d.data(), keep.d.data(), rstd.d.data(), wq.d.data(), wk.d.data(), N, NH,
                       NKV, HS, 1e-5);
  cpu::qk_norm_forward(y.f.data(), keep.f.data(), rstd.f.data(), wq.f.data(), wk.f.data(), N, NH,
                       NKV, HS, 1e-5f);
  ref::qk_norm_backward(g.d.data(), dwq.d.data(), dwk.d.data(), keep.d.data(), wq.d.data(),
                        wk.d.data(), rstd.d.data(), N, NH, NKV, HS);
  cpu::qk_norm_backward(g.f.data(), dwq.f.data(), dwk.f.data(), keep.f.data(), wq.f.data(),
                        wk.f.data(), rstd.f.data(), N, NH, NKV, HS);
  std::vector<double> cwq(HS, 0.0), cwk(HS, 0.0);
  std::vector<float> fwq(HS, 0.0f), fwk(HS, 0.0f);
  for (int n = 0; n < N; n++)
    for (int h = 0; h < H; h++) {
      const size_t at = (size_t)n * QKV + (size_t)h * HS;
      const bool q = h < NH;
      std::vector<double> od(HS), rd(1), did(HS, 0.0);
      std::vector<float> of(HS), rf(1), dif(HS, 0.0f);
      ref::rmsnorm_forward(od.data(), rd.data(), x.d.data() + at, (q ? wq : wk).d.data(), 1, HS,
                           1e-5);
      cpu::rmsnorm_forward(of.data(), rf.data(), x.f.data() + at, (q ? wq : wk).f.data(), 1, HS,
                           1e-5f);
      ref::rmsnorm_backward(did.data(), (q ? cwq : cwk).data(), d.d.data() + at, x.d.data() + at,
                            (q ? wq : wk).d.data(), rd.data(), 1, HS);
      cpu::rmsnorm_backward(dif.data(), (q ? fwq : fwk).data(), d.f.data() + at, x.f.data() + at,
                            (q ? wq : wk).f.data(), rf.data(), 1, HS);
      for (int i = 0; i < HS; i++) {
        ASSERT_NEAR(y.d[at + i], od[i], 1e-12);
        ASSERT_NEAR(y.f[at + i], of[i], 1e-6);
        ASSERT_NEAR(g.d[at + i], did[i], 1e-12);
        ASSERT_NEAR(g.f[at + i], dif[i], 1e-5);
      }
    }
  test::expect_close(dwq.d.data(), cwq.data(), HS, 1e-12, 1e-12, "ref dq_weight vs composed");
  test::expect_close(dwk.d.data(), cwk.data(), HS, 1e-12, 1e-12, "ref dk_weight vs composed");
  std::vector<double> fwqd(fwq.begin(), fwq.end()), fwkd(fwk.begin(), fwk.end());
  test::expect_close(dwq.f.data(), fwqd.data(), HS, 1e-4, 1e-5, "cpu dq_weight vs composed");
  test::expect_close(dwk.f.data(), fwkd.data(), HS, 1e-4, 1e-5, "cpu dk_weight vs composed");
}

TEST(QkNorm, GradientCheck) {
  std::mt19937_64 rng(3);
  for (Shape s : {Shape{3, 4, 2, 6}, Shape{2, 1, 1, 3}, Shape{1, 3, 1, 5}}) {
    SCOPED_TRACE(name(s));
    const size_t QKV = (size_t)(s.NH + 2 * s.NKV) * s.HS, H = (size_t)s.NH + s.NKV;
    auto x = test::random_vec(rng, s.N * QKV), r = test::random_vec(rng, s.N * QKV);
    auto wq = test::random_vec(rng, s.HS), wk = test::random_vec(rng, s.HS);
    std::vector<double> y, keep(s.N * H * s.HS), rstd(s.N * H);
    auto loss = [&] {
      y = x;
      ref::qk_norm_forward(y.data(), keep.data(), rstd.data(), wq.data(), wk.data(), s.N, s.NH,
                           s.NKV, s.HS, 1e-5);
      return test::dot(y.data(), r.data(), y.size());
    };
    loss();
    std::vector<double> g = r, gwq(s.HS, 0.0), gwk(s.HS, 0.0);
    ref::qk_norm_backward(g.data(), gwq.data(), gwk.data(), keep.data(), wq.data(), wk.data(),
                          rstd.data(), s.N, s.NH, s.NKV, s.HS);
    EXPECT_LT(
        test::grad_check_error({x.data(), wq.data(), wk.data()}, {x.size(), wq.size(), wk.size()},
                               {g.data(), gwq.data(), gwk.data()}, loss),
        1e-6);
  }
}

TEST_P(QkNormIsa, AccumulatesWeightsOverwritesInput) {
  // Backward twice on the same dout: the weight gradients double; the input gradient (in place
  // on dqkv) is the same function of dout both times. Null weight gradients (frozen) and null
  // saves (inference forward) change nothing else.
  std::mt19937_64 rng(4);
  const int N = 33, NH = 4, NKV = 2, HS = 16, QKV = (NH + 2 * NKV) * HS, H = NH + NKV;
  Pair x(N * QKV), keep(N * H * HS), rstd(N * H), wq(HS), wk(HS), d(N * QKV);
  x.fill(rng);
  wq.fill(rng, 0.5, 1.0);
  wk.fill(rng, 0.5, 1.0);
  d.fill(rng);
  Pair y = x;
  cpu::qk_norm_forward(y.f.data(), keep.f.data(), rstd.f.data(), wq.f.data(), wk.f.data(), N, NH,
                       NKV, HS, 1e-6f);
  Pair z = x;
  cpu::qk_norm_forward(z.f.data(), nullptr, nullptr, wq.f.data(), wk.f.data(), N, NH, NKV, HS,
                       1e-6f);
  EXPECT_EQ(y.f.vec(), z.f.vec()) << "saving inputs changed the output";
  std::vector<float> dwq(HS, 0.0f), dwk(HS, 0.0f);
  Pair g1 = d, g2 = d, g3 = d;
  cpu::qk_norm_backward(g1.f.data(), dwq.data(), dwk.data(), keep.f.data(), wq.f.data(),
                        wk.f.data(), rstd.f.data(), N, NH, NKV, HS);
  const std::vector<float> once_q = dwq, once_k = dwk;
  cpu::qk_norm_backward(g2.f.data(), dwq.data(), dwk.data(), keep.f.data(), wq.f.data(),
                        wk.f.data(), rstd.f.data(), N, NH, NKV, HS);
  cpu::qk_norm_backward(g3.f.data(), nullptr, nullptr, keep.f.data(), wq.f.data(), wk.f.data(),
                        rstd.f.data(), N, NH, NKV, HS);
  EXPECT_EQ(g1.f.vec(), g2.f.vec());
  EXPECT_EQ(g1.f.vec(), g3.f.vec()) << "null weight gradients changed dinp";
  for (int i = 0; i < HS; i++) {
    EXPECT_NEAR(dwq[i], 2 * once_q[i], 1e-5 * (1 + std::abs(once_q[i])));
    EXPECT_NEAR(dwk[i], 2 * once_k[i], 1e-5 * (1 + std::abs(once_k[i])));
  }
}

// Finite differences through this path's own float forward against its backward (the input
// heads and both weights at once; HS 37 and 16+3 so the vector tails are inside the check, and
// GQA with several rows so the q/k weight selection and the per-thread partials are too).
TEST_P(QkNormIsa, CpuDirectionalGradient) {
  std::mt19937_64 rng(5);
  for (Shape s : {Shape{5, 4, 2, 37}, Shape{3, 3, 1, 19}, Shape{1, 1, 1, 1}}) {
    SCOPED_TRACE(name(s));
    const size_t QKV = (size_t)(s.NH + 2 * s.NKV) * s.HS, H = (size_t)s.NH + s.NKV;
    std::vector<float> x(s.N * QKV), wq(s.HS), wk(s.HS), dout(s.N * QKV);
    for (auto* v : {&x, &wq, &wk, &dout})
      for (auto& e : *v) e = (float)std::normal_distribution<double>(0.5, 1.0)(rng);
    std::vector<float> y = x, keep(s.N * H * s.HS), rstd(s.N * H), g = dout, dwq(s.HS, 0.0f),
                       dwk(s.HS, 0.0f);
    cpu::qk_norm_forward(y.data(), keep.data(), rstd.data(), wq.data(), wk.data(), s.N, s.NH, s.NKV,
                         s.HS, 1e-6f);
    cpu::qk_norm_backward(g.data(), dwq.data(), dwk.data(), keep.data(), wq.data(), wk.data(),
                          rstd.data(), s.N, s.NH, s.NKV, s.HS);
    auto loss = [&] {
      std::vector<float> o = x;
      cpu::qk_norm_forward(o.data(), nullptr, nullptr, wq.data(), wk.data(), s.N, s.NH, s.NKV, s.HS,
                           1e-6f);
      double l = 0.0;
      for (size_t i = 0; i < o.size(); i++) l += (double)dout[i] * o[i];
      return l;
    };
    // HS = 1: each head's output is ~sign(x)·w, flat in x; the weights then carry the check.
    EXPECT_LT(test::directional_grad_error({&x, &wq, &wk}, {&g, &dwq, &dwk}, loss, 11), 2e-3);
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, QkNormIsa, LMFORGE_KERNEL_ISAS);

}  // namespace
}  // namespace lmforge
