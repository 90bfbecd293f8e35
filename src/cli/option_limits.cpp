// The numeric option table and its CLI11 validator. Integers are parsed as plain decimal (CLI11's
// own conversion would read "010" as octal, clamp a 20-digit number to INT64_MAX and wrap "-5"
// into a huge unsigned), reals must be finite; then the option's range applies. Bounds are long
// double, exact for every 64-bit integer.
#include "cli/option_limits.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>

namespace lmforge::cli {
namespace {

struct Limit {
  bool integer = true;
  long double lo = 0, hi = 0;
  bool lo_open = false, hi_open = false;  // (lo, ...] or [..., hi)
};

constexpr long double kU64 = 18446744073709551615.0L;
constexpr long double kI64 = 9223372036854775807.0L;
constexpr long double kBig = 1e12L;    // steps, intervals: far beyond any run
constexpr long double kHuge = 1e15L;   // token counts
constexpr long double kTok = 1 << 24;  // tokens generated / sequence lengths

Limit ints(long double lo, long double hi) {
  return {true, lo, hi, false, false};
}
Limit reals(long double lo, long double hi, bool lo_open = false, bool hi_open = false) {
  return {false, lo, hi, lo_open, hi_open};
}

// Keyed by "--name" (every command) or "COMMAND PATH --name" (that command only, checked first).
const std::map<std::string, Limit>& table() {
  static const std::map<std::string, Limit> t = {
      // shared by training commands
      {"--threads", ints(0, 1024)},
      {"--seed", ints(0, kU64)},
      {"--lr", reals(0, 10, true)},
      {"--min-lr", reals(-1, 10)},  // -1: lr/10
      {"--warmup-steps", ints(-1, kBig)},
      {"--weight-decay", reals(0, 10)},
      {"--grad-clip", reals(0, 1e9)},
      {"--beta1", reals(0, 1, false, true)},
      {"--beta2", reals(0, 1, false, true)},
      {"--batch-size", ints(1, 1 << 20)},
      {"--grad-accum", ints(1, 1 << 20)},
      {"--max-steps", ints(0, kBig)},
      {"--epochs", ints(1, 1000000)},
      {"--eval-every", ints(0, kBig)},
      {"--save-every", ints(0, kBig)},
      {"--keep-checkpoints", ints(0, 1000000)},
      {"--sample-every", ints(0, kBig)},
      {"--seq-len", ints(0, kTok)},
      {"--lora-rank", ints(0, 65536)},
      {"--lora-alpha", reals(0, 1e6, true)},
      {"--val-fraction", reals(0, 1, false, true)},
      {"--eval-max-tokens", ints(0, kTok)},
      {"--eval-samples", ints(0, kBig)},
      // pretrain
      {"--replay-ratio", reals(0, 1, true, true)},
      {"--n-layer", ints(0, 1 << 20)},
      {"--n-head", ints(0, 1 << 16)},
      {"--n-kv-head", ints(0, 1 << 16)},
      {"--n-embd", ints(0, 1 << 20)},
      {"--ffn-hidden", ints(0, 1 << 22)},
      {"--n-ctx", ints(0, kTok)},
      {"--eval-tokens", ints(0, kHuge)},
      {"--peak-gflops", reals(0, 1e9)},
      {"pretrain --max-tokens", ints(0, kHuge)},
      // dpo, ppo
      {"--beta", reals(0, 1e3, true)},
      {"--eval-prompts-count", ints(0, 64)},
      {"--rollout-batch", ints(1, 1 << 20)},
      {"--ppo-epochs", ints(1, 1000)},
      {"--max-new-tokens", ints(1, kTok)},
      {"--gamma", reals(0, 1)},
      {"--lam", reals(0, 1)},
      {"--clip", reals(0, 10, true)},
      {"--value-clip", reals(0, 1e6)},
      {"--vf-coef", reals(0, 1e6)},
      {"--entropy-coef", reals(0, 1e6)},
      {"--kl-coef", reals(0, 1e6)},
      {"--kl-target", reals(0, 1e6, true)},
      {"--kl-horizon", ints(1, kBig)},
      {"--target-kl", reals(0, 1e6)},
      {"--max-kl", reals(0, 1e9)},
      // sampling (generate, chat, label, ppo rollouts)
      {"--temperature", reals(0, 100)},
      {"--max-temperature", reals(0, 100)},
      {"ppo --temperature", reals(0, 100, true)},  // PPO samples: 0 has no log-probs
      {"ppo --value-ridge", reals(0, 1e6, true)},
      {"ppo --missing-eos-penalty", reals(0, 1e6)},
      {"ppo --min-reward-accuracy", reals(0, 1)},
      {"dpo --sft-coef", reals(0, 1e6)},
      {"--min-steps", ints(0, kBig)},
      {"--early-stop-patience", ints(0, 1000000)},
      {"eval --num-fewshot", ints(0, 1 << 16)},
      {"eval --limit", ints(0, kBig)},
      {"eval --max-length", ints(0, kTok)},
      {"eval --max-gen-tokens", ints(1, kTok)},
      {"eval --group-select", ints(-(1 << 16), 1 << 16)},  // -1: the last match
      {"eval --bootstrap-iters", ints(0, 1 << 24)},
      {"--top-k", ints(0, 1 << 24)},
      {"--top-p", reals(0, 1, true)},
      {"--min-p", reals(0, 1)},
      {"--repetition-penalty", reals(0, 100, true)},
      {"--max-tokens", ints(1, kTok)},
      {"--top", ints(1, 1 << 24)},
      {"eval --max-tokens", ints(0, kHuge)},
      // prepare, tokenizer
      {"--shard-tokens", ints(1, 1LL << 40)},
      {"--vocab-size", ints(257, 1 << 20)},
      {"--min-frequency", ints(1, kBig)},
      // serve, label
      {"--port", ints(0, 65535)},
      {"--parallel", ints(1, 256)},
      {"--cache-slots", ints(0, 4096)},
      {"serve --threads", ints(1, 4096)},  // connections served at once
      {"label --threads", ints(1, 4096)},
      {"--samples", ints(2, 16)},
      // demo
      {"--minutes", reals(1, 100000)},
      {"--task-pairs", ints(1, 10000000)},
      {"--task-val", ints(0, 10000000)},
      {"--instruct-train", ints(1, 10000000)},
      {"--instruct-heldout", ints(1, 10000000)},
      {"--rankings", ints(1, 10000000)},
      {"--prompts", ints(1, 10000000)},
      {"--domain-max-bytes", ints(1, kBig)},
      {"--max", ints(1, kBig)},
  };
  return t;
}

std::string command_path(const CLI::App& app) {
  std::string path = app.get_name();
  for (const CLI::App* p = app.get_parent(); p && p->get_parent(); p = p->get_parent())
    path = p->get_name() + " " + path;
  return path;
}

// CLI11's type name of the value ("INT", "UINT", "FLOAT", ...) without the validators'
// descriptions it appends after a ':'.
std::string base_type(const CLI::Option& opt) {
  const std::string t = opt.get_type_name();
  return t.substr(0, t.find(':'));
}

bool is_numeric(const CLI::Option& opt) {
  const std::string t = base_type(opt);
  return t == "INT" || t == "UINT" || t == "FLOAT";
}

std::string num_str(long double v, bool integer) {
  char buf[64];
  if (integer)
    std::snprintf(buf, sizeof buf, "%.0Lf", v);
  else
    std::snprintf(buf, sizeof buf, "%.6Lg", v);
  return buf;
}

std::string describe(const Limit& l) {
  if (l.integer) return "an integer from " + num_str(l.lo, true) + " to " + num_str(l.hi, true);
  return std::string("a number in ") + (l.lo_open ? "(" : "[") + num_str(l.lo, false) + ", " +
         num_str(l.hi, false) + (l.hi_open ? ")" : "]");
}

// Parses plain decimal: optional sign, digits, no leading zeros. False on anything else.
bool parse_integer(const std::string& s, long double& out, bool& overflow) {
  overflow = false;
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (i >= s.size()) return false;
  for (size_t k = i; k < s.size(); ++k)
    if (s[k] < '0' || s[k] > '9') return false;
  if (s[i] == '0' && s.size() - i > 1) return false;  // CLI11 would read "010" as octal
  unsigned long long mag = 0;
  auto r = std::from_chars(s.data() + i, s.data() + s.size(), mag);
  if (r.ec == std::errc::result_out_of_range) {
    overflow = true;
    return true;
  }
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return false;
  out = neg ? -static_cast<long double>(mag) : static_cast<long double>(mag);
  return true;
}

std::string check_value(const std::string& s, const Limit& l) {
  long double v = 0;
  if (l.integer) {
    bool overflow = false;
    if (!parse_integer(s, v, overflow))
      return "expected " + describe(l) + " (decimal digits), got '" + s + "'";
    if (overflow) return "'" + s + "' is too large: expected " + describe(l);
  } else {
    errno = 0;
    char* end = nullptr;
    v = std::strtold(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size())
      return "expected " + describe(l) + ", got '" + s + "'";
    if (!std::isfinite(v)) return "expected a finite number (" + describe(l) + "), got '" + s + "'";
  }
  const bool below = l.lo_open ? !(v > l.lo) : !(v >= l.lo);
  const bool above = l.hi_open ? !(v < l.hi) : !(v <= l.hi);
  if (below || above) return "expected " + describe(l) + ", got " + s;
  return "";
}

// documented: whether --help shows the range (not for the fallback of an option outside the
// table, whose own CLI::Range, if any, already says it; the type's whole range says nothing).
CLI::Validator number_validator(const Limit& l, bool documented = true) {
  CLI::Validator v([l](std::string& s) { return check_value(s, l); },
                   documented ? describe(l) : std::string(), kNumberValidator);
  v.non_modifying();
  return v;
}

// The table's entry for opt of app, or null.
const Limit* find_limit(const CLI::App& app, const CLI::Option& opt) {
  const std::string name = "--" + (opt.get_lnames().empty() ? opt.get_name() : opt.get_lnames()[0]);
  auto it = table().find(command_path(app) + " " + name);
  if (it == table().end()) it = table().find(name);
  return it == table().end() ? nullptr : &it->second;
}

template <class F>
void for_each_numeric(CLI::App& app, F&& fn) {
  for (CLI::Option* opt : app.get_options([](CLI::Option* o) { return is_numeric(*o); }))
    fn(app, *opt);
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    for_each_numeric(*sub, fn);
}

}  // namespace

void attach_option_limits(CLI::App& root) {
  for_each_numeric(root, [](CLI::App& app, CLI::Option& opt) {
    Limit l;
    const Limit* t = find_limit(app, opt);
    if (t) {
      l = *t;
    } else if (base_type(opt) == "FLOAT") {
      l = reals(-std::numeric_limits<long double>::max(), std::numeric_limits<long double>::max());
    } else if (base_type(opt) == "UINT") {
      l = ints(0, kU64);
    } else {
      l = ints(-kI64 - 1, kI64);
    }
    // An option with a CLI::Range of its own shows that range in --help already (the table's
    // must agree with it); one without shows the table's.
    bool own_range = true;
    try {
      opt.get_validator(0);
    } catch (const CLI::OptionNotFound&) {
      own_range = false;
    }
    opt.check(number_validator(l, t != nullptr && !own_range));
  });
}

std::vector<std::string> unbounded_numeric_options(CLI::App& root) {
  std::vector<std::string> out;
  for_each_numeric(root, [&](CLI::App& app, CLI::Option& opt) {
    if (find_limit(app, opt)) return;
    // A validator of the command's own (CLI::Range, PositiveNumber, ...) besides ours.
    for (int i = 0;; ++i) {
      try {
        if (opt.get_validator(i)->get_name() != kNumberValidator) return;
      } catch (const CLI::OptionNotFound&) {
        break;
      }
    }
    out.push_back(command_path(app) + " " + opt.get_name());
  });
  return out;
}

}  // namespace lmforge::cli
