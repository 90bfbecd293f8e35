// Sampler, stop strings, UTF-8 release and the chat template, on hand-made logits and the tiny
// tokenizer: greedy is the argmax; a seed reproduces its draws and another seed differs; top-k 1,
// a tiny top-p and min-p 1 all reduce to greedy; the empirical distribution at temperature 1
// matches softmax; the repetition penalty demotes seen tokens; stop strings cut the text before
// the stop even when it spans tokens, and nothing that could start a stop is streamed early.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>

#include "lmforge/core/error.h"
#include "lmforge/data/chat_render.h"
#include "lmforge/infer/chat_template.h"
#include "lmforge/infer/generate.h"
#include "lmforge/infer/sampler.h"
#include "support/tiny_model.h"

namespace lmforge {
namespace {

std::vector<float> logits5() {
  return {1.0f, 3.0f, 2.5f, -1.0f, 3.0f};
}  // tie 1 vs 4

TEST(Sampler, GreedyAndDegenerateFilters) {
  auto z = logits5();
  SamplingParams p;
  p.temperature = 0.0f;
  EXPECT_EQ(Sampler(p).sample(z.data(), 5, {}), 1);  // lowest id among ties
  for (int variant = 0; variant < 3; ++variant) {
    SamplingParams q;
    q.seed = 5;
    if (variant == 0) q.top_k = 1;
    if (variant == 1) q.top_p = 1e-6f;
    if (variant == 2) q.min_p = 1.0f, z[4] = 2.9f;  // min-p keeps exact ties: break the tie
    Sampler s(q);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(s.sample(z.data(), 5, {}), 1) << "variant " << variant;
  }
}

TEST(Sampler, SeedReproducesAndDistributionMatches) {
  auto z = logits5();
  SamplingParams p;
  p.seed = 123;
  Sampler a(p), b(p);
  p.seed = 124;
  Sampler c(p);
  std::vector<int> counts(5);
  bool differs = false;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    int x = a.sample(z.data(), 5, {});
    EXPECT_EQ(x, b.sample(z.data(), 5, {}));
    differs |= x != c.sample(z.data(), 5, {});
    counts[x]++;
  }
  EXPECT_TRUE(differs);
  std::vector<double> want = softmax(z.data(), 5);
  for (int i = 0; i < 5; ++i)  // 4 sigma of a binomial at n = 20000 is below 0.015
    EXPECT_NEAR(counts[i] / double(n), want[i], 0.015) << "token " << i;
}

TEST(Sampler, TopKAndRepetitionPenalty) {
  auto z = logits5();
  SamplingParams p;
  p.top_k = 2;
  p.seed = 9;
  Sampler s(p);
  for (int i = 0; i < 200; ++i) {
    int x = s.sample(z.data(), 5, {});
    EXPECT_TRUE(x == 1 || x == 4) << x;
  }
  SamplingParams g;
  g.temperature = 0.0f;
  g.repetition_penalty = 2.0f;
  std::vector<int32_t> hist = {1, 4, 4};
  EXPECT_EQ(Sampler(g).sample(z.data(), 5, hist), 2);  // 3/2 < 2.5
  SamplingParams bad;
  bad.top_p = 0.0f;
  EXPECT_THROW(bad.validate(), UsageError);
  EXPECT_EQ(top_logprobs(z.data(), 5, 2)[0].first, 1);
  EXPECT_NEAR(token_logprob(z.data(), 5, 2), std::log(softmax(z.data(), 5)[2]), 1e-12);
}

TEST(Utf8, CompletePrefix) {
  EXPECT_EQ(utf8_complete_prefix("abc"), 3u);
  EXPECT_EQ(utf8_complete_prefix("a\xC3"), 1u);  // é cut after its lead byte
  EXPECT_EQ(utf8_complete_prefix("a\xC3\xA9"), 3u);
  EXPECT_EQ(utf8_complete_prefix("\xE2\x82"), 0u);  // € missing its last byte
  EXPECT_EQ(utf8_complete_prefix("x\xF0\x9F\x98\x80"), 5u);
}

// Drives a Sequence with logits that force a chosen token each step (so stop handling is tested
// on exact text, independent of any model).
struct Forced {
  Tokenizer tok = Tokenizer::load(test::tokenizer_dir());
  Transformer model{test::tiny_cfg("gpt2", tok.vocab_size())};
  InferenceModel infer{model};
  std::vector<std::string> run(const std::vector<int32_t>& script, std::vector<std::string> stop,
                               std::string* text, FinishReason* why) {
    GenerateRequest r;
    r.prompt = {0};
    r.max_tokens = (int)script.size();
    r.sampling.temperature = 0.0f;
    r.stop = std::move(stop);
    Sequence s(infer, tok, r);
    std::vector<std::string> pieces;
    std::vector<float> z(tok.vocab_size(), 0.0f);
    for (size_t i = 0; i < script.size() && !s.done(); ++i) {
      std::fill(z.begin(), z.end(), 0.0f);
      z[script[i]] = 10.0f;
      pieces.push_back(s.accept(z.data()));
    }
    *text = s.text();
    *why = s.finish_reason();
    return pieces;
  }
};

TEST(Stop, CutsBeforeStopAcrossTokensAndHoldsBackPrefixes) {
  Forced f;
  std::vector<int32_t> ids = f.tok.encode("Hello world. The end");
  std::string text;
  FinishReason why;
  auto pieces = f.run(ids, {"ld. T"}, &text, &why);
  EXPECT_EQ(text, "Hello wor");
  EXPECT_EQ(why, FinishReason::kStop);
  std::string joined;
  for (auto& p : pieces) joined += p;
  EXPECT_EQ(joined, text);  // the streamed pieces are exactly the final text: nothing retracted
  pieces = f.run(ids, {"zzz"}, &text, &why);
  EXPECT_EQ(text, "Hello world. The end");
  EXPECT_EQ(why, FinishReason::kLength);
}

TEST(ChatTemplate, ChatMLRenderAndOtherTemplatesRendered) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("lmforge-chat-" + std::to_string(getpid()));
  fs::create_directories(dir);
  ChatTemplate t = ChatTemplate::load(dir);  // no tokenizer_config.json: ChatML
  std::vector<ChatMessage> msgs = {{"system", "Be brief."}, {"user", "Hi"}};
  EXPECT_EQ(t.render(msgs, true),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
  std::ofstream(dir / "tokenizer_config.json")
      << R"({"chat_template": "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"})";
  // A ChatML-style template other than ours runs through the Jinja engine, to the same text.
  EXPECT_EQ(ChatTemplate::load(dir).name(), "jinja");
  EXPECT_EQ(ChatTemplate::load(dir).render(msgs, false), render_chat_text(msgs, false));
  std::ofstream(dir / "tokenizer_config.json")
      << R"({"chat_template": "{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}"})";
  EXPECT_EQ(ChatTemplate::load(dir).render(msgs, true),
            "[INST] Be brief. [/INST][INST] Hi [/INST]");
  Tokenizer tok = Tokenizer::load(test::tokenizer_dir());
  EXPECT_EQ(tok.decode(t.encode(tok, msgs, true)), t.render(msgs, true));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lmforge
