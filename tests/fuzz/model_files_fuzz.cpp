// libFuzzer target for the two JSON files every model directory brings: config.json
// (ModelConfig::from_hf_json) and tokenizer.json (Tokenizer::load). The first byte chooses: 't'
// loads the rest as tokenizer.json (written to a scratch directory, then a short text is encoded
// and decoded with it), anything else parses the rest as config.json. Every input must be accepted
// or refused with an InputError naming the file; a crash, a sanitizer report, another exception
// type (a bare nlohmann::json type_error included) or a hang is a bug. Encoding may also end in a
// RuntimeError (PCRE2 refusing to match a pathological split regex), which is its documented error.
// Not a unit test: tests/fuzz/fuzz.cmake builds it with clang -fsanitize=fuzzer,address.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "lmforge/core/error.h"
#include "lmforge/data/tokenizer.h"
#include "lmforge/model/config.h"

namespace {
const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() /
             ("lmforge-fuzz-model-files-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] != 't') {
    const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded()) return 0;  // Transformer::load reports invalid JSON itself
    try {
      lmforge::ModelConfig c = lmforge::ModelConfig::from_hf_json(j, "config.json");
      if (c.num_params() < 0) std::abort();
      (void)c.to_hf_json().dump();
    } catch (const lmforge::InputError&) {
    }
    return 0;
  }
  {
    std::ofstream f(scratch() / "tokenizer.json", std::ios::binary | std::ios::trunc);
    f.write(body.data(), static_cast<std::streamsize>(body.size()));
  }
  try {
    lmforge::Tokenizer tok = lmforge::Tokenizer::load(scratch());
    try {
      const auto ids = tok.encode_with_special("Hello, world! 123 <|endoftext|> é\n");
      for (int32_t id : ids)
        if (id < 0 || id >= tok.vocab_size()) std::abort();
      (void)tok.decode(ids);
    } catch (const lmforge::RuntimeError&) {
    }
  } catch (const lmforge::InputError&) {
  }
  return 0;
}
