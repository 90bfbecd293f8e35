// Chat templates for inference: loading tokenizer_config.json, rendering through the Jinja engine
// (or data/chat_render.h for ChatML), encoding with the content/marker rule, and choosing the
// end-of-turn text and stop ids. See chat_template.h.
#include "lmforge/infer/chat_template.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/data/chat_render.h"

namespace lmforge {
namespace {

// End-of-turn specials of the families people use, most specific first.
const char* const kEndMarkers[] = {
    "<|im_end|>", "<|eot_id|>",    "<|end|>",        "<end_of_turn>", "<｜end▁of▁sentence｜>",
    "</s>",       "<|endoftext|>", "<|end_of_text|>"};

// bos_token / eos_token: a string, or an AddedToken object {"content": ...}, or null.
std::string token_text(const nlohmann::json& j, const std::string& key) {
  if (!j.contains(key) || j[key].is_null()) return "";
  const nlohmann::json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return "";
}

bool is_our_chatml(const std::string& source) {
  return source.empty() || source == kChatMlJinja || source == kChatMlJinjaV1;
}

}  // namespace

ChatTemplate ChatTemplate::from_source(const std::string& source, const std::string& bos_token,
                                       const std::string& eos_token, const std::string& origin) {
  ChatTemplate t;
  t.source_ = source;
  t.bos_ = bos_token;
  t.eos_ = eos_token;
  if (is_our_chatml(source)) return t;
  t.tmpl_ = std::make_shared<const jinja::Template>(jinja::Template::parse(source, origin));
  t.name_ = "jinja";
  t.find_end_of_turn();
  return t;
}

ChatTemplate ChatTemplate::load(const std::filesystem::path& model_dir) {
  const auto path = model_dir / "tokenizer_config.json";
  if (!std::filesystem::exists(path)) return ChatTemplate();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path.string(), 0, "", std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("chat_template") || j["chat_template"].is_null())
    return ChatTemplate();
  const nlohmann::json& ct = j["chat_template"];
  std::string source;
  if (ct.is_string()) {
    source = ct.get<std::string>();
  } else if (ct.is_array()) {
    // Hugging Face's named templates: [{"name": "default", "template": "..."}, {"name":
    // "tool_use"...}]
    std::vector<std::string> names;
    const nlohmann::json* pick = nullptr;
    for (const auto& e : ct) {
      if (!e.is_object() || !e.contains("name") || !e.contains("template") ||
          !e["name"].is_string() || !e["template"].is_string())
        throw InputError(path.string(), 0, "chat_template",
                         "a list of chat templates must hold {\"name\", \"template\"} objects");
      names.push_back(e["name"].get<std::string>());
      if (names.back() == "default") pick = &e;
    }
    if (!pick && ct.size() == 1) pick = &ct[0];
    if (!pick) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      throw InputError(path.string(), 0, "chat_template",
                       "several chat templates (" + list + ") and none named \"default\"",
                       "name the one to use \"default\"");
    }
    source = (*pick)["template"].get<std::string>();
  } else {
    throw InputError(path.string(), 0, "chat_template",
                     "expected a string or a list of {\"name\", \"template\"} objects");
  }
  ChatTemplate t =
      from_source(source, token_text(j, "bos_token"), token_text(j, "eos_token"), path.string());
  t.unk_ = token_text(j, "unk_token");
  t.pad_ = token_text(j, "pad_token");
  return t;
}

jinja::Rendered ChatTemplate::render_jinja(const std::vector<ChatMessage>& messages,
                                           bool add_generation_prompt) const {
  std::vector<jinja::Value> ms;
  for (const ChatMessage& m : messages) {
    jinja::Value d = jinja::Value::dict();
    d.set("role", jinja::Value::string(m.role, true));
    d.set("content", jinja::Value::string(m.content, true));
    ms.push_back(d);
  }
  jinja::Value vars = jinja::Value::dict();
  vars.set("messages", jinja::Value::list(std::move(ms)));
  vars.set("add_generation_prompt", jinja::Value::boolean(add_generation_prompt));
  vars.set("tools", jinja::Value::none());  // transformers passes both, None when not given
  vars.set("documents", jinja::Value::none());
  // transformers passes the special tokens map: only the tokens the config names.
  if (!bos_.empty()) vars.set("bos_token", jinja::Value::string(bos_));
  if (!eos_.empty()) vars.set("eos_token", jinja::Value::string(eos_));
  if (!unk_.empty()) vars.set("unk_token", jinja::Value::string(unk_));
  if (!pad_.empty()) vars.set("pad_token", jinja::Value::string(pad_));
  return tmpl_->render(vars);
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt) const {
  if (!tmpl_) return render_chat_text(messages, add_generation_prompt);
  return render_jinja(messages, add_generation_prompt).text;
}

std::vector<jinja::Segment> ChatTemplate::render_segments(const std::vector<ChatMessage>& messages,
                                                          bool add_generation_prompt) const {
  if (tmpl_) return render_jinja(messages, add_generation_prompt).segments();
  std::vector<jinja::Segment> out;
  auto add = [&](const std::string& s, bool c) {
    if (s.empty()) return;
    if (!out.empty() && out.back().from_content == c)
      out.back().text += s;
    else
      out.push_back({s, c});
  };
  for (const ChatMessage& m : messages) {
    add("<|im_start|>", false);
    add(m.role, true);
    add("\n", false);
    if (m.role == "assistant") add(" ", false);
    add(m.content, true);
    add("<|im_end|>\n", false);
  }
  if (add_generation_prompt) add("<|im_start|>assistant\n", false);
  return out;
}

std::vector<int32_t> ChatTemplate::encode(const Tokenizer& tok,
                                          const std::vector<ChatMessage>& messages,
                                          bool add_generation_prompt) const {
  // ChatML: the training renderer's ids (data/chat_render.h), so a tuned model sees at inference
  // exactly the token sequence it was trained on.
  if (!tmpl_) return render_chat(tok, messages, add_generation_prompt).ids;
  const jinja::Rendered r = render_jinja(messages, add_generation_prompt);
  // Special tokens are matched only in template text (leftmost, longest at a position, as
  // encode_with_special does); everything between two specials is one ordinary piece.
  std::vector<std::pair<std::string, int32_t>> specials;
  bool first_byte[256] = {};
  for (const std::string& s : tok.special_tokens())
    if (auto id = tok.special_id(s); id && !s.empty()) {
      specials.emplace_back(s, *id);
      first_byte[(unsigned char)s[0]] = true;
    }
  std::vector<int32_t> ids;
  const std::string& text = r.text;
  size_t piece = 0, pos = 0, span = 0;
  while (pos < text.size()) {
    while (span < r.content.size() && r.content[span].end <= pos) ++span;
    const size_t content_at = span < r.content.size() ? r.content[span].begin : text.size();
    if (pos >= content_at) {  // inside content: skip to its end
      pos = r.content[span].end;
      continue;
    }
    const std::pair<std::string, int32_t>* best = nullptr;
    if (first_byte[(unsigned char)text[pos]])
      for (const auto& s : specials)
        if (pos + s.first.size() <= content_at && text.compare(pos, s.first.size(), s.first) == 0 &&
            (!best || s.first.size() > best->first.size()))
          best = &s;
    if (!best) {
      ++pos;
      continue;
    }
    tok.encode_append(std::string_view(text).substr(piece, pos - piece), ids);
    ids.push_back(best->second);
    pos += best->first.size();
    piece = pos;
  }
  tok.encode_append(std::string_view(text).substr(piece), ids);
  return ids;
}

// The text after an assistant reply in a probe conversation, up to the end of its first marker
// ("<...>" or "[...]") or the first whitespace: what the template writes to close a turn.
void ChatTemplate::find_end_of_turn() {
  const std::string probe = "lmforge-end-of-turn-probe";
  std::string found;
  try {
    const std::string text =
        render({{"user", "lmforge-probe-question"}, {"assistant", probe}}, false);
    const size_t at = text.find(probe);
    if (at != std::string::npos) {
      std::string rest = text.substr(at + probe.size());
      rest.erase(0, rest.find_first_not_of(" \t\n"));
      size_t end = rest.find_first_of(" \t\n");
      if (!rest.empty() && (rest[0] == '<' || rest[0] == '[')) {
        const size_t close = rest.find(rest[0] == '<' ? '>' : ']');
        if (close != std::string::npos) end = close + 1;
      }
      found = rest.substr(0, end);
    }
  } catch (const std::exception&) {
    // A template that refuses the probe (e.g. one requiring a system turn) falls back below.
  }
  if (found.empty())
    for (const char* m : kEndMarkers)
      if (source_.find(m) != std::string::npos) {
        found = m;
        break;
      }
  if (found.empty()) found = eos_;
  if (!found.empty()) end_of_turn_ = found;
}

std::vector<int32_t> ChatTemplate::stop_ids(const Tokenizer& tok) const {
  std::vector<int32_t> ids;
  auto add = [&](const std::string& s) {
    if (s.empty()) return;
    if (auto id = tok.special_id(s); id && std::find(ids.begin(), ids.end(), *id) == ids.end())
      ids.push_back(*id);
  };
  add(end_of_turn_);
  add(eos_);
  for (const char* m : kEndMarkers) add(m);
  return ids;
}

}  // namespace lmforge
