// Causal GQA attention: the flash-style cpu kernel vs the naive double oracle (a full T×T
// softmax per row) for every head layout and odd T (crossing the 32-query / 64-key blocks), lse
// included; gradient check of the ref backward; the cpu backward vs the ref backward; causality
// (a future key changes nothing); dqkv fully overwritten (starts as garbage).
#include "backend/kernel_test_util.h"
#include "lmforge/backend/kernels.h"
#include "lmforge/core/error.h"

namespace lmforge {
namespace {
using test::Pair;

struct Cfg {
  int B, T, NH, NKV, HS;
};
std::string name(const Cfg& c) {
  return "B=" + std::to_string(c.B) + " T=" + std::to_string(c.T) + " NH=" + std::to_string(c.NH) +
         " NKV=" + std::to_string(c.NKV) + " HS=" + std::to_string(c.HS);
}

TEST(Attention, FlashCpuVsNaiveRef) {
  std::mt19937_64 rng(1);
  std::vector<Cfg> cfgs;
  for (auto [NH, NKV] : {std::pair{4, 4}, {4, 2}, {6, 1}})
    for (int HS : {8, 12, 16, 64})  // 12: the generic (non-vector-register) path
      for (int T : {1, 31, 33, 257}) {
        if (T == 257 && HS != 64) continue;  // keep the double oracle's O(T²) cost in check
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

TEST(Attention, LseIsLogSumExpOfScores) {
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

TEST(Attention, CpuIsCausal) {
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

}  // namespace
}  // namespace lmforge
