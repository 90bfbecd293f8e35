// linear (+bias) and cpu::sgemm: ref vs cpu at odd shapes, finite-difference gradient check of
// the ref backward, accumulation semantics (dweight/dbias +=, dinp =), and both SGEMM paths
// (ours and BLAS) against a double loop for all four transpose combinations.
#include "backend/cpu/gemm_avx2.h"
#include "backend/kernel_test_util.h"
#include "lmforge/backend/kernels.h"

namespace lmforge {
namespace {
using test::Pair;

struct Shape {
  int N, IC, OC;
};
const Shape kShapes[] = {{1, 1, 1}, {31, 33, 17}, {33, 31, 257}, {257, 64, 33}, {5, 257, 9}};

TEST(Linear, RefVsCpuForwardBackward) {
  std::mt19937_64 rng(1);
  for (auto [N, IC, OC] : kShapes) {
    for (bool with_bias : {true, false}) {
      SCOPED_TRACE("N=" + std::to_string(N) + " IC=" + std::to_string(IC) +
                   " OC=" + std::to_string(OC) + " bias=" + std::to_string(with_bias));
      Pair inp(N * IC), w(OC * IC), bias(OC), out(N * OC), dout(N * OC), dinp(N * IC), dw(OC * IC),
          db(OC);
      inp.fill(rng);
      w.fill(rng, 0.1);
      bias.fill(rng);
      dout.fill(rng);
      dw.fill(rng);  // nonzero start: checks +=
      db.fill(rng);
      ref::linear_forward(out.d.data(), inp.d.data(), w.d.data(),
                          with_bias ? bias.d.data() : nullptr, N, IC, OC);
      cpu::linear_forward(out.f.data(), inp.f.data(), w.f.data(),
                          with_bias ? bias.f.data() : nullptr, N, IC, OC);
      // Float GEMM error grows like sqrt(IC)·eps·|x||w|: 1e-4 covers IC=257 with margin.
      test::expect_close(out, 1e-4, 1e-4, "out");
      ref::linear_backward(dinp.d.data(), dw.d.data(), with_bias ? db.d.data() : nullptr,
                           dout.d.data(), inp.d.data(), w.d.data(), N, IC, OC);
      cpu::linear_backward(dinp.f.data(), dw.f.data(), with_bias ? db.f.data() : nullptr,
                           dout.f.data(), inp.f.data(), w.f.data(), N, IC, OC);
      test::expect_close(dinp, 1e-4, 1e-4, "dinp");
      test::expect_close(dw, 1e-3, 1e-4, "dweight");  // sums over N=257 rows of O(1) products
      test::expect_close(db, 1e-4, 1e-4, "dbias");
      EXPECT_TRUE(inp.guards_intact() && w.guards_intact() && bias.guards_intact());
    }
  }
}

TEST(Linear, NullDinpIsSkipped) {
  std::mt19937_64 rng(2);
  int N = 7, IC = 5, OC = 3;
  Pair inp(N * IC), w(OC * IC), dout(N * OC), dw(OC * IC);
  inp.fill(rng);
  w.fill(rng);
  dout.fill(rng);
  dw.set(0.0);
  cpu::linear_backward(nullptr, dw.f.data(), nullptr, dout.f.data(), inp.f.data(), w.f.data(), N,
                       IC, OC);
  ref::linear_backward(nullptr, dw.d.data(), nullptr, dout.d.data(), inp.d.data(), w.d.data(), N,
                       IC, OC);
  test::expect_close(dw, 1e-5, 1e-5, "dweight");
}

TEST(Linear, GradientCheck) {
  std::mt19937_64 rng(3);
  int N = 4, IC = 5, OC = 3;
  auto inp = test::random_vec(rng, N * IC), w = test::random_vec(rng, OC * IC),
       b = test::random_vec(rng, OC), r = test::random_vec(rng, N * OC);
  std::vector<double> out(N * OC), dinp(N * IC, 7.0), dw(OC * IC, 0.0), db(OC, 0.0);
  auto loss = [&] {
    ref::linear_forward(out.data(), inp.data(), w.data(), b.data(), N, IC, OC);
    return test::dot(out.data(), r.data(), out.size());
  };
  ref::linear_backward(dinp.data(), dw.data(), db.data(), r.data(), inp.data(), w.data(), N, IC,
                       OC);
  double err =
      test::grad_check_error({inp.data(), w.data(), b.data()}, {inp.size(), w.size(), b.size()},
                             {dinp.data(), dw.data(), db.data()}, loss);
  EXPECT_LT(err, 1e-6);
}

TEST(Linear, AccumulationSemantics) {
  // Two backward calls: dweight and dbias double, dinp stays the single-call value.
  std::mt19937_64 rng(4);
  int N = 9, IC = 7, OC = 5;
  Pair inp(N * IC), w(OC * IC), dout(N * OC), dinp(N * IC), dw(OC * IC), db(OC);
  inp.fill(rng);
  w.fill(rng);
  dout.fill(rng);
  dw.set(0.0);
  db.set(0.0);
  for (int k = 0; k < 2; k++)
    cpu::linear_backward(dinp.f.data(), dw.f.data(), db.f.data(), dout.f.data(), inp.f.data(),
                         w.f.data(), N, IC, OC);
  for (size_t i = 0; i < dw.size(); i++) dw.d[i] = 0.0;
  for (size_t i = 0; i < db.size(); i++) db.d[i] = 0.0;
  ref::linear_backward(dinp.d.data(), dw.d.data(), db.d.data(), dout.d.data(), inp.d.data(),
                       w.d.data(), N, IC, OC);
  for (size_t i = 0; i < dw.size(); i++) dw.d[i] *= 2;
  for (size_t i = 0; i < db.size(); i++) db.d[i] *= 2;
  test::expect_close(dinp, 1e-5, 1e-5, "dinp (overwritten)");
  test::expect_close(dw, 1e-5, 1e-5, "dweight (accumulated)");
  test::expect_close(db, 1e-5, 1e-5, "dbias (accumulated)");
}

// Double-precision C = alpha·op(A)·op(B) + beta·C on the float inputs.
void gemm_oracle(bool ta, bool tb, int M, int N, int K, double alpha, const float* A, int lda,
                 const float* B, int ldb, double beta, double* C, int ldc) {
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0.0;
      for (int k = 0; k < K; k++)
        s += (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
             (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
      C[(size_t)i * ldc + j] = alpha * s + beta * C[(size_t)i * ldc + j];
    }
}

TEST(Sgemm, BothPathsMatchOracleAllTransposes) {
  std::mt19937_64 rng(5);
  struct G {
    int M, N, K;
  };
  // Odd sizes hit every edge of the 6x16 micro-tile, the K slices (K > 384), the N blocks
  // (N > 3072) and both ways of splitting work between threads (by rows, by columns).
  const G shapes[] = {{1, 1, 1},     {7, 17, 3},     {31, 33, 257}, {65, 129, 300},
                      {13, 600, 31}, {300, 40, 200}, {7, 3100, 20}, {5, 20, 800}};
  using Fn = void (*)(bool, bool, int, int, int, float, const float*, int, const float*, int, float,
                      float*, int);
  const std::pair<const char*, Fn> paths[] = {
      {"avx2", cpu::sgemm_avx2}, {"blas", cpu::sgemm_blas}, {"dispatch", cpu::sgemm}};
  for (auto [M, N, K] : shapes)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (auto [name, fn] : paths) {
          SCOPED_TRACE(std::string(name) + " M=" + std::to_string(M) + " N=" + std::to_string(N) +
                       " K=" + std::to_string(K) + " ta=" + std::to_string(ta) +
                       " tb=" + std::to_string(tb));
          // Leading dimensions larger than the logical width catch stride bugs.
          int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
          Pair A((size_t)(ta ? K : M) * lda), Bm((size_t)(tb ? N : K) * ldb), C((size_t)M * ldc);
          A.fill(rng);
          Bm.fill(rng);
          C.fill(rng);
          float alpha = 0.75f, beta = (M % 2) ? 0.5f : 0.0f;
          fn(ta, tb, M, N, K, alpha, A.f.data(), lda, Bm.f.data(), ldb, beta, C.f.data(), ldc);
          gemm_oracle(ta, tb, M, N, K, alpha, A.f.data(), lda, Bm.f.data(), ldb, beta, C.d.data(),
                      ldc);
          test::expect_close(C, 2e-4, 1e-4, "C");
        }
}

}  // namespace
}  // namespace lmforge
