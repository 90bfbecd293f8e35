// Test fixture of the RLHF stage tests (DPO, PPO): a small "SFT" model of the reward world
// (support/reward_fixture.h) that answers prompts and says the target word in about a third of
// its answers, trained here by a plain supervised pass (Transformer forward/backward + AdamW, loss
// on the answer tokens only). In tests/support/train/ because it needs the train layer: only the
// tests of train and above link it (lmforge_test_support_train).
#pragma once
#include <filesystem>

namespace lmforge::rlhf_test {

// Writes the SFT model directory (model + the world's tokenizer) to dir/sft, from a tiny random
// model in dir/base; returns dir/sft.
std::filesystem::path write_sft_model(const std::filesystem::path& dir);

}  // namespace lmforge::rlhf_test
