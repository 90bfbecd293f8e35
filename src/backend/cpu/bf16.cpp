// Bulk float <-> bfloat16 conversion, vectorized and dispatched at run time on the active ISA:
//   avx512_bf16  vcvtne2ps2bf16 (32 floats per instruction pair); it treats denormal inputs as
//                zero, so lanes holding a denormal are redone with the integer rounding below
//                (rare: one compare per 16 floats) and every path stays bit-identical to the
//                scalar float_to_bf16 (tests/backend/gemm_onednn_test.cpp checks all paths).
//   avx512       integer round to nearest even (u + 0x7fff + lsb) >> 16, NaN kept quiet, vpmovdw
//   avx2         the same on 8-lane vectors (the x86-64-v3 baseline)
// Every function here is serial per row; the bulk entry points split rows over OpenMP threads.
#include "lmforge/backend/bf16.h"

// GCC 12's AVX-512 shift intrinsics start from _mm512_undefined_epi32(), which -O3 reports as
// "may be used uninitialized" (GCC bug 105593, fixed in GCC 13): silenced for this file only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>

#include "lmforge/backend/isa.h"

namespace lmforge::cpu {
namespace {

constexpr size_t kParallelMin = size_t(1) << 16;  // elements below which threads cost more

// ---- scalar (tails and the reference) ----
void to_bf16_scalar(bf16_t* dst, const float* src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = float_to_bf16(src[i]);
}
void from_bf16_scalar(float* dst, const bf16_t* src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = bf16_to_float(src[i]);
}
void round_scalar(float* dst, const float* src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = round_to_bf16(src[i]);
}

// ---- AVX2 ----
// The rounded bit pattern (high 16 bits meaningful) of 8 floats; NaN -> quiet NaN.
__attribute__((target("avx2"))) inline __m256i rne_avx2(__m256i u) {
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb);
  const __m256i absu = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
  const __m256i nan = _mm256_cmpgt_epi32(absu, _mm256_set1_epi32(0x7f800000));
  return _mm256_blendv_epi8(r, _mm256_or_si256(u, _mm256_set1_epi32(0x400000)), nan);
}

__attribute__((target("avx2"))) void to_bf16_avx2(bf16_t* dst, const float* src, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i a = rne_avx2(_mm256_loadu_si256((const __m256i*)(src + i)));
    __m256i b = rne_avx2(_mm256_loadu_si256((const __m256i*)(src + i + 8)));
    // packus works per 128-bit lane: [a0-3 b0-3 | a4-7 b4-7]; the permute restores the order.
    __m256i p = _mm256_packus_epi32(_mm256_srli_epi32(a, 16), _mm256_srli_epi32(b, 16));
    _mm256_storeu_si256((__m256i*)(dst + i), _mm256_permute4x64_epi64(p, 0xd8));
  }
  to_bf16_scalar(dst + i, src + i, n - i);
}

__attribute__((target("avx2"))) void from_bf16_avx2(float* dst, const bf16_t* src, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)(src + i)));
    _mm256_storeu_si256((__m256i*)(dst + i), _mm256_slli_epi32(h, 16));
  }
  from_bf16_scalar(dst + i, src + i, n - i);
}

__attribute__((target("avx2"))) void round_avx2(float* dst, const float* src, size_t n) {
  size_t i = 0;
  const __m256i hi = _mm256_set1_epi32(int(0xffff0000u));
  for (; i + 8 <= n; i += 8) {
    __m256i r = rne_avx2(_mm256_loadu_si256((const __m256i*)(src + i)));
    _mm256_storeu_si256((__m256i*)(dst + i), _mm256_and_si256(r, hi));
  }
  round_scalar(dst + i, src + i, n - i);
}

// ---- AVX-512 (F/BW) ----
#define LMFORGE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

LMFORGE_AVX512 inline __m512i rne_avx512(__m512i u) {
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb);
  const __m512i absu = _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff));
  const __mmask16 nan = _mm512_cmpgt_epi32_mask(absu, _mm512_set1_epi32(0x7f800000));
  return _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x400000));
}

LMFORGE_AVX512 inline __m256i narrow_avx512(__m512i r) {
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}

LMFORGE_AVX512 void to_bf16_avx512(bf16_t* dst, const float* src, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512i r = rne_avx512(_mm512_loadu_si512(src + i));
    _mm256_storeu_si256((__m256i*)(dst + i), narrow_avx512(r));
  }
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    __m512i r = rne_avx512(_mm512_maskz_loadu_epi32(m, src + i));
    _mm256_mask_storeu_epi16(dst + i, m, narrow_avx512(r));
  }
}

LMFORGE_AVX512 void from_bf16_avx512(float* dst, const bf16_t* src, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)(src + i)));
    _mm512_storeu_si512(dst + i, _mm512_slli_epi32(h, 16));
  }
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    __m512i h = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src + i));
    _mm512_mask_storeu_epi32(dst + i, m, _mm512_slli_epi32(h, 16));
  }
}

LMFORGE_AVX512 void round_avx512(float* dst, const float* src, size_t n) {
  const __m512i hi = _mm512_set1_epi32(int(0xffff0000u));
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512i r = rne_avx512(_mm512_loadu_si512(src + i));
    _mm512_storeu_si512(dst + i, _mm512_and_si512(r, hi));
  }
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    __m512i r = rne_avx512(_mm512_maskz_loadu_epi32(m, src + i));
    _mm512_mask_storeu_epi32(dst + i, m, _mm512_and_si512(r, hi));
  }
}

// ---- AVX512_BF16 ----
#define LMFORGE_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

// 16 floats -> 16 bf16 by vcvtneps2bf16, with denormal lanes (exponent 0, mantissa != 0: the
// instruction flushes them to ±0) replaced by the integer rounding.
LMFORGE_AVX512BF16 inline __m256i cvt16_bf16(__m512 x) {
  __m256i h = (__m256i)_mm512_cvtneps_pbh(x);
  const __m512i u = _mm512_castps_si512(x);
  const __m512i absu = _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff));
  const __mmask16 denormal = _mm512_cmplt_epu32_mask(_mm512_sub_epi32(absu, _mm512_set1_epi32(1)),
                                                     _mm512_set1_epi32(0x7fffff));
  if (denormal) h = _mm256_mask_mov_epi16(h, denormal, narrow_avx512(rne_avx512(u)));
  return h;
}

LMFORGE_AVX512BF16 void to_bf16_avx512bf16(bf16_t* dst, const float* src, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 a = _mm512_loadu_ps(src + i), b = _mm512_loadu_ps(src + i + 16);
    // One vcvtne2ps2bf16 converts both halves (b into the high 256 bits); denormals are rare, so
    // the fix-up compares run but their blend almost never does.
    __m512i h = (__m512i)_mm512_cvtne2ps_pbh(b, a);
    const __m512i ua = _mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(0x7fffffff));
    const __m512i ub = _mm512_and_si512(_mm512_castps_si512(b), _mm512_set1_epi32(0x7fffffff));
    const __m512i one = _mm512_set1_epi32(1), lim = _mm512_set1_epi32(0x7fffff);
    const __mmask16 da = _mm512_cmplt_epu32_mask(_mm512_sub_epi32(ua, one), lim);
    const __mmask16 db = _mm512_cmplt_epu32_mask(_mm512_sub_epi32(ub, one), lim);
    if (da | db) {
      _mm256_storeu_si256((__m256i*)(dst + i), cvt16_bf16(a));
      _mm256_storeu_si256((__m256i*)(dst + i + 16), cvt16_bf16(b));
    } else {
      _mm512_storeu_si512(dst + i, h);
    }
  }
  for (; i < n; i += 16) {
    const size_t left = std::min<size_t>(16, n - i);
    const __mmask16 m = __mmask16((1u << left) - 1);
    _mm256_mask_storeu_epi16(dst + i, m, cvt16_bf16(_mm512_maskz_loadu_ps(m, src + i)));
  }
}

// The build's baseline is x86-64-v3, so AVX2 is always there.
enum class Path { avx2, avx512, avx512_bf16 };

Path path() {
  using backend::Isa;
  const Isa isa = backend::active_isa();
  if (isa >= Isa::avx512_bf16) return Path::avx512_bf16;
  return isa >= Isa::avx512 ? Path::avx512 : Path::avx2;
}

void to_bf16_row(Path p, bf16_t* dst, const float* src, size_t n) {
  switch (p) {
    case Path::avx512_bf16:
      return to_bf16_avx512bf16(dst, src, n);
    case Path::avx512:
      return to_bf16_avx512(dst, src, n);
    case Path::avx2:
      break;
  }
  to_bf16_avx2(dst, src, n);
}

void from_bf16_row(Path p, float* dst, const bf16_t* src, size_t n) {
  switch (p) {
    case Path::avx512_bf16:
    case Path::avx512:
      return from_bf16_avx512(dst, src, n);
    case Path::avx2:
      break;
  }
  from_bf16_avx2(dst, src, n);
}

void round_row(Path p, float* dst, const float* src, size_t n) {
  switch (p) {
    case Path::avx512_bf16:
    case Path::avx512:
      return round_avx512(dst, src, n);
    case Path::avx2:
      break;
  }
  round_avx2(dst, src, n);
}

// Runs row(dst + r·cols, src + r·ld_src, cols) for every row, over OpenMP threads when large; a
// flat vector is split into rows of 4096 for the same loop.
template <typename D, typename S, typename Row>
void for_rows(D* dst, const S* src, size_t rows, size_t cols, size_t ld_src, Row row) {
  const Path p = path();
#pragma omp parallel for schedule(static) if (rows > 1 && rows * cols >= kParallelMin)
  for (size_t r = 0; r < rows; r++) row(p, dst + r * cols, src + r * ld_src, cols);
}

template <typename D, typename S, typename Row>
void flat(D* dst, const S* src, size_t n, Row row) {
  constexpr size_t kChunk = 4096;
  const size_t rows = n / kChunk;
  if (rows) for_rows(dst, src, rows, kChunk, kChunk, row);
  if (n % kChunk) row(path(), dst + rows * kChunk, src + rows * kChunk, n % kChunk);
}

}  // namespace

void convert_to_bf16(bf16_t* dst, const float* src, size_t n) {
  flat(dst, src, n, to_bf16_row);
}

void convert_from_bf16(float* dst, const bf16_t* src, size_t n) {
  flat(dst, src, n, from_bf16_row);
}

void convert_to_bf16(bf16_t* dst, const float* src, size_t rows, size_t cols, size_t ld_src) {
  for_rows(dst, src, rows, cols, ld_src, to_bf16_row);
}

void round_floats_to_bf16(float* dst, const float* src, size_t n) {
  flat(dst, src, n, round_row);
}

void round_floats_to_bf16(float* dst, const float* src, size_t rows, size_t cols, size_t ld_src) {
  for_rows(dst, src, rows, cols, ld_src, round_row);
}

}  // namespace lmforge::cpu
