// SvgPlot: tick choice, point placement and what is left out.
#include "simulator/validation/svg_plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace echosim {
namespace {

int Count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

TEST(SvgPlotTest, NiceTicks) {
  // Linear: about six steps of 1, 2 or 5 x 10^k.
  EXPECT_EQ(NiceTicks(0, 10, false), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(NiceTicks(-25, 32, false), (std::vector<double>{-20, -10, 0, 10, 20, 30}));
  // Log within two decades: 1, 2, 5 per decade; wider: powers of ten only.
  EXPECT_EQ(NiceTicks(0.9, 30, true), (std::vector<double>{1, 2, 5, 10, 20}));
  EXPECT_EQ(NiceTicks(0.5, 2000, true), (std::vector<double>{1, 10, 100, 1000}));
}

TEST(SvgPlotTest, RendersEveryUsablePointOnce) {
  PlotSpec spec;
  spec.title = "a < b & c";
  spec.log_x = spec.log_y = true;
  spec.diagonal = true;
  spec.diagonal_band = 0.1;
  PlotSeries s;
  s.name = "src";
  s.color = "#123456";
  s.points = {{1, 1}, {10, 12}, {100, 90}, {0, 5}, {std::numeric_limits<double>::quiet_NaN(), 1}};
  spec.series = {s};
  const std::string svg = RenderSvgPlot(spec);
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("a &lt; b &amp; c"), std::string::npos);
  // Three usable points plus the legend marker; x = 0 is not drawable on a log axis.
  EXPECT_EQ(Count(svg, "<circle"), 4);
  // y = x and its two band lines.
  EXPECT_EQ(Count(svg, "stroke=\"#888\""), 3);
  EXPECT_EQ(RenderSvgPlot(spec), svg);  // deterministic
}

TEST(SvgPlotTest, EmptyPlotStillHasAxes) {
  PlotSpec spec;
  spec.title = "empty";
  spec.hlines = {0};
  const std::string svg = RenderSvgPlot(spec);
  EXPECT_NE(svg.find("empty"), std::string::npos);
  EXPECT_EQ(Count(svg, "<circle"), 0);
  EXPECT_GE(Count(svg, "stroke=\"#e5e5e5\""), 4);
}

}  // namespace
}  // namespace echosim
