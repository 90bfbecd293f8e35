// The ChatML renderer: ids equal the text template encoded with specials; the loss mask covers
// exactly the assistant contents and their <|im_end|> (never system/user text or headers), over
// several turns; a tokenizer without chat tokens still masks the right text; inference
// (ChatTemplate::encode) produces the training ids.
#include "lmforge/data/chat_render.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "lmforge/data/tokenizer_train.h"
#include "lmforge/infer/chat_template.h"

using namespace lmforge;

namespace {

Tokenizer make_tokenizer(std::vector<std::string> specials) {
  TokenizerTrainOptions o;
  o.vocab_size = 320;
  o.progress = false;
  o.threads = 1;
  o.specials = std::move(specials);
  std::vector<std::string> texts;
  for (int i = 0; i < 20; ++i)
    texts.push_back("user assistant system hello there, how are you? the answer is four.\n");
  return train_tokenizer_from_texts(texts, o);
}

// The decoded text of the masked tokens, with "|" where a masked run ends.
std::string masked_text(const Tokenizer& tok, const RenderedChat& r) {
  std::string out;
  for (size_t i = 0; i < r.ids.size(); ++i) {
    if (r.mask[i]) out += tok.decode(std::span<const int32_t>(&r.ids[i], 1));
    if (r.mask[i] && (i + 1 == r.ids.size() || !r.mask[i + 1])) out += "|";
  }
  return out;
}

const std::vector<ChatMessage> kMultiTurn = {{"system", "you are terse"},
                                             {"user", "hello there"},
                                             {"assistant", "hello, how are you?"},
                                             {"user", "the answer?"},
                                             {"assistant", "four."}};

}  // namespace

TEST(ChatRender, IdsMatchTheTextTemplate) {
  Tokenizer tok = make_tokenizer({"<|endoftext|>", "<|im_start|>", "<|im_end|>"});
  for (bool gen : {false, true}) {
    RenderedChat r = render_chat(tok, kMultiTurn, gen);
    ASSERT_EQ(r.ids.size(), r.mask.size());
    EXPECT_EQ(r.ids, tok.encode_with_special(render_chat_text(kMultiTurn, gen)));
  }
  EXPECT_EQ(render_chat_text({{"user", "a"}}, true),
            "<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatRender, MaskCoversAssistantTurnsOnly) {
  Tokenizer tok = make_tokenizer({"<|endoftext|>", "<|im_start|>", "<|im_end|>"});
  RenderedChat r = render_chat(tok, kMultiTurn, false);
  EXPECT_EQ(masked_text(tok, r), " hello, how are you?<|im_end|>| four.<|im_end|>|");
  // No system or user token is ever trained, whatever the turn order.
  RenderedChat u = render_chat(tok, {{"user", "hello there"}, {"assistant", "x"}}, false);
  int trained = 0;
  for (uint8_t m : u.mask) trained += m;
  EXPECT_EQ(masked_text(tok, u), " x<|im_end|>|");
  EXPECT_EQ(trained, int(tok.encode(" x").size()) + 1);  // " x" and <|im_end|>
  // The generation prompt is context.
  RenderedChat g = render_chat(tok, {{"user", "hi"}}, true);
  for (uint8_t m : g.mask) EXPECT_EQ(m, 0);
}

// A reply starts with the space the template writes, so its first word is the token that word
// is inside a sentence (" answer"), the one a model copies from the prompt or learned in
// pretraining, not the line-start form ("answer"); the reply's text is given back without it.
TEST(ChatRender, ReplyWordsAreTheTokensOfRunningText) {
  Tokenizer tok = make_tokenizer({"<|endoftext|>", "<|im_start|>", "<|im_end|>"});
  const std::vector<int32_t> word = tok.encode(" answer");
  ASSERT_EQ(word.size(), 1u);
  ASSERT_NE(tok.encode("answer"), word);  // the two forms are different tokens
  RenderedChat r =
      render_chat(tok, {{"user", "the answer is four"}, {"assistant", "answer"}}, false);
  std::vector<int32_t> reply;
  for (size_t i = 0; i < r.ids.size(); ++i)
    if (r.mask[i]) reply.push_back(r.ids[i]);
  ASSERT_EQ(reply.size(), 2u);  // " answer" <|im_end|>
  EXPECT_EQ(reply[0], word[0]);
  // The same id in the prompt, where the word follows a space.
  const std::vector<int32_t> prompt = tok.encode("the answer is four");
  EXPECT_NE(std::find(prompt.begin(), prompt.end(), word[0]), prompt.end());
  EXPECT_EQ(render_chat_text({{"assistant", "hi"}}, false),
            "<|im_start|>assistant\n hi<|im_end|>\n");
  EXPECT_EQ(strip_reply_prefix(" four."), "four.");
  EXPECT_EQ(strip_reply_prefix("four."), "four.");
  EXPECT_EQ(strip_reply_prefix("  two"), " two");  // only the template's one space
}

TEST(ChatRender, WithoutChatTokensMarkersAreText) {
  Tokenizer tok = make_tokenizer({"<|endoftext|>"});
  ASSERT_FALSE(tok.special_id("<|im_end|>"));
  RenderedChat r = render_chat(tok, kMultiTurn, false);
  EXPECT_EQ(masked_text(tok, r), " hello, how are you?<|im_end|>| four.<|im_end|>|");
  EXPECT_EQ(tok.decode(r.ids), render_chat_text(kMultiTurn, false));
}

TEST(ChatRender, InferenceEncodesLikeTraining) {
  Tokenizer tok = make_tokenizer({"<|endoftext|>", "<|im_start|>", "<|im_end|>"});
  ChatTemplate t;
  std::vector<ChatMessage> prompt(kMultiTurn.begin(), kMultiTurn.end() - 1);
  EXPECT_EQ(t.encode(tok, prompt, true), render_chat(tok, prompt, true).ids);
  // The prompt at inference is a prefix of the trained conversation.
  std::vector<int32_t> full = render_chat(tok, kMultiTurn, false).ids;
  std::vector<int32_t> p = t.encode(tok, prompt, true);
  ASSERT_LT(p.size(), full.size());
  EXPECT_TRUE(std::equal(p.begin(), p.end(), full.begin()));
}
