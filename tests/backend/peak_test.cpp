// backend::measure_peak: the arithmetic peak behind `mfu`. The dispatch (which instruction each
// precision runs at each ISA level, forced down with IsaCap), positive and plausible figures, the
// 0.5 s budget, and the relations between levels that the hardware fixes: a zmm FMA does twice
// the work of a ymm one, so AVX-512's fp32 peak per thread is ~1x (512-bit operations split into
// two 256-bit halves, e.g. AMD Zen 4) or ~2x (full-width units, e.g. AMD Zen 5 server parts,
// Intel Xeons with two FMA-512 ports) the AVX2 one, never in between and never below. Levels the
// CPU lacks (or LMFORGE_ISA caps off) are skipped with the reason.
#include "lmforge/backend/peak.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "lmforge/backend/isa.h"

namespace lmforge::backend {
namespace {

// Why a level cannot be tested here (the CPU lacks it, or LMFORGE_ISA caps it off).
std::string below(Isa need) {
  return std::string("active ISA ") + isa_name(active_isa()) + " (CPU " + isa_name(cpu_isa()) +
         ") is below " + isa_name(need);
}

// One thread: the ratios below are per thread, and the shared test machine keeps a core free.
class OneThread : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = omp_get_max_threads();
    omp_set_num_threads(1);
  }
  void TearDown() override { omp_set_num_threads(saved_); }

 private:
  int saved_ = 1;
};

TEST(PeakKernel, DispatchFollowsTheActiveIsa) {
  {
    IsaCap cap(Isa::avx2);
    EXPECT_EQ(peak_kernel(Precision::fp32), PeakKernel::fma_ymm);
    EXPECT_EQ(peak_kernel(Precision::bf16), PeakKernel::fma_ymm) << "emulated bf16 runs on fp32";
  }
  if (active_isa() < Isa::avx512)
    GTEST_SKIP() << below(Isa::avx512) << ": higher levels not checked";
  {
    IsaCap cap(Isa::avx512);
    EXPECT_EQ(peak_kernel(Precision::fp32), PeakKernel::fma_zmm);
    EXPECT_EQ(peak_kernel(Precision::bf16), PeakKernel::fma_zmm) << "emulated bf16 runs on fp32";
  }
  if (active_isa() < Isa::avx512_bf16) GTEST_SKIP() << below(Isa::avx512_bf16);
  IsaCap cap(Isa::avx512_bf16);
  EXPECT_EQ(peak_kernel(Precision::fp32), PeakKernel::fma_zmm);
  EXPECT_EQ(peak_kernel(Precision::bf16), PeakKernel::dpbf16_zmm);
}

TEST(PeakKernel, AmxDispatch) {
  if (active_isa() < Isa::amx_bf16) GTEST_SKIP() << below(Isa::amx_bf16);
  EXPECT_EQ(peak_kernel(Precision::bf16), PeakKernel::amx_bf16);
  EXPECT_EQ(peak_kernel(Precision::fp32), PeakKernel::fma_zmm);
}

TEST(PeakKernel, FlopsPerInstruction) {
  EXPECT_EQ(peak_kernel_flops(PeakKernel::fma_ymm), 16);
  EXPECT_EQ(peak_kernel_flops(PeakKernel::fma_zmm), 32);
  EXPECT_EQ(peak_kernel_flops(PeakKernel::dpbf16_zmm), 64);
  EXPECT_EQ(peak_kernel_flops(PeakKernel::amx_bf16), 16384);
}

TEST_F(OneThread, PositivePlausibleAndFast) {
  for (Precision p : {Precision::fp32, Precision::bf16}) {
    SCOPED_TRACE(precision_name(p));
    const auto t0 = std::chrono::steady_clock::now();
    const Peak peak = measure_peak(p);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s in %.3f s\n", peak.describe().c_str(), s);
    EXPECT_LT(s, 0.5);
    EXPECT_EQ(peak.threads, 1);
    EXPECT_EQ(peak.precision, p);
    EXPECT_EQ(peak.isa, active_isa());
    EXPECT_EQ(peak.kernel, peak_kernel(p));
    EXPECT_FALSE(peak.from_cache);
    ASSERT_TRUE(std::isfinite(peak.flops));
    // Above 1 GFLOP/s (a core at 0.5 GHz retiring one ymm FMA every 8 cycles) and below what the
    // instruction allows per core: 2 pipes x its FLOPs x 6 GHz (AMX: one tdpbf16ps per 16 cycles).
    const double per_cycle = peak.kernel == PeakKernel::amx_bf16
                                 ? peak_kernel_flops(peak.kernel) / 16
                                 : 2 * peak_kernel_flops(peak.kernel);
    EXPECT_GT(peak.flops, 1e9);
    EXPECT_LT(peak.flops, per_cycle * 6e9);
  }
}

TEST_F(OneThread, Avx512Fp32IsOneOrTwoTimesAvx2PerThread) {
  if (active_isa() < Isa::avx512)
    GTEST_SKIP() << below(Isa::avx512) << ": only the AVX2 peak exists";
  double ymm = 0;
  {
    IsaCap cap(Isa::avx2);
    const Peak p = measure_peak(Precision::fp32);
    ASSERT_EQ(p.kernel, PeakKernel::fma_ymm);
    ymm = p.per_thread();
  }
  IsaCap cap(Isa::avx512);
  const Peak p = measure_peak(Precision::fp32);
  ASSERT_EQ(p.kernel, PeakKernel::fma_zmm);
  const double ratio = p.per_thread() / ymm;
  std::printf("fp32 per thread: ymm %.1f GFLOP/s, zmm %.1f GFLOP/s, ratio %.2f\n", ymm / 1e9,
              p.per_thread() / 1e9, ratio);
  const bool split = ratio > 0.8 && ratio<1.25, full = ratio> 1.6 && ratio < 2.4;
  EXPECT_TRUE(split || full) << "ratio " << ratio
                             << ": neither ~1x (split 512-bit units) nor ~2x (full width)";
}

TEST_F(OneThread, NativeBf16AtLeastTheFp32Peak) {
  if (active_isa() < Isa::avx512_bf16)
    GTEST_SKIP() << below(Isa::avx512_bf16) << ": bf16 is emulated";
  IsaCap cap(Isa::avx512_bf16);
  const double fp32 = measure_peak(Precision::fp32).flops;
  const Peak bf16 = measure_peak(Precision::bf16);
  ASSERT_EQ(bf16.kernel, PeakKernel::dpbf16_zmm);
  std::printf("per thread: fp32 %.1f GFLOP/s, vdpbf16ps %.1f GFLOP/s (%.2fx)\n", fp32 / 1e9,
              bf16.flops / 1e9, bf16.flops / fp32);
  // vdpbf16ps does two products per lane where an FMA does one, at the same or half the rate.
  EXPECT_GT(bf16.flops, 0.8 * fp32);
  EXPECT_LT(bf16.flops, 2.5 * fp32);
}

TEST_F(OneThread, AmxBf16AboveAvx512Bf16) {
  if (active_isa() < Isa::amx_bf16)
    GTEST_SKIP() << below(Isa::amx_bf16) << " (no AMX-BF16, or Linux refused the tile state): "
                 << "tdpbf16ps not run";
  double dp = 0;
  {
    IsaCap cap(Isa::avx512_bf16);
    dp = measure_peak(Precision::bf16).flops;
  }
  const Peak amx = measure_peak(Precision::bf16);
  ASSERT_EQ(amx.kernel, PeakKernel::amx_bf16);
  std::printf("per thread: vdpbf16ps %.1f GFLOP/s, tdpbf16ps %.1f GFLOP/s (%.1fx)\n", dp / 1e9,
              amx.flops / 1e9, amx.flops / dp);
  // Sapphire Rapids: 1,024 bf16 FLOP/cycle in tiles against 64-128 with vdpbf16ps.
  EXPECT_GT(amx.flops, 3 * dp);
}

TEST(CpuModel, NonEmptyAndTrimmed) {
  const std::string m = cpu_model();
  std::printf("cpu: '%s'\n", m.c_str());
  ASSERT_FALSE(m.empty());
  EXPECT_NE(m.front(), ' ');
  EXPECT_NE(m.back(), ' ');
  EXPECT_EQ(m.find('\0'), std::string::npos);
}

}  // namespace
}  // namespace lmforge::backend
