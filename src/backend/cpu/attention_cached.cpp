// Cached attention on the CPU (float, OpenMP over query rows × heads). One pass computes all
// scores of a row into a per-thread buffer (at most maxT floats), a second pass softmaxes and
// accumulates the values: for one query row the scores are only pos+1 floats, so the flash-style
// blocking of cpu/attention.cpp buys nothing here. Decode rows are independent, which is what
// lets one call serve a whole batch of sequences at different positions.
// The softmax uses exp_approx (vec_math.h, ~2 ulp) so that its loop vectorizes: a batched decode
// step of "small" takes ~46k exponentials, ~0.5 ms of a ~6 ms step with libm's scalar expf.
// Not here: the cache layout or its writes (infer/), a backward.
#pragma GCC optimize("no-trapping-math")  // see vec_math.h: lets the exp loop vectorize
#include <algorithm>
#include <cmath>
#include <vector>

#include "lmforge/backend/kernels_infer.h"
#include "vec_math.h"

namespace lmforge::cpu {

void attention_cached_forward(float* out, const float* q, int ldq, const float* const* k,
                              const float* const* v, const int32_t* pos, int N, int NH, int NKV,
                              int HS, int maxT) {
  const float scale = 1.0f / std::sqrt((float)HS);
  const int group = NH / NKV;
  const long work = (long)N * NH;
  long flops = 0;
  for (int r = 0; r < N; r++) flops += (long)(pos[r] + 1) * NH * HS;
#pragma omp parallel if (flops > (1 << 15))
  {
    std::vector<float> s(maxT);
#pragma omp for schedule(dynamic, 1)
    for (long w = 0; w < work; w++) {
      const int r = (int)(w / NH), h = (int)(w % NH), kvh = h / group;
      const int P = pos[r] + 1;
      const float* qh = q + (size_t)r * ldq + (size_t)h * HS;
      const float* kh = k[r] + (size_t)kvh * maxT * HS;
      const float* vh = v[r] + (size_t)kvh * maxT * HS;
      float mx = -INFINITY;
      for (int j = 0; j < P; j++) {
        const float* kj = kh + (size_t)j * HS;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int i = 0; i < HS; i++) acc += qh[i] * kj[i];
        s[j] = acc * scale;
        mx = std::max(mx, s[j]);
      }
      float sum = 0.0f;
      float* sj = s.data();
#pragma omp simd reduction(+ : sum)
      for (int j = 0; j < P; j++) {
        sj[j] = exp_approx(sj[j] - mx);
        sum += sj[j];
      }
      const float inv = 1.0f / sum;
      float* o = out + (size_t)r * NH * HS + (size_t)h * HS;
      std::fill(o, o + HS, 0.0f);
      for (int j = 0; j < P; j++) {
        const float pj = s[j] * inv;
        const float* vj = vh + (size_t)j * HS;
#pragma omp simd
        for (int i = 0; i < HS; i++) o[i] += pj * vj[i];
      }
    }
  }
}

}  // namespace lmforge::cpu
