// The AVX-512 build of the elementwise bodies (elementwise_kernels.h), 16 lanes; called by
// elementwise.cpp where the CPU has AVX-512. Compiled with -mavx512f/bw/dq/vl (CMakeLists.txt).
#pragma GCC optimize("no-math-errno")  // sqrt without the errno branch: AdamW vectorizes
#include "avx512_intrin.h"             // first: <immintrin.h> without GCC 12 false warnings
#define LMFORGE_CPU_ISA avx512
#include "elementwise_kernels.h"
