// Test helper for the reward model and DPO tests: a tiny word-level world where the preferred
// behaviour is a rule (answers that contain the target word "please" beat ones that do not), a
// tokenizer trained on it, a tiny GPT-2 model directory, and rankings JSONL writers.
// Not a substitute for human preferences: it only proves that the stages learn a stated rule.
#pragma once
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lmforge/core/rng.h"
#include "lmforge/data/tokenizer.h"
#include "lmforge/data/tokenizer_train.h"
#include "lmforge/model/transformer.h"
#include "support/tiny_corpus.h"

namespace lmforge::rlhf_test {

inline const char* kTarget = "please";
inline const std::vector<std::string> kWords = {"the", "cat",  "dog",  "sees", "likes", "a",
                                                "red", "ball", "fish", "moon", "eats",  "book"};
inline const std::vector<std::string> kTopics = {"cats",  "dogs",  "the moon", "fish",
                                                 "books", "balls", "birds",    "bread"};

std::string prompt_for(Rng& rng);

// A short answer of random words with `n_target` copies of the target word at random places.
std::string answer(Rng& rng, int n_target);

// One ranking line: K = 2 (with / without the word) or K = 3 (two, one, none), best first.
nlohmann::json ranking(Rng& rng);

std::filesystem::path write_rankings(const std::filesystem::path& file, int n, uint64_t seed);

Tokenizer world_tokenizer();

ModelConfig tiny_config(int vocab);

// A model directory with random weights and the world's tokenizer.
std::filesystem::path write_tiny_model(const std::filesystem::path& dir, uint64_t seed);

int count_target(const std::string& text);

}  // namespace lmforge::rlhf_test
