// The demo's multiple-choice benchmark (demo/demo_tasks.h): pick the German translation among four.
#include "lmforge/demo/demo_tasks.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/data/jsonl.h"

namespace lmforge {
namespace {

struct Pair {
  std::string prompt, answer;
};

std::vector<Pair> read_pairs(const std::filesystem::path& f) {
  std::vector<Pair> out;
  JsonlReader in(f);
  nlohmann::json j;
  while (in.next(j)) {
    Pair p{in.location().required_string(j, "prompt"),
           in.location().required_string(j, "completion")};
    // The completion carries the space after "German:"; the choice is the word(s) without it
    // (the target delimiter " " puts it back when scoring).
    size_t b = 0;
    while (b < p.answer.size() && p.answer[b] == ' ') ++b;
    p.answer = p.answer.substr(b);
    while (!p.answer.empty() && (p.answer.back() == '\n' || p.answer.back() == ' '))
      p.answer.pop_back();
    if (!p.answer.empty()) out.push_back(std::move(p));
  }
  return out;
}

// One row per pair (up to max_rows): the answer and three distinct others, shuffled.
std::string mc_rows(const std::vector<Pair>& pairs, int max_rows, std::mt19937_64& rng,
                    const std::string& file, int* count) {
  std::set<std::string> distinct;
  for (const auto& p : pairs) distinct.insert(p.answer);
  if (distinct.size() < 4)
    throw InputError(file, 0, "completion", "needs at least 4 distinct answers to make 4 choices");
  std::string out;
  *count = 0;
  std::uniform_int_distribution<size_t> any(0, pairs.size() - 1);
  for (size_t i = 0; i < pairs.size() && *count < max_rows; ++i) {
    std::vector<std::string> choices = {pairs[i].answer};
    while (choices.size() < 4) {
      const std::string& c = pairs[any(rng)].answer;
      if (std::find(choices.begin(), choices.end(), c) == choices.end()) choices.push_back(c);
    }
    std::shuffle(choices.begin(), choices.end(), rng);
    const int gold =
        int(std::find(choices.begin(), choices.end(), pairs[i].answer) - choices.begin());
    out +=
        nlohmann::json{{"context", pairs[i].prompt}, {"choices", choices}, {"gold", gold}}.dump() +
        "\n";
    ++*count;
  }
  return out;
}

}  // namespace

DemoTasksSummary build_demo_tasks(const DemoTasksOptions& opt) {
  const auto val = opt.data / "task" / "val.jsonl", train = opt.data / "task" / "train.jsonl";
  for (const auto& f : {val, train})
    if (!std::filesystem::exists(f))
      throw InputError(f.string(), 0, "", "missing", "run `lmforge demo data` first");
  std::mt19937_64 rng(opt.seed);
  DemoTasksSummary s;
  const std::string rows = mc_rows(read_pairs(val), opt.max_rows, rng, val.string(), &s.rows);
  const std::string shots =
      mc_rows(read_pairs(train), opt.fewshot_rows, rng, train.string(), &s.fewshot_rows);
  std::filesystem::create_directories(opt.output);
  std::filesystem::remove(opt.output / "manifest.json");
  write_file_atomic(opt.output / "en_de_mc.jsonl", rows);
  write_file_atomic(opt.output / "en_de_mc_fewshot.jsonl", shots);
  write_file_atomic(
      opt.output / "manifest.json",
      nlohmann::json{{"en_de_mc", s.rows}, {"en_de_mc_fewshot", s.fewshot_rows}, {"seed", opt.seed}}
              .dump(2) +
          "\n");
  return s;
}

}  // namespace lmforge
