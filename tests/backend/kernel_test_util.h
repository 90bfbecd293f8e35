// Shared helpers for the kernel tests (tests/backend/*_test.cpp): seeded random buffers,
// NaN guard regions around every buffer (as llama.cpp's test-backend-ops: an out-of-bounds
// write changes a guard, an out-of-bounds read drags a NaN into the result), float-vs-double
// comparison with a stated tolerance, a central-difference gradient check in double, and
// packed-row positions (several documents per row, pos restarting at 0 at each one).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "lmforge/backend/isa.h"

namespace lmforge::test {

constexpr size_t kGuard = 64;

// A buffer of n values with kGuard NaNs on each side.
template <typename T>
class Guarded {
 public:
  explicit Guarded(size_t n = 0) : n_(n), buf_(n + 2 * kGuard, guard_value()) {}
  T* data() { return buf_.data() + kGuard; }
  const T* data() const { return buf_.data() + kGuard; }
  size_t size() const { return n_; }
  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  // True when every guard element is still the NaN it started as (bitwise).
  bool guards_intact() const {
    T nan = guard_value();
    for (size_t i = 0; i < kGuard; i++) {
      if (std::memcmp(&buf_[i], &nan, sizeof(T)) != 0) return false;
      if (std::memcmp(&buf_[kGuard + n_ + i], &nan, sizeof(T)) != 0) return false;
    }
    return true;
  }
  std::vector<T> vec() const { return std::vector<T>(data(), data() + n_); }
  // NaN in the buffer's type: a float/double NaN, or for bf16 storage (uint16_t) the bf16 quiet
  // NaN 0x7fc0, which a kernel widening it reads as a NaN too.
  static T guard_value() {
    if constexpr (std::is_floating_point_v<T>)
      return std::nan("");
    else
      return T(0x7fc0);
  }

 private:
  size_t n_;
  std::vector<T> buf_;
};

// The same values in a double buffer (oracle input) and a float buffer (fast-kernel input); the
// double one holds the float-rounded values so both backends see identical inputs.
struct Pair {
  Guarded<double> d;
  Guarded<float> f;
  explicit Pair(size_t n) : d(n), f(n) {}
  void fill(std::mt19937_64& rng, double scale = 1.0, double offset = 0.0) {
    std::normal_distribution<double> dist(offset, scale);
    for (size_t i = 0; i < d.size(); i++) {
      f[i] = (float)dist(rng);
      d[i] = f[i];
    }
  }
  void set(double v) {
    for (size_t i = 0; i < d.size(); i++) d[i] = f[i] = (float)v;
  }
  size_t size() const { return d.size(); }
  bool guards_intact() const { return d.guards_intact() && f.guards_intact(); }
};

// Expects |got − want| <= atol + rtol·|want| everywhere; reports the worst element.
template <typename G>
void expect_close(const G* got, const double* want, size_t n, double atol, double rtol,
                  const std::string& what) {
  double worst = 0.0;
  size_t worst_i = 0;
  bool ok = true;
  for (size_t i = 0; i < n; i++) {
    double err = std::abs((double)got[i] - want[i]);
    double excess = err - (atol + rtol * std::abs(want[i]));
    if (!(excess <= 0.0)) ok = false;  // NaN fails too
    if (!(err <= worst)) {
      worst = err;
      worst_i = i;
    }
  }
  EXPECT_TRUE(ok) << what << ": worst |err| " << worst << " at " << worst_i << " (got "
                  << (n ? (double)got[worst_i] : 0.0) << ", want " << (n ? want[worst_i] : 0.0)
                  << ", atol " << atol << ", rtol " << rtol << ")";
}
inline void expect_close(const Pair& p, double atol, double rtol, const std::string& what) {
  expect_close(p.f.data(), p.d.data(), p.size(), atol, rtol, what);
  EXPECT_TRUE(p.guards_intact()) << what << ": write outside the buffer";
}

// Norm-wise relative error between an analytic gradient and central differences of loss(x) with
// respect to every element of x (x is restored afterwards). Used on the double oracle, where
// h = 1e-5 leaves truncation error ~1e-10 and rounding error ~1e-11.
inline double grad_check_error(std::vector<double*> xs, std::vector<size_t> ns,
                               std::vector<const double*> grads,
                               const std::function<double()>& loss, double h = 1e-5) {
  double num = 0.0, den = 0.0;
  for (size_t k = 0; k < xs.size(); k++) {
    for (size_t i = 0; i < ns[k]; i++) {
      double saved = xs[k][i];
      xs[k][i] = saved + h;
      double lp = loss();
      xs[k][i] = saved - h;
      double lm = loss();
      xs[k][i] = saved;
      double fd = (lp - lm) / (2 * h);
      num += (fd - grads[k][i]) * (fd - grads[k][i]);
      den += fd * fd + grads[k][i] * grads[k][i];
    }
  }
  return den == 0.0 ? std::sqrt(num) : std::sqrt(num / den);
}

inline double dot(const double* a, const double* b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

inline std::vector<double> random_vec(std::mt19937_64& rng, size_t n, double scale = 1.0) {
  std::normal_distribution<double> dist(0.0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Packed rows: lens[b] lists row b's document lengths (each row sums to the same T); returns
// pos (B,T), each token's position within its document.
inline std::vector<int32_t> packed_pos(const std::vector<std::vector<int>>& lens) {
  std::vector<int32_t> pos;
  for (const auto& row : lens)
    for (int len : row)
      for (int i = 0; i < len; i++) pos.push_back(i);
  return pos;
}

// Document lengths summing to T, drawn so that a row mixes length-1 documents, short ones and
// ones longer than a 64-key block (the last one is cut to fit).
inline std::vector<int> random_doc_lens(std::mt19937_64& rng, int T) {
  static const int kLens[] = {1, 1, 2, 3, 5, 9, 17, 31, 40, 70};
  std::uniform_int_distribution<int> pick(0, 9);
  std::vector<int> lens;
  for (int left = T; left > 0;) {
    int len = std::min(left, kLens[pick(rng)]);
    lens.push_back(len);
    left -= len;
  }
  return lens;
}

// B rows of T: row 0 one document, row 2 (when T > 4) {1, 1, T-3, 1} (length-1 documents at
// both ends), the other rows random mixes.
inline std::vector<int32_t> mixed_pos(std::mt19937_64& rng, int B, int T) {
  std::vector<std::vector<int>> lens{{T}};
  for (int b = 1; b < B; b++) lens.push_back(random_doc_lens(rng, T));
  if (B > 2 && T > 4) lens[2] = {1, 1, T - 3, 1};
  return packed_pos(lens);
}

// One document of a packed batch: row b, tokens [t0, t0 + len).
struct Doc {
  int b, t0, len;
};
inline std::vector<Doc> documents(const std::vector<int32_t>& pos, int B, int T) {
  std::vector<Doc> docs;
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      if (pos[(size_t)b * T + t] == 0) docs.push_back({b, t, 0});
      docs.back().len++;
    }
  return docs;
}

// Rows [t0, t0+len) of row b of a (B,T,width) buffer, copied out.
template <typename R>
std::vector<R> take_rows(const R* x, int T, size_t width, const Doc& d) {
  const R* src = x + ((size_t)d.b * T + d.t0) * width;
  return std::vector<R>(src, src + (size_t)d.len * width);
}

// Finite differences on the float kernel itself (the path under test, not the oracle): the
// directional derivative of loss along a random direction u, (loss(x+h·u) − loss(x−h·u)) / 2h,
// against Σ grad·u from the kernel's backward; returns |fd − an| / max(|fd|, |an|). xs are the
// float inputs (restored afterwards), grads their gradients. With h = 1e-2 the float rounding of
// the forward leaves ~1e-7·|loss|/h and truncation O(h²): a few 1e-4, while a wrong or missing
// gradient term is O(1).
inline double directional_grad_error(std::vector<std::vector<float>*> xs,
                                     std::vector<const std::vector<float>*> grads,
                                     const std::function<double()>& loss, uint64_t seed,
                                     double h = 1e-2) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(0.0, 1.0);
  std::vector<std::vector<double>> u(xs.size());
  std::vector<std::vector<float>> saved(xs.size());
  double an = 0.0;
  for (size_t k = 0; k < xs.size(); k++) {
    saved[k] = *xs[k];
    for (size_t i = 0; i < xs[k]->size(); i++) {
      u[k].push_back(dist(rng));
      an += u[k][i] * (*grads[k])[i];
    }
  }
  auto shifted = [&](double t) {
    for (size_t k = 0; k < xs.size(); k++)
      for (size_t i = 0; i < xs[k]->size(); i++) (*xs[k])[i] = (float)(saved[k][i] + t * u[k][i]);
    return loss();
  };
  double fd = (shifted(h) - shifted(-h)) / (2 * h);
  for (size_t k = 0; k < xs.size(); k++) *xs[k] = saved[k];
  return std::abs(fd - an) / std::max(std::abs(fd), std::abs(an));
}

// A test run once per ISA path of the CPU kernels (GetParam()): the body runs under
// backend::IsaCap(GetParam()), so the dispatchers take that path. A path above what this process
// may use (the CPU, or LMFORGE_ISA) is skipped with the reason printed, never silently.
class IsaPaths : public ::testing::TestWithParam<backend::Isa> {
 protected:
  void SetUp() override {
    backend::Isa want = GetParam(), have = backend::active_isa();
    if (have < want)
      GTEST_SKIP() << "the " << backend::isa_name(want) << " path needs a CPU with it; this one "
                   << "runs at most " << backend::isa_name(have) << " (CPU or LMFORGE_ISA)";
    cap_.emplace(want);
  }
  void TearDown() override { cap_.reset(); }

 private:
  std::optional<backend::IsaCap> cap_;
};
inline std::string isa_param_name(const ::testing::TestParamInfo<backend::Isa>& info) {
  return backend::isa_name(info.param);
}
// INSTANTIATE_TEST_SUITE_P(Isa, Fixture, LMFORGE_KERNEL_ISAS) for kernels with AVX-512 twins.
#define LMFORGE_KERNEL_ISAS \
  ::testing::Values(backend::Isa::avx2, backend::Isa::avx512), test::isa_param_name

}  // namespace lmforge::test
