// Reading and writing tokenizers: HF tokenizer.json (byte-level BPE), GPT-2's encoder.json +
// vocab.bpe, and tokenizer_config.json. Every malformed input becomes an InputError that names the
// file and the JSON field. Not here: encoding (tokenizer.cpp, bpe.cpp).
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "data/tokenizer_impl.h"
#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/data/byte_level.h"

namespace lmforge {
namespace fs = std::filesystem;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

namespace {

json parse_json_file(const fs::path& path) {
  std::string text = read_file(path);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    size_t byte = std::min<size_t>(e.byte, text.size());
    int64_t line = 1 + std::count(text.begin(), text.begin() + byte, '\n');
    throw InputError(path.string(), line, "", "not valid JSON",
                     "check the file is a complete JSON document");
  }
}

// Maps byte-level vocabulary strings to ids and fills impl.vocab; `added` (text -> id) may reuse
// ids of vocab entries and may hold text outside the byte-level alphabet.
std::unordered_map<std::string, int32_t> build_vocab(
    Tokenizer::Impl& impl, const json& vocab,
    const std::vector<std::pair<std::string, int32_t>>& added, const std::string& file,
    const std::string& field) {
  if (!vocab.is_object()) throw InputError(file, 0, field, "missing or not a JSON object");
  std::unordered_map<std::string, int32_t> str_to_id;
  std::map<int32_t, std::string> id_to_bytes;
  std::unordered_map<int32_t, std::string> added_by_id;
  for (auto& [text, id] : added) added_by_id[id] = text;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const std::string& key = it.key();
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > INT32_MAX)
      throw InputError(file, 0, field,
                       "the id of token '" + key + "' is not a non-negative integer");
    int32_t id = it.value().get<int32_t>();
    std::string bytes;
    auto a = added_by_id.find(id);
    if (a != added_by_id.end() && a->second == key) {
      bytes = key;
    } else if (auto b = byte_level_to_bytes(key)) {
      bytes = std::move(*b);
    } else {
      throw InputError(
          file, 0, field, "token '" + key + "' is not in GPT-2's byte-level form",
          "only byte-level BPE vocabularies (GPT-2, Llama 3, Qwen style) are supported");
    }
    auto [pos, fresh] = id_to_bytes.emplace(id, bytes);
    if (!fresh)
      throw InputError(file, 0, field, "id " + std::to_string(id) + " is used by two tokens");
    str_to_id.emplace(key, id);
  }
  for (auto& [text, id] : added) {
    auto it = id_to_bytes.find(id);
    if (it == id_to_bytes.end()) {
      id_to_bytes.emplace(id, text);
    } else if (it->second != text) {
      throw InputError(
          file, 0, "added_tokens",
          "id " + std::to_string(id) + " is '" + text + "' here but a different token in " + field);
    }
  }
  int32_t V = id_to_bytes.empty() ? 0 : id_to_bytes.rbegin()->first + 1;
  if (static_cast<size_t>(V) != id_to_bytes.size()) {
    int32_t expect = 0;
    for (auto& [id, b] : id_to_bytes) {
      if (id != expect) break;
      ++expect;
    }
    throw InputError(file, 0, field, "id " + std::to_string(expect) + " is missing",
                     "token ids must be 0..N-1 without gaps");
  }
  impl.vocab.resize(V);
  for (auto& [id, b] : id_to_bytes) impl.vocab[id] = std::move(b);
  return str_to_id;
}

void add_merge(Tokenizer::Impl& impl, const std::unordered_map<std::string, int32_t>& str_to_id,
               const std::string& a, const std::string& b, const std::string& file,
               const std::string& field) {
  auto find = [&](const std::string& s) {
    auto it = str_to_id.find(s);
    if (it == str_to_id.end())
      throw InputError(file, 0, field, "token '" + s + "' is not in the vocabulary");
    return it->second;
  };
  int32_t ia = find(a), ib = find(b), ic = find(a + b);
  impl.merges.emplace_back(ia, ib);
  impl.merged_ids.push_back(ic);
}

// obj[key] as a string / bool, the fallback when absent or null; InputError naming file and
// field when it has another type (json::value() would throw a bare type_error.302).
std::string str_or(const json& obj, const char* key, const std::string& fallback,
                   const std::string& file, const std::string& field) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return fallback;
  if (!obj[key].is_string())
    throw InputError(file, 0, field + "." + key,
                     std::string("expected a string, got ") + obj[key].type_name());
  return obj[key].get<std::string>();
}

bool bool_or(const json& obj, const char* key, bool fallback, const std::string& file,
             const std::string& field) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return fallback;
  if (!obj[key].is_boolean())
    throw InputError(file, 0, field + "." + key,
                     std::string("expected true or false, got ") + obj[key].type_name());
  return obj[key].get<bool>();
}

struct SplitRegex {
  std::string regex, field;  // field: where it was read ("" for ByteLevel's built-in one)
};

SplitRegex parse_pre_tokenizer(const json& pt, const std::string& file) {
  auto check_byte_level = [&](const json& bl, const std::string& field) {
    if (bool_or(bl, "add_prefix_space", false, file, field))
      throw InputError(file, 0, field + ".add_prefix_space", "true is not supported",
                       "lmforge never adds a prefix space; write false");
  };
  const std::string type = str_or(pt, "type", "", file, "pre_tokenizer");
  if (type == "ByteLevel") {
    check_byte_level(pt, "pre_tokenizer");
    if (!bool_or(pt, "use_regex", true, file, "pre_tokenizer"))
      throw InputError(file, 0, "pre_tokenizer.use_regex", "false without a Split before it",
                       "byte-level BPE needs a split regex");
    return {kGpt2SplitRegex, ""};
  }
  if (type == "Sequence" && pt.contains("pretokenizers") && pt["pretokenizers"].is_array() &&
      pt["pretokenizers"].size() == 2) {
    const json& split = pt["pretokenizers"][0];
    const json& bl = pt["pretokenizers"][1];
    const std::string f = "pre_tokenizer.pretokenizers[0]", fb = "pre_tokenizer.pretokenizers[1]";
    if (str_or(split, "type", "", file, f) == "Split" &&
        str_or(bl, "type", "", file, fb) == "ByteLevel") {
      if (!split.contains("pattern") || !split["pattern"].is_object() ||
          !split["pattern"].contains("Regex") || !split["pattern"]["Regex"].is_string())
        throw InputError(file, 0, f + ".pattern", "expected {\"Regex\": \"...\"}");
      if (str_or(split, "behavior", "Isolated", file, f) != "Isolated" ||
          bool_or(split, "invert", false, file, f))
        throw InputError(file, 0, f + ".behavior", "only Isolated, not inverted, is supported");
      check_byte_level(bl, fb);
      if (bool_or(bl, "use_regex", true, file, fb))
        throw InputError(file, 0, fb + ".use_regex", "true after a Split is not supported",
                         "write false");
      return {split["pattern"]["Regex"].get<std::string>(), f + ".pattern.Regex"};
    }
  }
  throw InputError(file, 0, "pre_tokenizer", "unsupported pre-tokenizer",
                   "expected ByteLevel, or Sequence [Split (Regex), ByteLevel (use_regex false)]");
}

std::unique_ptr<Tokenizer::Impl> load_hf(const fs::path& path) {
  const std::string file = path.string();
  json root = parse_json_file(path);
  if (!root.is_object()) throw InputError(file, 0, "", "the top level is not a JSON object");
  auto impl = std::make_unique<Tokenizer::Impl>();
  if (!root.contains("model") || !root["model"].is_object())
    throw InputError(file, 0, "model", "missing or not a JSON object");
  const json& model = root["model"];
  if (str_or(model, "type", "BPE", file, "model") != "BPE")
    throw InputError(file, 0, "model.type", "unsupported model type " + model["type"].dump(),
                     "only BPE is supported");
  if (root.contains("normalizer") && !root["normalizer"].is_null())
    throw InputError(file, 0, "normalizer", "normalizers are not supported", "write null");

  std::vector<std::pair<std::string, int32_t>> added;
  if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
    if (!root["added_tokens"].is_array())
      throw InputError(file, 0, "added_tokens", "not a JSON array");
    size_t i = 0;
    for (const json& t : root["added_tokens"]) {
      std::string f = "added_tokens[" + std::to_string(i++) + "]";
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() ||
          t["id"].get<int64_t>() < 0 || t["id"].get<int64_t>() > INT32_MAX ||
          !t.contains("content") || !t["content"].is_string())
        throw InputError(file, 0, f, "expected {\"id\": integer >= 0, \"content\": string}");
      added.emplace_back(t["content"].get<std::string>(), t["id"].get<int32_t>());
    }
  }
  if (!model.contains("vocab")) throw InputError(file, 0, "model.vocab", "missing");
  auto str_to_id = build_vocab(*impl, model["vocab"], added, file, "model.vocab");
  if (!model.contains("merges") || !model["merges"].is_array())
    throw InputError(file, 0, "model.merges", "missing or not a JSON array");
  size_t i = 0;
  for (const json& m : model["merges"]) {
    std::string f = "model.merges[" + std::to_string(i++) + "]";
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 >= s.size() ||
          s.find(' ', sp + 1) != std::string::npos)
        throw InputError(file, 0, f,
                         "expected \"LEFT RIGHT\" (two tokens, one space), got \"" + s + "\"");
      add_merge(*impl, str_to_id, s.substr(0, sp), s.substr(sp + 1), file, f);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      add_merge(*impl, str_to_id, m[0].get<std::string>(), m[1].get<std::string>(), file, f);
    } else {
      throw InputError(file, 0, f, "expected \"LEFT RIGHT\" or [\"LEFT\", \"RIGHT\"]");
    }
  }
  if (!root.contains("pre_tokenizer"))
    throw InputError(file, 0, "pre_tokenizer", "missing", "byte-level BPE needs a pre-tokenizer");
  const SplitRegex split = parse_pre_tokenizer(root["pre_tokenizer"], file);
  try {
    impl->pretokenizer = PreTokenizer(split.regex);
  } catch (const RuntimeError& e) {
    throw InputError(file, 0, split.field, e.what(), "the split pattern must be a PCRE2 regex");
  }
  impl->specials = std::move(added);
  std::sort(impl->specials.begin(), impl->specials.end(),
            [](auto& a, auto& b) { return a.second < b.second; });
  impl->finalize(file);
  return impl;
}

std::unique_ptr<Tokenizer::Impl> load_gpt2(const fs::path& dir) {
  const fs::path enc_path = dir / "encoder.json", bpe_path = dir / "vocab.bpe";
  const std::string enc_file = enc_path.string(), bpe_file = bpe_path.string();
  json enc = parse_json_file(enc_path);
  auto impl = std::make_unique<Tokenizer::Impl>();
  std::vector<std::pair<std::string, int32_t>> added;
  if (enc.is_object() && enc.contains("<|endoftext|>") && enc["<|endoftext|>"].is_number_integer())
    added.emplace_back("<|endoftext|>", enc["<|endoftext|>"].get<int32_t>());
  auto str_to_id = build_vocab(*impl, enc, added, enc_file, "(top level)");
  std::string text = read_file(bpe_path);
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    size_t sp = line.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 >= line.size() ||
        line.find(' ', sp + 1) != std::string::npos)
      throw InputError(bpe_file, line_no, "merge", "expected \"LEFT RIGHT\", got \"" + line + "\"");
    try {
      add_merge(*impl, str_to_id, line.substr(0, sp), line.substr(sp + 1), bpe_file, "merge");
    } catch (const InputError& e) {
      throw InputError(bpe_file, line_no, "merge", e.message());
    }
  }
  impl->specials = std::move(added);
  impl->finalize(enc_file);
  return impl;
}

void read_config(Tokenizer::Impl& impl, const fs::path& path) {
  if (!fs::exists(path)) return;
  json cfg = parse_json_file(path);
  if (cfg.is_object() && cfg.contains("model_max_length") &&
      cfg["model_max_length"].is_number_integer())
    impl.model_max_length = cfg["model_max_length"].get<int64_t>();
}

// Runs a loader; a JSON access this file does not check itself (a bug) still becomes an InputError
// naming the file rather than a bare json exception.
template <class F>
auto named_json_errors(const fs::path& file, F&& load) {
  try {
    return load();
  } catch (const json::exception& e) {
    throw InputError(file.string(), 0, "", std::string("unexpected JSON content: ") + e.what());
  }
}

}  // namespace

Tokenizer Tokenizer::load(const fs::path& where) {
  const bool direct = fs::is_regular_file(where);  // a tokenizer.json given directly
  if (direct || fs::exists(where / "tokenizer.json")) {
    const fs::path file = direct ? where : where / "tokenizer.json";
    const fs::path cfg = (direct ? where.parent_path() : where) / "tokenizer_config.json";
    auto impl = named_json_errors(file, [&] { return load_hf(file); });
    named_json_errors(cfg, [&] {
      read_config(*impl, cfg);
      return 0;
    });
    return Tokenizer(std::move(impl));
  }
  if (fs::exists(where / "encoder.json") && fs::exists(where / "vocab.bpe"))
    return Tokenizer(named_json_errors(where / "encoder.json", [&] { return load_gpt2(where); }));
  throw InputError(where.string(), 0, "",
                   fs::is_directory(where)
                       ? "holds neither tokenizer.json nor encoder.json + vocab.bpe"
                       : "no such directory",
                   "pass a directory written by `lmforge tokenizer train` or a model directory");
}

void Tokenizer::save(const fs::path& dir) const {
  const Impl& t = *impl_;
  ordered_json root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  ordered_json added = ordered_json::array();
  for (auto& [text, id] : t.specials) {
    added.push_back({{"id", id},
                     {"content", text},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  root["added_tokens"] = added;
  root["normalizer"] = nullptr;
  ordered_json split = {{"type", "Split"},
                        {"pattern", {{"Regex", t.pretokenizer.regex()}}},
                        {"behavior", "Isolated"},
                        {"invert", false}};
  ordered_json byte_level = {{"type", "ByteLevel"},
                             {"add_prefix_space", false},
                             {"trim_offsets", true},
                             {"use_regex", false}};
  root["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {split, byte_level}}};
  root["post_processor"] = nullptr;
  root["decoder"] = {{"type", "ByteLevel"},
                     {"add_prefix_space", true},
                     {"trim_offsets", true},
                     {"use_regex", true}};
  // ordered_json's operator[] searches its key list linearly (quadratic for a 50k vocabulary:
  // ~8 s); the keys are unique token strings, so append to the underlying vector directly.
  ordered_json vocab = ordered_json::object();
  auto& entries =
      static_cast<ordered_json::object_t::Container&>(vocab.get_ref<ordered_json::object_t&>());
  entries.reserve(t.vocab.size());
  for (size_t id = 0; id < t.vocab.size(); ++id) {
    entries.emplace_back(t.is_special[id] ? t.vocab[id] : bytes_to_byte_level(t.vocab[id]),
                         ordered_json(id));
  }
  ordered_json merges = ordered_json::array();
  for (auto& [a, b] : t.merges)
    merges.push_back(bytes_to_byte_level(t.vocab[a]) + " " + bytes_to_byte_level(t.vocab[b]));
  root["model"] = {{"type", "BPE"},
                   {"dropout", nullptr},
                   {"unk_token", nullptr},
                   {"continuing_subword_prefix", nullptr},
                   {"end_of_word_suffix", nullptr},
                   {"fuse_unk", false},
                   {"byte_fallback", false},
                   {"ignore_merges", false},
                   {"vocab", vocab},
                   {"merges", merges}};

  ordered_json cfg;
  cfg["add_bos_token"] = false;
  cfg["add_prefix_space"] = false;
  ordered_json decoder = ordered_json::object();
  for (auto& [text, id] : t.specials)
    decoder[std::to_string(id)] = {{"content", text}, {"lstrip", false},      {"normalized", false},
                                   {"rstrip", false}, {"single_word", false}, {"special", true}};
  cfg["added_tokens_decoder"] = decoder;
  if (special_id("<|endoftext|>")) {
    cfg["bos_token"] = "<|endoftext|>";
    cfg["eos_token"] = "<|endoftext|>";
    cfg["unk_token"] = "<|endoftext|>";
  }
  if (special_id("<|im_start|>") && special_id("<|im_end|>"))
    cfg["chat_template"] = kChatMlTemplate;
  cfg["clean_up_tokenization_spaces"] = false;
  cfg["model_max_length"] = t.model_max_length;
  cfg["tokenizer_class"] = "PreTrainedTokenizerFast";

  fs::create_directories(dir);
  write_file_atomic(dir / "tokenizer.json", root.dump(2) + "\n");
  write_file_atomic(dir / "tokenizer_config.json", cfg.dump(2) + "\n");
}

}  // namespace lmforge
