// Elementwise kernels: add_inplace, scale_inplace, sum_squares (double accumulation: checked
// where float accumulation would visibly fail) and AdamW against torch.optim.AdamW semantics
// written out step by step (decay first, then the bias-corrected Adam step), over several steps.
#include "backend/kernel_test_util.h"
#include "lmforge/backend/kernels.h"

namespace lmforge {
namespace {
using test::Pair;

TEST(Elementwise, AddScaleSumSquares) {
  std::mt19937_64 rng(1);
  for (size_t n : {1, 31, 33, 257, 100003}) {
    Pair acc(n), x(n);
    acc.fill(rng);
    x.fill(rng);
    ref::add_inplace(acc.d.data(), x.d.data(), n);
    cpu::add_inplace(acc.f.data(), x.f.data(), n);
    test::expect_close(acc, 1e-6, 1e-6, "add_inplace");
    ref::scale_inplace(acc.d.data(), 0.37, n);
    cpu::scale_inplace(acc.f.data(), 0.37f, n);
    test::expect_close(acc, 1e-6, 1e-6, "scale_inplace");
    double want = ref::sum_squares(x.d.data(), n), got = cpu::sum_squares(x.f.data(), n);
    EXPECT_NEAR(got, want, 1e-5 * want) << "sum_squares n=" << n;
    EXPECT_TRUE(acc.guards_intact() && x.guards_intact());
  }
}

TEST(Elementwise, SumSquaresAccumulatesInDouble) {
  // 2^25 ones: a single float accumulator stops growing at 2^24.
  size_t n = (size_t)1 << 25;
  std::vector<float> x(n, 1.0f);
  EXPECT_EQ(cpu::sum_squares(x.data(), n), (double)n);
}

TEST(AdamW, MatchesTorchSemanticsOverSteps) {
  std::mt19937_64 rng(2);
  size_t n = 1037;
  double lr = 1e-2, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
  Pair p(n), m(n), v(n);
  p.fill(rng);
  m.set(0.0);
  v.set(0.0);
  std::vector<double> tp = p.d.vec(), tm(n, 0.0), tv(n, 0.0);  // torch, spelled out
  for (int64_t step = 1; step <= 5; step++) {
    Pair g(n);
    g.fill(rng, step == 3 ? 1e-6 : 1.0);  // a tiny-gradient step exercises eps
    ref::adamw_update(p.d.data(), g.d.data(), m.d.data(), v.d.data(), n, lr, b1, b2, eps, wd, step);
    cpu::adamw_update(p.f.data(), g.f.data(), m.f.data(), v.f.data(), n, (float)lr, (float)b1,
                      (float)b2, (float)eps, (float)wd, step);
    for (size_t i = 0; i < n; i++) {
      tp[i] *= 1 - lr * wd;                    // param.mul_(1 - lr * weight_decay)
      tm[i] = b1 * tm[i] + (1 - b1) * g.d[i];  // exp_avg.lerp_(grad, 1 - beta1)
      tv[i] = b2 * tv[i] + (1 - b2) * g.d[i] * g.d[i];
      double bc1 = 1 - std::pow(b1, step), bc2 = 1 - std::pow(b2, step);
      double denom = std::sqrt(tv[i]) / std::sqrt(bc2) + eps;
      tp[i] -= lr / bc1 * tm[i] / denom;  // param.addcdiv_(exp_avg, denom, value=-step_size)
    }
    test::expect_close(p.d.data(), tp.data(), n, 1e-12, 1e-12, "ref vs torch formula");
    test::expect_close(p, 1e-6, 1e-5, "param step " + std::to_string(step));
    test::expect_close(m, 1e-7, 1e-5, "m");
    test::expect_close(v, 1e-9, 1e-5, "v");
  }
}

}  // namespace
}  // namespace lmforge
