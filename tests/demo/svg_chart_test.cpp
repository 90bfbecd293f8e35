// Chart writer: nice axes and tick labels, data-to-pixel geometry read back from the SVG path
// data, gaps for non-finite values, min/max downsampling keeping spikes, bar lengths, escaping.
#include "lmforge/demo/svg_chart.h"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>
#include <vector>

using namespace lmforge::demo;

namespace {

std::string f2(double v) {
  char b[48];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

// The d attribute of every <path> in the SVG.
std::vector<std::string> path_data(const std::string& svg) {
  std::vector<std::string> out;
  std::regex re("<path [^>]*d=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator();
       ++it)
    out.push_back((*it)[1]);
  return out;
}

// The numbers of one path's d attribute in order.
std::vector<double> numbers(const std::string& d) {
  std::vector<double> out;
  std::regex re("-?[0-9]+(\\.[0-9]+)?");
  for (auto it = std::sregex_iterator(d.begin(), d.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back(std::stod(it->str()));
  return out;
}

}  // namespace

TEST(NiceAxis, CoversTheDataWithRoundTicks) {
  Axis a = nice_axis(0.3, 9.7, 5);
  EXPECT_DOUBLE_EQ(a.lo, 0);
  EXPECT_DOUBLE_EQ(a.hi, 10);
  ASSERT_EQ(a.ticks.size(), 6u);
  EXPECT_DOUBLE_EQ(a.ticks[1], 2);
  Axis b = nice_axis(4.6, 10.9, 5);
  EXPECT_DOUBLE_EQ(b.lo, 4);
  EXPECT_DOUBLE_EQ(b.hi, 11);
  EXPECT_EQ(b.ticks.size(), 8u);
  Axis c = nice_axis(1, 1200, 5);  // steps 1..1200
  EXPECT_DOUBLE_EQ(c.lo, 0);
  EXPECT_DOUBLE_EQ(c.hi, 1200);
  EXPECT_DOUBLE_EQ(c.ticks[1] - c.ticks[0], 200);
  Axis d = nice_axis(3, 3, 5);  // one value: padded, never a zero-width axis
  EXPECT_LT(d.lo, 3);
  EXPECT_GT(d.hi, 3);
  Axis huge = nice_axis(-1e308, 1e308, 5);  // hi - lo overflows
  EXPECT_TRUE(std::isfinite(huge.lo) && std::isfinite(huge.hi));
  EXPECT_LE(huge.lo, -1e307);
  EXPECT_GE(huge.ticks.size(), 2u);
  EXPECT_LE(huge.ticks.size(), 12u);
  Axis e = nice_axis(NAN, INFINITY, 5);
  EXPECT_DOUBLE_EQ(e.lo, 0);
  EXPECT_DOUBLE_EQ(e.hi, 1);
}

TEST(FormatTick, DecimalsFollowTheStep) {
  EXPECT_EQ(format_tick(0.25, 0.05), "0.25");
  EXPECT_EQ(format_tick(3, 1), "3");
  EXPECT_EQ(format_tick(4.5, 0.5), "4.5");
  EXPECT_EQ(format_tick(12000, 2000), "12k");
  EXPECT_EQ(format_tick(1.5e6, 5e5), "1.5M");
  EXPECT_EQ(format_tick(-0.0, 0.1), "0.0");
  EXPECT_EQ(format_tick(-1e-17, 0.2), "0.0");
}

TEST(LineChart, PointsMapToPixelCoordinates) {
  LineChart c;
  c.width = 400;
  c.height = 200;
  c.series.push_back({"loss", {{0, 0}, {5, 5}, {10, 10}}, true, false});
  PlotFrame f = line_chart_frame(c);
  EXPECT_DOUBLE_EQ(f.x.lo, 0);
  EXPECT_DOUBLE_EQ(f.x.hi, 10);
  EXPECT_DOUBLE_EQ(f.px(0), f.left);
  EXPECT_DOUBLE_EQ(f.px(10), f.right);
  EXPECT_DOUBLE_EQ(f.py(0), f.bottom);
  EXPECT_DOUBLE_EQ(f.py(10), f.top);
  EXPECT_EQ(f.right, 400 - 16);
  EXPECT_GT(f.bottom, f.top);
  EXPECT_LT(f.bottom, 200);
  std::string svg = render_line_chart(c);
  auto paths = path_data(svg);
  ASSERT_EQ(paths.size(), 1u);
  std::string want = "M" + f2(f.left) + " " + f2(f.bottom) + " L" + f2((f.left + f.right) / 2) +
                     " " + f2((f.top + f.bottom) / 2) + " L" + f2(f.right) + " " + f2(f.top);
  EXPECT_EQ(paths[0], want);
  // The y tick labels are the axis ticks, placed at py(tick).
  EXPECT_NE(svg.find(">10</text>"), std::string::npos);
  ASSERT_GE(f.y.ticks.size(), 3u);
  EXPECT_NE(svg.find("y1=\"" + f2(f.py(f.y.ticks[1])) + "\""), std::string::npos);
}

TEST(LineChart, OffsetAxesMapLinearly) {
  LineChart c;
  c.series.push_back({"train loss", {{100, 4.6}, {1000, 7.0}, {1200, 10.9}}, true, false});
  c.series.push_back({"val loss", {{600, 5.5}}, true, true});
  PlotFrame f = line_chart_frame(c);
  EXPECT_DOUBLE_EQ(f.y.lo, 4);
  EXPECT_DOUBLE_EQ(f.y.hi, 11);
  std::string svg = render_line_chart(c);
  auto paths = path_data(svg);
  ASSERT_EQ(paths.size(), 2u);
  auto n = numbers(paths[0]);
  ASSERT_EQ(n.size(), 6u);
  for (int i = 0; i < 3; ++i) {
    double x = c.series[0].points[i].x, y = c.series[0].points[i].y;
    EXPECT_NEAR(n[2 * i], f.left + (x - 0) / 1200.0 * (f.right - f.left), 0.006);
    EXPECT_NEAR(n[2 * i + 1], f.bottom - (y - 4) / 7.0 * (f.bottom - f.top), 0.006);
  }
  // The single val point is a marker at its pixel position.
  EXPECT_NE(svg.find("cx=\"" + f2(f.px(600)) + "\" cy=\"" + f2(f.py(5.5)) + "\""),
            std::string::npos);
  // Two series: a legend with both names.
  EXPECT_NE(svg.find(">train loss</text>"), std::string::npos);
  EXPECT_NE(svg.find(">val loss</text>"), std::string::npos);
}

TEST(LineChart, NonFiniteValuesBreakTheLine) {
  LineChart c;
  c.series.push_back({"loss", {{1, 1}, {2, 2}, {3, NAN}, {4, 3}, {5, 2}}, true, false});
  auto paths = path_data(render_line_chart(c));
  ASSERT_EQ(paths.size(), 1u);
  EXPECT_EQ(std::count(paths[0].begin(), paths[0].end(), 'M'), 2);
  EXPECT_EQ(std::count(paths[0].begin(), paths[0].end(), 'L'), 2);
  EXPECT_EQ(paths[0].find("nan"), std::string::npos);
}

TEST(LineChart, EmptyChartSaysNoData) {
  LineChart c;
  c.title = "empty";
  std::string svg = render_line_chart(c);
  EXPECT_NE(svg.find("no data"), std::string::npos);
  EXPECT_TRUE(path_data(svg).empty());
}

TEST(Downsample, KeepsSpikesAndEnds) {
  std::vector<ChartPoint> pts;
  for (int i = 0; i < 10000; ++i) pts.push_back({double(i), 5 + 0.5 * std::sin(i * 0.01)});
  pts[5003].y = 100;  // spike
  pts[7777].y = -50;  // dip
  auto out = downsample_minmax(pts, 100);
  EXPECT_LE(out.size(), 2u * 100 + 2);
  EXPECT_GE(out.size(), 100u);
  EXPECT_DOUBLE_EQ(out.front().x, 0);
  EXPECT_DOUBLE_EQ(out.back().x, 9999);
  bool spike = false, dip = false;
  for (size_t i = 0; i < out.size(); ++i) {
    spike = spike || (out[i].x == 5003 && out[i].y == 100);
    dip = dip || (out[i].x == 7777 && out[i].y == -50);
    if (i > 0) {
      EXPECT_LT(out[i - 1].x, out[i].x) << "x order at " << i;
    }
  }
  EXPECT_TRUE(spike);
  EXPECT_TRUE(dip);
  // Each bucket's min and max survive: the global range is the same.
  double lo = 1e9, hi = -1e9;
  for (const auto& p : out) lo = std::min(lo, p.y), hi = std::max(hi, p.y);
  EXPECT_EQ(lo, -50);
  EXPECT_EQ(hi, 100);
}

TEST(Downsample, ShortSeriesUnchangedAndGapsKept) {
  std::vector<ChartPoint> pts = {{0, 1}, {1, 2}, {2, 3}};
  auto same = downsample_minmax(pts, 10);
  ASSERT_EQ(same.size(), 3u);
  EXPECT_EQ(same[1].y, 2);
  std::vector<ChartPoint> gappy;
  for (int i = 0; i < 1000; ++i)
    gappy.push_back({double(i), (i >= 400 && i < 450) ? NAN : 1.0 * i});
  auto out = downsample_minmax(gappy, 20);
  int gaps = 0;
  for (const auto& p : out) gaps += std::isnan(p.y);
  EXPECT_EQ(gaps, 1);
}

TEST(LineChart, LongSeriesIsReducedButKeepsTheSpike) {
  LineChart c;
  std::vector<ChartPoint> pts;
  for (int i = 0; i < 20000; ++i) pts.push_back({double(i), 3.0});
  pts[12345].y = 9;
  c.series.push_back({"loss", pts, true, false});
  std::string svg = render_line_chart(c);
  PlotFrame f = line_chart_frame(c);
  auto n = numbers(path_data(svg)[0]);
  EXPECT_LE(n.size() / 2, static_cast<size_t>(f.right - f.left) + 2);
  double top = 1e9;
  for (size_t i = 1; i < n.size(); i += 2) top = std::min(top, n[i]);
  EXPECT_NEAR(top, f.py(9), 0.006);
}

TEST(BarChart, BarLengthsAreProportional) {
  BarChart b;
  b.title = "Time per stage";
  b.unit = " s";
  b.bars = {{"pretrain", 10}, {"cpt", 5}, {"chat", NAN}, {"zero", 0}};
  std::string svg = render_bar_chart(b);
  auto paths = path_data(svg);
  ASSERT_EQ(paths.size(), 3u);  // no bar for the missing value
  auto a = numbers(paths[0]), c = numbers(paths[1]), z = numbers(paths[2]);
  ASSERT_GE(a.size(), 3u);
  EXPECT_NEAR(c[2], a[2] / 2, 0.011);
  EXPECT_EQ(z[2], 0);
  EXPECT_EQ(a[0], c[0]);  // same left edge
  EXPECT_LT(a[1], c[1]);  // one row below the other
  EXPECT_NE(svg.find(">10.0 s</text>"), std::string::npos);
  EXPECT_NE(svg.find(">\u2014</text>"), std::string::npos);
}

TEST(Escape, XmlSpecialCharacters) {
  EXPECT_EQ(escape_xml("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  EXPECT_EQ(escape_xml(std::string("a\x01z")), "a\xEF\xBF\xBDz");
  LineChart c;
  c.title = "<script>alert(1)</script>";
  c.y_label = "\"><img src=x>";
  c.series.push_back({"a&b", {{0, 1}, {1, 2}}, true, false});
  c.series.push_back({"</text><script>", {{0, 1}, {1, 3}}, true, false});
  std::string svg = render_line_chart(c);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_EQ(svg.find("<img"), std::string::npos);
  EXPECT_NE(svg.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(svg.find(">a&amp;b</text>"), std::string::npos);
  BarChart b;
  b.bars = {{"<b>x</b>", 1}};
  std::string bs = render_bar_chart(b);
  EXPECT_EQ(bs.find("<b>"), std::string::npos);
}

TEST(Svg, StandaloneHasNamespaceAndPalette) {
  LineChart c;
  c.series.push_back({"loss", {{0, 1}, {1, 2}}, true, false});
  std::string alone = render_line_chart(c);
  EXPECT_EQ(alone.rfind("<svg ", 0), 0u);
  EXPECT_NE(alone.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_NE(alone.find("prefers-color-scheme:dark"), std::string::npos);
  std::string inl = render_line_chart(c, SvgOptions{.standalone = false});
  EXPECT_EQ(inl.find("<style>"), std::string::npos);
  EXPECT_EQ(alone.substr(alone.size() - 6), "</svg>");
}

TEST(LineChart, MarkersOnlyForSparseSeries) {
  LineChart sparse, dense;
  std::vector<ChartPoint> few, many;
  for (int i = 0; i < 12; ++i) few.push_back({i * 100.0, 5.0 - i * 0.1});
  for (int i = 0; i < 5000; ++i) many.push_back({double(i), 5.0 - i * 1e-4});
  sparse.series.push_back({"val loss", few, true, true});
  dense.series.push_back({"val loss", many, true, true});
  std::string s = render_line_chart(sparse), d = render_line_chart(dense);
  size_t dots = 0;
  for (size_t p = s.find("<circle"); p != std::string::npos; p = s.find("<circle", p + 1)) ++dots;
  EXPECT_EQ(dots, 12u);
  EXPECT_EQ(d.find("<circle"), std::string::npos);
  EXPECT_EQ(path_data(d).size(), 1u);
}
