// The kernel seam (ops.h): forwards each op to the CPU backend, choosing the matmul path by the
// process's precision, and times ops when LMFORGE_PROFILE=1.
#include "lmforge/backend/ops.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace lmforge::ops {
namespace {

// ---- optional per-op timing (LMFORGE_PROFILE=1) ------------------------------------------------
// Wall time per op (and label) summed over all calls, printed to stderr at exit. For finding
// where a step's time goes (docs/PERF_NOTES.md), not a metric of the trainer. Ops called from
// several threads at once are each timed; the table is guarded by a mutex.
struct OpProfile {
  bool on = [] {
    const char* e = std::getenv("LMFORGE_PROFILE");
    return e && *e && std::string(e) != "0";
  }();
  std::mutex mu;
  std::map<std::string, std::pair<double, long>> acc;
  void add(const char* op, const char* label, double s) {
    std::string key = op;
    if (label && *label) key += std::string(":") + label;
    std::lock_guard<std::mutex> lock(mu);
    auto& a = acc[key];
    a.first += s;
    a.second++;
  }
  ~OpProfile() {
    if (!on || acc.empty()) return;
    double total = 0;
    for (auto& [k, v] : acc) total += v.first;
    std::vector<std::pair<double, std::string>> rows;
    for (auto& [k, v] : acc) rows.push_back({v.first, k});
    std::sort(rows.rbegin(), rows.rend());
    std::fprintf(stderr, "LMFORGE_PROFILE: %.3f s in kernel ops (%s)\n", total,
                 backend::backend_summary().c_str());
    for (auto& [t, k] : rows)
      std::fprintf(stderr, "  %-30s %9.1f ms %5.1f%%  (%ld calls)\n", k.c_str(), 1e3 * t,
                   100 * t / total, acc[k].second);
  }
};
OpProfile& prof() {
  static OpProfile p;
  return p;
}
thread_local const char* t_label = nullptr;

// Times the enclosing op when profiling is on.
class Timed {
 public:
  explicit Timed(const char* op) : op_(prof().on ? op : nullptr) {
    if (op_) t0_ = std::chrono::steady_clock::now();
  }
  ~Timed() {
    if (!op_) return;
    prof().add(op_, t_label,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count());
  }

 private:
  const char* op_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace

void profile_label(const char* label) {
  t_label = label;
}
bool profiling() {
  return prof().on;
}

void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc) {
  Timed t("gemm");
  cpu::gemm(backend::precision(), trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void embedding_forward(float* out, const int32_t* ids, const float* wte, const float* wpe, int B,
                       int T, int C, const int32_t* pos) {
  Timed t("embedding_forward");
  cpu::embedding_forward(out, ids, wte, wpe, B, T, C, pos);
}
void embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* ids, int B,
                        int T, int C, const int32_t* pos) {
  Timed t("embedding_backward");
  cpu::embedding_backward(dwte, dwpe, dout, ids, B, T, C, pos);
}

void linear_forward(float* out, const float* inp, const float* weight, const float* bias, int N,
                    int IC, int OC) {
  Timed t("linear_forward");
  const backend::Precision p = backend::precision();
  if (p == backend::Precision::fp32) return cpu::linear_forward(out, inp, weight, bias, N, IC, OC);
  if (bias) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) std::copy(bias, bias + OC, out + (size_t)n * OC);
  }
  cpu::gemm(p, false, true, N, OC, IC, 1.0f, inp, IC, weight, IC, bias ? 1.0f : 0.0f, out, OC);
}

void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int IC, int OC) {
  Timed t("linear_backward");
  const backend::Precision p = backend::precision();
  if (p == backend::Precision::fp32)
    return cpu::linear_backward(dinp, dweight, dbias, dout, inp, weight, N, IC, OC);
  if (dinp) cpu::gemm(p, false, false, N, IC, OC, 1.0f, dout, OC, weight, IC, 0.0f, dinp, IC);
  if (dweight) cpu::gemm(p, true, false, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dweight, IC);
  // The bias gradient is a column sum (no matmul): fp32 as in the fp32 path.
  if (dbias) cpu::linear_backward(nullptr, nullptr, dbias, dout, inp, weight, N, IC, OC);
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int N, int C, float eps) {
  Timed t("layernorm_forward");
  cpu::layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps);
}
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd,
                        int N, int C) {
  Timed t("layernorm_backward");
  cpu::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C,
                     float eps) {
  Timed t("rmsnorm_forward");
  cpu::rmsnorm_forward(out, rstd, inp, weight, N, C, eps);
}
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                      const float* weight, const float* rstd, int N, int C) {
  Timed t("rmsnorm_backward");
  cpu::rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, N, C);
}

void qk_norm_forward(float* qkv, float* qk_inp, float* rstd, const float* q_weight,
                     const float* k_weight, int N, int NH, int NKV, int HS, float eps) {
  Timed t("qk_norm_forward");
  cpu::qk_norm_forward(qkv, qk_inp, rstd, q_weight, k_weight, N, NH, NKV, HS, eps);
}
void qk_norm_backward(float* dqkv, float* dq_weight, float* dk_weight, const float* qk_inp,
                      const float* q_weight, const float* k_weight, const float* rstd, int N,
                      int NH, int NKV, int HS) {
  Timed t("qk_norm_backward");
  cpu::qk_norm_backward(dqkv, dq_weight, dk_weight, qk_inp, q_weight, k_weight, rstd, N, NH, NKV,
                        HS);
}
void rope_forward(float* qkv, int B, int T, int NH, int NKV, int HS, float theta, int pos0,
                  const int32_t* pos) {
  Timed t("rope_forward");
  cpu::rope_forward(qkv, B, T, NH, NKV, HS, theta, pos0, pos);
}
void rope_backward(float* dqkv, int B, int T, int NH, int NKV, int HS, float theta, int pos0,
                   const int32_t* pos) {
  Timed t("rope_backward");
  cpu::rope_backward(dqkv, B, T, NH, NKV, HS, theta, pos0, pos);
}

void attention_forward(float* out, float* lse, const float* qkv, int B, int T, int NH, int NKV,
                       int HS, const int32_t* pos) {
  Timed t("attention_forward");
  cpu::attention_forward(out, lse, qkv, B, T, NH, NKV, HS, pos);
}
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out,
                        const float* lse, int B, int T, int NH, int NKV, int HS,
                        const int32_t* pos) {
  Timed t("attention_backward");
  cpu::attention_backward(dqkv, dout, qkv, out, lse, B, T, NH, NKV, HS, pos);
}

void gelu_forward(float* out, const float* inp, size_t n) {
  Timed t("gelu_forward");
  cpu::gelu_forward(out, inp, n);
}
void gelu_backward(float* dinp, const float* inp, const float* dout, size_t n) {
  Timed t("gelu_backward");
  cpu::gelu_backward(dinp, inp, dout, n);
}
void swiglu_forward(float* out, const float* gate_up, int N, int FF) {
  Timed t("swiglu_forward");
  cpu::swiglu_forward(out, gate_up, N, FF);
}
void swiglu_backward(float* dgate_up, const float* dout, const float* gate_up, int N, int FF) {
  Timed t("swiglu_backward");
  cpu::swiglu_backward(dgate_up, dout, gate_up, N, FF);
}

void add_inplace(float* acc, const float* x, size_t n) {
  Timed t("add_inplace");
  cpu::add_inplace(acc, x, n);
}

int64_t cross_entropy_forward(float* losses, const float* logits, const int32_t* targets, int N,
                              int V) {
  Timed t("cross_entropy_forward");
  return cpu::cross_entropy_forward(losses, logits, targets, N, V);
}
void cross_entropy_backward(float* dlogits, const float* logits, const int32_t* targets,
                            float dloss, int N, int V) {
  Timed t("cross_entropy_backward");
  cpu::cross_entropy_backward(dlogits, logits, targets, dloss, N, V);
}
int64_t cross_entropy_fused(float* logits_to_dlogits, float* losses, const int32_t* targets,
                            float dloss, int N, int V) {
  Timed t("cross_entropy_fused");
  return cpu::cross_entropy_fused(logits_to_dlogits, losses, targets, dloss, N, V);
}

void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, int64_t step) {
  Timed t("adamw_update");
  cpu::adamw_update(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, step);
}
double sum_squares(const float* x, size_t n) {
  Timed t("sum_squares");
  return cpu::sum_squares(x, n);
}
void scale_inplace(float* x, float s, size_t n) {
  Timed t("scale_inplace");
  cpu::scale_inplace(x, s, n);
}

void attention_cached_forward(float* out, const float* q, int ldq, const float* const* k,
                              const float* const* v, const int32_t* pos, int N, int NH, int NKV,
                              int HS, int maxT) {
  Timed t("attention_cached_forward");
  cpu::attention_cached_forward(out, q, ldq, k, v, pos, N, NH, NKV, HS, maxT);
}
void linear_rows_forward(float* out, const float* inp, const float* weight, const float* bias,
                         int N, int IC, int OC) {
  Timed t("linear_rows_forward");
  cpu::linear_rows_forward(out, inp, weight, bias, N, IC, OC);
}

void linear_rows_forward_bf16(float* out, const float* inp, const bf16_t* weight, const float* bias,
                              int N, int IC, int OC) {
  Timed t("linear_rows_forward_bf16");
  cpu::linear_rows_forward_bf16(out, inp, weight, bias, N, IC, OC);
}

bool packed_linear_available() {
  return cpu::packed_linear_available();
}
size_t packed_weight_floats(int IC, int OC) {
  return cpu::packed_weight_floats(IC, OC);
}
void pack_weight(float* dst, const float* W, int IC, int OC) {
  cpu::pack_weight(dst, W, IC, OC);
}
void linear_packed_forward(float* out, const float* inp, const float* packed, const float* bias,
                           int N, int IC, int OC) {
  Timed t("linear_packed_forward");
  cpu::linear_packed_forward(out, inp, packed, bias, N, IC, OC);
}

}  // namespace lmforge::ops
