#include "simulator/validation/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace echosim {

namespace {

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Tick label: up to 3 significant digits, no trailing zeros, "k"/"M"/"B" for large values.
std::string TickLabel(double v) {
  const double a = std::fabs(v);
  const char* suffix = "";
  double x = v;
  if (a >= 1e12) {
    x = v / 1e12;
    suffix = "T";
  } else if (a >= 1e9) {
    x = v / 1e9;
    suffix = "B";
  } else if (a >= 1e6) {
    x = v / 1e6;
    suffix = "M";
  } else if (a >= 1e4) {
    x = v / 1e3;
    suffix = "k";
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g%s", x, suffix);
  return buf;
}

bool Usable(double v, bool log_scale) { return std::isfinite(v) && (!log_scale || v > 0); }

}  // namespace

std::vector<double> NiceTicks(double lo, double hi, bool log_scale) {
  std::vector<double> ticks;
  if (!(hi > lo)) return {lo};
  if (log_scale) {
    const int e0 = static_cast<int>(std::floor(std::log10(lo)));
    const int e1 = static_cast<int>(std::ceil(std::log10(hi)));
    const bool sparse = std::log10(hi / lo) > 2.0;
    for (int e = e0; e <= e1; ++e) {
      for (double m : {1.0, 2.0, 5.0}) {
        if (sparse && m != 1.0) continue;
        const double t = m * std::pow(10.0, e);
        if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) ticks.push_back(t);
      }
    }
    return ticks;
  }
  const double raw = (hi - lo) / 6.0;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  }
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) {
    ticks.push_back(std::fabs(t) < 1e-12 * step ? 0.0 : t);
  }
  return ticks;
}

std::string RenderSvgPlot(const PlotSpec& spec) {
  const double w = spec.width_px, h = spec.height_px;
  const double left = 70, right = 170, top = 40, bottom = 55;
  const double pw = w - left - right, ph = h - top - bottom;
  // Data range over usable points (and the reference lines).
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const PlotSeries& s : spec.series) {
    for (const auto& [x, y] : s.points) {
      if (!Usable(x, spec.log_x) || !Usable(y, spec.log_y)) continue;
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  }
  if (!std::isfinite(x0)) {
    x0 = spec.log_x ? 1 : 0;
    x1 = spec.log_x ? 10 : 1;
    y0 = spec.log_y ? 1 : 0;
    y1 = spec.log_y ? 10 : 1;
  }
  for (double v : spec.hlines) {
    if (Usable(v, spec.log_y)) {
      y0 = std::min(y0, v);
      y1 = std::max(y1, v);
    }
  }
  if (spec.diagonal) {  // same range on both axes
    x0 = y0 = std::min(x0, y0);
    x1 = y1 = std::max(x1, y1);
  }
  auto pad = [](double* lo, double* hi, bool log_scale) {
    if (log_scale) {
      if (*hi <= *lo) *hi = *lo * 10;
      const double f = std::pow(*hi / *lo, 0.05);
      *lo /= f;
      *hi *= f;
    } else {
      if (*hi <= *lo) *hi = *lo + 1;
      const double d = 0.05 * (*hi - *lo);
      *lo -= d;
      *hi += d;
    }
  };
  pad(&x0, &x1, spec.log_x);
  pad(&y0, &y1, spec.log_y);
  auto fx = [&](double x) {
    const double t = spec.log_x ? std::log(x / x0) / std::log(x1 / x0) : (x - x0) / (x1 - x0);
    return left + t * pw;
  };
  auto fy = [&](double y) {
    const double t = spec.log_y ? std::log(y / y0) / std::log(y1 / y0) : (y - y0) / (y1 - y0);
    return top + (1 - t) * ph;
  };

  std::string o;
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Num(w) + "\" height=\"" + Num(h) +
       "\" viewBox=\"0 0 " + Num(w) + " " + Num(h) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o += "<rect x=\"0\" y=\"0\" width=\"" + Num(w) + "\" height=\"" + Num(h) + "\" fill=\"white\"/>\n";
  o += "<text x=\"" + Num(left + pw / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">" +
       Escape(spec.title) + "</text>\n";
  // Grid and ticks.
  for (double t : NiceTicks(x0, x1, spec.log_x)) {
    const double px = fx(t);
    o += "<line x1=\"" + Num(px) + "\" y1=\"" + Num(top) + "\" x2=\"" + Num(px) + "\" y2=\"" +
         Num(top + ph) + "\" stroke=\"#e5e5e5\"/>\n";
    o += "<text x=\"" + Num(px) + "\" y=\"" + Num(top + ph + 16) + "\" text-anchor=\"middle\">" +
         TickLabel(t) + "</text>\n";
  }
  for (double t : NiceTicks(y0, y1, spec.log_y)) {
    const double py = fy(t);
    o += "<line x1=\"" + Num(left) + "\" y1=\"" + Num(py) + "\" x2=\"" + Num(left + pw) + "\" y2=\"" +
         Num(py) + "\" stroke=\"#e5e5e5\"/>\n";
    o += "<text x=\"" + Num(left - 6) + "\" y=\"" + Num(py + 4) + "\" text-anchor=\"end\">" +
         TickLabel(t) + "</text>\n";
  }
  o += "<rect x=\"" + Num(left) + "\" y=\"" + Num(top) + "\" width=\"" + Num(pw) + "\" height=\"" +
       Num(ph) + "\" fill=\"none\" stroke=\"#333\"/>\n";
  o += "<text x=\"" + Num(left + pw / 2) + "\" y=\"" + Num(h - 12) + "\" text-anchor=\"middle\">" +
       Escape(spec.x_label) + "</text>\n";
  o += "<text x=\"16\" y=\"" + Num(top + ph / 2) + "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " +
       Num(top + ph / 2) + ")\">" + Escape(spec.y_label) + "</text>\n";
  // Reference lines, clipped to the plot area by sampling the range ends.
  auto segment = [&](double xa, double ya, double xb, double yb, const char* dash) {
    o += "<line x1=\"" + Num(fx(xa)) + "\" y1=\"" + Num(fy(ya)) + "\" x2=\"" + Num(fx(xb)) +
         "\" y2=\"" + Num(fy(yb)) + "\" stroke=\"#888\"" +
         (dash[0] ? std::string(" stroke-dasharray=\"") + dash + "\"" : std::string()) + "/>\n";
  };
  if (spec.diagonal) {
    segment(x0, x0, x1, x1, "");
    if (spec.diagonal_band > 0) {
      const double up = 1 + spec.diagonal_band, down = 1 - spec.diagonal_band;
      segment(x0, x0 * up, x1 / up, x1, "4 3");
      segment(x0 / down, x0, x1, x1 * down, "4 3");
    }
  }
  for (double v : spec.hlines) {
    if (Usable(v, spec.log_y)) segment(x0, v, x1, v, v == 0 ? "" : "4 3");
  }
  // Points.
  auto marker = [&](PlotSeries::Marker m, const std::string& color, double px, double py) {
    switch (m) {
      case PlotSeries::Marker::kCircle:
        o += "<circle cx=\"" + Num(px) + "\" cy=\"" + Num(py) + "\" r=\"4\" fill=\"" + color +
             "\" fill-opacity=\"0.75\"/>\n";
        break;
      case PlotSeries::Marker::kSquare:
        o += "<rect x=\"" + Num(px - 3.5) + "\" y=\"" + Num(py - 3.5) +
             "\" width=\"7\" height=\"7\" fill=\"" + color + "\" fill-opacity=\"0.75\"/>\n";
        break;
      case PlotSeries::Marker::kTriangle:
        o += "<polygon points=\"" + Num(px) + "," + Num(py - 4.5) + " " + Num(px - 4.5) + "," +
             Num(py + 3.5) + " " + Num(px + 4.5) + "," + Num(py + 3.5) + "\" fill=\"" + color +
             "\" fill-opacity=\"0.75\"/>\n";
        break;
      case PlotSeries::Marker::kDiamond:
        o += "<polygon points=\"" + Num(px) + "," + Num(py - 5) + " " + Num(px - 5) + "," +
             Num(py) + " " + Num(px) + "," + Num(py + 5) + " " + Num(px + 5) + "," + Num(py) +
             "\" fill=\"" + color + "\" fill-opacity=\"0.75\"/>\n";
        break;
    }
  };
  for (const PlotSeries& s : spec.series) {
    for (const auto& [x, y] : s.points) {
      if (!Usable(x, spec.log_x) || !Usable(y, spec.log_y)) continue;
      marker(s.marker, s.color, fx(x), fy(y));
    }
  }
  // Legend.
  double ly = top + 10;
  for (const PlotSeries& s : spec.series) {
    const double lx = left + pw + 14;
    marker(s.marker, s.color, lx + 4, ly - 4);
    o += "<text x=\"" + Num(lx + 14) + "\" y=\"" + Num(ly) + "\" font-size=\"11\">" + Escape(s.name) +
         "</text>\n";
    ly += 18;
  }
  o += "</svg>\n";
  return o;
}

}  // namespace echosim
