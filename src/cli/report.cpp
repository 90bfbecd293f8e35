// `lmforge report`: option parsing and printing only; the work is write_report() (demo/report.h).
#include "lmforge/demo/report.h"

#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "lmforge/core/output_guard.h"

namespace lmforge::cli {
namespace {

struct Paths {
  std::string dir, html, md;
};

void setup(CLI::App& root) {
  CLI::App* cmd = add_command(
      root, "report",
      "Write the report card of a pipeline run (lmforge demo / lmforge run): a self-contained "
      "HTML page and a markdown file with the probes per stage, loss curves, throughput, time "
      "and sample answers");
  auto p = std::make_shared<Paths>();
  cmd->add_option("--dir", p->dir,
                  "the run directory: reads DIR/state.json and each stage's metrics.jsonl")
      ->required();
  cmd->add_option("--output-html", p->html,
                  "where to write the HTML page (default: DIR/report.html)");
  cmd->add_option("--output-md", p->md,
                  "where to write the markdown file (default: DIR/report.md); its charts go to "
                  "report-assets/ in the same directory");
  cmd->callback([cmd, p] {
    print_resolved_config(*cmd);
    demo::ReportOptions o;
    o.dir = p->dir;
    o.output_html = p->html;
    o.output_md = p->md;
    namespace fs = std::filesystem;
    const fs::path html = p->html.empty() ? fs::path(p->dir) / "report.html" : fs::path(p->html);
    const fs::path md = p->md.empty() ? fs::path(p->dir) / "report.md" : fs::path(p->md);
    const std::vector<InputPath> state = {{"--dir", fs::path(p->dir) / "state.json"}};
    o.output_html = check_output({"--output-html",
                                  html,
                                  OutputSpec::Kind::kFile,
                                  {},
                                  {},
                                  starts_with_bytes("<!DOCTYPE html>"),
                                  "a report page"},
                                 state);
    o.output_md = check_output({"--output-md",
                                md,
                                OutputSpec::Kind::kFile,
                                {},
                                {},
                                starts_with_bytes("# "),
                                "a report markdown file"},
                               state);
    check_output({"--output-md",
                  o.output_md.parent_path() / "report-assets",
                  OutputSpec::Kind::kDir,
                  {"*.svg"},
                  {},
                  {},
                  "the charts of an earlier report"},
                 {});
    demo::ReportFiles f = demo::write_report(o);
    std::printf("wrote %s\nwrote %s\nwrote %zu charts in %s\n", f.html.c_str(), f.md.c_str(),
                f.charts, f.assets_dir.c_str());
  });
}

const bool registered = register_command(90, setup);

}  // namespace
}  // namespace lmforge::cli
