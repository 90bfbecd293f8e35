// Few-row linear with bf16 weights (kernels_infer.h linear_rows_forward_bf16): every ISA path
// (avx2, avx512, avx512_bf16; the ones this CPU lacks are skipped with the reason) against the
// double oracle on the same bf16 weights, N in {1,2,5} (N=5 leaves a partial pass of input rows
// on every path), IC and OC odd so that vector tails and the partial weight-row block are hit.
// The oracle rounds the activations to bf16 as the contract says, so the tolerance covers fp32
// accumulation only: IC ≤ 1153 products of O(1) values, |err| ≲ IC·2^-24·Σ|x·w| ≈ 1e-4.
#include "backend/kernel_test_util.h"
#include "lmforge/backend/isa.h"
#include "lmforge/backend/kernels_infer.h"

namespace lmforge {
namespace {
using test::Guarded;
using test::Pair;

class LinearRowsBf16 : public test::IsaPaths {};

TEST_P(LinearRowsBf16, CpuVsRef) {
  std::mt19937_64 rng(21);
  for (int N : {1, 2, 5})
    for (auto [IC, OC] : {std::pair{31, 33}, {7, 1}, {384, 1153}, {1153, 390}, {33, 17}})
      for (bool with_bias : {false, true}) {
        SCOPED_TRACE("N=" + std::to_string(N) + " IC=" + std::to_string(IC) +
                     " OC=" + std::to_string(OC) + (with_bias ? " bias" : ""));
        Pair inp((size_t)N * IC), b(OC), out((size_t)N * OC);
        inp.fill(rng);  // float values that are not bf16 values: the rounding is exercised
        b.fill(rng);
        out.fill(rng);  // garbage: must be overwritten
        Guarded<bf16_t> w((size_t)OC * IC);
        std::normal_distribution<float> dist(0.0f, 1.0f);
        for (size_t i = 0; i < w.size(); i++) w[i] = float_to_bf16(dist(rng));
        ref::linear_rows_forward_bf16(out.d.data(), inp.d.data(), w.data(),
                                      with_bias ? b.d.data() : nullptr, N, IC, OC);
        cpu::linear_rows_forward_bf16(out.f.data(), inp.f.data(), w.data(),
                                      with_bias ? b.f.data() : nullptr, N, IC, OC);
        test::expect_close(out, 2e-4, 1e-5, "out");
        EXPECT_TRUE(inp.guards_intact() && w.guards_intact());
      }
}

// The contract rounds activations to bf16: an input that is not a bf16 value must give the
// result of its rounded value, on every path (a kernel reading the raw float would fail here).
TEST_P(LinearRowsBf16, RoundsActivationsToBf16) {
  const int IC = 3;
  float inp[IC] = {1.0f + 1.0f / 512, 1.0f + 3.0f / 512, -2.0f - 1.0f / 256};  // not bf16 values
  bf16_t w[IC] = {float_to_bf16(1.0f), float_to_bf16(1.0f), float_to_bf16(1.0f)};
  float out = 0.0f;
  cpu::linear_rows_forward_bf16(&out, inp, w, nullptr, 1, IC, 1);
  // bf16 keeps 8 significant bits: 1+1/512 -> 1, 1+3/512 -> 1+1/128, -2-1/256 -> -2.
  EXPECT_EQ(out, 1.0f + (1.0f + 1.0f / 128) - 2.0f);
}

// A weight that is a bf16 value times an activation that is one: exact on every path.
TEST_P(LinearRowsBf16, ExactOnBf16Values) {
  const int N = 2, IC = 37, OC = 9;
  std::vector<float> inp((size_t)N * IC), out((size_t)N * OC), bias(OC);
  std::vector<bf16_t> w((size_t)OC * IC);
  for (int i = 0; i < N * IC; i++) inp[i] = (float)(i % 5) - 2.0f;
  for (int i = 0; i < OC * IC; i++) w[i] = float_to_bf16((float)(i % 7) * 0.25f);
  for (int o = 0; o < OC; o++) bias[o] = (float)o;
  cpu::linear_rows_forward_bf16(out.data(), inp.data(), w.data(), bias.data(), N, IC, OC);
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) {
      double want = bias[o];
      for (int i = 0; i < IC; i++)
        want += (double)inp[(size_t)n * IC + i] * bf16_to_float(w[(size_t)o * IC + i]);
      EXPECT_EQ(out[(size_t)n * OC + o], (float)want) << "n=" << n << " o=" << o;
    }
}

INSTANTIATE_TEST_SUITE_P(Isa, LinearRowsBf16,
                         ::testing::Values(backend::Isa::avx2, backend::Isa::avx512,
                                           backend::Isa::avx512_bf16),
                         test::isa_param_name);

}  // namespace
}  // namespace lmforge
