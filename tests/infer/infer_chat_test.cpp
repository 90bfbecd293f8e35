// ChatSession: a reply computed on a KV cache carried over from earlier turns equals the greedy
// reply computed from scratch on the same rendered conversation; a small context drops the oldest
// turns with a notice and keeps the system message; a message too long for the context is refused
// with a notice, never a crash.
#include <gtest/gtest.h>

#include "lmforge/data/chat_render.h"
#include "lmforge/infer/chat_session.h"
#include "support/tiny_model.h"

namespace lmforge {
namespace {

TEST(ChatSession, CacheReuseEqualsScratchAndContextIsManaged) {
  Tokenizer tok = Tokenizer::load(test::tokenizer_dir());
  ModelConfig cfg = test::tiny_cfg("llama", tok.vocab_size(), 2, true);
  cfg.n_ctx = 256;
  Transformer model = test::make_model(cfg, 5);
  const auto dir = test::save_model_dir(model, "chat");
  auto m = LoadedModel::load(dir);
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  ChatSession chat(*m, "Be brief.", 12, greedy);
  std::vector<std::string> notices;
  auto note = [&](const std::string& n) { notices.push_back(n); };
  auto r1 = chat.send("Hello there", nullptr, note);
  EXPECT_EQ(r1.reused_tokens, 0);
  std::string streamed;
  auto r2 = chat.send(
      "And then?", [&](const std::string& p) { streamed += p; }, note);
  EXPECT_GT(r2.reused_tokens, 20) << "the second turn reuses the first turn's cache";
  EXPECT_EQ(streamed, r2.text);

  // From scratch: the same conversation up to the second user message, no cache.
  std::vector<ChatMessage> h(chat.history().begin(), chat.history().end() - 1);
  ChatTemplate t = m->chat_template();
  GenerateRequest g;
  g.prompt = t.encode(m->tokenizer, h, true);
  g.max_tokens = 12;
  g.sampling = greedy;
  g.stop = {t.end_of_turn()};
  Sequence s(*m->infer, m->tokenizer, g);
  Sequence* one = &s;
  while (!s.done()) step(*m->infer, {&one, 1});
  // The reply is given back without the space ChatML writes before it.
  ASSERT_TRUE(t.reply_has_prefix_space());
  EXPECT_EQ(strip_reply_prefix(s.text()), r2.text);
  EXPECT_TRUE(notices.empty());

  for (int i = 0; i < 6; ++i)
    chat.send("Tell me more about item " + std::to_string(i), nullptr, note);
  EXPECT_FALSE(notices.empty()) << "a 256-token context must have dropped turns";
  EXPECT_EQ(chat.history().front().role, "system");
  auto r = chat.send(std::string(3000, 'x'), nullptr, note);
  EXPECT_EQ(r.finish, FinishReason::kNone);
  EXPECT_NE(notices.back().find("too long"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lmforge
