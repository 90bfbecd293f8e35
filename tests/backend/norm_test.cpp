// LayerNorm and RMSNorm: ref vs cpu at odd shapes (including a large mean, where a one-pass
// variance would cancel), gradient check of the ref backward, and the accumulation convention
// (dinp, dweight, dbias all +=).
#include "backend/kernel_test_util.h"
#include "lmforge/backend/kernels.h"

namespace lmforge {
namespace {
class LayerNormIsa : public test::IsaPaths {};  // each test once per ISA path
class RmsNormIsa : public test::IsaPaths {};    // each test once per ISA path
class NormsIsa : public test::IsaPaths {};      // each test once per ISA path
using test::Pair;

const int kNs[] = {1, 31, 33, 257};
const int kCs[] = {1, 31, 33, 257};

TEST_P(LayerNormIsa, RefVsCpu) {
  std::mt19937_64 rng(1);
  for (int N : kNs)
    for (int C : kCs) {
      SCOPED_TRACE("N=" + std::to_string(N) + " C=" + std::to_string(C));
      Pair inp(N * C), w(C), b(C), out(N * C), mean(N), rstd(N), dout(N * C), dinp(N * C), dw(C),
          db(C);
      inp.fill(rng, 2.0, 5.0);  // mean 5, std 2
      w.fill(rng, 0.5, 1.0);
      b.fill(rng);
      dout.fill(rng);
      dinp.fill(rng);  // nonzero start: dinp accumulates
      dw.fill(rng);
      db.fill(rng);
      ref::layernorm_forward(out.d.data(), mean.d.data(), rstd.d.data(), inp.d.data(), w.d.data(),
                             b.d.data(), N, C, 1e-5);
      cpu::layernorm_forward(out.f.data(), mean.f.data(), rstd.f.data(), inp.f.data(), w.f.data(),
                             b.f.data(), N, C, 1e-5f);
      // C=1: the variance is 0 and rstd = 1/sqrt(eps) ≈ 316, which amplifies float rounding.
      double tol = C == 1 ? 1e-2 : 2e-5;
      test::expect_close(out, tol, 1e-5, "out");
      test::expect_close(mean, 1e-5, 1e-5, "mean");
      test::expect_close(rstd, 1e-5, C == 1 ? 1e-2 : 1e-5, "rstd");
      // Backward on the oracle's saved statistics for both, so only the backward is compared.
      for (int n = 0; n < N; n++) {
        mean.f[n] = (float)mean.d[n];
        rstd.f[n] = (float)rstd.d[n];
      }
      ref::layernorm_backward(dinp.d.data(), dw.d.data(), db.d.data(), dout.d.data(), inp.d.data(),
                              w.d.data(), mean.d.data(), rstd.d.data(), N, C);
      cpu::layernorm_backward(dinp.f.data(), dw.f.data(), db.f.data(), dout.f.data(), inp.f.data(),
                              w.f.data(), mean.f.data(), rstd.f.data(), N, C);
      test::expect_close(dinp, C == 1 ? 1e-1 : 1e-4, 1e-4, "dinp");
      test::expect_close(dw, 1e-3, 1e-4, "dweight");
      test::expect_close(db, 1e-4, 1e-5, "dbias");
    }
}

TEST_P(RmsNormIsa, RefVsCpu) {
  std::mt19937_64 rng(2);
  for (int N : kNs)
    for (int C : kCs) {
      SCOPED_TRACE("N=" + std::to_string(N) + " C=" + std::to_string(C));
      Pair inp(N * C), w(C), out(N * C), rstd(N), dout(N * C), dinp(N * C), dw(C);
      inp.fill(rng, 2.0, 0.5);
      w.fill(rng, 0.5, 1.0);
      dout.fill(rng);
      dinp.fill(rng);
      dw.fill(rng);
      ref::rmsnorm_forward(out.d.data(), rstd.d.data(), inp.d.data(), w.d.data(), N, C, 1e-6);
      cpu::rmsnorm_forward(out.f.data(), rstd.f.data(), inp.f.data(), w.f.data(), N, C, 1e-6f);
      test::expect_close(out, 2e-5, 1e-5, "out");
      test::expect_close(rstd, 1e-5, 1e-5, "rstd");
      for (int n = 0; n < N; n++) rstd.f[n] = (float)rstd.d[n];
      ref::rmsnorm_backward(dinp.d.data(), dw.d.data(), dout.d.data(), inp.d.data(), w.d.data(),
                            rstd.d.data(), N, C);
      cpu::rmsnorm_backward(dinp.f.data(), dw.f.data(), dout.f.data(), inp.f.data(), w.f.data(),
                            rstd.f.data(), N, C);
      test::expect_close(dinp, 1e-4, 1e-4, "dinp");
      test::expect_close(dw, 1e-3, 1e-4, "dweight");
    }
}

TEST(LayerNorm, GradientCheck) {
  std::mt19937_64 rng(3);
  int N = 3, C = 7;
  auto inp = test::random_vec(rng, N * C), w = test::random_vec(rng, C),
       b = test::random_vec(rng, C), r = test::random_vec(rng, N * C);
  std::vector<double> out(N * C), mean(N), rstd(N), dinp(N * C, 0.0), dw(C, 0.0), db(C, 0.0);
  auto loss = [&] {
    ref::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N,
                           C, 1e-5);
    return test::dot(out.data(), r.data(), out.size());
  };
  loss();
  ref::layernorm_backward(dinp.data(), dw.data(), db.data(), r.data(), inp.data(), w.data(),
                          mean.data(), rstd.data(), N, C);
  EXPECT_LT(
      test::grad_check_error({inp.data(), w.data(), b.data()}, {inp.size(), w.size(), b.size()},
                             {dinp.data(), dw.data(), db.data()}, loss),
      1e-6);
}

TEST(RmsNorm, GradientCheck) {
  std::mt19937_64 rng(4);
  int N = 3, C = 7;
  auto inp = test::random_vec(rng, N * C), w = test::random_vec(rng, C),
       r = test::random_vec(rng, N * C);
  std::vector<double> out(N * C), rstd(N), dinp(N * C, 0.0), dw(C, 0.0);
  auto loss = [&] {
    ref::rmsnorm_forward(out.data(), rstd.data(), inp.data(), w.data(), N, C, 1e-6);
    return test::dot(out.data(), r.data(), out.size());
  };
  loss();
  ref::rmsnorm_backward(dinp.data(), dw.data(), r.data(), inp.data(), w.data(), rstd.data(), N, C);
  EXPECT_LT(test::grad_check_error({inp.data(), w.data()}, {inp.size(), w.size()},
                                   {dinp.data(), dw.data()}, loss),
            1e-6);
}

TEST_P(NormsIsa, CpuBackwardAccumulatesTwice) {
  std::mt19937_64 rng(5);
  int N = 33, C = 31;
  Pair inp(N * C), w(C), b(C), out(N * C), mean(N), rstd(N), dout(N * C);
  inp.fill(rng);
  w.fill(rng);
  b.fill(rng);
  dout.fill(rng);
  cpu::layernorm_forward(out.f.data(), mean.f.data(), rstd.f.data(), inp.f.data(), w.f.data(),
                         b.f.data(), N, C, 1e-5f);
  std::vector<float> d1(N * C, 0.f), w1(C, 0.f), b1(C, 0.f), d2(N * C, 0.f), w2(C, 0.f), b2(C, 0.f);
  cpu::layernorm_backward(d1.data(), w1.data(), b1.data(), dout.f.data(), inp.f.data(), w.f.data(),
                          mean.f.data(), rstd.f.data(), N, C);
  for (int k = 0; k < 2; k++)
    cpu::layernorm_backward(d2.data(), w2.data(), b2.data(), dout.f.data(), inp.f.data(),
                            w.f.data(), mean.f.data(), rstd.f.data(), N, C);
  for (int i = 0; i < N * C; i++) EXPECT_NEAR(d2[i], 2 * d1[i], 1e-5) << "dinp " << i;
  for (int c = 0; c < C; c++) {
    EXPECT_NEAR(w2[c], 2 * w1[c], 1e-4) << "dweight " << c;
    EXPECT_NEAR(b2[c], 2 * b1[c], 1e-4) << "dbias " << c;
  }
}

// Finite differences through this path's own float forward against its backward (inp, weight
// and bias at once), C not a multiple of 16.
TEST_P(LayerNormIsa, CpuDirectionalGradient) {
  std::mt19937_64 rng(5);
  const int N = 7, C = 37;
  std::vector<float> inp(N * C), w(C), b(C), dout(N * C), dinp(N * C), dw(C), db(C), mean(N),
      rstd(N), out(N * C);
  for (auto* v : {&inp, &w, &b, &dout})
    for (auto& x : *v) x = (float)std::normal_distribution<double>(0.5, 1.0)(rng);
  cpu::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C,
                         1e-5f);
  cpu::layernorm_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(),
                          mean.data(), rstd.data(), N, C);
  auto loss = [&] {
    std::vector<float> o(N * C), m(N), r(N);
    cpu::layernorm_forward(o.data(), m.data(), r.data(), inp.data(), w.data(), b.data(), N, C,
                           1e-5f);
    double s = 0.0;
    for (int i = 0; i < N * C; i++) s += (double)dout[i] * o[i];
    return s;
  };
  EXPECT_LT(test::directional_grad_error({&inp, &w, &b}, {&dinp, &dw, &db}, loss, 9), 2e-3);
}

TEST_P(RmsNormIsa, CpuDirectionalGradient) {
  std::mt19937_64 rng(6);
  const int N = 5, C = 41;
  std::vector<float> inp(N * C), w(C), dout(N * C), dinp(N * C), dw(C), rstd(N), out(N * C);
  for (auto* v : {&inp, &w, &dout})
    for (auto& x : *v) x = (float)std::normal_distribution<double>(0.5, 1.0)(rng);
  cpu::rmsnorm_forward(out.data(), rstd.data(), inp.data(), w.data(), N, C, 1e-6f);
  cpu::rmsnorm_backward(dinp.data(), dw.data(), dout.data(), inp.data(), w.data(), rstd.data(), N,
                        C);
  auto loss = [&] {
    std::vector<float> o(N * C), r(N);
    cpu::rmsnorm_forward(o.data(), r.data(), inp.data(), w.data(), N, C, 1e-6f);
    double s = 0.0;
    for (int i = 0; i < N * C; i++) s += (double)dout[i] * o[i];
    return s;
  };
  EXPECT_LT(test::directional_grad_error({&inp, &w}, {&dinp, &dw}, loss, 10), 2e-3);
}

INSTANTIATE_TEST_SUITE_P(Isa, LayerNormIsa, LMFORGE_KERNEL_ISAS);
INSTANTIATE_TEST_SUITE_P(Isa, RmsNormIsa, LMFORGE_KERNEL_ISAS);
INSTANTIATE_TEST_SUITE_P(Isa, NormsIsa, LMFORGE_KERNEL_ISAS);

}  // namespace
}  // namespace lmforge
