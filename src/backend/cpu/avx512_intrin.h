// <immintrin.h> for the *_avx512.cpp files, included first in each. GCC 12's AVX-512 intrinsics
// (e.g. _mm512_reduce_add_ps, _mm512_cvtepu16_epi32) pass _mm512_undefined_*() as the unused
// merge operand, which GCC 12 reports as -Wuninitialized inside the header (GCC bug 105593,
// fixed in GCC 13); the diagnostics are switched off for the header's own lines only.
#pragma once
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
