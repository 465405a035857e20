// Small standalone SVG plots: what the search's front, the pruning analysis and `vitnas report`
// draw. A line/scatter plot (linear axes with "nice" ticks, series as points and/or lines,
// labelled vertical markers, a legend) and a horizontal bar chart (one labelled bar per row on
// a value axis). No dependencies; opens in any browser, inline in HTML too.
#pragma once

#include <string>
#include <vector>

namespace vitnas {

struct PlotSeries {
  std::string label;
  std::string color;            // any SVG colour, "#1f77b4"
  std::vector<double> x, y;     // equal lengths
  bool line = false;            // joined in the given order
  double radius = 3;            // point radius; 0: no points
  std::vector<std::string> point_labels;  // optional, one per point, drawn beside it
};

struct PlotMarker {  // a dashed vertical line at x
  double x = 0;
  std::string label;
};

struct Plot {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
  std::vector<PlotMarker> markers;
};

std::string render_svg(const Plot& plot);

struct Bar {
  std::string label;
  double value = 0;
  std::string color = "#1f77b4";
};

struct BarChart {
  std::string title, value_label;  // value_label names the unit: "latency (ms per batch of 16)"
  std::vector<Bar> bars;           // drawn top to bottom; the chart grows with their number
};

std::string render_bars_svg(const BarChart& chart);

// Text made safe inside XML and HTML: & < > " escaped.
std::string xml_escape(const std::string& text);

// Ticks of an axis over [lo, hi]: whole multiples of 1, 2 or 5 x 10^k, about 6 of them, the
// range widened to whole ticks (what both charts draw).
struct AxisTicks {
  double lo = 0, hi = 1, step = 0.2;
};
AxisTicks nice_axis(double lo, double hi);

}  // namespace vitnas
