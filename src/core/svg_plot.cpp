#include "core/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace vitnas {

namespace {

constexpr double kWidth = 720, kHeight = 480;
constexpr double kLeft = 70, kRight = 20, kTop = 40, kBottom = 55;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '&') out += "&amp;";
    else if (ch == '<') out += "&lt;";
    else if (ch == '>') out += "&gt;";
    else if (ch == '"') out += "&quot;";
    else out += ch;
  }
  return out;
}

// Range [lo, hi] widened to whole ticks of 1, 2 or 5 x 10^k, about 6 of them.
AxisTicks nice_axis(double lo, double hi) {
  if (!(hi > lo)) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.05;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / 6;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  return {std::floor(lo / step) * step, std::ceil(hi / step) * step, step};
}

std::string render_svg(const Plot& plot) {
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const auto& s : plot.series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      xlo = std::min(xlo, s.x[i]);
      xhi = std::max(xhi, s.x[i]);
      ylo = std::min(ylo, s.y[i]);
      yhi = std::max(yhi, s.y[i]);
    }
  for (const auto& m : plot.markers) {
    xlo = std::min(xlo, m.x);
    xhi = std::max(xhi, m.x);
  }
  if (!std::isfinite(xlo)) xlo = 0, xhi = 1;
  if (!std::isfinite(ylo)) ylo = 0, yhi = 1;
  const AxisTicks ax = nice_axis(xlo, xhi), ay = nice_axis(ylo, yhi);
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - ax.lo) / (ax.hi - ax.lo) * pw; };
  auto py = [&](double y) { return kTop + ph - (y - ay.lo) / (ay.hi - ay.lo) * ph; };

  std::string o;
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kWidth) + "\" height=\"" +
       num(kHeight) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o += "<text x=\"" + num(kWidth / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" +
       xml_escape(plot.title) + "</text>\n";
  // Grid and ticks.
  for (double t = ax.lo; t <= ax.hi + ax.step / 2; t += ax.step) {
    o += "<line x1=\"" + num(px(t)) + "\" y1=\"" + num(kTop) + "\" x2=\"" + num(px(t)) +
         "\" y2=\"" + num(kTop + ph) + "\" stroke=\"#e5e5e5\"/>\n";
    o += "<text x=\"" + num(px(t)) + "\" y=\"" + num(kTop + ph + 16) +
         "\" text-anchor=\"middle\">" + num(t) + "</text>\n";
  }
  for (double t = ay.lo; t <= ay.hi + ay.step / 2; t += ay.step) {
    o += "<line x1=\"" + num(kLeft) + "\" y1=\"" + num(py(t)) + "\" x2=\"" + num(kLeft + pw) +
         "\" y2=\"" + num(py(t)) + "\" stroke=\"#e5e5e5\"/>\n";
    o += "<text x=\"" + num(kLeft - 6) + "\" y=\"" + num(py(t) + 4) + "\" text-anchor=\"end\">" +
         num(t) + "</text>\n";
  }
  o += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(kTop) + "\" width=\"" + num(pw) +
       "\" height=\"" + num(ph) + "\" fill=\"none\" stroke=\"black\"/>\n";
  o += "<text x=\"" + num(kLeft + pw / 2) + "\" y=\"" + num(kHeight - 14) +
       "\" text-anchor=\"middle\">" + xml_escape(plot.x_label) + "</text>\n";
  o += "<text transform=\"translate(18," + num(kTop + ph / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">" + xml_escape(plot.y_label) + "</text>\n";
  for (const auto& m : plot.markers) {
    o += "<line x1=\"" + num(px(m.x)) + "\" y1=\"" + num(kTop) + "\" x2=\"" + num(px(m.x)) +
         "\" y2=\"" + num(kTop + ph) + "\" stroke=\"#888\" stroke-dasharray=\"5,4\"/>\n";
    // Written upwards along the line, so neighbouring markers' labels do not overlap.
    o += "<text transform=\"translate(" + num(px(m.x) - 3) + "," + num(kTop + 4) +
         ") rotate(-90)\" text-anchor=\"end\" fill=\"#555\">" + xml_escape(m.label) + "</text>\n";
  }
  // Series, then the legend.
  for (const auto& s : plot.series) {
    if (s.line && s.x.size() > 1) {
      std::string pts;
      for (size_t i = 0; i < s.x.size(); ++i) pts += num(px(s.x[i])) + "," + num(py(s.y[i])) + " ";
      o += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" + s.color +
           "\" stroke-width=\"1.5\"/>\n";
    }
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (s.radius > 0)
        o += "<circle cx=\"" + num(px(s.x[i])) + "\" cy=\"" + num(py(s.y[i])) + "\" r=\"" +
             num(s.radius) + "\" fill=\"" + s.color + "\" fill-opacity=\"0.8\"/>\n";
      if (i < s.point_labels.size() && !s.point_labels[i].empty())
        o += "<text x=\"" + num(px(s.x[i]) + 5) + "\" y=\"" + num(py(s.y[i]) - 5) + "\" fill=\"" +
             s.color + "\">" + xml_escape(s.point_labels[i]) + "</text>\n";
    }
  }
  // The legend sits in the lower right corner, where an accuracy-latency front leaves room.
  const auto labelled = std::count_if(plot.series.begin(), plot.series.end(),
                                      [](const PlotSeries& s) { return !s.label.empty(); });
  double ly = kTop + ph - 16.0 * double(labelled);
  for (const auto& s : plot.series) {
    if (s.label.empty()) continue;
    o += "<circle cx=\"" + num(kLeft + pw - 150) + "\" cy=\"" + num(ly) + "\" r=\"4\" fill=\"" +
         s.color + "\"/>\n";
    o += "<text x=\"" + num(kLeft + pw - 142) + "\" y=\"" + num(ly + 4) + "\">" + xml_escape(s.label) +
         "</text>\n";
    ly += 16;
  }
  o += "</svg>\n";
  return o;
}

std::string render_bars_svg(const BarChart& chart) {
  constexpr double kLabels = 190, kRow = 18, kBarTop = 40, kAxis = 50;
  const double height = kBarTop + kRow * double(std::max<size_t>(chart.bars.size(), 1)) + kAxis;
  double lo = 0, hi = 0;  // bars start at 0
  for (const auto& b : chart.bars) {
    lo = std::min(lo, b.value);
    hi = std::max(hi, b.value);
  }
  const AxisTicks ax = nice_axis(lo, hi > lo ? hi : lo + 1);
  const double pw = kWidth - kLabels - kRight;
  auto px = [&](double v) { return kLabels + (v - ax.lo) / (ax.hi - ax.lo) * pw; };
  const double bottom = height - kAxis;

  std::string o;
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kWidth) + "\" height=\"" +
       num(height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o += "<text x=\"" + num(kWidth / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" +
       xml_escape(chart.title) + "</text>\n";
  for (double t = ax.lo; t <= ax.hi + ax.step / 2; t += ax.step) {
    o += "<line x1=\"" + num(px(t)) + "\" y1=\"" + num(kBarTop) + "\" x2=\"" + num(px(t)) +
         "\" y2=\"" + num(bottom) + "\" stroke=\"#e5e5e5\"/>\n";
    o += "<text x=\"" + num(px(t)) + "\" y=\"" + num(bottom + 16) + "\" text-anchor=\"middle\">" +
         num(t) + "</text>\n";
  }
  for (size_t i = 0; i < chart.bars.size(); ++i) {
    const Bar& b = chart.bars[i];
    const double y = kBarTop + kRow * double(i);
    const double x0 = px(std::min(0.0, b.value)), x1 = px(std::max(0.0, b.value));
    o += "<rect x=\"" + num(x0) + "\" y=\"" + num(y + 2) + "\" width=\"" + num(x1 - x0) +
         "\" height=\"" + num(kRow - 4) + "\" fill=\"" + b.color + "\"><title>" +
         xml_escape(b.label) + ": " + num(b.value) + "</title></rect>\n";
    o += "<text x=\"" + num(kLabels - 6) + "\" y=\"" + num(y + kRow - 5) + "\" text-anchor=\"end\">" +
         xml_escape(b.label) + "</text>\n";
  }
  o += "<line x1=\"" + num(px(0)) + "\" y1=\"" + num(kBarTop) + "\" x2=\"" + num(px(0)) +
       "\" y2=\"" + num(bottom) + "\" stroke=\"black\"/>\n";
  o += "<line x1=\"" + num(kLabels) + "\" y1=\"" + num(bottom) + "\" x2=\"" + num(kLabels + pw) +
       "\" y2=\"" + num(bottom) + "\" stroke=\"black\"/>\n";
  o += "<text x=\"" + num(kLabels + pw / 2) + "\" y=\"" + num(height - 14) +
       "\" text-anchor=\"middle\">" + xml_escape(chart.value_label) + "</text>\n";
  o += "</svg>\n";
  return o;
}

}  // namespace vitnas
