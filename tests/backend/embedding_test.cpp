// embedding: ref vs cpu (with and without learned positions), gradient check of the ref
// backward, and accumulation (+=) of dwte/dwpe, including repeated ids that collide.
#include "backend/kernel_test_util.h"
#include "lmforge/backend/kernels.h"

namespace lmforge {
namespace {
using test::Pair;

std::vector<int32_t> random_ids(std::mt19937_64& rng, int n, int V) {
  std::uniform_int_distribution<int32_t> dist(0, V - 1);
  std::vector<int32_t> ids(n);
  for (auto& x : ids) x = dist(rng);
  return ids;
}

TEST(Embedding, RefVsCpuAndAccumulation) {
  std::mt19937_64 rng(1);
  struct S {
    int B, T, C, V;
  };
  for (auto [B, T, C, V] :
       {S{1, 1, 1, 1}, S{2, 31, 33, 37}, S{3, 33, 31, 5}, S{1, 257, 64, 1000}}) {
    for (bool pos : {true, false}) {
      SCOPED_TRACE("B=" + std::to_string(B) + " T=" + std::to_string(T) +
                   " C=" + std::to_string(C) + " pos=" + std::to_string(pos));
      auto ids = random_ids(rng, B * T, V);
      Pair wte(V * C), wpe(T * C), out(B * T * C), dout(B * T * C), dwte(V * C), dwpe(T * C);
      wte.fill(rng);
      wpe.fill(rng);
      dout.fill(rng);
      dwte.fill(rng);
      dwpe.fill(rng);
      ref::embedding_forward(out.d.data(), ids.data(), wte.d.data(), pos ? wpe.d.data() : nullptr,
                             B, T, C);
      cpu::embedding_forward(out.f.data(), ids.data(), wte.f.data(), pos ? wpe.f.data() : nullptr,
                             B, T, C);
      test::expect_close(out, 1e-6, 1e-6, "out");
      // Twice: the gradients must accumulate, and colliding ids must all be counted.
      for (int k = 0; k < 2; k++) {
        ref::embedding_backward(dwte.d.data(), pos ? dwpe.d.data() : nullptr, dout.d.data(),
                                ids.data(), B, T, C);
        cpu::embedding_backward(dwte.f.data(), pos ? dwpe.f.data() : nullptr, dout.f.data(),
                                ids.data(), B, T, C);
      }
      test::expect_close(dwte, 1e-4, 1e-5, "dwte");
      test::expect_close(dwpe, 1e-4, 1e-5, "dwpe");
    }
  }
}

TEST(Embedding, GradientCheck) {
  std::mt19937_64 rng(2);
  int B = 2, T = 3, C = 4, V = 3;
  auto ids = random_ids(rng, B * T, V);
  auto wte = test::random_vec(rng, V * C), wpe = test::random_vec(rng, T * C),
       r = test::random_vec(rng, B * T * C);
  std::vector<double> out(B * T * C), dwte(V * C, 0.0), dwpe(T * C, 0.0);
  auto loss = [&] {
    ref::embedding_forward(out.data(), ids.data(), wte.data(), wpe.data(), B, T, C);
    return test::dot(out.data(), r.data(), out.size());
  };
  ref::embedding_backward(dwte.data(), dwpe.data(), r.data(), ids.data(), B, T, C);
  EXPECT_LT(test::grad_check_error({wte.data(), wpe.data()}, {wte.size(), wpe.size()},
                                   {dwte.data(), dwpe.data()}, loss),
            1e-6);
}

}  // namespace
}  // namespace lmforge
