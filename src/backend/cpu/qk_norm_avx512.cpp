// The AVX-512 build of the per-head q/k RMSNorm bodies (qk_norm_kernels.h), 16 lanes; called by
// qk_norm.cpp where the CPU has AVX-512 and the measurement there says it is ahead. Compiled with
// -mavx512f/bw/dq/vl (CMakeLists.txt).
#include "avx512_intrin.h"  // first: <immintrin.h> without GCC 12 false warnings
#define LMFORGE_CPU_ISA avx512
#include "qk_norm_kernels.h"
