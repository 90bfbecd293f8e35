// Internals of Tokenizer shared by its source files (encode, load/save, training): the vocabulary
// tables, the merge table and the word cache. Not a public API: other layers use tokenizer.h.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lmforge/data/pretokenize.h"
#include "lmforge/data/tokenizer.h"

namespace lmforge {

// Open-addressing hash map from a token-id pair to (merge rank, merged id). Lookups sit on the
// hot path of encoding, where std::unordered_map's node chasing costs a measurable share.
class MergeTable {
 public:
  struct Entry {
    uint64_t key = kEmpty;
    int32_t rank = 0;
    int32_t id = 0;
  };
  static constexpr uint64_t kEmpty = ~0ull;
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  void build(const std::vector<std::pair<int32_t, int32_t>>& merges,
             const std::vector<int32_t>& merged_ids);
  // Returns nullptr when (a, b) is not a merge.
  const Entry* find(int32_t a, int32_t b) const {
    if (slots_.empty()) return nullptr;
    uint64_t k = key(a, b);
    size_t i = hash(k) & mask_;
    while (true) {
      const Entry& e = slots_[i];
      if (e.key == k) return &e;
      if (e.key == kEmpty) return nullptr;
      i = (i + 1) & mask_;
    }
  }

 private:
  static size_t hash(uint64_t k) { return (k * 0x9E3779B97F4A7C15ull) >> 20; }
  std::vector<Entry> slots_;
  size_t mask_ = 0;
};

// Fast non-cryptographic hash for short byte strings (8 bytes per multiply).
inline uint64_t hash_bytes(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  uint64_t w = 0;
  std::memcpy(&w, s.data() + i, s.size() - i);
  h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 29);
}

// Open-addressing map from the bytes of an ordinary (non-special) token to its id. Encoding looks
// up every piece here first: a piece that is itself a token is that token, as in tiktoken, and
// most pieces of ordinary text are (so most never reach the merge loop).
class TokenTable {
 public:
  void build(const std::vector<std::string>& vocab, const std::vector<bool>& skip);
  // -1 when bytes is not an ordinary token.
  int32_t find(std::string_view bytes) const {
    const uint64_t h = hash_bytes(bytes);
    size_t i = h & mask_;
    while (true) {
      const Slot& e = slots_[i];
      if (e.id < 0) return -1;
      if (e.hash == h && (*vocab_)[e.id] == bytes) return e.id;
      i = (i + 1) & mask_;
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    int32_t id = -1;
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  const std::vector<std::string>* vocab_ = nullptr;
};

struct Tokenizer::Impl {
  // id -> raw bytes, for every id (special tokens hold their text).
  std::vector<std::string> vocab;
  std::array<int32_t, 256> byte_id{};
  // Merges in rank order (rank = index) and the id each produces.
  std::vector<std::pair<int32_t, int32_t>> merges;
  std::vector<int32_t> merged_ids;
  MergeTable merge_table;
  TokenTable token_table;
  // Special tokens (text, id) in id order; only encode_with_special() recognizes them.
  std::vector<std::pair<std::string, int32_t>> specials;
  std::vector<bool> is_special;  // by id
  PreTokenizer pretokenizer{kGpt2SplitRegex};
  int64_t model_max_length = 1024;

  // Builds the derived tables (merge table, byte ids, special flags) and checks invariants.
  // `source` names the file in error messages.
  void finalize(const std::string& source);

  // BPE of one piece, appended to out: the token itself when the piece is one, else the merge
  // loop for short pieces and the heap for long ones (a run of 100k digits must not take
  // quadratic time).
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
  void encode_ordinary(std::string_view text, std::vector<int32_t>& out) const;
};

// Both BPE strategies, exposed so tests can check they agree. The result is exactly "merge the
// lowest-rank adjacent pair, the leftmost on ties, until none is left" (tiktoken and HF alike).
void bpe_merge_simple(const Tokenizer::Impl& t, std::string_view piece, std::vector<int32_t>& out);
void bpe_merge_heap(const Tokenizer::Impl& t, std::string_view piece, std::vector<int32_t>& out);

// The ChatML template written into tokenizer_config.json.
extern const char* const kChatMlTemplate;

}  // namespace lmforge
