// `lmforge label` (serve the ranking page), `lmforge label export` (rankings JSONL) and
// `lmforge label stats`: options and printing only; the work is serve/label_server.h and
// serve/label_db.h. See docs/LABELING.md.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/http_options.h"
#include "lmforge/core/error.h"
#include "lmforge/core/output_guard.h"
#include "lmforge/serve/label_db.h"
#include "lmforge/serve/label_server.h"

namespace lmforge::cli {
namespace {

struct Opts {
  std::string model, prompts, db;
  LabelOptions l;
};

struct DbOpts {
  std::string db, output;
};

void print_stats(const LabelStats& s) {
  std::printf("prompts: %lld (%lld with answers, %lld skipped: fewer than 2 distinct answers)\n",
              (long long)s.prompts, (long long)s.with_answers, (long long)s.skipped);
  std::printf(
      "labelled: %lld/%lld prompts, %lld rankings (%lld all bad, %lld with a written "
      "answer)\n",
      (long long)s.labelled, (long long)(s.prompts - s.skipped), (long long)s.rankings,
      (long long)s.all_bad, (long long)s.with_better);
  for (const auto& [name, n] : s.per_labeler)
    std::printf("  %-24s %lld rankings\n", name.c_str(), (long long)n);
  const LabelAgreement& a = s.agreement;
  if (a.concordant_fraction) {
    std::printf(
        "agreement: %.3f of %lld answer pairs ordered alike by two labelers, mean Kendall "
        "tau %.3f (%lld prompts ranked twice or more, %lld ranking pairs; ties skipped)\n",
        *a.concordant_fraction, (long long)(a.concordant + a.discordant),
        a.kendall_tau.value_or(0.0), (long long)a.prompts, (long long)a.ranking_pairs);
  } else {
    std::printf("agreement: none yet (no prompt ranked by two labelers)\n");
  }
}

void setup(CLI::App& root) {
  CLI::App* cmd = add_command(root, "label",
                              "Collect human rankings of sampled answers on a web page (SQLite "
                              "store); `label export` writes rankings JSONL, `label stats` "
                              "summarizes");
  cmd->require_subcommand(0, 1);
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "model directory whose answers are ranked");
  cmd->add_option("--prompts", o->prompts, "prompts JSONL ({\"prompt\": ...} per line)");
  cmd->add_option("--db", o->db,
                  "SQLite feedback database (created when missing; reopen it to continue)");
  cmd->add_option("--samples", o->l.samples, "answers sampled per prompt (K, at least 2)")
      ->check(CLI::Range(2, 16));
  cmd->add_option("--max-tokens", o->l.max_tokens, "new tokens per answer at most")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--temperature", o->l.sampling.temperature,
                  "sampling temperature (above 0: the answers must differ)");
  cmd->add_option("--top-k", o->l.sampling.top_k, "keep the k most likely tokens (0: off)");
  cmd->add_option("--top-p", o->l.sampling.top_p,
                  "nucleus: smallest set with this much mass (1: off)");
  cmd->add_option("--seed", o->l.sampling.seed,
                  "random seed; answer j of a prompt uses a seed derived from it, the prompt "
                  "text and j");
  cmd->add_option("--chat", o->l.chat,
                  "render prompts with the model's chat template as a user turn: auto (when the "
                  "tokenizer has <|im_start|>), on, off (raw text)")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  cmd->add_option("--host", o->l.host, "address to listen on");
  cmd->add_option("--port", o->l.port, "TCP port (0: any free port, printed at start)")
      ->check(CLI::Range(0, 65535));
  add_http_limit_options(*cmd, o->l);
  cmd->add_option("--max-answer-bytes", o->l.max_answer_bytes,
                  "longest answer a labeler may write (bytes, UTF-8); a longer one is refused "
                  "(400) and not stored")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24));
  cmd->callback([cmd, o] {
    if (!cmd->get_subcommands().empty()) return;  // `label export` / `label stats` ran
    if (o->model.empty() || o->prompts.empty() || o->db.empty())
      throw UsageError(
          "lmforge label needs --model, --prompts and --db (see lmforge label --help)");
    o->l.prompts = o->prompts;
    o->l.db = check_output({"--db",
                            o->db,
                            OutputSpec::Kind::kFile,
                            {},
                            {},
                            starts_with_bytes(std::string("SQLite format 3\0", 16)),
                            "an SQLite database"},
                           {{"--model", o->model}, {"--prompts", o->prompts}});
    o->l.config_yaml = resolved_config_yaml(*cmd);
    print_resolved_config(*cmd);
    auto m = LoadedModel::load(o->model);
    serve_label(*m, o->l);
  });

  auto e = std::make_shared<DbOpts>();
  CLI::App* ex = add_command(*cmd, "export",
                             "Write the rankings as JSONL {\"prompt\",\"responses\":[best..worst]} "
                             "(a written better answer first; \"all bad\" without one left out)");
  ex->add_option("--db", e->db, "SQLite feedback database")->required();
  ex->add_option("--output", e->output, "rankings JSONL to write (atomically)")->required();
  ex->callback([ex, e] {
    print_resolved_config(*ex);
    const auto out = check_output({"--output",
                                   e->output,
                                   OutputSpec::Kind::kFile,
                                   {},
                                   {},
                                   jsonl_with_key({"responses"}),
                                   "a rankings JSONL file"},
                                  {{"--db", e->db}});
    LabelDb db(e->db, false);
    const auto [written, excluded] = db.export_jsonl(out);
    std::fprintf(stderr,
                 "wrote %lld rankings to %s (%lld \"all bad\" rankings without a written answer "
                 "left out)\n",
                 (long long)written, e->output.c_str(), (long long)excluded);
  });

  auto s = std::make_shared<DbOpts>();
  CLI::App* st = add_command(*cmd, "stats", "Print progress and agreement between labelers");
  st->add_option("--db", s->db, "SQLite feedback database")->required();
  st->callback([s] {
    LabelDb db(s->db, false);
    print_stats(db.stats());
  });
}

const bool registered = register_command(60, setup);

}  // namespace
}  // namespace lmforge::cli
