// Test helper: a tiny, learnable synthetic corpus (sentences from a small grammar) turned into a
// prepared data directory (tokenizer.json, shards, manifest.json) through the data library, so
// trainer tests do not depend on the `prepare` command. Not a substitute for real text.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lmforge/core/rng.h"
#include "lmforge/data/shard.h"
#include "lmforge/data/token_dataset.h"
#include "lmforge/data/tokenizer.h"
#include "lmforge/data/tokenizer_train.h"

namespace lmforge::test_data {

std::filesystem::path temp_dir(const std::string& name);

// A training run's RUN/metrics.jsonl, one JSON object per line.
std::vector<nlohmann::json> read_metrics(const std::filesystem::path& run);

std::vector<std::string> tiny_documents(int n, uint64_t seed);

Tokenizer tiny_tokenizer(const std::vector<std::string>& docs, int vocab);

// Writes a prepared data directory: every 10th document goes to val. Returns the manifest.
DataManifest write_tiny_data(const std::filesystem::path& dir, const Tokenizer& tok,
                             const std::vector<std::string>& docs);

}  // namespace lmforge::test_data
