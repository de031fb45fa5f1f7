// SvgPlot: a small, dependency-free scatter-plot writer for the accuracy page.
//
// Renders points of several named series on linear or logarithmic axes, with "nice"
// tick marks, an optional y = x diagonal with a +-band (predicted vs measured), optional
// horizontal reference lines, and a legend. Output is a standalone SVG document; the
// same input always gives byte-identical output (fixed-precision number formatting).
#ifndef ECHOSIM_SIMULATOR_VALIDATION_SVG_PLOT_H_
#define ECHOSIM_SIMULATOR_VALIDATION_SVG_PLOT_H_

#include <string>
#include <utility>
#include <vector>

namespace echosim {

struct PlotSeries {
  std::string name;
  std::string color;  // any SVG colour, e.g. "#1f77b4"
  enum class Marker { kCircle, kSquare, kTriangle, kDiamond } marker = Marker::kCircle;
  std::vector<std::pair<double, double>> points;  // (x, y)
};

struct PlotSpec {
  std::string title;
  std::string x_label, y_label;
  bool log_x = false, log_y = false;
  bool diagonal = false;        // draw y = x
  double diagonal_band = 0;     // and y = x * (1 +- band) when > 0
  std::vector<double> hlines;   // horizontal reference lines at these y values
  std::vector<PlotSeries> series;
  int width_px = 640, height_px = 440;
};

// The SVG document. Points with a non-finite coordinate (or <= 0 on a log axis) are
// left out; an empty plot still renders its axes.
std::string RenderSvgPlot(const PlotSpec& spec);

// Tick positions for [lo, hi]: multiples of 1, 2 or 5 x 10^k (linear), or 1, 2, 5 x 10^k
// within the range (log; powers of ten only when the range spans more than two decades).
std::vector<double> NiceTicks(double lo, double hi, bool log_scale);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_VALIDATION_SVG_PLOT_H_
