// cpu::gemm in fp32 and bf16 and every path behind it (our AVX2 kernel, OpenBLAS, oneDNN fp32,
// oneDNN bf16, emulated bf16) against a double reference, at every ISA level this CPU has:
//   - in this process, each level forced with IsaCap (oneDNN keeps its process-wide cap, so
//     below it the dispatcher's non-oneDNN paths are what runs and is tested);
//   - in a fresh process per level (LMFORGE_ISA=level), where oneDNN itself is capped there, and
//     per LMFORGE_GEMM value: the GemmProcess tests, run as a child of this binary.
// Levels above the CPU are skipped with the reason printed. Plus the bulk bf16 converters, every
// vector path bit for bit against the scalar float_to_bf16, specials and denormals included.
#include "backend/cpu/gemm_onednn.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backend/cpu/gemm_dispatch.h"
#include "backend/kernel_test_util.h"
#include "lmforge/backend/bf16.h"
#include "lmforge/backend/isa.h"
#include "lmforge/backend/kernels.h"

namespace lmforge {
namespace {

using backend::Isa;
using backend::Precision;
using test::Guarded;

constexpr Isa kLevels[] = {Isa::avx2, Isa::avx512, Isa::avx512_bf16, Isa::amx_bf16};

std::string skip_reason(Isa level) {
  return std::string("this CPU tops out at ") + backend::isa_name(backend::cpu_isa()) + ", below " +
         backend::isa_name(level);
}

std::string level_name(const ::testing::TestParamInfo<Isa>& info) {
  return backend::isa_name(info.param);
}

// ---------------------------------------------------------------- bf16 converters

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Specials and edge cases, then random floats over the whole exponent range.
std::vector<float> converter_inputs(size_t n) {
  const uint32_t specials[] = {
      0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x00400000, 0x007fffff, 0x807fffff,
      0x00017fff, 0x00018000, 0x00008000, 0x00800000, 0x3f800000, 0x3f808000, 0x3f818000,
      0x3f807fff, 0x3f808001, 0x3f80ffff, 0x7f7fffff, 0xff7fffff, 0x7f7f8000, 0x7f800000,
      0xff800000, 0x7fc00000, 0x7f800001, 0xff800001, 0x7fbfffff, 0xffffffff, 0x7f808000};
  std::vector<float> v;
  for (uint32_t s : specials) v.push_back(from_bits(s));
  std::mt19937_64 rng(3);
  while (v.size() < n) {
    uint32_t u = uint32_t(rng());
    if (rng() % 4 == 0) u &= 0x807fffffu;                 // a quarter denormal (or zero)
    if (rng() % 8 == 0) u = (u & 0xffff0000u) | 0x8000u;  // exact ties
    v.push_back(from_bits(u));
  }
  v.resize(n);
  return v;
}

// A bf16 buffer between two guard regions of a NaN pattern (Guarded<T> assumes a float T).
class GuardedBf16 {
 public:
  explicit GuardedBf16(size_t n) : n_(n), buf_(n + 2 * test::kGuard, kPattern) {}
  bf16_t* data() { return buf_.data() + test::kGuard; }
  bf16_t operator[](size_t i) const { return buf_[test::kGuard + i]; }
  bool guards_intact() const {
    for (size_t i = 0; i < test::kGuard; i++)
      if (buf_[i] != kPattern || buf_[test::kGuard + n_ + i] != kPattern) return false;
    return true;
  }

 private:
  static constexpr bf16_t kPattern = 0x7fc1;
  size_t n_;
  std::vector<bf16_t> buf_;
};

class Bf16Convert : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (GetParam() > backend::cpu_isa()) GTEST_SKIP() << skip_reason(GetParam());
    cap_.emplace(GetParam());
  }
  std::optional<backend::IsaCap> cap_;
};

TEST_P(Bf16Convert, EveryPathMatchesScalarBitwise) {
  // Lengths around the 16- and 32-wide vector bodies and masked tails, and past the 64 Ki
  // elements where the bulk converters go parallel.
  for (size_t n : {size_t(1), size_t(15), size_t(16), size_t(17), size_t(31), size_t(32),
                   size_t(33), size_t(100), size_t(4099), size_t(70001)}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const std::vector<float> x = converter_inputs(n);
    GuardedBf16 h(n);
    cpu::convert_to_bf16(h.data(), x.data(), n);
    Guarded<float> back(n), rounded(n);
    cpu::convert_from_bf16(back.data(), h.data(), n);
    cpu::round_floats_to_bf16(rounded.data(), x.data(), n);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
      const bf16_t want = float_to_bf16(x[i]);
      if (h[i] != want || bits_of(back[i]) != uint32_t(want) << 16 ||
          bits_of(rounded[i]) != bits_of(round_to_bf16(x[i]))) {
        if (bad++ < 5)
          ADD_FAILURE() << "x=0x" << std::hex << bits_of(x[i]) << ": to_bf16 0x" << h[i]
                        << " want 0x" << want << ", round 0x" << bits_of(rounded[i]);
      }
    }
    EXPECT_EQ(bad, 0u);
    EXPECT_TRUE(h.guards_intact() && back.guards_intact() && rounded.guards_intact());
  }
}

TEST_P(Bf16Convert, MatrixFormsReadOnlyTheColumns) {
  const size_t rows = 37, cols = 45, ld = 53;
  std::vector<float> x = converter_inputs(rows * ld);
  for (size_t r = 0; r < rows; r++)
    for (size_t c = cols; c < ld; c++) x[r * ld + c] = std::nanf("");  // padding: never copied
  GuardedBf16 h(rows * cols);
  Guarded<float> f(rows * cols);
  cpu::convert_to_bf16(h.data(), x.data(), rows, cols, ld);
  cpu::round_floats_to_bf16(f.data(), x.data(), rows, cols, ld);
  for (size_t r = 0; r < rows; r++)
    for (size_t c = 0; c < cols; c++) {
      ASSERT_EQ(h[r * cols + c], float_to_bf16(x[r * ld + c])) << r << "," << c;
      ASSERT_EQ(bits_of(f[r * cols + c]), bits_of(round_to_bf16(x[r * ld + c]))) << r << "," << c;
    }
  EXPECT_TRUE(h.guards_intact() && f.guards_intact());
}

INSTANTIATE_TEST_SUITE_P(Isa, Bf16Convert, ::testing::ValuesIn(kLevels), level_name);

// ---------------------------------------------------------------- GEMM problems

// One GEMM problem with NaN guards around every buffer and NaN in the padding columns of A and B
// (a read outside op(A)/op(B) poisons C) and, when beta == 0, in C itself (C must not be read).
struct Problem {
  bool ta, tb;
  int M, N, K, lda, ldb, ldc;
  float alpha, beta;
  Guarded<float> A, B, C;
  std::vector<float> C0;  // C before the call

  Problem(std::mt19937_64& rng, bool ta_, bool tb_, int M_, int N_, int K_, float alpha_,
          float beta_, int pad)
      : ta(ta_),
        tb(tb_),
        M(M_),
        N(N_),
        K(K_),
        lda((ta_ ? M_ : K_) + pad),
        ldb((tb_ ? K_ : N_) + 2 * pad),
        ldc(N_ + pad),
        alpha(alpha_),
        beta(beta_),
        A(size_t(ta_ ? K_ : M_) * lda),
        B(size_t(tb_ ? N_ : K_) * ldb),
        C(size_t(M_) * ldc) {
    std::normal_distribution<float> dist;
    fill(A, ta ? K : M, ta ? M : K, lda, rng, dist);
    fill(B, tb ? N : K, tb ? K : N, ldb, rng, dist);
    fill(C, M, N, ldc, rng, dist);
    if (beta == 0.0f)
      for (size_t i = 0; i < C.size(); i++) C[i] = std::nanf("");
    C0 = C.vec();
  }
  static void fill(Guarded<float>& x, int rows, int cols, int ld, std::mt19937_64& rng,
                   std::normal_distribution<float>& dist) {
    for (int r = 0; r < rows; r++)
      for (int c = 0; c < ld; c++) x[size_t(r) * ld + c] = c < cols ? dist(rng) : std::nanf("");
  }
  float a(int i, int k, bool bf16) const {
    float v = ta ? A[size_t(k) * lda + i] : A[size_t(i) * lda + k];
    return bf16 ? round_to_bf16(v) : v;
  }
  float b(int k, int j, bool bf16) const {
    float v = tb ? B[size_t(j) * ldb + k] : B[size_t(k) * ldb + j];
    return bf16 ? round_to_bf16(v) : v;
  }
  std::string name() const {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "M=%d N=%d K=%d ta=%d tb=%d lda=%d ldb=%d ldc=%d alpha=%g beta=%g", M, N, K, ta,
                  tb, lda, ldb, ldc, alpha, beta);
    return buf;
  }
};

// Double reference from the inputs (rounded to bf16 first when bf16) and the error bound of an
// fp32-accumulated result: |err| <= (K+2)·2^-23·(|alpha|·Σ|a·b| + |beta·c|), twice the
// classical gamma_K worst case (u = 2^-24), whatever the summation order. With bf16 inputs the
// products are exact in fp32 (8-bit significands), so the same bound holds against the rounded
// reference.
struct Reference {
  std::vector<double> want, bound;
};
Reference reference(const Problem& p, bool bf16) {
  Reference r{std::vector<double>(size_t(p.M) * p.N), std::vector<double>(size_t(p.M) * p.N)};
  const double u2 = std::ldexp(1.0, -23);
  for (int i = 0; i < p.M; i++)
    for (int j = 0; j < p.N; j++) {
      double s = 0, sa = 0;
      for (int k = 0; k < p.K; k++) {
        const double ab = double(p.a(i, k, bf16)) * p.b(k, j, bf16);
        s += ab;
        sa += std::abs(ab);
      }
      const double c0 = p.C0[size_t(i) * p.ldc + j];
      const double bc = p.beta == 0.0f ? 0.0 : double(p.beta) * c0;
      r.want[size_t(i) * p.N + j] = double(p.alpha) * s + bc;
      r.bound[size_t(i) * p.N + j] =
          (p.K + 2) * u2 * (std::abs(double(p.alpha)) * sa + std::abs(bc));
    }
  return r;
}

// Elements of C (inside the M×N window) outside the bound; the padding columns of C must keep
// their values and the guards their NaNs.
size_t count_outside(const Problem& p, const Reference& r, bool report) {
  size_t bad = 0;
  for (int i = 0; i < p.M; i++) {
    for (int j = 0; j < p.N; j++) {
      const double got = p.C[size_t(i) * p.ldc + j], want = r.want[size_t(i) * p.N + j];
      const double bound = r.bound[size_t(i) * p.N + j];
      if (!(std::abs(got - want) <= bound)) {
        if (report && bad < 3)
          ADD_FAILURE() << p.name() << ": C(" << i << "," << j << ") = " << got << ", want " << want
                        << " ± " << bound;
        bad++;
      }
    }
    for (int j = p.N; j < p.ldc; j++) {
      const size_t at = size_t(i) * p.ldc + j;
      if (bits_of(p.C[at]) != bits_of(p.C0[at])) {
        if (report) ADD_FAILURE() << p.name() << ": wrote the padding of C at " << i << "," << j;
        bad++;
      }
    }
  }
  if (!p.C.guards_intact() || !p.A.guards_intact() || !p.B.guards_intact()) {
    if (report) ADD_FAILURE() << p.name() << ": write outside the buffers";
    bad++;
  }
  return bad;
}

using GemmFn = void (*)(Problem& p);

void run_gemm(Precision prec, Problem& p) {
  cpu::gemm(prec, p.ta, p.tb, p.M, p.N, p.K, p.alpha, p.A.data(), p.lda, p.B.data(), p.ldb, p.beta,
            p.C.data(), p.ldc);
}

// Every combination of transposes, sizes from {1, 3, 17, 64, 129, 333} (not all 216 triples:
// each size appears as M, N and K, with the big ones paired with small ones), padded leading
// dimensions, and alpha, beta in {0, 1, 0.5} in turn. `each(problem)` runs a path and checks it.
template <typename Each>
void for_problems(bool bf16, Each each) {
  const int shapes[][3] = {{1, 1, 1},     {3, 17, 64},  {17, 3, 129}, {64, 129, 3},
                           {129, 64, 17}, {333, 17, 3}, {3, 333, 17}, {17, 64, 333},
                           {1, 129, 64},  {64, 1, 129}, {129, 3, 1},  {333, 129, 64}};
  const float ab[][2] = {{1.0f, 0.0f}, {0.5f, 1.0f}, {1.0f, 0.5f}, {0.0f, 0.5f},
                         {0.5f, 0.0f}, {1.0f, 1.0f}, {0.0f, 0.0f}, {0.5f, 0.5f}};
  std::mt19937_64 rng(bf16 ? 11 : 7);
  int n = 0;
  for (auto& s : shapes)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const auto& [alpha, beta] = ab[n % 8];
        Problem p(rng, ta, tb, s[0], s[1], s[2], alpha, beta, 1 + n % 5);
        n++;
        SCOPED_TRACE(p.name());
        each(p);
      }
}

void expect_matches(Precision prec, const char* what, void (*fn)(Precision, Problem&)) {
  const bool bf16 = prec == Precision::bf16;
  for_problems(bf16, [&](Problem& p) {
    fn(prec, p);
    EXPECT_EQ(count_outside(p, reference(p, bf16), true), 0u) << what;
  });
}

void via_gemm(Precision prec, Problem& p) {
  run_gemm(prec, p);
}
void via_onednn(Precision prec, Problem& p) {
  cpu::gemm_onednn(prec, p.ta, p.tb, p.M, p.N, p.K, p.alpha, p.A.data(), p.lda, p.B.data(), p.ldb,
                   p.beta, p.C.data(), p.ldc);
}
void via_emulated(Precision, Problem& p) {
  cpu::gemm_bf16_emulated(p.ta, p.tb, p.M, p.N, p.K, p.alpha, p.A.data(), p.lda, p.B.data(), p.ldb,
                          p.beta, p.C.data(), p.ldc);
}
template <cpu::Fp32Gemm G>
void via_fp32(Precision, Problem& p) {
  cpu::sgemm_with(G, p.ta, p.tb, p.M, p.N, p.K, p.alpha, p.A.data(), p.lda, p.B.data(), p.ldb,
                  p.beta, p.C.data(), p.ldc);
}

// The degenerate cases are the dispatcher's: alpha == 0 or K == 0 leaves beta·C.
bool nondegenerate(const Problem& p) {
  return p.alpha != 0.0f && p.K > 0;
}

// ---------------------------------------------------------------- every level, in this process

class GemmAtIsa : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (GetParam() > backend::cpu_isa()) GTEST_SKIP() << skip_reason(GetParam());
    cap_.emplace(GetParam());
  }
  std::optional<backend::IsaCap> cap_;
};

TEST_P(GemmAtIsa, Fp32DispatchMatchesDoubleReference) {
  expect_matches(Precision::fp32, "cpu::gemm fp32", via_gemm);
}

TEST_P(GemmAtIsa, Bf16DispatchMatchesRoundedReference) {
  expect_matches(Precision::bf16, "cpu::gemm bf16", via_gemm);
}

TEST_P(GemmAtIsa, OurKernelAndBlasMatchDoubleReference) {
  expect_matches(Precision::fp32, "avx2", via_fp32<cpu::Fp32Gemm::avx2>);
  expect_matches(Precision::fp32, "blas", via_fp32<cpu::Fp32Gemm::blas>);
}

TEST_P(GemmAtIsa, OnednnFp32MatchesDoubleReference) {
  if (!cpu::onednn_matches_active_isa())
    GTEST_SKIP() << "oneDNN runs at " << backend::isa_name(cpu::onednn_isa())
                 << " in this process (its cap is process-wide); the fresh-process test covers "
                 << backend::isa_name(GetParam());
  for_problems(false, [](Problem& p) {
    if (!nondegenerate(p)) return;
    via_onednn(Precision::fp32, p);
    EXPECT_EQ(count_outside(p, reference(p, false), true), 0u) << "onednn fp32";
  });
}

TEST_P(GemmAtIsa, EmulatedBf16MatchesRoundedReference) {
  for_problems(true, [](Problem& p) {
    if (!nondegenerate(p)) return;
    via_emulated(Precision::bf16, p);
    EXPECT_EQ(count_outside(p, reference(p, true), true), 0u) << "emulated bf16";
  });
}

// The bf16 result must NOT meet the fp32 bound against the unrounded inputs (else the test above
// could pass with a path that silently runs fp32), while the fp32 result must.
TEST_P(GemmAtIsa, Bf16DiffersFromUnroundedFp32) {
  std::mt19937_64 rng(21);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Problem p32(rng, ta, tb, 33, 47, 129, 1.0f, 0.0f, 2);
      Problem p16 = p32;
      run_gemm(Precision::fp32, p32);
      run_gemm(Precision::bf16, p16);
      const Reference exact = reference(p32, false);
      EXPECT_EQ(count_outside(p32, exact, true), 0u);
      const size_t outside = count_outside(p16, exact, false);
      EXPECT_GT(outside, size_t(p16.M) * p16.N / 2)
          << "bf16 result within the fp32 bound of the unrounded product at " << outside << " of "
          << p16.M * p16.N << " elements: inputs not rounded?";
    }
}

// Native bf16 (oneDNN's bf16 kernels) and the emulation agree: both within the bound of the same
// rounded reference, hence within twice it of each other.
TEST_P(GemmAtIsa, NativeAndEmulatedBf16Agree) {
  if (!cpu::bf16_on_onednn())
    GTEST_SKIP() << "no native bf16 GEMM at " << backend::isa_name(backend::active_isa())
                 << " (oneDNN at " << backend::isa_name(cpu::onednn_isa())
                 << "): bf16 is emulated here, tested above";
  for_problems(true, [](Problem& p) {
    if (!nondegenerate(p)) return;
    Problem q = p;
    via_onednn(Precision::bf16, p);
    via_emulated(Precision::bf16, q);
    const Reference r = reference(p, true);
    EXPECT_EQ(count_outside(p, r, true), 0u) << "native";
    EXPECT_EQ(count_outside(q, r, true), 0u) << "emulated";
    for (int i = 0; i < p.M; i++)
      for (int j = 0; j < p.N; j++) {
        const size_t at = size_t(i) * p.ldc + j;
        ASSERT_LE(std::abs(double(p.C[at]) - q.C[at]), 2 * r.bound[size_t(i) * p.N + j])
            << i << "," << j;
      }
  });
}

TEST_P(GemmAtIsa, DispatchReportsWhatRuns) {
  const bool native = GetParam() >= Isa::avx512_bf16 && cpu::onednn_isa() == GetParam();
  EXPECT_EQ(cpu::bf16_on_onednn(), native);
  const std::string name16 = backend::gemm_name(Precision::bf16);
  if (native) {
    EXPECT_EQ(name16, cpu::onednn_name());
  }
  const std::string name32 = backend::gemm_name(Precision::fp32);
  const char* lib = cpu::fp32_gemm_label(cpu::fp32_gemm());
  EXPECT_EQ(name32, std::string(lib) == "avx2"   ? "lmforge avx2"
                    : std::string(lib) == "blas" ? "openblas"
                                                 : cpu::onednn_name());
  std::printf("[ %s ] fp32: %s, bf16: %s%s\n", backend::isa_name(GetParam()), name32.c_str(),
              name16.c_str(), native ? "" : " (emulated)");
}

INSTANTIATE_TEST_SUITE_P(Isa, GemmAtIsa, ::testing::ValuesIn(kLevels), level_name);

// Calls from several threads at once share cached primitives (the server's case).
TEST(Gemm, ConcurrentCallsFromThreads) {
  std::mt19937_64 rng(5);
  for (Precision prec : {Precision::fp32, Precision::bf16}) {
    std::vector<Problem> ps;
    for (int t = 0; t < 4; t++) ps.emplace_back(rng, t % 2, t / 2, 65, 70, 129, 1.0f, 0.5f, 1);
    std::vector<std::thread> threads;
    for (auto& p : ps)
      threads.emplace_back([&p, prec] {
        for (int r = 0; r < 20; r++) {
          std::copy(p.C0.begin(), p.C0.end(), p.C.data());
          run_gemm(prec, p);
        }
      });
    for (auto& t : threads) t.join();
    for (auto& p : ps) EXPECT_EQ(count_outside(p, reference(p, prec == Precision::bf16), true), 0u);
  }
}

// More shapes than the primitive cache holds (1024): the least recently used are dropped and
// made again, and every result stays right.
TEST(Gemm, PrimitiveCacheEviction) {
  std::mt19937_64 rng(9);
  for (int round = 0; round < 2; round++)
    for (int M = 1; M <= 1100; M++) {
      const bool check = M % 97 == 1 || M == 1100;
      Problem p(rng, false, true, M, 3, 2, 1.0f, 0.0f, 1);
      run_gemm(Precision::fp32, p);
      if (check) {
        EXPECT_EQ(count_outside(p, reference(p, false), true), 0u) << "M=" << M;
      }
    }
}

// ---------------------------------------------------------------- fresh processes

// Run in a child with LMFORGE_ISA / LMFORGE_GEMM set: oneDNN capped at the process's level.
TEST(GemmProcess, OnednnAtProcessIsa) {
  const char* want = std::getenv("LMFORGE_ISA");
  if (want) {
    ASSERT_STREQ(backend::isa_name(backend::process_isa()), want);
  }
  EXPECT_EQ(cpu::onednn_isa(), backend::process_isa()) << "oneDNN not capped at the process ISA";
  for (Precision prec : {Precision::fp32, Precision::bf16}) {
    const bool bf16 = prec == Precision::bf16;
    for_problems(bf16, [&](Problem& p) {
      Problem q = p;
      run_gemm(prec, p);
      EXPECT_EQ(count_outside(p, reference(p, bf16), true), 0u) << "cpu::gemm";
      // oneDNN itself at this level; bf16 below avx512_bf16 only where oneDNN implements it.
      if (!nondegenerate(q) || (bf16 && !backend::native_bf16())) return;
      via_onednn(prec, q);
      EXPECT_EQ(count_outside(q, reference(q, bf16), true), 0u) << "onednn";
    });
  }
  std::printf("[ process %s, LMFORGE_GEMM=%s ] %s\n", backend::isa_name(backend::process_isa()),
              std::getenv("LMFORGE_GEMM") ? std::getenv("LMFORGE_GEMM") : "",
              backend::backend_summary().c_str());
}

TEST(GemmProcess, GemmEnvSelectsLibrary) {
  const char* env = std::getenv("LMFORGE_GEMM");
  if (!env) GTEST_SKIP() << "LMFORGE_GEMM not set (the parent sets it for its children)";
  const char* got = cpu::fp32_gemm_label(cpu::fp32_gemm());
  EXPECT_STREQ(got, env);
}

// Runs this binary's GemmProcess tests in a child with the given environment.
void run_child(const std::string& env) {
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  ASSERT_GT(n, 0);
  exe[n] = 0;
  const std::string cmd = env + " '" + exe + "' --gtest_filter='GemmProcess.*' 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  char buf[4096];
  while (size_t k = std::fread(buf, 1, sizeof buf, f)) out.append(buf, k);
  const int status = pclose(f);
  EXPECT_EQ(status, 0) << cmd << "\n" << out;
  for (size_t at = out.find("[ process"); at != std::string::npos;
       at = out.find("[ process", at + 1))
    std::printf("%s\n", out.substr(at, out.find('\n', at) - at).c_str());
}

class GemmFreshProcess : public ::testing::TestWithParam<Isa> {};

TEST_P(GemmFreshProcess, OnednnCappedAtLevel) {
  if (std::getenv("LMFORGE_ISA")) GTEST_SKIP() << "already a child";
  if (GetParam() > backend::cpu_isa()) GTEST_SKIP() << skip_reason(GetParam());
  run_child(std::string("LMFORGE_ISA=") + backend::isa_name(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Isa, GemmFreshProcess, ::testing::ValuesIn(kLevels), level_name);

TEST(GemmFreshProcess, GemmEnvOverride) {
  if (std::getenv("LMFORGE_ISA") || std::getenv("LMFORGE_GEMM")) GTEST_SKIP() << "already a child";
  for (const char* lib : {"avx2", "blas", "onednn"}) run_child(std::string("LMFORGE_GEMM=") + lib);
}

}  // namespace
}  // namespace lmforge
