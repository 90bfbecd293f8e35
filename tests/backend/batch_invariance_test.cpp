// Batch invariance of the row-wise CPU kernels: a row's result must not depend on how many rows
// share the call, on the row's index in the batch, on the buffer's alignment or on the thread
// count, bit for bit, on every ISA path (avx2, avx512, avx512_bf16; a path the CPU lacks is
// skipped with the reason). Data-parallel training relies on it: N ranks × B rows must compute
// what 1 rank × N·B rows computes, up to the order of the gradient sums across ranks
// (tests/dist/two_machines_test.sh). A vector tail that computes differently from the vector body,
// a peel loop chosen by alignment, or a thread split that moves a row between them breaks it.
// Each kernel (norms, q/k norm, activations, cross-entropy, attention, the decode kernels) runs
// once on B rows; then sub-batches [r0, r0+n) are copied to buffers shifted by
// 0..15 floats and run again with 1, 2 and 3 threads; every row must equal its first result.
// Not here: accuracy against the double oracle (each kernel's own test), the GEMM (oneDNN's
// blocking depends on the row count by design: docs/KERNELS.md), the sums over rows
// (parameter gradients), whose order necessarily depends on the rows.
#include <omp.h>

#include <cstring>
#include <functional>

#include "backend/kernel_test_util.h"
#include "lmforge/backend/kernels.h"
#include "lmforge/backend/kernels_infer.h"

namespace lmforge {
namespace {

using Ins = std::vector<const float*>;
using Outs = std::vector<float*>;
// run(in, out, r0, n): the kernel on rows [r0, r0+n) of the full batch, whose rows are given at
// in[j] (width in_w[j]) and written to out[k] (width out_w[k]); r0 lets it slice per-row integer
// data (targets, positions).
using RowFn = std::function<void(const Ins&, const Outs&, int r0, int n)>;

// Buffers of `rows` rows of each width, placed `shift` floats past a 64-byte boundary.
struct Shifted {
  std::vector<std::vector<float>> store;
  std::vector<float*> ptr;
  Shifted(const std::vector<size_t>& widths, int rows, int shift) {
    for (size_t w : widths) {
      store.emplace_back(w * rows + 16 + 16, 0.0f);
      auto addr = reinterpret_cast<uintptr_t>(store.back().data());
      size_t pad = ((64 - addr % 64) % 64) / sizeof(float);  // to a 64-byte boundary
      ptr.push_back(store.back().data() + pad + shift);
    }
  }
};

void expect_row_invariant(const std::string& what, int B, const std::vector<size_t>& in_w,
                          const std::vector<size_t>& out_w, const RowFn& run, std::mt19937_64& rng,
                          double scale = 1.0) {
  SCOPED_TRACE(what + " B=" + std::to_string(B));
  Shifted in(in_w, B, 0), ref(out_w, B, 0);
  std::normal_distribution<float> dist(0.0f, (float)scale);
  for (size_t j = 0; j < in_w.size(); j++)
    for (size_t i = 0; i < in_w[j] * B; i++) in.ptr[j][i] = dist(rng);
  run(Ins(in.ptr.begin(), in.ptr.end()), ref.ptr, 0, B);
  const int threads = omp_get_max_threads();
  struct Sub {
    int r0, n;
  };
  const Sub subs[] = {{0, 1}, {B - 1, 1}, {B / 2, 1}, {1, B - 1}, {0, B - 1}, {B / 3, B / 2 + 1}};
  for (int t : {1, 2, 3}) {
    omp_set_num_threads(t);
    for (Sub s : subs)
      for (int shift = 0; shift < 16; shift += (t == 2 ? 1 : 5)) {
        if (s.n < 1 || s.r0 + s.n > B) continue;
        Shifted sub_in(in_w, s.n, shift), got(out_w, s.n, (shift * 7) % 16);
        for (size_t j = 0; j < in_w.size(); j++)
          std::memcpy(sub_in.ptr[j], in.ptr[j] + s.r0 * in_w[j], in_w[j] * s.n * sizeof(float));
        run(Ins(sub_in.ptr.begin(), sub_in.ptr.end()), got.ptr, s.r0, s.n);
        for (size_t k = 0; k < out_w.size(); k++)
          for (int r = 0; r < s.n; r++) {
            const float* want = ref.ptr[k] + (s.r0 + r) * out_w[k];
            const float* have = got.ptr[k] + r * out_w[k];
            if (std::memcmp(want, have, out_w[k] * sizeof(float)) == 0) continue;
            size_t i = 0;
            while (std::memcmp(want + i, have + i, sizeof(float)) == 0) i++;
            ADD_FAILURE() << "output " << k << ", row " << s.r0 + r << " element " << i << ": "
                          << have[i] << " computed with rows [" << s.r0 << ", " << s.r0 + s.n
                          << ") at shift " << shift << " on " << t << " threads, " << want[i]
                          << " with all " << B << " rows";
            omp_set_num_threads(threads);
            return;
          }
      }
  }
  omp_set_num_threads(threads);
}

class BatchInvariance : public test::IsaPaths {};

TEST_P(BatchInvariance, Norms) {
  std::mt19937_64 rng(1);
  for (int C : {1, 31, 33, 257, 768}) {
    const size_t c = C;
    std::vector<float> w(c), b(c), dw(c), db(c);
    for (size_t i = 0; i < c; i++) w[i] = 1.0f + 0.01f * (float)(i % 13), b[i] = 0.1f * (i % 5);
    expect_row_invariant(
        "layernorm_forward C=" + std::to_string(C), 9, {c}, {c, 1, 1},
        [&](const Ins& in, const Outs& out, int, int n) {
          cpu::layernorm_forward(out[0], out[1], out[2], in[0], w.data(), b.data(), n, C, 1e-5f);
        },
        rng, 3.0);
    expect_row_invariant(
        "rmsnorm_forward C=" + std::to_string(C), 9, {c}, {c, 1},
        [&](const Ins& in, const Outs& out, int, int n) {
          cpu::rmsnorm_forward(out[0], out[1], in[0], w.data(), n, C, 1e-5f);
        },
        rng, 3.0);
    // The backward's dinp is per row (dweight/dbias sum over rows: not checked). Inputs: dout,
    // x, then mean/rstd recomputed from x inside so that they are consistent.
    expect_row_invariant(
        "layernorm_backward dinp C=" + std::to_string(C), 9, {c, c}, {c},
        [&](const Ins& in, const Outs& out, int, int n) {
          std::vector<float> y(c * n), mean(n), rstd(n);
          cpu::layernorm_forward(y.data(), mean.data(), rstd.data(), in[1], w.data(), b.data(), n,
                                 C, 1e-5f);
          cpu::layernorm_backward(out[0], dw.data(), db.data(), in[0], in[1], w.data(), mean.data(),
                                  rstd.data(), n, C);
        },
        rng);
    expect_row_invariant(
        "rmsnorm_backward dinp C=" + std::to_string(C), 9, {c, c}, {c},
        [&](const Ins& in, const Outs& out, int, int n) {
          std::vector<float> y(c * n), rstd(n);
          cpu::rmsnorm_forward(y.data(), rstd.data(), in[1], w.data(), n, C, 1e-5f);
          cpu::rmsnorm_backward(out[0], dw.data(), in[0], in[1], w.data(), rstd.data(), n, C);
        },
        rng);
  }
}

// Qwen3's per-head q/k RMSNorm, in place on the packed qkv row (rows of (NH+2·NKV)·HS): the
// forward's output, saved input and rstd, and the backward's input gradient (the weight gradients
// sum over rows: not checked). 17 rows of Qwen3-0.6B's heads pass the kernels' threading threshold.
TEST_P(BatchInvariance, QkNorm) {
  std::mt19937_64 rng(6);
  struct Shape {
    int NH, NKV, HS;
  };
  for (Shape s : {Shape{1, 1, 1}, Shape{4, 2, 31}, Shape{3, 1, 64}, Shape{16, 8, 128}}) {
    const size_t hs = s.HS, H = (size_t)s.NH + s.NKV, qkv = (s.NH + 2 * s.NKV) * hs;
    std::vector<float> wq(hs), wk(hs), dwq(hs), dwk(hs);
    for (size_t i = 0; i < hs; i++)
      wq[i] = 1.0f + 0.01f * (float)(i % 13), wk[i] = 0.5f + 0.1f * (i % 7);
    const std::string shape = " NH=" + std::to_string(s.NH) + " NKV=" + std::to_string(s.NKV) +
                              " HS=" + std::to_string(s.HS);
    expect_row_invariant(
        "qk_norm_forward" + shape, 17, {qkv}, {qkv, H * hs, H},
        [&](const Ins& in, const Outs& out, int, int n) {
          std::memcpy(out[0], in[0], qkv * n * sizeof(float));
          cpu::qk_norm_forward(out[0], out[1], out[2], wq.data(), wk.data(), n, s.NH, s.NKV, s.HS,
                               1e-6f);
        },
        rng, 3.0);
    expect_row_invariant(
        "qk_norm_backward dinp" + shape, 17, {qkv, qkv}, {qkv},
        [&](const Ins& in, const Outs& out, int, int n) {
          std::vector<float> y(in[1], in[1] + qkv * n), keep(H * hs * n), rstd(H * n);
          cpu::qk_norm_forward(y.data(), keep.data(), rstd.data(), wq.data(), wk.data(), n, s.NH,
                               s.NKV, s.HS, 1e-6f);
          std::memcpy(out[0], in[0], qkv * n * sizeof(float));
          cpu::qk_norm_backward(out[0], dwq.data(), dwk.data(), keep.data(), wq.data(), wk.data(),
                                rstd.data(), n, s.NH, s.NKV, s.HS);
        },
        rng);
  }
}

TEST_P(BatchInvariance, Activations) {
  std::mt19937_64 rng(2);
  // GELU is elementwise over n: "rows" of one element, so sub-ranges start anywhere and the
  // thread split moves each element between vector body and tail.
  for (int n : {1, 31, 1000}) {
    expect_row_invariant(
        "gelu_forward n=" + std::to_string(n), n, {1}, {1},
        [&](const Ins& in, const Outs& out, int, int m) { cpu::gelu_forward(out[0], in[0], m); },
        rng, 4.0);
    expect_row_invariant(
        "gelu_backward n=" + std::to_string(n), n, {1, 1}, {1},
        [&](const Ins& in, const Outs& out, int, int m) {
          cpu::gelu_backward(out[0], in[0], in[1], m);
        },
        rng, 4.0);
  }
  for (int FF : {1, 31, 33, 257}) {
    const size_t ff = FF;
    expect_row_invariant(
        "swiglu_forward FF=" + std::to_string(FF), 9, {2 * ff}, {ff},
        [&](const Ins& in, const Outs& out, int, int n) {
          cpu::swiglu_forward(out[0], in[0], n, FF);
        },
        rng, 4.0);
    expect_row_invariant(
        "swiglu_backward FF=" + std::to_string(FF), 9, {ff, 2 * ff}, {2 * ff},
        [&](const Ins& in, const Outs& out, int, int n) {
          cpu::swiglu_backward(out[0], in[0], in[1], n, FF);
        },
        rng, 4.0);
  }
}

TEST_P(BatchInvariance, CrossEntropy) {
  std::mt19937_64 rng(3);
  for (int V : {1, 33, 300, 1031}) {
    const size_t v = V;
    const int B = 9;
    std::vector<int32_t> targets(B);
    for (int r = 0; r < B; r++) targets[r] = r == 4 ? -1 : (int32_t)((r * 37) % V);  // one masked
    expect_row_invariant(
        "cross_entropy_forward V=" + std::to_string(V), B, {v}, {1},
        [&](const Ins& in, const Outs& out, int r0, int n) {
          cpu::cross_entropy_forward(out[0], in[0], targets.data() + r0, n, V);
        },
        rng, 3.0);
    expect_row_invariant(
        "cross_entropy_backward V=" + std::to_string(V), B, {v}, {v},
        [&](const Ins& in, const Outs& out, int r0, int n) {
          cpu::cross_entropy_backward(out[0], in[0], targets.data() + r0, 0.37f, n, V);
        },
        rng, 3.0);
    expect_row_invariant(
        "cross_entropy_fused V=" + std::to_string(V), B, {v}, {v, 1},
        [&](const Ins& in, const Outs& out, int r0, int n) {
          std::memcpy(out[0], in[0], v * n * sizeof(float));
          cpu::cross_entropy_fused(out[0], out[1], targets.data() + r0, 0.37f, n, V);
        },
        rng, 3.0);
  }
}

// Attention's rows are sequences: sequence b of a batch of B against the same sequence in a
// smaller batch (its query rows go through the 4-row score passes and the block tails alike).
TEST_P(BatchInvariance, Attention) {
  std::mt19937_64 rng(4);
  struct Shape {
    int T, NH, NKV, HS;
  };
  for (Shape s :
       {Shape{1, 2, 1, 16}, Shape{33, 4, 2, 16}, Shape{70, 2, 2, 24}, Shape{65, 2, 1, 64}}) {
    const size_t qkv = (size_t)s.T * (s.NH + 2 * s.NKV) * s.HS, a = (size_t)s.T * s.NH * s.HS;
    const size_t lse = (size_t)s.NH * s.T;
    const int B = 5;
    const std::string shape = " T=" + std::to_string(s.T) + " NH=" + std::to_string(s.NH) +
                              " NKV=" + std::to_string(s.NKV) + " HS=" + std::to_string(s.HS);
    expect_row_invariant(
        "attention_forward" + shape, B, {qkv}, {a, lse},
        [&](const Ins& in, const Outs& out, int, int n) {
          cpu::attention_forward(out[0], out[1], in[0], n, s.T, s.NH, s.NKV, s.HS);
        },
        rng, 2.0);
    expect_row_invariant(
        "attention_backward" + shape, B, {qkv, a}, {qkv},
        [&](const Ins& in, const Outs& out, int, int n) {
          std::vector<float> o(a * n), l(lse * n);
          cpu::attention_forward(o.data(), l.data(), in[0], n, s.T, s.NH, s.NKV, s.HS);
          cpu::attention_backward(out[0], in[1], in[0], o.data(), l.data(), n, s.T, s.NH, s.NKV,
                                  s.HS);
        },
        rng, 2.0);
  }
}

// The decode kernels: a row of a decode step (one active sequence) against the same row in a
// step with fewer or more sequences.
TEST_P(BatchInvariance, DecodeRows) {
  std::mt19937_64 rng(5);
  // (1031, 1024): a larger bf16 weight (2 MiB), far past the few-row kernel's threading
  // threshold, so the thread split is exercised however that threshold moves.
  for (auto [IC, OC] : {std::pair{31, 33}, {384, 1153}, {1153, 390}, {1031, 1024}}) {
    const size_t ic = IC, oc = OC;
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> w(ic * oc), bias(oc);
    std::vector<bf16_t> wb(ic * oc);
    for (size_t i = 0; i < w.size(); i++) w[i] = dist(rng), wb[i] = float_to_bf16(w[i]);
    for (auto& x : bias) x = dist(rng);
    const std::string shape = " IC=" + std::to_string(IC) + " OC=" + std::to_string(OC);
    expect_row_invariant(
        "linear_rows_forward" + shape, 9, {ic}, {oc},
        [&](const Ins& in, const Outs& out, int, int n) {
          cpu::linear_rows_forward(out[0], in[0], w.data(), bias.data(), n, IC, OC);
        },
        rng);
    expect_row_invariant(
        "linear_rows_forward_bf16" + shape, 9, {ic}, {oc},
        [&](const Ins& in, const Outs& out, int, int n) {
          cpu::linear_rows_forward_bf16(out[0], in[0], wb.data(), bias.data(), n, IC, OC);
        },
        rng);
  }
  // Cached attention: rows of one sequence at different positions; maxT 40 keeps the step below
  // the kernel's threading threshold (2^15 multiply-adds), maxT 1100 takes it far past.
  for (int maxT : {40, 1100}) {
    const int NH = 4, NKV = 2, HS = 24, B = 9;
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> k((size_t)NKV * maxT * HS), v(k.size());
    for (auto& x : k) x = dist(rng);
    for (auto& x : v) x = dist(rng);
    std::vector<int32_t> pos(B);
    for (int r = 0; r < B; r++) pos[r] = maxT - 1 - (r * 13) % (maxT / 2);
    const size_t q = (size_t)NH * HS;
    expect_row_invariant(
        "attention_cached_forward maxT=" + std::to_string(maxT), B, {q}, {q},
        [&](const Ins& in, const Outs& out, int r0, int n) {
          std::vector<const float*> kp(n, k.data()), vp(n, v.data());
          cpu::attention_cached_forward(out[0], in[0], (int)q, kp.data(), vp.data(),
                                        pos.data() + r0, n, NH, NKV, HS, maxT);
        },
        rng);
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, BatchInvariance,
                         ::testing::Values(backend::Isa::avx2, backend::Isa::avx512,
                                           backend::Isa::avx512_bf16),
                         test::isa_param_name);

}  // namespace
}  // namespace lmforge
