// The SFT fixture of support/train/sft_model.h.
#include "support/train/sft_model.h"

#include <algorithm>
#include <vector>

#include "lmforge/core/rng.h"
#include "lmforge/data/tokenizer.h"
#include "lmforge/model/transformer.h"
#include "lmforge/train/optimizer.h"
#include "lmforge/train/reward_data.h"
#include "lmforge/train/trainer.h"
#include "support/reward_fixture.h"

namespace lmforge::rlhf_test {

std::filesystem::path write_sft_model(const std::filesystem::path& dir) {
  std::filesystem::path base = rlhf_test::write_tiny_model(dir / "base", 5);
  Tokenizer tok = Tokenizer::load(base);
  ResponseRenderer rr(tok);
  Transformer m = Transformer::load(base);
  AdamWConfig ac;
  ac.weight_decay = 0;
  AdamW opt(ac, param_segments(m), m.params().numel());
  Rng rng(17);
  const int B = 8, T = 40;
  std::vector<int32_t> ids(size_t(B) * T), tg(ids.size());
  for (int step = 0; step < 250; ++step) {
    std::fill(ids.begin(), ids.end(), 0);
    std::fill(tg.begin(), tg.end(), -1);
    for (int b = 0; b < B; ++b) {
      std::vector<int32_t> p = rr.prompt_ids(rlhf_test::prompt_for(rng));
      std::vector<int32_t> a = rr.response_ids(rlhf_test::answer(rng, rng.uniform() < 0.3));
      std::vector<int32_t> row = p;
      row.insert(row.end(), a.begin(), a.end());
      for (size_t t = 0; t < row.size() && t < size_t(T); ++t) ids[size_t(b) * T + t] = row[t];
      for (size_t t = p.size() - 1; t + 1 < row.size() && t + 1 < size_t(T); ++t)
        tg[size_t(b) * T + t] = row[t + 1];
    }
    m.zero_grad();
    m.forward(ids.data(), tg.data(), B, T);
    m.backward();
    opt.update(m.params().data(), m.grads().data(), 3e-3f);
  }
  std::filesystem::path sft = dir / "sft";
  std::filesystem::create_directories(sft);
  m.save(sft);
  tok.save(sft);
  return sft;
}

}  // namespace lmforge::rlhf_test
