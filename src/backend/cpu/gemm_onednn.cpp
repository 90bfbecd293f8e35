// GEMM through oneDNN's matmul primitive (Debian libdnnl 2.x), fp32 or bf16 inputs with fp32
// accumulation. Notable choices:
// - One primitive per (precision, transposes, M, N, K, lda, ldb, ldc, alpha, beta), created on
//   first use and cached (a primitive descriptor costs ~0.1 ms to create; a training step calls
//   the same ~20 shapes thousands of times). alpha is an output scale and beta a sum post-op, so
//   C is read only when beta != 0, and each is a constant of the primitive (a runtime scale
//   would let one primitive serve every alpha, at some cost in the brgemm kernels; the callers
//   use one or two alphas).
// - Transposes and leading dimensions are memory strides: op(A) is (M,K) with strides (lda,1) or
//   (1,lda); nothing is copied in fp32.
// - bf16: A and B are converted in their stored orientation into dense per-thread buffers that
//   only grow (no allocation per call in steady state); the same strides trick transposes them.
// - The scratchpad is ours (scratchpad_mode::user, a per-thread buffer), and each thread has its
//   own stream: primitives are immutable and shared, so calls from several threads (the server)
//   never share mutable state.
// - The cache keeps the kMaxEntries most recently used primitives (variable prompt lengths would
//   otherwise grow it without bound); entries are shared_ptrs, so a call in flight keeps its own.
// Not here: the choice of when to use oneDNN (gemm.cpp), weight pre-reordering, batched matmul.
#include "gemm_onednn.h"

#include <cstdlib>
#include <cstring>
#include <list>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>

#include "lmforge/backend/bf16.h"
#include "lmforge/core/error.h"

namespace lmforge::cpu {
namespace {

using backend::Isa;
using backend::Precision;
using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;

// A training run uses ~15 GEMM shapes per model width; inference adds one set per new prompt
// length (prefill). Creating a primitive costs ~1 ms (bench/gemm_precision_bench), so the least
// recently used ones are dropped beyond this many, keeping the steady shapes.
constexpr size_t kMaxEntries = 1024;

// Our level for oneDNN's, and back: a oneDNN ISA value is a bit set that includes every lower
// level's bits.
dnnl::cpu_isa to_dnnl(Isa isa) {
  switch (isa) {
    case Isa::avx2:
      return dnnl::cpu_isa::avx2;
    case Isa::avx512:
      return dnnl::cpu_isa::avx512_core;
    case Isa::avx512_bf16:
      return dnnl::cpu_isa::avx512_core_bf16;
    case Isa::amx_bf16:
      return dnnl::cpu_isa::avx512_core_amx;
  }
  return dnnl::cpu_isa::avx2;
}

Isa from_dnnl(dnnl::cpu_isa effective) {
  const unsigned eff = unsigned(effective);
  Isa level = Isa::avx2;
  for (Isa i : {Isa::avx512, Isa::avx512_bf16, Isa::amx_bf16})
    if ((eff & unsigned(to_dnnl(i))) == unsigned(to_dnnl(i))) level = i;
  return level;
}

// Caps oneDNN at the process's ISA (LMFORGE_ISA included, a test's IsaCap not) on first use,
// before any primitive exists, and reports the level it then runs at (lower than asked if oneDNN
// had already been initialized, or knows less of the CPU).
Isa init_isa() {
  dnnl::set_max_cpu_isa(to_dnnl(backend::process_isa()));  // an error leaves oneDNN's default
  return from_dnnl(dnnl::get_effective_cpu_isa());
}

const dnnl::engine& engine() {
  static const dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

struct Key {
  int p, ta, tb, M, N, K, lda, ldb, ldc;
  uint32_t alpha, beta;  // bit patterns
  bool operator==(const Key&) const = default;
};

struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = 1469598103934665603ull;
    for (uint32_t v :
         {uint32_t(k.p), uint32_t(k.ta), uint32_t(k.tb), uint32_t(k.M), uint32_t(k.N),
          uint32_t(k.K), uint32_t(k.lda), uint32_t(k.ldb), uint32_t(k.ldc), k.alpha, k.beta})
      h = (h ^ v) * 1099511628211ull;
    return h;
  }
};

struct Entry {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
  dnnl::memory::desc a_md, b_md, c_md, scratch_md;
  size_t scratch_bytes;
};

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// op(X) of shape (rows, cols) stored row-major with leading dimension ld, transposed or not.
dnnl::memory::desc operand_md(dt type, bool trans, int rows, int cols, int ld) {
  return trans ? dnnl::memory::desc(dims{rows, cols}, type, dims{1, ld})
               : dnnl::memory::desc(dims{rows, cols}, type, dims{ld, 1});
}

std::shared_ptr<const Entry> create(const Key& k, float alpha, float beta) {
  const dt in = k.p == int(Precision::bf16) ? dt::bf16 : dt::f32;
  auto a_md = operand_md(in, k.ta, k.M, k.K, k.lda);
  auto b_md = operand_md(in, k.tb, k.K, k.N, k.ldb);
  auto c_md = operand_md(dt::f32, false, k.M, k.N, k.ldc);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  if (beta != 0.0f) {
    dnnl::post_ops ops;
    ops.append_sum(beta);
    attr.set_post_ops(ops);
  }
  try {
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), attr, engine());
    return std::make_shared<Entry>(Entry{pd, dnnl::matmul(pd), a_md, b_md, c_md,
                                         pd.scratchpad_desc(), pd.scratchpad_desc().get_size()});
  } catch (const dnnl::error& e) {  // e.g. no bf16 matmul at avx2 in oneDNN 2.6
    throw RuntimeError(std::string("[gemm_onednn] ") + onednn_name() + " has no " +
                       (in == dt::bf16 ? "bf16" : "fp32") + " matmul at " +
                       backend::isa_name(onednn_isa()) + " for M=" + std::to_string(k.M) +
                       " N=" + std::to_string(k.N) + " K=" + std::to_string(k.K) + ": " + e.what());
  }
}

// Least recently used entries go first when the cache is full. The map holds each entry and its
// place in the recency list; both change under one mutex (a hit costs a lookup and a splice).
class PrimitiveCache {
 public:
  std::shared_ptr<const Entry> find(const Key& k) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(k);
    if (it == map_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second.second);
    return it->second.first;
  }
  std::shared_ptr<const Entry> insert(const Key& k, std::shared_ptr<const Entry> e) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(k);
    if (it != map_.end()) return it->second.first;  // another thread's entry won a race
    if (map_.size() >= kMaxEntries) {
      map_.erase(order_.back());
      order_.pop_back();
    }
    order_.push_front(k);
    map_.emplace(k, std::make_pair(e, order_.begin()));
    return e;
  }

 private:
  std::mutex mu_;
  std::list<Key> order_;  // most recently used first
  std::unordered_map<Key, std::pair<std::shared_ptr<const Entry>, std::list<Key>::iterator>,
                     KeyHash>
      map_;
};

std::shared_ptr<const Entry> lookup(const Key& k, float alpha, float beta) {
  static PrimitiveCache cache;
  if (auto e = cache.find(k)) return e;
  return cache.insert(k, create(k, alpha, beta));  // created outside the lock (JIT, ~1 ms)
}

// A per-thread byte buffer that only grows, 64-byte aligned.
class Scratch {
 public:
  void* get(size_t bytes) {
    if (bytes > size_) {
      size_ = (bytes + 4095) / 4096 * 4096;
      buf_.reset(static_cast<char*>(std::aligned_alloc(64, size_)));
      if (!buf_)
        throw RuntimeError("[gemm_onednn] out of memory for " + std::to_string(size_) +
                           " bytes of scratch");
    }
    return buf_.get();
  }

 private:
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> buf_;
  size_t size_ = 0;
};

struct ThreadState {
  Scratch a16, b16, pad;
  dnnl::stream stream{engine()};
};

ThreadState& thread_state() {
  thread_local ThreadState s;
  return s;
}

}  // namespace

Isa onednn_isa() {
  static const Isa isa = init_isa();
  return isa;
}

std::string onednn_name() {
  const dnnl_version_t* v = dnnl_version();
  return "onednn " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
         std::to_string(v->patch);
}

void gemm_onednn(Precision p, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                 const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  onednn_isa();  // the cap must be set before the first primitive
  ThreadState& ts = thread_state();
  const void* a = A;
  const void* b = B;
  if (p == Precision::bf16) {
    // Stored shapes: A is (M,K), or (K,M) when transposed; B is (K,N), or (N,K).
    const int a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
    const int b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
    auto* a16 = static_cast<bf16_t*>(ts.a16.get(sizeof(bf16_t) * a_rows * a_cols));
    auto* b16 = static_cast<bf16_t*>(ts.b16.get(sizeof(bf16_t) * b_rows * b_cols));
    convert_to_bf16(a16, A, a_rows, a_cols, lda);
    convert_to_bf16(b16, B, b_rows, b_cols, ldb);
    a = a16, b = b16, lda = a_cols, ldb = b_cols;
  }
  const Key key{int(p), trans_a, trans_b, M, N, K, lda, ldb, ldc, bits(alpha), bits(beta)};
  auto e = lookup(key, alpha, beta);
  const dnnl::engine& eng = engine();
  dnnl::memory am(e->a_md, eng, const_cast<void*>(a)), bm(e->b_md, eng, const_cast<void*>(b)),
      cm(e->c_md, eng, C), sm(e->scratch_md, eng, ts.pad.get(e->scratch_bytes));
  e->prim.execute(
      ts.stream,
      {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}, {DNNL_ARG_SCRATCHPAD, sm}});
  ts.stream.wait();
}

std::string onednn_impl(Precision p, bool trans_a, bool trans_b, int M, int N, int K) {
  onednn_isa();
  const int lda = trans_a ? M : K, ldb = trans_b ? K : N;
  const Key key{int(p), trans_a, trans_b, M, N, K, lda, ldb, N, bits(1.0f), bits(0.0f)};
  return lookup(key, 1.0f, 0.0f)->pd.impl_info_str();
}

}  // namespace lmforge::cpu
