// Cross-entropy with a loss mask: ref vs cpu for V in {1, 37, 1000, 8191} (not multiples of the
// vector width), masked and fully masked rows, extreme logits, fused vs composed (forward +
// backward), backward aliasing logits, gradient check of the ref, and out-of-range targets.
#include "backend/kernel_test_util.h"
#include "lmforge/backend/kernels.h"
#include "lmforge/core/error.h"

namespace lmforge {
namespace {
class CrossEntropyIsa : public test::IsaPaths {};  // each test once per ISA path
using test::Pair;

std::vector<int32_t> targets_for(std::mt19937_64& rng, int N, int V, double mask_frac) {
  std::uniform_int_distribution<int32_t> dist(0, V - 1);
  std::bernoulli_distribution masked(mask_frac);
  std::vector<int32_t> t(N);
  for (auto& x : t) x = masked(rng) ? -1 : dist(rng);
  return t;
}

TEST_P(CrossEntropyIsa, RefVsCpuForwardBackwardFused) {
  std::mt19937_64 rng(1);
  for (int V : {1, 37, 1000, 8191})
    for (int N : {1, 31, 33})
      for (double mask : {0.0, 0.3, 1.0}) {
        SCOPED_TRACE("V=" + std::to_string(V) + " N=" + std::to_string(N) +
                     " mask=" + std::to_string(mask));
        auto tg = targets_for(rng, N, V, mask);
        Pair logits(N * V), losses(N), dlogits(N * V);
        logits.fill(rng, 3.0);
        logits.d[0] = logits.f[0] = 80.0f;  // a large logit: needs the max subtraction
        float dloss = 1.0f / 7;
        int64_t cd = ref::cross_entropy_forward(losses.d.data(), logits.d.data(), tg.data(), N, V);
        int64_t cf = cpu::cross_entropy_forward(losses.f.data(), logits.f.data(), tg.data(), N, V);
        int64_t unmasked = 0;
        for (int32_t t : tg) unmasked += t >= 0;
        EXPECT_EQ(cd, unmasked);
        EXPECT_EQ(cf, unmasked);
        // Loss = lse − x_t with |x| up to ~80: float rounding of lse is ~1e-5 absolute.
        test::expect_close(losses, 3e-5, 1e-6, "losses");
        for (int n = 0; n < N; n++)
          if (tg[n] < 0) {
            EXPECT_EQ(losses.f[n], 0.0f);
          }
        ref::cross_entropy_backward(dlogits.d.data(), logits.d.data(), tg.data(), dloss, N, V);
        cpu::cross_entropy_backward(dlogits.f.data(), logits.f.data(), tg.data(), dloss, N, V);
        test::expect_close(dlogits, 1e-7, 1e-5, "dlogits");
        // Fused (in place) vs the composed pair just computed.
        Pair fused(N * V), flosses(N);
        for (size_t i = 0; i < fused.size(); i++) fused.f[i] = logits.f[i];
        int64_t cfu =
            cpu::cross_entropy_fused(fused.f.data(), flosses.f.data(), tg.data(), dloss, N, V);
        EXPECT_EQ(cfu, unmasked);
        for (size_t i = 0; i < fused.size(); i++) fused.d[i] = dlogits.f[i];
        for (int n = 0; n < N; n++) flosses.d[n] = losses.f[n];
        test::expect_close(fused, 1e-7, 1e-5, "fused dlogits vs composed");
        test::expect_close(flosses, 1e-5, 1e-6, "fused losses vs composed");
        // Backward with dlogits aliasing logits (allowed by the contract).
        Pair alias(N * V);
        for (size_t i = 0; i < alias.size(); i++) alias.f[i] = logits.f[i];
        cpu::cross_entropy_backward(alias.f.data(), alias.f.data(), tg.data(), dloss, N, V);
        for (size_t i = 0; i < alias.size(); i++) alias.d[i] = dlogits.f[i];
        test::expect_close(alias, 1e-7, 1e-6, "aliased backward");
      }
}

TEST(CrossEntropy, RefFusedMatchesComposedAndAliasing) {
  std::mt19937_64 rng(2);
  int N = 5, V = 37;
  auto tg = targets_for(rng, N, V, 0.3);
  auto logits = test::random_vec(rng, N * V, 2.0);
  std::vector<double> losses(N), dl(N * V), fused = logits, flosses(N);
  ref::cross_entropy_forward(losses.data(), logits.data(), tg.data(), N, V);
  ref::cross_entropy_backward(dl.data(), logits.data(), tg.data(), 0.5, N, V);
  ref::cross_entropy_fused(fused.data(), flosses.data(), tg.data(), 0.5, N, V);
  test::expect_close(fused.data(), dl.data(), dl.size(), 1e-15, 1e-12, "ref fused");
  test::expect_close(flosses.data(), losses.data(), N, 1e-15, 1e-12, "ref fused losses");
}

TEST(CrossEntropy, GradientCheck) {
  std::mt19937_64 rng(3);
  int N = 4, V = 7;
  std::vector<int32_t> tg = {3, -1, 0, 6};
  auto logits = test::random_vec(rng, N * V, 2.0);
  std::vector<double> losses(N), dl(N * V);
  double dloss = 0.3;
  auto loss = [&] {
    ref::cross_entropy_forward(losses.data(), logits.data(), tg.data(), N, V);
    double s = 0.0;
    for (double x : losses) s += x * dloss;
    return s;
  };
  ref::cross_entropy_backward(dl.data(), logits.data(), tg.data(), dloss, N, V);
  EXPECT_LT(test::grad_check_error({logits.data()}, {logits.size()}, {dl.data()}, loss), 1e-6);
  for (int v = 0; v < V; v++) EXPECT_EQ(dl[V + v], 0.0) << "masked row has zero gradient";
}

TEST(CrossEntropy, TargetOutOfRangeThrows) {
  std::vector<float> logits(2 * 5, 0.0f), losses(2);
  std::vector<int32_t> tg = {1, 5};
  EXPECT_THROW(cpu::cross_entropy_forward(losses.data(), logits.data(), tg.data(), 2, 5),
               RuntimeError);
  EXPECT_THROW(cpu::cross_entropy_fused(logits.data(), losses.data(), tg.data(), 1.0f, 2, 5),
               RuntimeError);
}

// Finite differences through this path's own float forward against its fused backward (V odd,
// one masked row).
TEST_P(CrossEntropyIsa, CpuDirectionalGradient) {
  std::mt19937_64 rng(13);
  const int N = 4, V = 1001;
  std::vector<float> logits(N * V), grad(N * V), losses(N);
  for (auto& x : logits) x = (float)std::normal_distribution<double>(0.0, 2.0)(rng);
  std::vector<int32_t> targets{3, -1, 1000, 517};
  grad = logits;
  cpu::cross_entropy_fused(grad.data(), losses.data(), targets.data(), 1.0f, N, V);
  auto loss = [&] {
    cpu::cross_entropy_forward(losses.data(), logits.data(), targets.data(), N, V);
    double s = 0.0;
    for (float l : losses) s += l;
    return s;
  };
  EXPECT_LT(test::directional_grad_error({&logits}, {&grad}, loss, 14), 2e-3);
}

INSTANTIATE_TEST_SUITE_P(Isa, CrossEntropyIsa, LMFORGE_KERNEL_ISAS);

}  // namespace
}  // namespace lmforge
