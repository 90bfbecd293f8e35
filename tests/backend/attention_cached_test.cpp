// Cached attention (kernels_infer.h): the cpu kernel vs the naive double oracle at odd shapes
// with rows of several sequences at different positions (a batched decode step plus a prefill
// chunk); and both equal the full causal attention of kernels.h when the cache holds the same
// keys and values (so a KV-cached forward can only differ from the training forward by rounding).
#include "backend/kernel_test_util.h"
#include "lmforge/backend/kernels.h"
#include "lmforge/backend/kernels_infer.h"

namespace lmforge {
namespace {
using test::Pair;

TEST(AttentionCached, CpuVsRefMixedRows) {
  std::mt19937_64 rng(3);
  for (auto [NH, NKV] : {std::pair{4, 4}, {4, 2}, {6, 1}, {3, 3}})
    for (int HS : {8, 16, 33, 64}) {  // 33: vector tails
      SCOPED_TRACE("NH=" + std::to_string(NH) + " NKV=" + std::to_string(NKV) +
                   " HS=" + std::to_string(HS));
      const int maxT = 37, S = 3;  // three sequences, each with its own cache
      // Rows: seq 0 decodes at 0, seq 1 decodes at 36 (cache full), seq 2 a chunk at 5..17.
      std::vector<int32_t> pos = {0, 36};
      std::vector<int> seq = {0, 1};
      for (int t = 5; t <= 17; t++) pos.push_back(t), seq.push_back(2);
      const int N = (int)pos.size(), ldq = (NH + 3) * HS;  // q rows strided, as inside qkv
      const size_t cache = (size_t)NKV * maxT * HS;
      Pair q((size_t)N * ldq), out((size_t)N * NH * HS), kc(S * cache), vc(S * cache);
      q.fill(rng, 1.5);
      kc.fill(rng);
      vc.fill(rng);
      out.fill(rng);  // garbage: must be overwritten
      std::vector<const double*> kd, vd;
      std::vector<const float*> kf, vf;
      for (int r = 0; r < N; r++) {
        kd.push_back(kc.d.data() + seq[r] * cache), vd.push_back(vc.d.data() + seq[r] * cache);
        kf.push_back(kc.f.data() + seq[r] * cache), vf.push_back(vc.f.data() + seq[r] * cache);
      }
      ref::attention_cached_forward(out.d.data(), q.d.data(), ldq, kd.data(), vd.data(), pos.data(),
                                    N, NH, NKV, HS, maxT);
      cpu::attention_cached_forward(out.f.data(), q.f.data(), ldq, kf.data(), vf.data(), pos.data(),
                                    N, NH, NKV, HS, maxT);
      test::expect_close(out, 2e-5, 1e-4, "out");
      EXPECT_TRUE(out.guards_intact() && q.guards_intact() && kc.guards_intact());
    }
}

// The cache filled from a (1,T,QKV) buffer reproduces kernels.h's causal attention exactly in
// meaning: row t at pos t sees keys 0..t.
TEST(AttentionCached, EqualsFullCausalAttention) {
  std::mt19937_64 rng(5);
  const int T = 33, NH = 4, NKV = 2, HS = 16, QKV = (NH + 2 * NKV) * HS, maxT = 40;
  Pair qkv((size_t)T * QKV), full((size_t)T * NH * HS), lse((size_t)NH * T),
      cached((size_t)T * NH * HS), kc((size_t)NKV * maxT * HS), vc((size_t)NKV * maxT * HS);
  qkv.fill(rng, 1.5);
  kc.fill(rng);  // positions >= T stay random: never read
  vc.fill(rng);
  for (int t = 0; t < T; t++)
    for (int h = 0; h < NKV; h++)
      for (int i = 0; i < HS; i++) {
        const size_t c = ((size_t)h * maxT + t) * HS + i;
        kc.d[c] = qkv.d[(size_t)t * QKV + (NH + h) * HS + i];
        vc.d[c] = qkv.d[(size_t)t * QKV + (NH + NKV + h) * HS + i];
        kc.f[c] = (float)kc.d[c], vc.f[c] = (float)vc.d[c];
      }
  std::vector<int32_t> pos(T);
  for (int t = 0; t < T; t++) pos[t] = t;
  std::vector<const double*> kd(T, kc.d.data()), vd(T, vc.d.data());
  std::vector<const float*> kf(T, kc.f.data()), vf(T, vc.f.data());
  ref::attention_forward(full.d.data(), lse.d.data(), qkv.d.data(), 1, T, NH, NKV, HS);
  ref::attention_cached_forward(cached.d.data(), qkv.d.data(), QKV, kd.data(), vd.data(),
                                pos.data(), T, NH, NKV, HS, maxT);
  cpu::attention_cached_forward(cached.f.data(), qkv.f.data(), QKV, kf.data(), vf.data(),
                                pos.data(), T, NH, NKV, HS, maxT);
  for (size_t i = 0; i < full.d.size(); i++) {
    ASSERT_NEAR(cached.d[i], full.d[i], 1e-12) << "ref cached vs ref full at " << i;
    ASSERT_NEAR(cached.f[i], full.d[i], 1e-4) << "cpu cached vs ref full at " << i;
  }
}

}  // namespace
}  // namespace lmforge
