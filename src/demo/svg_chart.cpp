// SVG line and bar charts for the report card (see svg_chart.h). Geometry first (nice axes, the
// plot frame, min/max bucketing), then the two renderers that print SVG text. Coordinates are
// printed with two decimals, which is what the geometry test reads back.
// Not here: the report's layout and data loading (report*.cpp).
#include "lmforge/demo/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace lmforge::demo {
namespace {

// Okabe-Ito colours (distinguishable with colour-blindness); the dark palette is lighter so the
// lines keep their contrast against a dark background.
constexpr const char* kLight[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9"};
constexpr const char* kDark[] = {"#56b4e9", "#ff8c42", "#2ed8a7", "#e8a5cc", "#f5c342", "#9ad4f5"};
constexpr size_t kPalette = sizeof(kLight) / sizeof(kLight[0]);

constexpr double kCharW = 6.6;       // average glyph width at the 11px chart font, for layout
constexpr size_t kMaxMarkers = 200;  // more dots than this merge into a thick line

std::string fmt2(double v) {
  char b[48];
  std::snprintf(b, sizeof b, "%.2f", v);
  std::string s = b;
  if (s == "-0.00") s = "0.00";
  return s;
}

bool finite(double v) {
  return std::isfinite(v);
}

// A value with about `sig` significant digits; thousands as k, millions as M.
std::string format_value(double v, int sig = 3) {
  if (!finite(v)) return "\u2014";
  const char* suffix = "";
  double a = std::fabs(v);
  if (a >= 1e6) {
    v /= 1e6;
    suffix = "M";
  } else if (a >= 1e4) {
    v /= 1e3;
    suffix = "k";
  }
  a = std::fabs(v);
  int digits = a == 0 ? 0 : static_cast<int>(std::floor(std::log10(a))) + 1;
  int decimals = std::clamp(sig - digits, 0, 6);
  char b[64];
  std::snprintf(b, sizeof b, "%.*f%s", decimals, v, suffix);
  return b;
}

// Draws the frame's axes: grid lines, tick marks and labels, axis labels.
void axes(std::string& o, const PlotFrame& f, const std::string& x_label,
          const std::string& y_label, bool y_axis) {
  double xstep = f.x.ticks.size() > 1 ? f.x.ticks[1] - f.x.ticks[0] : 1;
  for (double t : f.x.ticks) {
    std::string x = fmt2(f.px(t));
    o += "<line class=\"lmf-grid\" x1=\"" + x + "\" y1=\"" + fmt2(f.top) + "\" x2=\"" + x +
         "\" y2=\"" + fmt2(f.bottom) + "\"/>";
    o += "<line class=\"lmf-axis\" x1=\"" + x + "\" y1=\"" + fmt2(f.bottom) + "\" x2=\"" + x +
         "\" y2=\"" + fmt2(f.bottom + 4) + "\"/>";
    o += "<text class=\"lmf-tick\" x=\"" + x + "\" y=\"" + fmt2(f.bottom + 16) +
         "\" text-anchor=\"middle\">" + escape_xml(format_tick(t, xstep)) + "</text>";
  }
  if (y_axis) {
    double ystep = f.y.ticks.size() > 1 ? f.y.ticks[1] - f.y.ticks[0] : 1;
    for (double t : f.y.ticks) {
      std::string y = fmt2(f.py(t));
      o += "<line class=\"lmf-grid\" x1=\"" + fmt2(f.left) + "\" y1=\"" + y + "\" x2=\"" +
           fmt2(f.right) + "\" y2=\"" + y + "\"/>";
      o += "<line class=\"lmf-axis\" x1=\"" + fmt2(f.left - 4) + "\" y1=\"" + y + "\" x2=\"" +
           fmt2(f.left) + "\" y2=\"" + y + "\"/>";
      o += "<text class=\"lmf-tick\" x=\"" + fmt2(f.left - 7) + "\" y=\"" + fmt2(f.py(t) + 4) +
           "\" text-anchor=\"end\">" + escape_xml(format_tick(t, ystep)) + "</text>";
    }
    o += "<line class=\"lmf-axis\" x1=\"" + fmt2(f.left) + "\" y1=\"" + fmt2(f.top) + "\" x2=\"" +
         fmt2(f.left) + "\" y2=\"" + fmt2(f.bottom) + "\"/>";
  }
  o += "<line class=\"lmf-axis\" x1=\"" + fmt2(f.left) + "\" y1=\"" + fmt2(f.bottom) + "\" x2=\"" +
       fmt2(f.right) + "\" y2=\"" + fmt2(f.bottom) + "\"/>";
  if (!x_label.empty())
    o += "<text class=\"lmf-label\" x=\"" + fmt2((f.left + f.right) / 2) + "\" y=\"" +
         fmt2(f.bottom + 32) + "\" text-anchor=\"middle\">" + escape_xml(x_label) + "</text>";
  if (!y_label.empty()) {
    std::string cy = fmt2((f.top + f.bottom) / 2);
    o += "<text class=\"lmf-label\" x=\"14\" y=\"" + cy + "\" text-anchor=\"middle\" " +
         "transform=\"rotate(-90 14 " + cy + ")\">" + escape_xml(y_label) + "</text>";
  }
}

std::string open_svg(int width, int height, const std::string& title, const SvgOptions& opt) {
  std::string o = "<svg class=\"lmf-chart\" ";
  if (opt.standalone) o += "xmlns=\"http://www.w3.org/2000/svg\" ";
  o += "width=\"" + std::to_string(width) + "\" height=\"" + std::to_string(height) +
       "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
       "\" role=\"img\" aria-label=\"" + escape_xml(title) + "\">";
  o += "<title>" + escape_xml(title) + "</title>";
  if (opt.standalone) o += "<style>" + svg_chart_css() + "</style>";
  o += "<text class=\"lmf-title\" x=\"8\" y=\"17\">" + escape_xml(title) + "</text>";
  return o;
}

// Legend rows under the title; returns the y just below the legend.
double legend(std::string& o, const std::vector<ChartSeries>& series, double x0, double right,
              double y) {
  double x = x0;
  for (size_t i = 0; i < series.size(); ++i) {
    double w = 26 + kCharW * static_cast<double>(series[i].name.size()) + 14;
    if (x + w > right && x > x0) {
      x = x0;
      y += 16;
    }
    std::string c = std::to_string(i % kPalette);
    o += "<line class=\"lmf-s" + c + "\" x1=\"" + fmt2(x) + "\" y1=\"" + fmt2(y - 4) + "\" x2=\"" +
         fmt2(x + 18) + "\" y2=\"" + fmt2(y - 4) + "\"/>";
    if (series[i].markers)
      o += "<circle class=\"lmf-m" + c + "\" cx=\"" + fmt2(x + 9) + "\" cy=\"" + fmt2(y - 4) +
           "\" r=\"3\"/>";
    o += "<text class=\"lmf-legend\" x=\"" + fmt2(x + 22) + "\" y=\"" + fmt2(y) + "\">" +
         escape_xml(series[i].name) + "</text>";
    x += w;
  }
  return y + 8;
}

}  // namespace

Axis nice_axis(double lo, double hi, int target_ticks) {
  if (!finite(lo) || !finite(hi) || lo > hi) lo = 0, hi = 1;
  if (hi == lo) {
    double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  if (!finite(hi - lo)) lo = -std::numeric_limits<double>::max() / 4, hi = -lo;  // overflow
  target_ticks = std::clamp(target_ticks, 2, 50);
  double rough = (hi - lo) / target_ticks;
  double mag = std::pow(10.0, std::floor(std::log10(rough)));
  double norm = rough / mag;
  double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  // The small tolerance keeps a bound that sits on a tick (up to rounding) on that tick.
  double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  Axis a;
  a.lo = first * step;
  a.hi = last * step;
  for (double k = first; k <= last + 0.5; k += 1) {
    double t = k * step;
    a.ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  }
  return a;
}

std::string format_tick(double value, double step) {
  if (!finite(value)) return "\u2014";
  step = std::fabs(step);
  const char* suffix = "";
  if (std::fabs(value) >= 1e6 && step >= 1e5) {
    value /= 1e6, step /= 1e6, suffix = "M";
  } else if (std::fabs(value) >= 1e4 && step >= 1e3) {
    value /= 1e3, step /= 1e3, suffix = "k";
  }
  int decimals = 0;
  if (step > 0 && step < 1)
    decimals = std::min(6, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  char b[64];
  std::snprintf(b, sizeof b, "%.*f%s", decimals, value, suffix);
  std::string s = b;
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s = s.substr(1);  // -0
  return s;
}

double PlotFrame::px(double v) const {
  return left + (v - x.lo) / (x.hi - x.lo) * (right - left);
}
double PlotFrame::py(double v) const {
  return bottom - (v - y.lo) / (y.hi - y.lo) * (bottom - top);
}

PlotFrame line_chart_frame(const LineChart& c) {
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const auto& s : c.series)
    for (const auto& p : s.points) {
      if (!finite(p.x) || !finite(p.y)) continue;
      xlo = std::min(xlo, p.x), xhi = std::max(xhi, p.x);
      ylo = std::min(ylo, p.y), yhi = std::max(yhi, p.y);
    }
  PlotFrame f;
  f.x = nice_axis(xlo, xhi, std::max(2, (c.width - 80) / 90));
  f.y = nice_axis(ylo, yhi, std::max(2, (c.height - 90) / 40));
  // Left margin fits the widest y tick label.
  double ystep = f.y.ticks.size() > 1 ? f.y.ticks[1] - f.y.ticks[0] : 1;
  size_t widest = 0;
  for (double t : f.y.ticks) widest = std::max(widest, format_tick(t, ystep).size());
  f.left = 30 + kCharW * static_cast<double>(widest);
  f.right = c.width - 16.0;
  // Title row, then one legend row per ~line of series names when there are two or more series.
  double legend_w = 0;
  for (const auto& s : c.series) legend_w += 40 + kCharW * static_cast<double>(s.name.size());
  int legend_rows =
      c.series.size() < 2 ? 0 : 1 + static_cast<int>(legend_w / std::max(1.0, f.right - f.left));
  f.top = 30 + 16.0 * legend_rows;
  f.bottom = c.height - 42.0;
  return f;
}

std::vector<ChartPoint> downsample_minmax(const std::vector<ChartPoint>& pts, size_t buckets) {
  if (buckets == 0 || pts.size() <= 2 * buckets + 2) return pts;
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo;
  for (const auto& p : pts)
    if (finite(p.x)) xlo = std::min(xlo, p.x), xhi = std::max(xhi, p.x);
  if (!(xhi > xlo)) return {pts.front(), pts.back()};
  std::vector<ChartPoint> out;
  out.push_back(pts.front());
  size_t cur = SIZE_MAX, lo_i = 0, hi_i = 0;
  bool any = false, gap = false;
  auto flush = [&] {
    if (!any) return;
    size_t a = std::min(lo_i, hi_i), b = std::max(lo_i, hi_i);
    if (a != 0) out.push_back(pts[a]);
    if (b != a && b != pts.size() - 1) out.push_back(pts[b]);
    any = false;
  };
  for (size_t i = 1; i + 1 < pts.size(); ++i) {
    const ChartPoint& p = pts[i];
    if (!finite(p.x) || !finite(p.y)) {
      if (!gap) {
        flush();
        out.push_back(p);  // keep one break so the line is not drawn across missing data
      }
      gap = true;
      continue;
    }
    gap = false;
    size_t b = std::min(
        buckets - 1, static_cast<size_t>((p.x - xlo) / (xhi - xlo) * static_cast<double>(buckets)));
    if (b != cur) {
      flush();
      cur = b;
    }
    if (!any) {
      lo_i = hi_i = i;
      any = true;
    } else {
      if (p.y < pts[lo_i].y) lo_i = i;
      if (p.y > pts[hi_i].y) hi_i = i;
    }
  }
  flush();
  out.push_back(pts.back());
  return out;
}

std::string escape_xml(std::string_view t) {
  std::string o;
  o.reserve(t.size());
  for (char ch : t) {
    switch (ch) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        // Control characters other than tab/newline are not allowed in XML 1.0 at all.
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
          o += "\xEF\xBF\xBD";  // U+FFFD
        else
          o += ch;
    }
  }
  return o;
}

size_t palette_size() {
  return kPalette;
}

std::string svg_chart_css() {
  std::string css =
      ".lmf-chart{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:11px}"
      ".lmf-chart text{fill:#3a3f47}.lmf-chart .lmf-title{font-size:13px;font-weight:600}"
      ".lmf-chart .lmf-label{font-size:11px;fill:#5b6270}"
      ".lmf-axis{stroke:#6b7280;stroke-width:1}.lmf-grid{stroke:#9ca3af;stroke-opacity:.25;"
      "stroke-width:1}.lmf-line{fill:none;stroke-width:1.6;stroke-linejoin:round}"
      ".lmf-chart .lmf-empty{fill:#8a8f98;font-style:italic}";
  auto palette = [&](const char* const* colors) {
    std::string p;
    for (size_t i = 0; i < kPalette; ++i) {
      std::string c = std::to_string(i);
      p += ".lmf-s" + c + "{stroke:" + colors[i] + "}.lmf-m" + c + "{fill:" + colors[i] + "}";
    }
    return p;
  };
  css += palette(kLight) + ".lmf-bar{fill:" + std::string(kLight[0]) + "}";
  css +=
      "@media (prefers-color-scheme:dark){.lmf-chart text{fill:#d8dce3}"
      ".lmf-chart .lmf-label{fill:#aeb4bf}.lmf-axis{stroke:#9aa1ad}.lmf-grid{stroke:#6b7280}" +
      palette(kDark) + ".lmf-bar{fill:" + std::string(kDark[0]) + "}}";
  return css;
}

std::string render_line_chart(const LineChart& c, const SvgOptions& opt) {
  PlotFrame f = line_chart_frame(c);
  std::string o = open_svg(c.width, c.height, c.title, opt);
  if (c.series.size() >= 2) legend(o, c.series, f.left, f.right, 34);
  bool any_data = false;
  for (const auto& s : c.series)
    for (const auto& p : s.points) any_data = any_data || (finite(p.x) && finite(p.y));
  axes(o, f, c.x_label, c.y_label, true);
  if (!any_data)
    o += "<text class=\"lmf-empty\" x=\"" + fmt2((f.left + f.right) / 2) + "\" y=\"" +
         fmt2((f.top + f.bottom) / 2) + "\" text-anchor=\"middle\">no data</text>";
  size_t max_points =
      c.max_points ? c.max_points : static_cast<size_t>(std::max(1.0, f.right - f.left));
  for (size_t i = 0; i < c.series.size(); ++i) {
    const ChartSeries& s = c.series[i];
    std::string cls = std::to_string(i % kPalette);
    if (s.line) {
      std::vector<ChartPoint> pts = downsample_minmax(s.points, max_points / 2);
      std::string d;
      bool pen_down = false;
      for (const auto& p : pts) {
        if (!finite(p.x) || !finite(p.y)) {
          pen_down = false;
          continue;
        }
        d += (d.empty() ? "" : " ") + std::string(pen_down ? "L" : "M") + fmt2(f.px(p.x)) + " " +
             fmt2(f.py(p.y));
        pen_down = true;
      }
      if (!d.empty())
        o += "<path class=\"lmf-line lmf-s" + cls + "\" data-series=\"" + escape_xml(s.name) +
             "\" d=\"" + d + "\"/>";
    }
    // Dots help only while they are few enough to tell apart; a dense series is its line.
    size_t finite_points = 0;
    for (const auto& p : s.points) finite_points += finite(p.x) && finite(p.y);
    if ((s.markers && finite_points <= kMaxMarkers) || !s.line) {
      std::vector<ChartPoint> pts = s.line ? s.points : downsample_minmax(s.points, max_points / 2);
      for (const auto& p : pts)
        if (finite(p.x) && finite(p.y))
          o += "<circle class=\"lmf-m" + cls + "\" cx=\"" + fmt2(f.px(p.x)) + "\" cy=\"" +
               fmt2(f.py(p.y)) + "\" r=\"2.8\"/>";
    }
  }
  o += "</svg>";
  return o;
}

std::string render_bar_chart(const BarChart& c, const SvgOptions& opt) {
  constexpr double kRow = 24, kBar = 15;
  size_t widest = 0;
  for (const auto& b : c.bars) widest = std::max(widest, b.label.size());
  double label_w = std::min(0.4 * c.width, 16 + kCharW * static_cast<double>(widest));
  double hi = 0;
  for (const auto& b : c.bars)
    if (finite(b.value) && b.value > 0) hi = std::max(hi, b.value);
  PlotFrame f;
  f.x = nice_axis(0, hi > 0 ? hi : 1, std::max(2, static_cast<int>((c.width - label_w) / 90)));
  f.y = Axis{0, 1, {}};
  f.left = label_w;
  f.right = c.width - 56.0;  // room for the value printed after the longest bar
  f.top = 30;
  f.bottom = f.top + kRow * static_cast<double>(std::max<size_t>(c.bars.size(), 1)) + 4;
  int height = static_cast<int>(f.bottom + 42);
  std::string o = open_svg(c.width, height, c.title, opt);
  axes(o, f, c.value_label, "", false);
  for (size_t i = 0; i < c.bars.size(); ++i) {
    const Bar& b = c.bars[i];
    double y = f.top + 4 + kRow * static_cast<double>(i);
    double mid = y + kBar / 2 + 4;
    // Labels longer than the label column are cut, with the full label in a <title>.
    std::string label = b.label;
    size_t fit = static_cast<size_t>((label_w - 12) / kCharW);
    if (label.size() > fit && fit > 1) label = label.substr(0, fit - 1) + "\u2026";
    o += "<text class=\"lmf-tick\" x=\"" + fmt2(label_w - 8) + "\" y=\"" + fmt2(mid) +
         "\" text-anchor=\"end\"><title>" + escape_xml(b.label) + "</title>" + escape_xml(label) +
         "</text>";
    bool ok = finite(b.value) && b.value >= 0;
    double w = ok ? f.px(b.value) - f.left : 0;
    if (ok)
      o += "<path class=\"lmf-bar\" data-label=\"" + escape_xml(b.label) + "\" d=\"M" +
           fmt2(f.left) + " " + fmt2(y) + " h" + fmt2(w) + " v" + fmt2(kBar) + " h" + fmt2(-w) +
           " Z\"/>";
    o += "<text class=\"lmf-value\" x=\"" + fmt2(f.left + w + 5) + "\" y=\"" + fmt2(mid) + "\">" +
         escape_xml(ok ? format_value(b.value) + c.unit : "\u2014") + "</text>";
  }
  o += "</svg>";
  return o;
}

}  // namespace lmforge::demo
