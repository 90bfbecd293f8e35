// GELU (tanh approximation) and SwiGLU: ref vs cpu over a wide input range (the cpu kernels use
// vectorized exp/tanh approximations, so saturation at both ends is covered), the ref against
// the textbook formula, and gradient checks of the ref backward.
#include "backend/kernel_test_util.h"
#include "lmforge/backend/kernels.h"

namespace lmforge {
namespace {
class GeluIsa : public test::IsaPaths {};    // each test once per ISA path
class SwiGluIsa : public test::IsaPaths {};  // each test once per ISA path
using test::Pair;

TEST_P(GeluIsa, RefVsCpu) {
  std::mt19937_64 rng(1);
  for (size_t n : {1, 31, 33, 257, 100003}) {
    Pair inp(n), out(n), dout(n), dinp(n);
    inp.fill(rng, 4.0);
    if (n > 2) {
      inp.d[0] = inp.f[0] = -100.0f;  // saturated tails
      inp.d[1] = inp.f[1] = 100.0f;
      inp.d[2] = inp.f[2] = 0.0f;
    }
    dout.fill(rng);
    ref::gelu_forward(out.d.data(), inp.d.data(), n);
    cpu::gelu_forward(out.f.data(), inp.f.data(), n);
    test::expect_close(out, 1e-6, 1e-5, "gelu_forward n=" + std::to_string(n));
    ref::gelu_backward(dinp.d.data(), inp.d.data(), dout.d.data(), n);
    cpu::gelu_backward(dinp.f.data(), inp.f.data(), dout.f.data(), n);
    test::expect_close(dinp, 1e-6, 1e-5, "gelu_backward n=" + std::to_string(n));
  }
}

TEST(Gelu, RefMatchesFormula) {
  double x = 0.7, y;
  ref::gelu_forward(&y, &x, 1);
  EXPECT_NEAR(y, 0.5 * 0.7 * (1 + std::tanh(std::sqrt(2 / M_PI) * (0.7 + 0.044715 * 0.343))),
              1e-15);
}

TEST_P(SwiGluIsa, RefVsCpu) {
  std::mt19937_64 rng(2);
  for (int N : {1, 31, 257})
    for (int FF : {1, 33, 257}) {
      SCOPED_TRACE("N=" + std::to_string(N) + " FF=" + std::to_string(FF));
      Pair gu(N * 2 * FF), out(N * FF), dout(N * FF), dgu(N * 2 * FF);
      gu.fill(rng, 3.0);
      dout.fill(rng);
      ref::swiglu_forward(out.d.data(), gu.d.data(), N, FF);
      cpu::swiglu_forward(out.f.data(), gu.f.data(), N, FF);
      test::expect_close(out, 1e-6, 1e-5, "swiglu_forward");
      ref::swiglu_backward(dgu.d.data(), dout.d.data(), gu.d.data(), N, FF);
      cpu::swiglu_backward(dgu.f.data(), dout.f.data(), gu.f.data(), N, FF);
      test::expect_close(dgu, 1e-6, 1e-5, "swiglu_backward");
    }
}

TEST(Activations, GradientCheck) {
  std::mt19937_64 rng(3);
  size_t n = 40;
  auto x = test::random_vec(rng, n, 2.0), r = test::random_vec(rng, n);
  std::vector<double> y(n), g(n);
  auto gelu_loss = [&] {
    ref::gelu_forward(y.data(), x.data(), n);
    return test::dot(y.data(), r.data(), n);
  };
  ref::gelu_backward(g.data(), x.data(), r.data(), n);
  EXPECT_LT(test::grad_check_error({x.data()}, {n}, {g.data()}, gelu_loss), 1e-6);

  int N = 4, FF = 5;
  auto gu = test::random_vec(rng, N * 2 * FF, 2.0), r2 = test::random_vec(rng, N * FF);
  std::vector<double> o(N * FF), dgu(N * 2 * FF);
  auto swiglu_loss = [&] {
    ref::swiglu_forward(o.data(), gu.data(), N, FF);
    return test::dot(o.data(), r2.data(), o.size());
  };
  ref::swiglu_backward(dgu.data(), r2.data(), gu.data(), N, FF);
  EXPECT_LT(test::grad_check_error({gu.data()}, {gu.size()}, {dgu.data()}, swiglu_loss), 1e-6);
}

// Finite differences through this path's own float GELU / SwiGLU against its backward; n and FF
// odd, so the vector loops' tails are inside the check.
TEST_P(GeluIsa, CpuDirectionalGradient) {
  std::mt19937_64 rng(7);
  const size_t n = 1001;
  std::vector<float> inp(n), dout(n), dinp(n), out(n);
  for (auto* v : {&inp, &dout})
    for (auto& x : *v) x = (float)std::normal_distribution<double>(0.0, 2.0)(rng);
  cpu::gelu_backward(dinp.data(), inp.data(), dout.data(), n);
  auto loss = [&] {
    cpu::gelu_forward(out.data(), inp.data(), n);
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)dout[i] * out[i];
    return s;
  };
  EXPECT_LT(test::directional_grad_error({&inp}, {&dinp}, loss, 11), 2e-3);
}

TEST_P(SwiGluIsa, CpuDirectionalGradient) {
  std::mt19937_64 rng(8);
  const int N = 3, FF = 37;
  std::vector<float> gu(N * 2 * FF), dout(N * FF), dgu(gu.size()), out(N * FF);
  for (auto* v : {&gu, &dout})
    for (auto& x : *v) x = (float)std::normal_distribution<double>(0.0, 2.0)(rng);
  cpu::swiglu_backward(dgu.data(), dout.data(), gu.data(), N, FF);
  auto loss = [&] {
    cpu::swiglu_forward(out.data(), gu.data(), N, FF);
    double s = 0.0;
    for (int i = 0; i < N * FF; i++) s += (double)dout[i] * out[i];
    return s;
  };
  EXPECT_LT(test::directional_grad_error({&gu}, {&dgu}, loss, 12), 2e-3);
}

INSTANTIATE_TEST_SUITE_P(Isa, GeluIsa, LMFORGE_KERNEL_ISAS);
INSTANTIATE_TEST_SUITE_P(Isa, SwiGluIsa, LMFORGE_KERNEL_ISAS);

}  // namespace
}  // namespace lmforge
