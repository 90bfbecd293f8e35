// The AVX-512 build of the cross-entropy bodies (cross_entropy_kernels.h), 16 lanes; called by
// cross_entropy.cpp where the CPU has AVX-512. Compiled with -mavx512f/bw/dq/vl (CMakeLists.txt).
#pragma GCC optimize("no-trapping-math")  // see vec_math.h: lets exp loops vectorize
#include "avx512_intrin.h"                // first: <immintrin.h> without GCC 12 false warnings
#define LMFORGE_CPU_ISA avx512
#include "cross_entropy_kernels.h"
