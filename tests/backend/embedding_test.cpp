// embedding: ref vs cpu (with and without learned positions), gradient check of the ref
// backward, and accumulation (+=) of dwte/dwpe, including repeated ids that collide. Packed rows
// (pos): ref vs cpu (every document's first token adds into dwpe row 0), the gradient check,
// packed == each document alone (bitwise), pos = 0..T-1 == no pos, negative pos rejected.
#include "backend/kernel_test_util.h"
#include "lmforge/backend/kernels.h"
#include "lmforge/core/error.h"

namespace lmforge {
namespace {
using test::Pair;

std::vector<int32_t> random_ids(std::mt19937_64& rng, int n, int V) {
  std::uniform_int_distribution<int32_t> dist(0, V - 1);
  std::vector<int32_t> ids(n);
  for (auto& x : ids) x = dist(rng);
  return ids;
}

TEST(Embedding, RefVsCpuAndAccumulation) {
  std::mt19937_64 rng(1);
  struct S {
    int B, T, C, V;
  };
  for (auto [B, T, C, V] :
       {S{1, 1, 1, 1}, S{2, 31, 33, 37}, S{3, 33, 31, 5}, S{1, 257, 64, 1000}}) {
    for (bool pos : {true, false}) {
      SCOPED_TRACE("B=" + std::to_string(B) + " T=" + std::to_string(T) +
                   " C=" + std::to_string(C) + " pos=" + std::to_string(pos));
      auto ids = random_ids(rng, B * T, V);
      Pair wte(V * C), wpe(T * C), out(B * T * C), dout(B * T * C), dwte(V * C), dwpe(T * C);
      wte.fill(rng);
      wpe.fill(rng);
      dout.fill(rng);
      dwte.fill(rng);
      dwpe.fill(rng);
      ref::embedding_forward(out.d.data(), ids.data(), wte.d.data(), pos ? wpe.d.data() : nullptr,
                             B, T, C);
      cpu::embedding_forward(out.f.data(), ids.data(), wte.f.data(), pos ? wpe.f.data() : nullptr,
                             B, T, C);
      test::expect_close(out, 1e-6, 1e-6, "out");
      // Twice: the gradients must accumulate, and colliding ids must all be counted.
      for (int k = 0; k < 2; k++) {
        ref::embedding_backward(dwte.d.data(), pos ? dwpe.d.data() : nullptr, dout.d.data(),
                                ids.data(), B, T, C);
        cpu::embedding_backward(dwte.f.data(), pos ? dwpe.f.data() : nullptr, dout.f.data(),
                                ids.data(), B, T, C);
      }
      test::expect_close(dwte, 1e-4, 1e-5, "dwte");
      test::expect_close(dwpe, 1e-4, 1e-5, "dwpe");
    }
  }
}

TEST(Embedding, GradientCheck) {
  std::mt19937_64 rng(2);
  int B = 2, T = 3, C = 4, V = 3;
  auto ids = random_ids(rng, B * T, V);
  auto wte = test::random_vec(rng, V * C), wpe = test::random_vec(rng, T * C),
       r = test::random_vec(rng, B * T * C);
  std::vector<double> out(B * T * C), dwte(V * C, 0.0), dwpe(T * C, 0.0);
  auto loss = [&] {
    ref::embedding_forward(out.data(), ids.data(), wte.data(), wpe.data(), B, T, C);
    return test::dot(out.data(), r.data(), out.size());
  };
  ref::embedding_backward(dwte.data(), dwpe.data(), r.data(), ids.data(), B, T, C);
  EXPECT_LT(test::grad_check_error({wte.data(), wpe.data()}, {wte.size(), wpe.size()},
                                   {dwte.data(), dwpe.data()}, loss),
            1e-6);
}

TEST(Embedding, PackedRefVsCpu) {
  std::mt19937_64 rng(3);
  struct S {
    int B, T, C, V;
  };
  for (auto [B, T, C, V] : {S{3, 1, 7, 5}, S{3, 33, 31, 37}, S{3, 257, 64, 1000}}) {
    SCOPED_TRACE("B=" + std::to_string(B) + " T=" + std::to_string(T) + " C=" + std::to_string(C));
    auto ids = random_ids(rng, B * T, V);
    auto pos = test::mixed_pos(rng, B, T);
    Pair wte(V * C), wpe(T * C), out(B * T * C), dout(B * T * C), dwte(V * C), dwpe(T * C);
    wte.fill(rng);
    wpe.fill(rng);
    dout.fill(rng);
    dwte.fill(rng);
    dwpe.fill(rng);
    ref::embedding_forward(out.d.data(), ids.data(), wte.d.data(), wpe.d.data(), B, T, C,
                           pos.data());
    cpu::embedding_forward(out.f.data(), ids.data(), wte.f.data(), wpe.f.data(), B, T, C,
                           pos.data());
    test::expect_close(out, 1e-6, 1e-6, "out");
    for (int k = 0; k < 2; k++) {
      ref::embedding_backward(dwte.d.data(), dwpe.d.data(), dout.d.data(), ids.data(), B, T, C,
                              pos.data());
      cpu::embedding_backward(dwte.f.data(), dwpe.f.data(), dout.f.data(), ids.data(), B, T, C,
                              pos.data());
    }
    test::expect_close(dwte, 1e-4, 1e-5, "dwte");
    test::expect_close(dwpe, 1e-4, 1e-5, "dwpe");
  }
}

TEST(Embedding, PackedGradientCheck) {
  std::mt19937_64 rng(4);
  int B = 2, T = 4, C = 3, V = 3;
  auto ids = random_ids(rng, B * T, V);
  auto pos = test::packed_pos({{1, 2, 1}, {3, 1}});
  auto wte = test::random_vec(rng, V * C), wpe = test::random_vec(rng, T * C),
       r = test::random_vec(rng, B * T * C);
  std::vector<double> out(B * T * C), dwte(V * C, 0.0), dwpe(T * C, 0.0);
  auto loss = [&] {
    ref::embedding_forward(out.data(), ids.data(), wte.data(), wpe.data(), B, T, C, pos.data());
    return test::dot(out.data(), r.data(), out.size());
  };
  ref::embedding_backward(dwte.data(), dwpe.data(), r.data(), ids.data(), B, T, C, pos.data());
  EXPECT_LT(test::grad_check_error({wte.data(), wpe.data()}, {wte.size(), wpe.size()},
                                   {dwte.data(), dwpe.data()}, loss),
            1e-6);
}

TEST(Embedding, PackedEqualsEachDocumentAlone) {
  // Rows of a packed batch equal each document embedded alone; the packed backward equals the
  // per-document backwards accumulated in token order, bit for bit (same additions, same order).
  std::mt19937_64 rng(5);
  int B = 3, T = 90, C = 40, V = 50;
  auto ids = random_ids(rng, B * T, V);
  auto pos = test::mixed_pos(rng, B, T);
  Pair wte(V * C), wpe(T * C), out(B * T * C), dout(B * T * C), dwte(V * C), dwpe(T * C);
  wte.fill(rng);
  wpe.fill(rng);
  dout.fill(rng);
  dwte.set(0.0);
  dwpe.set(0.0);
  Pair dwte1 = dwte, dwpe1 = dwpe;
  ref::embedding_forward(out.d.data(), ids.data(), wte.d.data(), wpe.d.data(), B, T, C, pos.data());
  cpu::embedding_forward(out.f.data(), ids.data(), wte.f.data(), wpe.f.data(), B, T, C, pos.data());
  ref::embedding_backward(dwte.d.data(), dwpe.d.data(), dout.d.data(), ids.data(), B, T, C,
                          pos.data());
  cpu::embedding_backward(dwte.f.data(), dwpe.f.data(), dout.f.data(), ids.data(), B, T, C,
                          pos.data());
  for (const test::Doc& d : test::documents(pos, B, T)) {
    SCOPED_TRACE("b=" + std::to_string(d.b) + " t0=" + std::to_string(d.t0));
    auto id1 = test::take_rows(ids.data(), T, 1, d);
    std::vector<double> od(d.len * C);
    std::vector<float> of(d.len * C);
    ref::embedding_forward(od.data(), id1.data(), wte.d.data(), wpe.d.data(), 1, d.len, C);
    cpu::embedding_forward(of.data(), id1.data(), wte.f.data(), wpe.f.data(), 1, d.len, C);
    ASSERT_EQ(test::take_rows(out.d.data(), T, C, d), od);
    ASSERT_EQ(test::take_rows(out.f.data(), T, C, d), of);
    auto dd = test::take_rows(dout.d.data(), T, C, d);
    auto df = test::take_rows(dout.f.data(), T, C, d);
    ref::embedding_backward(dwte1.d.data(), dwpe1.d.data(), dd.data(), id1.data(), 1, d.len, C);
    cpu::embedding_backward(dwte1.f.data(), dwpe1.f.data(), df.data(), id1.data(), 1, d.len, C);
  }
  EXPECT_EQ(dwte.d.vec(), dwte1.d.vec());
  EXPECT_EQ(dwpe.d.vec(), dwpe1.d.vec());
  EXPECT_EQ(dwte.f.vec(), dwte1.f.vec());
  EXPECT_EQ(dwpe.f.vec(), dwpe1.f.vec());
}

TEST(Embedding, IdentityPosEqualsNoPos) {
  std::mt19937_64 rng(6);
  int B = 2, T = 33, C = 24, V = 20;
  auto ids = random_ids(rng, B * T, V);
  auto pos = test::packed_pos({{T}, {T}});
  Pair wte(V * C), wpe(T * C), o1(B * T * C), o2(B * T * C), dout(B * T * C), g1(T * C), g2(T * C),
      w1(V * C), w2(V * C);
  wte.fill(rng);
  wpe.fill(rng);
  dout.fill(rng);
  for (Pair* p : {&g1, &g2, &w1, &w2}) p->set(0.0);
  cpu::embedding_forward(o1.f.data(), ids.data(), wte.f.data(), wpe.f.data(), B, T, C);
  cpu::embedding_forward(o2.f.data(), ids.data(), wte.f.data(), wpe.f.data(), B, T, C, pos.data());
  cpu::embedding_backward(w1.f.data(), g1.f.data(), dout.f.data(), ids.data(), B, T, C);
  cpu::embedding_backward(w2.f.data(), g2.f.data(), dout.f.data(), ids.data(), B, T, C, pos.data());
  ref::embedding_forward(o1.d.data(), ids.data(), wte.d.data(), wpe.d.data(), B, T, C);
  ref::embedding_forward(o2.d.data(), ids.data(), wte.d.data(), wpe.d.data(), B, T, C, pos.data());
  EXPECT_EQ(o1.f.vec(), o2.f.vec());
  EXPECT_EQ(g1.f.vec(), g2.f.vec());
  EXPECT_EQ(w1.f.vec(), w2.f.vec());
  EXPECT_EQ(o1.d.vec(), o2.d.vec());
}

TEST(Embedding, CpuRejectsNegativePos) {
  std::vector<int32_t> ids{0, 0}, pos{0, -1};
  std::vector<float> wte(4, 1.0f), wpe(4, 1.0f), out(4), dwte(4), dwpe(4);
  EXPECT_THROW(
      cpu::embedding_forward(out.data(), ids.data(), wte.data(), wpe.data(), 1, 2, 2, pos.data()),
      RuntimeError);
  EXPECT_THROW(cpu::embedding_backward(dwte.data(), dwpe.data(), out.data(), ids.data(), 1, 2, 2,
                                       pos.data()),
               RuntimeError);
}

}  // namespace
}  // namespace lmforge
