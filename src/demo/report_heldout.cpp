// The report's held-out instruction section, HTML and markdown (see report_render.h): accuracy
// per kind for every chat stage side by side, the ranker win rate of each aligned stage against
// the model it started from, then each chat stage's sample answers with the reference, so a
// reader judges the answers at a glance. Not here: measuring (answer.cpp, win_rate.cpp).
#include <map>
#include <set>

#include "lmforge/demo/report_render.h"

namespace lmforge::demo::detail {
namespace {

// The stages with per-kind accuracy, and every kind in first-seen order.
struct Table {
  std::vector<size_t> stages;
  std::vector<std::string> kinds;
};

Table table_of(const RunState& state) {
  Table t;
  std::set<std::string> seen;
  for (size_t i = 0; i < state.stages.size(); ++i) {
    const Probes& p = state.stages[i].probes;
    if (p.accuracy_by_kind.empty()) continue;
    t.stages.push_back(i);
    for (const auto& [k, v] : p.accuracy_by_kind)
      if (seen.insert(k).second) t.kinds.push_back(k);
  }
  return t;
}

std::optional<double> acc(const Probes& p, const std::string& kind) {
  for (const auto& [k, v] : p.accuracy_by_kind)
    if (k == kind) return v;
  return std::nullopt;
}

bool any_win_rate(const RunState& state, const Table& t) {
  for (size_t i : t.stages)
    if (state.stages[i].probes.ranker_win_rate) return true;
  return false;
}

// "10 won, 6 lost, 4 tied; 20 of 120 answers differ from instruct's".
std::string win_rate_detail(const Probes::WinRate& w) {
  auto on_credit = [](const std::optional<int>& n) {
    return n ? " (" + std::to_string(*n) + " on credit)" : std::string();
  };
  return std::to_string(w.wins) + " won" + on_credit(w.credit_wins) + ", " +
         std::to_string(w.losses) + " lost" + on_credit(w.credit_losses) + ", " +
         std::to_string(w.ties) + " tied; " + std::to_string(w.differ) + " of " +
         std::to_string(w.prompts) + " answers differ from " +
         (w.versus.empty() ? std::string("the baseline") : w.versus) + "'s";
}

const char* const kWinRateNote =
    "Ranker win rate: on each held-out prompt, the stage's greedy answer against the greedy "
    "answer of the model it started from, judged by the same simulated ranker that ranked the "
    "samples (right first, then shorter); wins / (wins + losses) over the prompts whose answers "
    "differ. \"On credit\": decided by right vs partly right vs wrong; the others by length "
    "alone.";

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

std::string heldout_section_html(const RunState& state) {
  const Table t = table_of(state);
  if (t.stages.empty()) return "";
  auto h = [](const std::string& s) { return escape_html(s); };
  std::string o =
      "<section id=\"heldout\"><h2>Held-out instructions</h2><p>Share of held-out instructions "
      "(phrasings never trained on) answered exactly right, per kind.</p><div "
      "class=\"scroll\"><table><thead><tr><th>Kind</th>";
  for (size_t i : t.stages) o += "<th>" + h(stage_label(state.stages[i], i)) + "</th>";
  o += "</tr></thead><tbody>";
  for (const auto& k : t.kinds) {
    o += "<tr><th scope=\"row\">" + h(k) + "</th>";
    for (size_t i : t.stages)
      o += "<td class=\"num\">" + fmt_percent(acc(state.stages[i].probes, k)) + "</td>";
    o += "</tr>";
  }
  o += "<tr><th scope=\"row\">all</th>";
  for (size_t i : t.stages)
    o += "<td class=\"num\"><strong>" + fmt_percent(state.stages[i].probes.instruct_accuracy) +
         "</strong></td>";
  o += "</tr>";
  if (any_win_rate(state, t)) {
    o += "<tr><th scope=\"row\">ranker win rate</th>";
    for (size_t i : t.stages) {
      const auto& w = state.stages[i].probes.ranker_win_rate;
      o += w ? "<td class=\"num\">" + fmt_percent(w->rate) + "<br><small>" +
                   h(win_rate_detail(*w)) + "</small></td>"
             : "<td class=\"dash\">" + std::string(kDash) + "</td>";
    }
    o += "</tr>";
  }
  o += "</tbody></table></div>";
  if (any_win_rate(state, t)) o += "<p class=\"note\">" + h(kWinRateNote) + "</p>";
  for (size_t i : t.stages) {
    const auto& rows = state.stages[i].probes.heldout_answers;
    if (rows.empty()) continue;
    o += "<h3>" + h(stage_label(state.stages[i], i)) +
         ": sample answers</h3><div class=\"scroll\"><table class=\"samples\"><thead><tr>"
         "<th>Kind</th><th>Prompt</th><th>Reference</th><th>Answer</th><th></th></tr></thead>"
         "<tbody>";
    for (const auto& r : rows)
      o += "<tr><td>" + h(r.kind) + "</td><td>" + h(r.prompt) + "</td><td>" + h(r.reference) +
           "</td><td class=\"answer\">" + (r.answer.empty() ? std::string(kDash) : h(r.answer)) +
           "</td><td>" + (r.correct ? "\u2713" : "\u2717") + "</td></tr>";
    o += "</tbody></table></div>";
  }
  return o + "</section>";
}

std::string heldout_section_markdown(const RunState& state) {
  const Table t = table_of(state);
  if (t.stages.empty()) return "";
  auto md = [](const std::string& s) { return escape_markdown(one_line(s)); };
  std::string o =
      "\n## Held-out instructions\n\nShare of held-out instructions (phrasings never trained "
      "on) answered exactly right, per kind.\n\n| Kind |";
  std::string rule = "|---|";
  for (size_t i : t.stages) {
    o += " " + md(stage_label(state.stages[i], i)) + " |";
    rule += "---|";
  }
  o += "\n" + rule + "\n";
  for (const auto& k : t.kinds) {
    o += "| " + md(k) + " |";
    for (size_t i : t.stages) o += " " + fmt_percent(acc(state.stages[i].probes, k)) + " |";
    o += "\n";
  }
  o += "| **all** |";
  for (size_t i : t.stages)
    o += " **" + fmt_percent(state.stages[i].probes.instruct_accuracy) + "** |";
  o += "\n";
  if (any_win_rate(state, t)) {
    o += "| ranker win rate |";
    for (size_t i : t.stages) {
      const auto& w = state.stages[i].probes.ranker_win_rate;
      o += w ? " " + fmt_percent(w->rate) + " (" + md(win_rate_detail(*w)) + ") |"
             : " " + std::string(kDash) + " |";
    }
    o += "\n\n" + md(kWinRateNote) + "\n";
  }
  for (size_t i : t.stages) {
    const auto& rows = state.stages[i].probes.heldout_answers;
    if (rows.empty()) continue;
    o += "\n### " + md(stage_label(state.stages[i], i)) +
         ": sample answers\n\n| Kind | Prompt | Reference | Answer | |\n|---|---|---|---|---|\n";
    for (const auto& r : rows)
      o += "| " + md(r.kind) + " | " + md(r.prompt) + " | " + md(r.reference) + " | " +
           (r.answer.empty() ? std::string(kDash) : md(r.answer)) + " | " +
           (r.correct ? "\u2713" : "\u2717") + " |\n";
  }
  return o;
}

}  // namespace lmforge::demo::detail
