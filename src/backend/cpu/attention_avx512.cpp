// The AVX-512 build of the blocked attention passes (attention_kernels.h), 16-lane vectors (4
// zmm accumulators per 64-key score block); called by attention.cpp where the CPU has AVX-512.
// Compiled with -mavx512f/bw/dq/vl (CMakeLists.txt).
#pragma GCC optimize("no-trapping-math")  // see vec_math.h: lets exp loops vectorize
#include "avx512_intrin.h"                // first: <immintrin.h> without GCC 12 false warnings
#define LMFORGE_CPU_ISA avx512
#include "attention_kernels.h"
