// Few-row linear (kernels_infer.h): cpu vs the double oracle at odd sizes, with and without bias,
// N from 1 to 16 (the AVX2 kernel takes 2 rows a pass and 4 or 8 weight rows a block: odd N and
// OC hit every edge), and the packed-weight linear; out fully overwritten; guards intact.
#include "backend/kernel_test_util.h"
#include "lmforge/backend/kernels_infer.h"
#include "lmforge/core/arena.h"

namespace lmforge {
namespace {
using test::Pair;

// cpu_linear(out, inp, w, bias, N, IC, OC) against ref::linear_rows_forward for every N, shape
// and bias choice, on random data with a garbage-filled output.
template <typename CpuLinear>
void check_against_ref(uint64_t seed, std::initializer_list<int> Ns,
                       std::initializer_list<std::pair<int, int>> shapes, CpuLinear cpu_linear) {
  std::mt19937_64 rng(seed);
  for (int N : Ns)
    for (auto [IC, OC] : shapes)
      for (bool with_bias : {false, true}) {
        SCOPED_TRACE("N=" + std::to_string(N) + " IC=" + std::to_string(IC) +
                     " OC=" + std::to_string(OC) + (with_bias ? " bias" : ""));
        Pair inp((size_t)N * IC), w((size_t)OC * IC), b(OC), out((size_t)N * OC);
        inp.fill(rng);
        w.fill(rng);
        b.fill(rng);
        out.fill(rng);  // garbage: must be overwritten
        ref::linear_rows_forward(out.d.data(), inp.d.data(), w.d.data(),
                                 with_bias ? b.d.data() : nullptr, N, IC, OC);
        cpu_linear(out.f.data(), inp.f.data(), w.f.data(), with_bias ? b.f.data() : nullptr, N, IC,
                   OC);
        test::expect_close(out, 1e-4, 1e-5, "out");  // IC-term float sums of O(1) products
        EXPECT_TRUE(out.guards_intact() && w.guards_intact());
      }
}

TEST(LinearRows, CpuVsRef) {
  check_against_ref(11, {1, 2, 3, 4, 5, 8, 9, 16},
                    {{31, 33}, {384, 1153}, {7, 1}, {8, 6}, {1536, 390}}, cpu::linear_rows_forward);
}

// The weight packed once (decode's batched path): every K slice count (IC = 7 … 1536 spans one to
// four slices of the GEMM's KC), partial strips (OC % 16) and partial row strips (N % 6).
TEST(LinearPacked, CpuVsRef) {
  if (!cpu::packed_linear_available()) GTEST_SKIP() << "no AVX2/FMA: the packed path is not used";
  check_against_ref(
      12, {1, 2, 5, 6, 7, 8, 13, 16, 33}, {{31, 33}, {384, 1153}, {1536, 390}, {7, 1}, {400, 17}},
      [](float* out, const float* inp, const float* w, const float* bias, int N, int IC, int OC) {
        AlignedFloats packed = alloc_aligned_floats(cpu::packed_weight_floats(IC, OC));
        cpu::pack_weight(packed.get(), w, IC, OC);
        cpu::linear_packed_forward(out, inp, packed.get(), bias, N, IC, OC);
      });
}

}  // namespace
}  // namespace lmforge
