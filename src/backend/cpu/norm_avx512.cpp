// The AVX-512 build of the LayerNorm/RMSNorm bodies (norm_kernels.h), 16 lanes; called by
// norm.cpp where the CPU has AVX-512. Compiled with -mavx512f/bw/dq/vl (CMakeLists.txt).
#include "avx512_intrin.h"  // first: <immintrin.h> without GCC 12 false warnings
#define LMFORGE_CPU_ISA avx512
#include "norm_kernels.h"
