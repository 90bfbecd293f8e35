// Counts OpenMP parallel regions: an LD_PRELOAD shim that wraps libgomp's GOMP_parallel* entry
// points and prints, at exit, how many regions started and how many of them asked for one thread
// (an `if` clause that was false). Not part of the build; used for docs/PERFORMANCE.md ("Two
// threads slower than one"): regions per decode step = the difference of two runs that differ only
// in the number of generated tokens, divided by the extra steps.
//   gcc -O2 -shared -fPIC -o /tmp/gomp_count.so bench/gomp_count.c -ldl
//   LD_PRELOAD=/tmp/gomp_count.so OMP_NUM_THREADS=2 build/infer_bench small 8192 128 65 1 1
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
static unsigned long n_par, n_one;  // all starts; those asked for one thread (if(false))
typedef void (*par_fn)(void (*)(void*), void*, unsigned, unsigned);
void GOMP_parallel(void (*fn)(void*), void* data, unsigned nt, unsigned flags) {
  static par_fn real;
  if (!real) real = (par_fn)dlsym(RTLD_NEXT, "GOMP_parallel");
  __atomic_add_fetch(&n_par, 1, __ATOMIC_RELAXED);
  if (nt == 1) __atomic_add_fetch(&n_one, 1, __ATOMIC_RELAXED);
  real(fn, data, nt, flags);
}
typedef void (*parl_fn)(void (*)(void*), void*, unsigned, long, long, long, long, unsigned);
#define WRAP(name)                                                                                 \
  void name(void (*fn)(void*), void* d, unsigned nt, long a, long b, long c, long e, unsigned f) { \
    static parl_fn real;                                                                           \
    if (!real) real = (parl_fn)dlsym(RTLD_NEXT, #name);                                            \
    __atomic_add_fetch(&n_par, 1, __ATOMIC_RELAXED);                                               \
    if (nt == 1) __atomic_add_fetch(&n_one, 1, __ATOMIC_RELAXED);                                  \
    real(fn, d, nt, a, b, c, e, f);                                                                \
  }
WRAP(GOMP_parallel_loop_static)
WRAP(GOMP_parallel_loop_dynamic)
WRAP(GOMP_parallel_loop_guided)
WRAP(GOMP_parallel_loop_runtime)
__attribute__((destructor)) static void report(void) {
  fprintf(stderr, "gomp_count: %lu parallel regions, %lu of them on one thread (if false)\n", n_par,
          n_one);
}
