// SVG chart writer for the report card: a line chart with several series (lines and/or point
// markers) and a horizontal bar chart, drawn as plain SVG text with axes, "nice" ticks, labels
// and a legend. Colours come from CSS classes with a light and a dark palette, so the same SVG
// reads on a white page, a dark page and as a standalone file. Every text is XML-escaped.
// Long series are reduced to the min and max of each pixel-wide bucket so spikes stay visible.
// Not here: interactivity, JavaScript, log axes, dates on axes, PNG output.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lmforge::demo {

struct ChartPoint {
  double x = 0, y = 0;
};

struct ChartSeries {
  std::string name;
  std::vector<ChartPoint> points;  // in increasing x; non-finite y values break the line
  bool line = true;                // join the points with a path
  bool markers = false;  // a dot at each point (sparse series, e.g. val loss; up to 200 points)
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<ChartSeries> series;
  int width = 640, height = 300;  // SVG user units (pixels at 100% zoom)
  // A line with more points than this is reduced by min/max bucketing (0: the plot width).
  size_t max_points = 0;
};

struct Bar {
  std::string label;
  double value = 0;  // non-finite or negative values draw no bar and print "—"
};

struct BarChart {
  std::string title, value_label, unit;  // unit is appended to the value printed by each bar
  std::vector<Bar> bars;
  int width = 640;  // height follows from the number of bars
};

// An axis range with "nice" tick positions (1, 2 or 5 times a power of ten) covering [lo, hi].
struct Axis {
  double lo = 0, hi = 1;
  std::vector<double> ticks;
};
Axis nice_axis(double data_lo, double data_hi, int target_ticks = 5);

// A tick label: as many decimals as the tick step needs; thousands as "12k", millions as "3.4M".
std::string format_tick(double value, double step);

// The plot area of a chart in SVG coordinates and the data-to-pixel mapping inside it.
struct PlotFrame {
  double left = 0, top = 0, right = 0, bottom = 0;  // pixels; y grows downwards
  Axis x, y;
  double px(double x_value) const;  // x_value = x.lo -> left, x.hi -> right
  double py(double y_value) const;  // y_value = y.lo -> bottom, y.hi -> top
};

// The frame a LineChart is drawn in (margins, axes from the finite data of all series).
PlotFrame line_chart_frame(const LineChart& chart);

// Min/max bucketing: splits the x range into `buckets` equal parts and keeps, per bucket, the
// points with the smallest and largest y (in x order), plus the first and last point. The
// result has at most 2 * buckets + 2 points; a series that already fits is returned unchanged.
// Non-finite points are kept as line breaks (one per run of them).
std::vector<ChartPoint> downsample_minmax(const std::vector<ChartPoint>& points, size_t buckets);

// Escapes & < > " ' for XML/HTML text and attribute values.
std::string escape_xml(std::string_view text);

// Options shared by both chart kinds.
struct SvgOptions {
  // Standalone file: adds the XML namespace and a <style> block with the palette. When false,
  // the SVG is meant to be inlined in a page whose CSS defines the same classes (svg_chart_css).
  bool standalone = true;
};

std::string render_line_chart(const LineChart& chart, const SvgOptions& options = {});
std::string render_bar_chart(const BarChart& chart, const SvgOptions& options = {});

// The CSS rules (light and dark palette) used by the charts' classes, for a page that inlines
// charts rendered with standalone = false.
std::string svg_chart_css();

// Number of series colours in the palette (series i uses colour i % palette_size()).
size_t palette_size();

}  // namespace lmforge::demo
