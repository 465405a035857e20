// A small line/scatter plot as a standalone SVG file: what the search's front and the pruning
// analysis draw. Linear axes with "nice" ticks, series as points and/or lines, labelled vertical
// markers, a legend. No dependencies; opens in any browser.
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

}  // namespace vitnas
