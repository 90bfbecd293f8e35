// The dispatch seam's precision and ISA switches (backend/isa.h, backend/ops.h):
// - bf16 rounding is round-to-nearest-even with NaN kept, as vcvtneps2bf16 and PyTorch;
// - "auto" means bf16 exactly where the active ISA has bf16 instructions; a cap to avx2 turns it
//   to fp32; unknown names are refused;
// - ops::linear_forward/backward at bf16 equal the double reference computed on bf16-rounded
//   operands (the definition of bf16 here) at odd shapes, and differ from the fp32 result (so a
//   silent fp32 fallback fails); at fp32 they equal cpu::linear_*.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backend/kernel_test_util.h"
#include "lmforge/backend/bf16.h"
#include "lmforge/backend/isa.h"
#include "lmforge/backend/ops.h"
#include "lmforge/core/error.h"

using namespace lmforge;
using backend::Isa;
using backend::Precision;

namespace {

TEST(Bf16, RoundsToNearestEvenAndKeepsSpecials) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  // 1 + 2^-8 lies exactly between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(float_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  // 1 + 3·2^-8 lies between 1 + 2^-7 (odd) and 1 + 2^-6 (even): up to the even one.
  EXPECT_EQ(float_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_EQ(float_to_bf16(1.0f + 5 * std::ldexp(1.0f, -9)), 0x3f81);  // above the tie: up
  EXPECT_EQ(float_to_bf16(-2.0f), 0xc000);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
  EXPECT_TRUE(std::isinf(bf16_to_float(float_to_bf16(INFINITY))));
  EXPECT_EQ(bf16_to_float(float_to_bf16(3.4e38f)), INFINITY);  // past the largest bf16, 3.39e38
  std::vector<float> src = {0.1f, -7.3f, 1e-30f, 65504.0f}, back(4);
  std::vector<bf16_t> mid(4);
  cpu::convert_to_bf16(mid.data(), src.data(), 4);
  cpu::convert_from_bf16(back.data(), mid.data(), 4);
  for (int i = 0; i < 4; i++) EXPECT_EQ(back[i], round_to_bf16(src[i])) << i;
}

TEST(Precision, AutoFollowsTheActiveIsa) {
  EXPECT_EQ(backend::resolve_precision("fp32"), Precision::fp32);
  EXPECT_EQ(backend::resolve_precision("bf16"), Precision::bf16);
  EXPECT_THROW(backend::resolve_precision("fp16"), UsageError);
  EXPECT_EQ(backend::resolve_precision("auto"),
            backend::native_bf16() ? Precision::bf16 : Precision::fp32);
  {
    backend::IsaCap cap(Isa::avx2);
    EXPECT_EQ(backend::active_isa(), Isa::avx2);
    EXPECT_FALSE(backend::native_bf16());
    EXPECT_EQ(backend::resolve_precision("auto"), Precision::fp32);
  }
  EXPECT_EQ(backend::active_isa(), std::min(backend::cpu_isa(), backend::active_isa()));
  for (Isa i : {Isa::avx2, Isa::avx512, Isa::avx512_bf16, Isa::amx_bf16})
    EXPECT_EQ(backend::parse_isa(backend::isa_name(i)), i);
  EXPECT_FALSE(backend::parse_isa("sse2"));
  std::printf("cpu isa: %s; %s\n", backend::isa_name(backend::cpu_isa()),
              backend::backend_summary().c_str());
}

// Double reference of out = round(inp)·round(W)ᵀ + b, dinp = round(dout)·round(W),
// dW += round(dout)ᵀ·round(inp) (bias and its gradient in full precision).
struct Linear {
  int N, IC, OC;
  std::vector<float> inp, w, b, dout;
  Linear(int n, int ic, int oc, uint64_t seed) : N(n), IC(ic), OC(oc) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (auto* v : {&inp, &dout}) v->resize(size_t(N) * (v == &inp ? IC : OC));
    w.resize(size_t(OC) * IC);
    b.resize(OC);
    for (auto* v : {&inp, &w, &b, &dout})
      for (auto& x : *v) x = d(rng);
  }
  static double r(float x, bool bf) { return bf ? round_to_bf16(x) : x; }
  std::vector<double> out(bool bf) const {
    std::vector<double> o(size_t(N) * OC);
    for (int n = 0; n < N; n++)
      for (int c = 0; c < OC; c++) {
        double s = b[c];
        for (int k = 0; k < IC; k++) s += r(inp[n * IC + k], bf) * r(w[c * IC + k], bf);
        o[n * OC + c] = s;
      }
    return o;
  }
  std::vector<double> dinp(bool bf) const {
    std::vector<double> o(size_t(N) * IC);
    for (int n = 0; n < N; n++)
      for (int k = 0; k < IC; k++) {
        double s = 0;
        for (int c = 0; c < OC; c++) s += r(dout[n * OC + c], bf) * r(w[c * IC + k], bf);
        o[n * IC + k] = s;
      }
    return o;
  }
  std::vector<double> dw(bool bf) const {
    std::vector<double> o(size_t(OC) * IC);
    for (int c = 0; c < OC; c++)
      for (int k = 0; k < IC; k++) {
        double s = 0;
        for (int n = 0; n < N; n++) s += r(dout[n * OC + c], bf) * r(inp[n * IC + k], bf);
        o[c * IC + k] = s;
      }
    return o;
  }
};

double max_err(const float* a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < b.size(); i++) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

void check_linear(Precision p) {
  backend::PrecisionScope scope(p);
  const bool bf = p == Precision::bf16;
  for (auto [N, IC, OC] : {std::tuple{1, 7, 5}, {17, 33, 65}, {64, 128, 96}, {33, 257, 19}}) {
    Linear L(N, IC, OC, 1000 + N);
    test::Guarded<float> out(size_t(N) * OC), dinp(size_t(N) * IC), dw(size_t(OC) * IC);
    std::fill(dw.data(), dw.data() + dw.size(), 0.0f);
    ops::linear_forward(out.data(), L.inp.data(), L.w.data(), L.b.data(), N, IC, OC);
    ops::linear_backward(dinp.data(), dw.data(), nullptr, L.dout.data(), L.inp.data(), L.w.data(),
                         N, IC, OC);
    EXPECT_TRUE(out.guards_intact() && dinp.guards_intact() && dw.guards_intact());
    // fp32 accumulation of exact products: error ~ K·2^-24·|terms|, terms O(1) here.
    const double tol_f = 4e-6 * IC, tol_d = 4e-6 * OC, tol_w = 4e-6 * N;
    const std::string at = std::to_string(N) + "x" + std::to_string(IC) + "x" + std::to_string(OC);
    EXPECT_LE(max_err(out.data(), L.out(bf)), tol_f) << at;
    EXPECT_LE(max_err(dinp.data(), L.dinp(bf)), tol_d) << at;
    EXPECT_LE(max_err(dw.data(), L.dw(bf)), tol_w) << at;
    if (bf && IC >= 33) {  // bf16 rounding (2^-9 relative per operand) shows far above fp32's error
      EXPECT_GT(max_err(out.data(), L.out(false)), 50 * tol_f) << at << ": bf16 not in effect";
    }
  }
}

TEST(Precision, LinearFp32MatchesReference) {
  check_linear(Precision::fp32);
}

TEST(Precision, LinearBf16MatchesRoundedReferenceAtEveryIsa) {
  for (Isa isa : {Isa::avx2, Isa::avx512, Isa::avx512_bf16, Isa::amx_bf16}) {
    if (isa > backend::cpu_isa()) {
      std::printf("skipping ISA %s: this CPU has %s\n", backend::isa_name(isa),
                  backend::isa_name(backend::cpu_isa()));
      continue;
    }
    SCOPED_TRACE(backend::isa_name(isa));
    backend::IsaCap cap(isa);
    check_linear(Precision::bf16);
  }
}

}  // namespace
