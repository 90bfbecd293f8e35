// Report card: state.json parsing (tolerant of missing or mistyped fields, strict about broken
// JSON), metrics.jsonl parsing (partial lines, gaps), value formatting, escaping of every input
// text in HTML and markdown, and the full write from the fixture run directory.
#include "lmforge/demo/report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <regex>
#include <string>

#include "lmforge/core/error.h"
#include "lmforge/core/file_util.h"
#include "lmforge/demo/report_render.h"

using namespace lmforge::demo;
namespace fs = std::filesystem;

namespace {

fs::path fixture() {
  return fs::path(LMFORGE_SOURCE_DIR) / "tests/demo/fixtures/report_run";
}

// A fresh copy of the fixture run directory (the report is written into it).
fs::path copy_fixture(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("lmforge-report-test-" + std::to_string(getpid()) + "-" + name);
  fs::remove_all(d);
  fs::copy(fixture(), d, fs::copy_options::recursive);
  return d;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

TEST(ReportState, MissingAndMistypedFieldsRenderAsDash) {
  RunState s = parse_state(
      R"({"format":"lmforge-pipeline-state","stages":[
          {"name":"pretrain","elapsed_s":"soon","probes":{"next_word":[{"token":" a"},7,{"prob":0.5}],
           "task_metric":{"value":"x"},"kl":null}},
          {},
          5,
          {"name":"ppo","probes":"none","samples":[{"prompt":"p"},3]}]})",
      "state.json");
  ASSERT_EQ(s.stages.size(), 3u);
  EXPECT_EQ(s.stages[0].name, "pretrain");
  EXPECT_FALSE(s.stages[0].elapsed_s);
  ASSERT_EQ(s.stages[0].probes.next_word.size(), 2u);
  EXPECT_FALSE(s.stages[0].probes.next_word[0].prob);
  EXPECT_EQ(s.stages[0].probes.next_word[1].token, "");
  EXPECT_FALSE(s.stages[0].probes.task_metric_value);
  EXPECT_FALSE(s.stages[0].probes.kl);
  EXPECT_FALSE(s.simulated_ranker);
  ASSERT_EQ(s.stages[2].samples.size(), 1u);
  EXPECT_EQ(s.stages[2].samples[0].answer, "");

  RenderedReport r = render_report(s, {}, "now");
  EXPECT_NE(r.html.find("<table class=\"probes\">"), std::string::npos);
  EXPECT_GE(count(r.html, "<td class=\"dash\">\u2014</td>"), 3u * 8);
  EXPECT_NE(r.html.find(">stage 2</th>"), std::string::npos);  // no name, no title
  EXPECT_NE(r.html.find("\u2014 (no stage has written metrics yet)"), std::string::npos);
  EXPECT_EQ(r.html.find("id=\"simulated-ranker\""), std::string::npos);
  EXPECT_NE(r.md.find("| pretrain | \u2423a \u2014, \u2205 50.0% | \u2014 |"), std::string::npos);
  EXPECT_NE(r.md.find("| stage 2 | \u2014 | \u2014 | \u2014 |"), std::string::npos);
  EXPECT_TRUE(r.assets.empty());
}

TEST(ReportState, HeldoutAccuracyPerKindAndSampleAnswers) {
  RunState s = parse_state(R"({"stages":[
    {"name":"instruct","title":"Instruction tuning","probes":{"instruct_accuracy":0.5,
      "instruct_accuracy_by_kind":{"translate":0.75,"repeat":0.25},
      "heldout_answers":[{"kind":"translate","prompt":"Say \"the dog\" in German.",
        "reference":"der Hund","answer":"der Hund","correct":true},
        {"kind":"repeat","prompt":"Echo: Go | home.","reference":"Go | home.","answer":"Go",
         "correct":false}]}},
    {"name":"dpo","title":"DPO","probes":{"instruct_accuracy":0.6,
      "instruct_accuracy_by_kind":{"translate":0.8,"repeat":0.4}}}]})",
                           "state.json");
  ASSERT_EQ(s.stages[0].probes.accuracy_by_kind.size(), 2u);
  ASSERT_EQ(s.stages[0].probes.heldout_answers.size(), 2u);
  RenderedReport r = render_report(s, {}, "now");
  EXPECT_NE(r.md.find("## Held-out instructions"), std::string::npos) << r.md;
  EXPECT_NE(r.md.find("| translate | 75.0% | 80.0% |"), std::string::npos) << r.md;
  EXPECT_NE(r.md.find("| **all** | **50.0%** | **60.0%** |"), std::string::npos) << r.md;
  EXPECT_NE(r.md.find("| translate | Say \"the dog\" in German. | der Hund | der Hund | \u2713 |"),
            std::string::npos)
      << r.md;
  EXPECT_NE(r.md.find("Go \\| home."), std::string::npos) << r.md;  // a pipe stays in its cell
  EXPECT_NE(r.html.find("id=\"heldout\""), std::string::npos);
  EXPECT_NE(r.html.find("<td>der Hund</td>"), std::string::npos);
  // Without per-kind probes there is no section.
  EXPECT_EQ(
      render_report(parse_state("{}", "s.json"), {}, "now").md.find("## Held-out instructions"),
      std::string::npos);
}

TEST(ReportState, RankerWinRateOfEachAlignedStage) {
  RunState s = parse_state(R"({"stages":[
    {"name":"instruct","title":"Instruction tuning","probes":{"instruct_accuracy":0.5,
      "instruct_accuracy_by_kind":{"translate":0.75}}},
    {"name":"dpo","title":"DPO","probes":{"instruct_accuracy":0.55,
      "instruct_accuracy_by_kind":{"translate":0.8},
      "ranker_win_rate":{"versus":"instruct","prompts":120,"differ":20,"wins":10,"losses":6,
        "ties":4,"credit_wins":3,"credit_losses":1,"win_rate":0.625}}},
    {"name":"ppo","title":"PPO","probes":{"instruct_accuracy":0.5,
      "instruct_accuracy_by_kind":{"translate":0.75},
      "ranker_win_rate":{"versus":"instruct","prompts":120,"differ":0,"wins":0,"losses":0,
        "ties":0,"win_rate":null}}}]})",
                           "state.json");
  EXPECT_FALSE(s.stages[0].probes.ranker_win_rate);
  ASSERT_TRUE(s.stages[1].probes.ranker_win_rate);
  EXPECT_EQ(s.stages[1].probes.ranker_win_rate->versus, "instruct");
  EXPECT_EQ(s.stages[1].probes.ranker_win_rate->ties, 4);
  ASSERT_TRUE(s.stages[2].probes.ranker_win_rate);
  EXPECT_FALSE(s.stages[2].probes.ranker_win_rate->rate);  // no prompt decided: no rate
  RenderedReport r = render_report(s, {}, "now");
  EXPECT_NE(r.md.find("| ranker win rate | \u2014 | 62.5% (10 won (3 on credit), 6 lost (1 on "
                      "credit), 4 tied; 20 of 120 "
                      "answers differ from instruct's) | \u2014 (0 won, 0 lost, 0 tied; 0 of 120 "
                      "answers differ from instruct's) |"),
            std::string::npos)
      << r.md;
  EXPECT_NE(r.md.find("same simulated ranker"), std::string::npos);
  EXPECT_NE(r.html.find(">62.5%<br><small>10 won (3 on credit), 6 lost (1 on credit), 4 tied; "
                        "20 of 120 answers differ from "
                        "instruct&#39;s</small>"),
            std::string::npos)
      << r.html;
  // Without a win rate in any stage there is no row.
  s.stages[1].probes.ranker_win_rate.reset();
  s.stages[2].probes.ranker_win_rate.reset();
  EXPECT_EQ(render_report(s, {}, "now").md.find("ranker win rate"), std::string::npos);
}

TEST(ReportState, MachineAndPrecisionOfTheStages) {
  RunState s = parse_state(R"({"stages":[
    {"name":"pretrain","probes":{"precision":"bf16",
      "backend":"cpu: avx512_bf16 (2 threads), precision: bf16, gemm: onednn 2.6.3"}},
    {"name":"cpt","probes":{"precision":"bf16",
      "backend":"cpu: avx512_bf16 (2 threads), precision: bf16, gemm: onednn 2.6.3"}},
    {"name":"ppo","probes":{"precision":"fp32","backend":"cpu: avx2 (2 threads), precision: fp32, gemm: <x>"}}]})",
                           "state.json");
  EXPECT_EQ(s.stages[0].probes.precision, "bf16");
  RenderedReport r = render_report(s, {}, "now");
  EXPECT_NE(r.md.find("Trained on cpu: avx512\\_bf16 (2 threads), precision: bf16, gemm: onednn "
                      "2.6.3; cpu: avx2"),
            std::string::npos)
      << r.md;
  EXPECT_NE(r.html.find("id=\"machine\">Trained on cpu: avx512_bf16"), std::string::npos) << r.html;
  EXPECT_NE(r.html.find("gemm: &lt;x&gt;"), std::string::npos);  // escaped
  // A run whose stages recorded nothing has no such line.
  EXPECT_EQ(render_report(parse_state("{}", "s.json"), {}, "now").md.find("Trained on"),
            std::string::npos);
}

TEST(ReportState, EmptyObjectRenders) {
  RunState s = parse_state("{}", "state.json");
  EXPECT_TRUE(s.stages.empty());
  RenderedReport r = render_report(s, {}, "now");
  EXPECT_NE(r.html.find("<h1>lmforge report card</h1>"), std::string::npos);
  EXPECT_NE(r.html.find("no stages in state.json yet"), std::string::npos);
  EXPECT_NE(r.md.find("# lmforge report card"), std::string::npos);
}

TEST(ReportState, BrokenJsonNamesFileAndLine) {
  try {
    parse_state("{\n \"title\": \"x\",\n \"stages\": [,\n]}", "run/state.json");
    FAIL() << "no error";
  } catch (const lmforge::InputError& e) {
    EXPECT_EQ(e.file(), "run/state.json");
    EXPECT_EQ(e.line(), 3);
  }
  EXPECT_THROW(parse_state("[1,2]", "s.json"), lmforge::InputError);
  EXPECT_THROW(parse_state(R"({"format":"something-else"})", "s.json"), lmforge::InputError);
  try {
    load_state(fs::temp_directory_path() / "lmforge-no-such-run-dir");
    FAIL() << "no error";
  } catch (const lmforge::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("lmforge demo"), std::string::npos);  // the hint
  }
}

TEST(ReportMetrics, PartialLinesSkippedNullsAreGaps) {
  StageMetrics m = parse_metrics(
      "{\"step\":1,\"loss\":5.0,\"tokens_per_s\":100,\"elapsed_s\":1.5}\n"
      "\n"
      "{\"step\":2,\"loss\":null,\"val_loss\":4.5,\"tokens_per_s\":300,\"elapsed_s\":3.0,"
      "\"note\":\"text\"}\n"
      "{\"step\":3,\"loss\":4.0,\"reward_mean\":0.2,\"elapsed_s\":4.25}\n"
      "{\"step\":4,\"loss\":3.");
  EXPECT_EQ(m.lines, 3);
  EXPECT_EQ(m.bad_lines, 1);
  const MetricSeries* loss = m.find("loss");
  ASSERT_NE(loss, nullptr);
  ASSERT_EQ(loss->points.size(), 3u);
  EXPECT_TRUE(std::isnan(loss->points[1].y));
  EXPECT_EQ(loss->points[2].x, 3);
  EXPECT_EQ(m.find("note"), nullptr);
  ASSERT_NE(m.find("reward_mean"), nullptr);
  EXPECT_EQ(m.find("reward_mean")->points[0].x, 3);
  EXPECT_DOUBLE_EQ(*m.last_elapsed_s, 4.25);
  EXPECT_DOUBLE_EQ(*m.mean_tokens_per_s, 200);
  EXPECT_DOUBLE_EQ(*m.last_step, 3);
  EXPECT_DOUBLE_EQ(*detail::last_value(m, "loss"), 4.0);
}

TEST(ReportFormat, ValuesAndDashes) {
  using namespace detail;
  EXPECT_EQ(fmt_duration(185), "3 min 05 s");
  EXPECT_EQ(fmt_duration(42.04), "42.0 s");
  EXPECT_EQ(fmt_duration(7260), "2 h 01 min");
  EXPECT_EQ(fmt_duration(std::nullopt), "\u2014");
  EXPECT_EQ(fmt_rate(9012.3), "9,012");
  EXPECT_EQ(fmt_rate(1234567), "1,234,567");
  EXPECT_EQ(fmt_percent(0.42), "42.0%");
  EXPECT_EQ(fmt_fixed(4.71234, 3), "4.712");
  EXPECT_EQ(fmt_significant(0.0412, 3), "0.0412");
  EXPECT_EQ(fmt_significant(31.2, 4), "31.20");
  Probes p;
  p.task_metric_name = "chrF";
  p.task_metric_value = 31.2;
  EXPECT_EQ(fmt_task_metric(p), "chrF 31.20");
  EXPECT_EQ(visible_token(" the\n"), "\u2423the\u21b5");
}

TEST(ReportEscape, MarkdownAndHtml) {
  EXPECT_EQ(escape_markdown("a|b"), "a\\|b");
  EXPECT_EQ(escape_markdown("<script>&"), "&lt;script&gt;&amp;");
  EXPECT_EQ(escape_markdown("line1\nline2"), "line1<br>line2");
  EXPECT_EQ(escape_markdown("*x* _y_ `z` [l](u) ![i](s)"),
            "\\*x\\* \\_y\\_ \\`z\\` \\[l\\](u) !\\[i\\](s)");
  EXPECT_EQ(escape_html("<b a='1'>&\""), "&lt;b a=&#39;1&#39;&gt;&amp;&quot;");
}

TEST(ReportWrite, FixtureRunWritesHtmlMarkdownAndCharts) {
  fs::path d = copy_fixture("full");
  ReportFiles f = write_report({d, "", ""});
  EXPECT_EQ(f.html, d / "report.html");
  EXPECT_EQ(f.md, d / "report.md");
  EXPECT_EQ(f.assets_dir, d / "report-assets");
  std::string html = lmforge::read_file(f.html), md = lmforge::read_file(f.md);

  // Every stage is a row of the probe table, in order.
  const char* stages[] = {"tokenizer", "pretrain", "cpt", "finetune",
                          "instruct",  "reward",   "ppo", "chat"};
  size_t table = html.find("<table class=\"probes\">");
  ASSERT_NE(table, std::string::npos);
  size_t pos = table;
  for (const char* s : stages) {
    size_t at = html.find("<tr data-stage=\"" + std::string(s) + "\">", pos);
    EXPECT_NE(at, std::string::npos) << s;
    pos = at == std::string::npos ? pos : at;
  }
  EXPECT_NE(html.find("<span class=\"tok\">\u2423ground</span> 8.1%"), std::string::npos);
  EXPECT_NE(html.find(">chrF 31.20</td>"), std::string::npos);
  EXPECT_NE(html.find(">91.0%</td>"), std::string::npos);
  EXPECT_NE(html.find("id=\"simulated-ranker\""), std::string::npos);
  EXPECT_NE(html.find("correct and concise beats wrong or rambling"), std::string::npos);

  // Injection attempts in the title and the samples stay text.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<b>not bold"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;console.error("), std::string::npos);
  EXPECT_NE(html.find("<title>lmforge demo &lt;fixture&gt; &amp; report test</title>"),
            std::string::npos);
  EXPECT_EQ(md.find("<script"), std::string::npos);
  EXPECT_EQ(md.find("<img"), std::string::npos);
  EXPECT_NE(md.find("# lmforge demo &lt;fixture&gt; &amp; report test"), std::string::npos);

  // Charts: a loss chart per training stage, extra keys as their own charts, two bar charts.
  for (const char* a :
       {"02-pretrain-loss.svg", "03-cpt-loss.svg", "06-reward-accuracy.svg", "07-ppo-loss.svg",
        "07-ppo-reward_mean.svg", "07-ppo-kl.svg", "time.svg", "throughput.svg"}) {
    EXPECT_TRUE(fs::exists(f.assets_dir / a)) << a;
    EXPECT_NE(md.find("](report-assets/" + std::string(a) + ")"), std::string::npos) << a;
  }
  EXPECT_FALSE(fs::exists(f.assets_dir / "01-tokenizer-loss.svg"));
  EXPECT_FALSE(fs::exists(f.assets_dir / "02-pretrain-lr.svg"));  // bookkeeping keys: tables only
  EXPECT_EQ(count(html, "<svg class=\"lmf-chart\""), f.charts);
  std::string cpt = lmforge::read_file(f.assets_dir / "03-cpt-loss.svg");
  EXPECT_NE(cpt.find(">domain val loss</text>"), std::string::npos);
  EXPECT_NE(cpt.find(">train loss</text>"), std::string::npos);

  // PPO's metrics path points at the directory where the run was made; found inside DIR anyway.
  // Its time and throughput come from the metrics (null in state.json); the partial last line
  // is skipped.
  EXPECT_NE(html.find("<tr data-stage=\"ppo\"><th scope=\"row\">RLHF (PPO)</th><td>running</td>"
                      "<td class=\"num\">1 min 23 s</td>"),
            std::string::npos);
  EXPECT_NE(md.find("| RLHF (PPO) | running | 1 min 23 s |"), std::string::npos);

  // Samples grouped by prompt: the same prompt's answers from pretrain to ppo in one table.
  size_t prompt = html.find("<code>Define: compiler</code>");
  ASSERT_NE(prompt, std::string::npos);
  size_t a1 = html.find("and the LORD said unto Moses", prompt);
  size_t a2 = html.find("A compiler translates source code", prompt);
  EXPECT_LT(a1, a2);
  EXPECT_EQ(count(html, "<code>Define: compiler</code>"), 1u);

  // Rewriting replaces the assets directory (no stale charts) and leaves no temp files.
  lmforge::write_file_atomic(f.assets_dir / "stale.svg", "x");
  write_report({d, "", ""});
  EXPECT_FALSE(fs::exists(f.assets_dir / "stale.svg"));
  for (const auto& e : fs::directory_iterator(d))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  fs::remove_all(d);
}

TEST(ReportWrite, StageWithoutMetricsFileAndCustomOutputs) {
  fs::path d = copy_fixture("custom");
  fs::remove(d / "pretrain/metrics.jsonl");
  fs::path out = d / "elsewhere";
  fs::create_directories(out);
  ReportFiles f = write_report({d, out / "card.html", out / "card.md"});
  EXPECT_TRUE(fs::exists(out / "card.html"));
  EXPECT_TRUE(fs::exists(out / "report-assets/03-cpt-loss.svg"));
  EXPECT_FALSE(fs::exists(out / "report-assets/02-pretrain-loss.svg"));
  std::string html = lmforge::read_file(out / "card.html");
  // Pretraining keeps its state.json time and probes; steps and losses become dashes.
  EXPECT_NE(html.find("<tr data-stage=\"pretrain\"><th scope=\"row\">Pretraining</th><td>done</td>"
                      "<td class=\"num\">1 min 29 s</td><td class=\"num\">9,012</td>"
                      "<td class=\"dash\">\u2014</td>"),
            std::string::npos);
  fs::remove_all(d);
}
