// Causal GQA attention: the flash-style cpu kernel vs the naive double oracle (a full T×T
// softmax per row) for every head layout and odd T (crossing the 32-query / 64-key blocks), lse
// included; gradient check of the ref backward; the cpu backward vs the ref backward; causality
// (a future key changes nothing); dqkv fully overwritten (starts as garbage). Packed rows (pos):
// cpu vs ref with several documents per row (length-1 ones, one spanning the whole row), the ref
// gradient check, packed == each document run alone (rope + attention, forward and gradients),
// documents isolated bitwise, pos = 0..T-1 == no pos bitwise, malformed pos rejected.
#include "backend/kernel_test_util.h"
#include "lmforge/backend/kernels.h"
#include "lmforge/core/error.h"

namespace lmforge {
namespace {
class AttentionIsa : public test::IsaPaths {};  // each test once per ISA path
using test::Pair;

struct Cfg {
  int B, T, NH, NKV, HS;
};
std::string name(const Cfg& c) {
  return "B=" + std::to_string(c.B) + " T=" + std::to_string(c.T) + " NH=" + std::to_string(c.NH) +
         " NKV=" + std::to_string(c.NKV) + " HS=" + std::to_string(c.HS);
}

TEST_P(AttentionIsa, FlashCpuVsNaiveRef) {
  std::mt19937_64 rng(1);
  std::vector<Cfg> cfgs;
  // HS 8 and 12 take the generic loop at 16 lanes (12 at 8 too); 16, 32, 64, 96 the register
  // paths (1 to 12 vectors); NH=3 odd heads, 4/2 and 6/1 grouped-query heads.
  for (auto [NH, NKV] : {std::pair{4, 4}, {4, 2}, {6, 1}, {3, 3}})
    for (int HS : {8, 12, 16, 32, 64, 96})
      for (int T : {1, 31, 33, 257}) {
        if (T == 257 && HS != 64) continue;  // keep the double oracle's O(T²) cost in check
        if (NH == 3 && HS != 32 && HS != 96) continue;
        cfgs.push_back({T == 257 ? 1 : 2, T, NH, NKV, HS});
      }
  for (const Cfg& c : cfgs) {
    SCOPED_TRACE(name(c));
    auto [B, T, NH, NKV, HS] = c;
    size_t QKV = (size_t)(NH + 2 * NKV) * HS;
    Pair qkv(B * T * QKV), out(B * T * NH * HS), lse(B * NH * T), dout(B * T * NH * HS),
        dqkv(B * T * QKV);
    qkv.fill(rng, 1.5);  // scores of a few units: peaked softmax rows
    dout.fill(rng);
    dqkv.fill(rng);  // garbage: the backward must overwrite every element
    ref::attention_forward(out.d.data(), lse.d.data(), qkv.d.data(), B, T, NH, NKV, HS);
    cpu::attention_forward(out.f.data(), lse.f.data(), qkv.f.data(), B, T, NH, NKV, HS);
    test::expect_close(out, 2e-5, 1e-4, "out");
    test::expect_close(lse, 2e-5, 1e-5, "lse");
    ref::attention_backward(dqkv.d.data(), dout.d.data(), qkv.d.data(), out.d.data(), lse.d.data(),
                            B, T, NH, NKV, HS);
    cpu::attention_backward(dqkv.f.data(), dout.f.data(), qkv.f.data(), out.f.data(), lse.f.data(),
                            B, T, NH, NKV, HS);
    // Gradients sum T terms of O(1) with float exp/lse rounding: 1e-4 absolute at T=257.
    test::expect_close(dqkv, 1e-4, 1e-4, "dqkv");
    EXPECT_TRUE(qkv.guards_intact() && dout.guards_intact());
  }
}

TEST(Attention, RefGradientCheck) {
  std::mt19937_64 rng(2);
  for (Cfg c : {Cfg{2, 5, 4, 2, 4}, Cfg{1, 3, 3, 1, 2}, Cfg{1, 4, 2, 2, 4}}) {
    SCOPED_TRACE(name(c));
    auto [B, T, NH, NKV, HS] = c;
    size_t QKV = (size_t)(NH + 2 * NKV) * HS;
    auto qkv = test::random_vec(rng, B * T * QKV), r = test::random_vec(rng, B * T * NH * HS);
    std::vector<double> out(B * T * NH * HS), lse(B * NH * T), dqkv(B * T * QKV);
    auto loss = [&] {
      ref::attention_forward(out.data(), lse.data(), qkv.data(), B, T, NH, NKV, HS);
      return test::dot(out.data(), r.data(), out.size());
    };
    loss();
    ref::attention_backward(dqkv.data(), r.data(), qkv.data(), out.data(), lse.data(), B, T, NH,
                            NKV, HS);
    EXPECT_LT(test::grad_check_error({qkv.data()}, {qkv.size()}, {dqkv.data()}, loss), 1e-6);
  }
}

TEST_P(AttentionIsa, LseIsLogSumExpOfScores) {
  // T=2, one head of size 1: row 1 has scores q1·k0 and q1·k1 (scale 1).
  double qkv[] = {0.5, 2.0, 7.0, /*t=1*/ 1.5, -1.0, 3.0};  // q | k | v per row
  double out[2], lse[2];
  ref::attention_forward(out, lse, qkv, 1, 2, 1, 1, 1);
  double s0 = 1.5 * 2.0, s1 = 1.5 * -1.0;
  EXPECT_NEAR(lse[1], std::log(std::exp(s0) + std::exp(s1)), 1e-12);
  EXPECT_NEAR(lse[0], 0.5 * 2.0, 1e-12);
  EXPECT_NEAR(out[0], 7.0, 1e-12);
  float qf[6];
  for (int i = 0; i < 6; i++) qf[i] = (float)qkv[i];
  float of[2], lf[2];
  cpu::attention_forward(of, lf, qf, 1, 2, 1, 1, 1);
  EXPECT_NEAR(lf[1], lse[1], 1e-5);
  EXPECT_NEAR(of[1], out[1], 1e-5);
}

TEST_P(AttentionIsa, CpuIsCausal) {
  std::mt19937_64 rng(3);
  int B = 1, T = 70, NH = 4, NKV = 2, HS = 16;
  size_t QKV = (size_t)(NH + 2 * NKV) * HS;
  Pair qkv(B * T * QKV), out1(B * T * NH * HS), out2(B * T * NH * HS), lse(B * NH * T);
  qkv.fill(rng);
  cpu::attention_forward(out1.f.data(), lse.f.data(), qkv.f.data(), B, T, NH, NKV, HS);
  for (size_t i = (T - 1) * QKV; i < (size_t)T * QKV; i++) qkv.f[i] += 5.0f;  // last token only
  cpu::attention_forward(out2.f.data(), lse.f.data(), qkv.f.data(), B, T, NH, NKV, HS);
  for (size_t i = 0; i < (size_t)(T - 1) * NH * HS; i++) ASSERT_EQ(out1.f[i], out2.f[i]) << i;
}

TEST(Attention, RejectsBadHeadCounts) {
  float x = 0;
  EXPECT_THROW(cpu::attention_forward(&x, &x, &x, 1, 1, 4, 3, 8), RuntimeError);
}

TEST_P(AttentionIsa, PackedCpuVsRef) {
  std::mt19937_64 rng(4);
  for (auto [NH, NKV] : {std::pair{4, 4}, {4, 2}, {6, 1}})
    for (int HS : {8, 12, 64})
      for (int T : {1, 33, 70, 200}) {
        Cfg c{3, T, NH, NKV, HS};
        SCOPED_TRACE(name(c));
        size_t QKV = (size_t)(NH + 2 * NKV) * HS;
        int B = c.B;
        auto pos = test::mixed_pos(rng, B, T);
        Pair qkv(B * T * QKV), out(B * T * NH * HS), lse(B * NH * T), dout(B * T * NH * HS),
            dqkv(B * T * QKV);
        qkv.fill(rng, 1.5);
        dout.fill(rng);
        dqkv.fill(rng);  // garbage: must be overwritten
        ref::attention_forward(out.d.data(), lse.d.data(), qkv.d.data(), B, T, NH, NKV, HS,
                               pos.data());
        cpu::attention_forward(out.f.data(), lse.f.data(), qkv.f.data(), B, T, NH, NKV, HS,
                               pos.data());
        test::expect_close(out, 2e-5, 1e-4, "out");
        test::expect_close(lse, 2e-5, 1e-5, "lse");
        ref::attention_backward(dqkv.d.data(), dout.d.data(), qkv.d.data(), out.d.data(),
                                lse.d.data(), B, T, NH, NKV, HS, pos.data());
        cpu::attention_backward(dqkv.f.data(), dout.f.data(), qkv.f.data(), out.f.data(),
                                lse.f.data(), B, T, NH, NKV, HS, pos.data());
        test::expect_close(dqkv, 1e-4, 1e-4, "dqkv");
      }
}

TEST(Attention, PackedRefGradientCheck) {
  std::mt19937_64 rng(5);
  int B = 2, T = 6, NH = 4, NKV = 2, HS = 4;
  auto pos = test::packed_pos({{1, 3, 2}, {2, 1, 1, 2}});
  size_t QKV = (size_t)(NH + 2 * NKV) * HS;
  auto qkv = test::random_vec(rng, B * T * QKV), r = test::random_vec(rng, B * T * NH * HS);
  std::vector<double> out(B * T * NH * HS), lse(B * NH * T), dqkv(B * T * QKV);
  auto loss = [&] {
    ref::attention_forward(out.data(), lse.data(), qkv.data(), B, T, NH, NKV, HS, pos.data());
    return test::dot(out.data(), r.data(), out.size());
  };
  loss();
  ref::attention_backward(dqkv.data(), r.data(), qkv.data(), out.data(), lse.data(), B, T, NH, NKV,
                          HS, pos.data());
  EXPECT_LT(test::grad_check_error({qkv.data()}, {qkv.size()}, {dqkv.data()}, loss), 1e-6);
}

// rope + attention forward, then attention + rope backward, on (B,T) with pos (nullptr: pos0 = 0).
template <typename R, typename Rope, typename Fwd, typename Bwd>
void rope_attention(Rope rope, Fwd fwd, Bwd bwd, R* rotated, R* out, R* lse, R* dqkv, const R* dout,
                    int B, int T, int NH, int NKV, int HS, const int32_t* pos) {
  rope(rotated, B, T, NH, NKV, HS, (R)10000, 0, pos, false);
  fwd(out, lse, rotated, B, T, NH, NKV, HS, pos);
  bwd(dqkv, dout, rotated, out, lse, B, T, NH, NKV, HS, pos);
  rope(dqkv, B, T, NH, NKV, HS, (R)10000, 0, pos, true);
}

// The defining property: a packed row gives every document exactly what it gets alone (with
// rope positions restarting at 0), outputs, lse and the gradient of the pre-rope qkv.
template <typename R, typename Rope, typename Fwd, typename Bwd>
void check_packed_equals_separate(Rope rope, Fwd fwd, Bwd bwd, double tol, const char* what) {
  std::mt19937_64 rng(6);
  int B = 3, T = 150, NH = 4, NKV = 2, HS = 16;
  size_t QKV = (size_t)(NH + 2 * NKV) * HS, A = (size_t)NH * HS;
  auto pos = test::mixed_pos(rng, B, T);
  std::vector<R> qkv(B * T * QKV), dout(B * T * A), out(B * T * A), lse(B * NH * T),
      dqkv(B * T * QKV);
  std::normal_distribution<double> dist(0.0, 1.5);
  for (auto& x : qkv) x = (R)dist(rng);
  for (auto& x : dout) x = (R)dist(rng);
  std::vector<R> rotated = qkv;
  rope_attention(rope, fwd, bwd, rotated.data(), out.data(), lse.data(), dqkv.data(), dout.data(),
                 B, T, NH, NKV, HS, pos.data());
  auto docs = test::documents(pos, B, T);
  ASSERT_GT(docs.size(), 6u);
  for (const test::Doc& d : docs) {
    SCOPED_TRACE(std::string(what) + " document b=" + std::to_string(d.b) +
                 " t0=" + std::to_string(d.t0) + " len=" + std::to_string(d.len));
    auto q1 = test::take_rows(qkv.data(), T, QKV, d), do1 = test::take_rows(dout.data(), T, A, d);
    std::vector<R> o1(d.len * A), l1(NH * d.len), g1(d.len * QKV);
    rope_attention(rope, fwd, bwd, q1.data(), o1.data(), l1.data(), g1.data(), do1.data(), 1, d.len,
                   NH, NKV, HS, nullptr);
    std::vector<double> want_o(o1.begin(), o1.end()), want_g(g1.begin(), g1.end()), want_l;
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < d.len; t++) want_l.push_back(l1[(size_t)h * d.len + t]);
    auto got_o = test::take_rows(out.data(), T, A, d),
         got_g = test::take_rows(dqkv.data(), T, QKV, d);
    std::vector<R> got_l;
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < d.len; t++) got_l.push_back(lse[((size_t)d.b * NH + h) * T + d.t0 + t]);
    test::expect_close(got_o.data(), want_o.data(), want_o.size(), tol, tol, "out");
    test::expect_close(got_l.data(), want_l.data(), want_l.size(), tol, tol, "lse");
    test::expect_close(got_g.data(), want_g.data(), want_g.size(), tol, tol, "dqkv");
  }
}

TEST_P(AttentionIsa, PackedEqualsEachDocumentAlone) {
  auto rope_d = [](double* x, int B, int T, int NH, int NKV, int HS, double th, int p0,
                   const int32_t* pos, bool back) {
    back ? ref::rope_backward(x, B, T, NH, NKV, HS, th, p0, pos)
         : ref::rope_forward(x, B, T, NH, NKV, HS, th, p0, pos);
  };
  auto rope_f = [](float* x, int B, int T, int NH, int NKV, int HS, float th, int p0,
                   const int32_t* pos, bool back) {
    back ? cpu::rope_backward(x, B, T, NH, NKV, HS, th, p0, pos)
         : cpu::rope_forward(x, B, T, NH, NKV, HS, th, p0, pos);
  };
  auto fwd_d = [](auto... a) { ref::attention_forward(a...); };
  auto bwd_d = [](auto... a) { ref::attention_backward(a...); };
  auto fwd_f = [](auto... a) { cpu::attention_forward(a...); };
  auto bwd_f = [](auto... a) { cpu::attention_backward(a...); };
  // The ref sums the same terms in the same order either way; the cpu kernel's blocks fall
  // differently on a document at t0 > 0 than at 0 (float rounding of the online softmax).
  check_packed_equals_separate<double>(rope_d, fwd_d, bwd_d, 1e-12, "ref");
  check_packed_equals_separate<float>(rope_f, fwd_f, bwd_f, 2e-5, "cpu");
}

TEST_P(AttentionIsa, CpuPackedDocumentsAreIsolated) {
  // Changing one document's q, k, v changes no other document's out or dqkv, bit for bit (the
  // masked keys of a shared block must not leak, even through the running max).
  std::mt19937_64 rng(7);
  int B = 1, T = 140, NH = 4, NKV = 2, HS = 16;
  size_t QKV = (size_t)(NH + 2 * NKV) * HS, A = (size_t)NH * HS;
  auto pos = test::packed_pos({{20, 50, 1, 69}});
  Pair qkv(B * T * QKV), dout(B * T * A), out1(B * T * A), out2(B * T * A), lse(B * NH * T),
      d1(B * T * QKV), d2(B * T * QKV);
  qkv.fill(rng);
  dout.fill(rng);
  auto run = [&](Pair& o, Pair& d) {
    cpu::attention_forward(o.f.data(), lse.f.data(), qkv.f.data(), B, T, NH, NKV, HS, pos.data());
    cpu::attention_backward(d.f.data(), dout.f.data(), qkv.f.data(), o.f.data(), lse.f.data(), B, T,
                            NH, NKV, HS, pos.data());
  };
  run(out1, d1);
  for (size_t i = 20 * QKV; i < 70 * QKV; i++) qkv.f[i] += 30.0f;  // document 1 only
  run(out2, d2);
  for (int t = 0; t < T; t++) {
    if (t >= 20 && t < 70) continue;
    for (size_t i = 0; i < A; i++) ASSERT_EQ(out1.f[t * A + i], out2.f[t * A + i]) << t;
    for (size_t i = 0; i < QKV; i++) ASSERT_EQ(d1.f[t * QKV + i], d2.f[t * QKV + i]) << t;
  }
}

TEST_P(AttentionIsa, IdentityPosEqualsNoPos) {
  std::mt19937_64 rng(8);
  int B = 2, T = 97, NH = 6, NKV = 2, HS = 16;
  size_t QKV = (size_t)(NH + 2 * NKV) * HS, A = (size_t)NH * HS;
  std::vector<int32_t> pos = test::packed_pos({{T}, {T}});
  Pair qkv(B * T * QKV), dout(B * T * A), o1(B * T * A), o2(B * T * A), l1(B * NH * T),
      l2(B * NH * T), d1(B * T * QKV), d2(B * T * QKV);
  qkv.fill(rng);
  dout.fill(rng);
  for (const int32_t* p : {(const int32_t*)nullptr, (const int32_t*)pos.data()}) {
    Pair& o = p ? o2 : o1;
    Pair& l = p ? l2 : l1;
    Pair& d = p ? d2 : d1;
    cpu::attention_forward(o.f.data(), l.f.data(), qkv.f.data(), B, T, NH, NKV, HS, p);
    cpu::attention_backward(d.f.data(), dout.f.data(), qkv.f.data(), o.f.data(), l.f.data(), B, T,
                            NH, NKV, HS, p);
    ref::attention_forward(o.d.data(), l.d.data(), qkv.d.data(), B, T, NH, NKV, HS, p);
    ref::attention_backward(d.d.data(), dout.d.data(), qkv.d.data(), o.d.data(), l.d.data(), B, T,
                            NH, NKV, HS, p);
  }
  EXPECT_EQ(o1.f.vec(), o2.f.vec());
  EXPECT_EQ(l1.f.vec(), l2.f.vec());
  EXPECT_EQ(d1.f.vec(), d2.f.vec());
  EXPECT_EQ(o1.d.vec(), o2.d.vec());
  EXPECT_EQ(l1.d.vec(), l2.d.vec());
  EXPECT_EQ(d1.d.vec(), d2.d.vec());
}

TEST(Attention, CpuRejectsMalformedPos) {
  int T = 4, NH = 1, NKV = 1, HS = 8;
  std::vector<float> qkv(T * 3 * HS, 0.5f), out(T * HS), lse(T), dqkv(T * 3 * HS);
  for (std::vector<int32_t> pos :
       std::vector<std::vector<int32_t>>{{1, 2, 3, 4}, {0, 1, 3, 4}, {0, 1, -1, 0}, {0, 1, 1, 2}}) {
    EXPECT_THROW(
        cpu::attention_forward(out.data(), lse.data(), qkv.data(), 1, T, NH, NKV, HS, pos.data()),
        RuntimeError);
    EXPECT_THROW(cpu::attention_backward(dqkv.data(), out.data(), qkv.data(), out.data(),
                                         lse.data(), 1, T, NH, NKV, HS, pos.data()),
                 RuntimeError);
  }
  std::vector<int32_t> ok{0, 1, 0, 0};
  EXPECT_NO_THROW(
      cpu::attention_forward(out.data(), lse.data(), qkv.data(), 1, T, NH, NKV, HS, ok.data()));
}

// Finite differences through this path's own float forward (plain and packed rows, GQA, T not a
// multiple of the blocks), against its backward; then the same inputs run twice give the same
// bits (no dependence on scheduling at a fixed thread count).
TEST_P(AttentionIsa, CpuDirectionalGradientAndRepeatable) {
  std::mt19937_64 rng(31);
  for (Cfg c : {Cfg{2, 37, 4, 2, 32}, Cfg{1, 70, 3, 1, 16}, Cfg{1, 1, 2, 2, 64}})
    for (bool packed : {false, true}) {
      SCOPED_TRACE(name(c) + (packed ? " packed" : ""));
      auto [B, T, NH, NKV, HS] = c;
      const size_t QKV = (size_t)(NH + 2 * NKV) * HS, O = (size_t)B * T * NH * HS;
      std::vector<int32_t> pos = test::mixed_pos(rng, B, T);
      const int32_t* p = packed ? pos.data() : nullptr;
      std::vector<float> qkv(B * T * QKV), dout(O), out(O), lse((size_t)B * NH * T),
          dqkv(qkv.size());
      for (auto* v : {&qkv, &dout})
        for (auto& x : *v) x = (float)std::normal_distribution<double>(0.0, 1.0)(rng);
      cpu::attention_forward(out.data(), lse.data(), qkv.data(), B, T, NH, NKV, HS, p);
      cpu::attention_backward(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), B, T,
                              NH, NKV, HS, p);
      auto loss = [&] {
        std::vector<float> o(O), l(lse.size());
        cpu::attention_forward(o.data(), l.data(), qkv.data(), B, T, NH, NKV, HS, p);
        double s = 0.0;
        for (size_t i = 0; i < O; i++) s += (double)dout[i] * o[i];
        return s;
      };
      EXPECT_LT(test::directional_grad_error({&qkv}, {&dqkv}, loss, 7), 2e-3);
      std::vector<float> out2(O), lse2(lse.size()), dqkv2(dqkv.size());
      cpu::attention_forward(out2.data(), lse2.data(), qkv.data(), B, T, NH, NKV, HS, p);
      cpu::attention_backward(dqkv2.data(), dout.data(), qkv.data(), out2.data(), lse2.data(), B, T,
                              NH, NKV, HS, p);
      EXPECT_TRUE(out == out2 && lse == lse2 && dqkv == dqkv2) << "a repeated call differs";
    }
}

// The AVX-512 path against the AVX2 path on the same inputs: equal to float rounding.
TEST(Attention, Avx512MatchesAvx2) {
  if (backend::active_isa() < backend::Isa::avx512)
    GTEST_SKIP() << "no AVX-512 on this CPU (or LMFORGE_ISA caps it): one path only";
  std::mt19937_64 rng(32);
  const int B = 2, T = 100, NH = 6, NKV = 2, HS = 64;
  const size_t QKV = (size_t)(NH + 2 * NKV) * HS, O = (size_t)B * T * NH * HS;
  std::vector<float> qkv(B * T * QKV), dout(O);
  for (auto* v : {&qkv, &dout})
    for (auto& x : *v) x = (float)std::normal_distribution<double>(0.0, 1.5)(rng);
  std::vector<float> out[2], lse[2], dqkv[2];
  for (int k = 0; k < 2; k++) {
    backend::IsaCap cap(k == 0 ? backend::Isa::avx2 : backend::Isa::avx512);
    out[k].resize(O), lse[k].resize((size_t)B * NH * T), dqkv[k].resize(qkv.size());
    cpu::attention_forward(out[k].data(), lse[k].data(), qkv.data(), B, T, NH, NKV, HS);
    cpu::attention_backward(dqkv[k].data(), dout.data(), qkv.data(), out[k].data(), lse[k].data(),
                            B, T, NH, NKV, HS);
  }
  auto close = [](const std::vector<float>& a, const std::vector<float>& b, double tol) {
    for (size_t i = 0; i < a.size(); i++)
      if (!(std::abs(a[i] - b[i]) <= tol * (1.0 + std::abs(b[i])))) return false;
    return true;
  };
  EXPECT_TRUE(close(out[1], out[0], 1e-5));
  EXPECT_TRUE(close(lse[1], lse[0], 1e-6));
  EXPECT_TRUE(close(dqkv[1], dqkv[0], 1e-4));
}

INSTANTIATE_TEST_SUITE_P(Isa, AttentionIsa, LMFORGE_KERNEL_ISAS);

}  // namespace
}  // namespace lmforge
