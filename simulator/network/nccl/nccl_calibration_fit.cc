#include "simulator/network/nccl/nccl_calibration_fit.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "simulator/core/strings.h"

namespace echosim {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

enum class Kind : uint8_t { kRho, kDRho, kKappa, kFill, kLaunch, kDLaunch, kIntraStep, kInterStep };

struct Param {
  Kind kind;
  int domain = 0;
  int family = 0;
  int protocol = 0;
  bool operator<(const Param& o) const {
    return std::tie(kind, domain, family, protocol) < std::tie(o.kind, o.domain, o.family, o.protocol);
  }
};

double Prior(Kind k) { return k == Kind::kRho ? 1.0 : 0.0; }
// Ridge strength per sample row (relative rows are O(1)).
double Ridge(Kind k) {
  switch (k) {
    case Kind::kRho:
      return 1e-4;
    case Kind::kDRho:
      return 1e-1;
    case Kind::kKappa:
    case Kind::kFill:
      return 1e-4;
    case Kind::kLaunch:
      return 1e-8;
    case Kind::kDLaunch:
    case Kind::kIntraStep:
    case Kind::kInterStep:
      return 1e-6;
  }
  return 1e-6;
}
// Lower bound (-inf for unconstrained).
double LowerBound(Kind k) {
  switch (k) {
    case Kind::kRho:
      return 0.01;
    case Kind::kDRho:
    case Kind::kDLaunch:
      return -1e300;
    default:
      return 0.0;
  }
}

double Tolerance(double bytes) { return bytes >= 64 * kMiB ? 0.10 : bytes >= kMiB ? 0.25 : 1.0; }

std::vector<std::pair<Param, double>> Features(const NcclDecision& d, double knee) {
  const int dom = static_cast<int>(d.domain), f = static_cast<int>(d.family), p = static_cast<int>(d.protocol);
  const double t = d.physical_bandwidth_time_us > 0 ? d.physical_bandwidth_time_us : d.nccl_bandwidth_time_us;
  std::vector<std::pair<Param, double>> x = {
      {{Kind::kRho, dom, 0, p}, t},
      {{Kind::kDRho, dom, f, p}, t},
      {{Kind::kKappa, dom, 0, p}, t / std::max(1, d.ring_steps)},
      {{Kind::kLaunch, 0, 0, p}, 1.0},
      {{Kind::kDLaunch, 0, f, p}, 1.0},
      {{Kind::kIntraStep, 0, 0, p}, static_cast<double>(d.intra_steps)},
      {{Kind::kInterStep, 0, 0, p}, static_cast<double>(d.inter_steps)},
  };
  if (knee > 0) x.push_back({{Kind::kFill, dom, 0, p}, t * std::min(d.bytes, knee) / d.bytes});
  return x;
}

NcclCalibration ToCalibration(const std::vector<Param>& params, const Eigen::VectorXd& theta, double knee) {
  NcclCalibration c;
  c.knee_bytes = knee;
  std::map<std::pair<int, int>, double> rho;
  for (size_t j = 0; j < params.size(); ++j) {
    if (params[j].kind == Kind::kRho) rho[{params[j].domain, params[j].protocol}] = theta[j];
  }
  for (size_t j = 0; j < params.size(); ++j) {
    const Param& q = params[j];
    const double v = theta[j];
    switch (q.kind) {
      case Kind::kRho:
        c.efficiency[q.domain][q.protocol] = 1.0 / v;
        break;
      case Kind::kDRho: {
        auto it = rho.find({q.domain, q.protocol});
        const double base = it == rho.end() ? 1.0 : it->second;
        if (std::abs(v) > 1e-3 * base) {
          c.family_efficiency[{static_cast<NcclDomain>(q.domain), static_cast<NcclFamily>(q.family),
                               static_cast<NcclProtocol>(q.protocol)}] = 1.0 / std::max(base + v, 0.01);
        }
        break;
      }
      case Kind::kKappa:
        c.rank_share[q.domain][q.protocol] = v;
        break;
      case Kind::kFill:
        c.fill[q.domain][q.protocol] = v;
        break;
      case Kind::kLaunch:
        c.launch_us[q.protocol] = v;
        break;
      case Kind::kDLaunch:
        if (std::abs(v) > 1e-3)
          c.family_launch_us[{static_cast<NcclFamily>(q.family), static_cast<NcclProtocol>(q.protocol)}] = v;
        break;
      case Kind::kIntraStep:
        c.per_intra_step_us[q.protocol] = v;
        break;
      case Kind::kInterStep:
        c.per_inter_step_us[q.protocol] = v;
        break;
    }
  }
  return c;
}

// Weighted ridge least squares with lower bounds (active set: the most violating bounded
// parameter is fixed at its bound, then the rest is re-solved).
Eigen::VectorXd SolveBounded(const Eigen::MatrixXd& A, const Eigen::VectorXd& y, const Eigen::VectorXd& w,
                             const Eigen::VectorXd& ridge, const Eigen::VectorXd& prior, const Eigen::VectorXd& lower) {
  const int P = static_cast<int>(A.cols());
  std::vector<bool> fixed(P, false);
  Eigen::VectorXd theta = prior;
  for (int iter = 0; iter <= P; ++iter) {
    std::vector<int> free_idx;
    for (int j = 0; j < P; ++j) {
      if (!fixed[j]) free_idx.push_back(j);
    }
    Eigen::VectorXd rhs_y = y;
    for (int j = 0; j < P; ++j) {
      if (fixed[j]) rhs_y -= A.col(j) * lower[j];
    }
    const int F = static_cast<int>(free_idx.size());
    Eigen::MatrixXd Af(A.rows(), F);
    for (int k = 0; k < F; ++k) Af.col(k) = A.col(free_idx[k]);
    Eigen::MatrixXd M = Af.transpose() * w.asDiagonal() * Af;
    Eigen::VectorXd r = Af.transpose() * (w.asDiagonal() * rhs_y);
    for (int k = 0; k < F; ++k) {
      M(k, k) += ridge[free_idx[k]];
      r[k] += ridge[free_idx[k]] * prior[free_idx[k]];
    }
    const Eigen::VectorXd sol = M.ldlt().solve(r);
    for (int j = 0; j < P; ++j) theta[j] = fixed[j] ? lower[j] : 0.0;
    for (int k = 0; k < F; ++k) theta[free_idx[k]] = std::isfinite(sol[k]) ? sol[k] : prior[free_idx[k]];
    int worst = -1;
    double worst_gap = 0;
    for (int k = 0; k < F; ++k) {
      const int j = free_idx[k];
      const double gap = lower[j] - theta[j];
      if (gap > 1e-12 && gap > worst_gap) {
        worst_gap = gap;
        worst = j;
      }
    }
    if (worst < 0) break;
    fixed[worst] = true;
  }
  return theta;
}

}  // namespace

double SampleResult::MeasuredBusBwGBps() const {
  return sample.bytes * BusBandwidthFactor(sample.collective, decision.ranks) / sample.time_us / 1e3;
}
double SampleResult::PredictedBusBwGBps() const {
  return sample.bytes * BusBandwidthFactor(sample.collective, decision.ranks) / predicted_us / 1e3;
}

StatusOr<std::vector<SampleResult>> EvaluateNcclCalibration(const NcclModel& model, const NcclCalibration& calibration,
                                                            const std::vector<CollectiveSample>& samples) {
  std::vector<SampleResult> out;
  out.reserve(samples.size());
  for (const CollectiveSample& s : samples) {
    if (!(s.time_us > 0)) return InvalidArgument(StrCat(s.source, ": measured time must be positive"));
    GroupShape g;
    g.size = s.ranks;
    g.nodes = s.nodes;
    g.per_node = s.nodes > 0 ? s.ranks / s.nodes : 0;
    auto d = model.Decide(s.collective, s.bytes, g);
    if (!d.ok()) return d.status().WithContext(s.source);
    SampleResult r;
    r.sample = s;
    r.decision = *d;
    r.predicted_us = calibration.TimeUs(*d);
    r.error = s.time_us / r.predicted_us - 1.0;
    out.push_back(r);
  }
  return out;
}

NcclFitSummary SummarizeResults(const std::vector<SampleResult>& results, double min_bytes) {
  NcclFitSummary s;
  s.min_bytes = min_bytes;
  double sq = 0;
  for (const SampleResult& r : results) {
    if (r.sample.bytes < min_bytes) continue;
    ++s.points;
    sq += r.error * r.error;
    if (r.sample.bytes >= kMiB) s.max_error_from_1mib = std::max(s.max_error_from_1mib, std::abs(r.error));
    if (r.sample.bytes >= 64 * kMiB) s.max_error_from_64mib = std::max(s.max_error_from_64mib, std::abs(r.error));
  }
  s.rms_error = s.points > 0 ? std::sqrt(sq / s.points) : 0;
  return s;
}

StatusOr<NcclFitResult> FitNcclCalibration(const NcclModel& model, const std::vector<CollectiveSample>& samples,
                                           const NcclFitOptions& options) {
  NcclCalibration identity;
  ECHOSIM_ASSIGN_OR_RETURN(std::vector<SampleResult> base, EvaluateNcclCalibration(model, identity, samples));
  std::vector<const SampleResult*> rows;
  for (const SampleResult& r : base) {
    if (r.sample.bytes >= options.min_bytes) rows.push_back(&r);
  }
  if (rows.size() < 3) {
    return InvalidArgument(
        StrCat("need at least 3 samples of at least ", options.min_bytes, " bytes to fit, got ", rows.size()));
  }
  std::vector<double> knees = {0.0};
  for (int e = 20; e <= 33; ++e) knees.push_back(std::ldexp(1.0, e));

  double best_score = std::numeric_limits<double>::infinity();
  NcclCalibration best;
  for (double knee : knees) {
    std::map<Param, int> index;
    for (const SampleResult* r : rows) {
      for (const auto& [p, v] : Features(r->decision, knee)) index.emplace(p, 0);
    }
    std::vector<Param> params;
    for (auto& [p, i] : index) {
      i = static_cast<int>(params.size());
      params.push_back(p);
    }
    const int N = static_cast<int>(rows.size());
    const int P = static_cast<int>(params.size());
    Eigen::MatrixXd A = Eigen::MatrixXd::Zero(N, P);
    Eigen::VectorXd y(N), w(N);
    for (int i = 0; i < N; ++i) {
      const SampleResult& r = *rows[i];
      const double tm = r.sample.time_us;
      for (const auto& [p, v] : Features(r.decision, knee)) A(i, index[p]) += v / tm;
      y[i] = 1.0 - r.decision.nccl_latency_us / tm;
      const double tol = Tolerance(r.sample.bytes);
      w[i] = 1.0 / (tol * tol);
    }
    Eigen::VectorXd ridge(P), prior(P), lower(P);
    for (int j = 0; j < P; ++j) {
      ridge[j] = Ridge(params[j].kind) * N;
      prior[j] = Prior(params[j].kind);
      lower[j] = LowerBound(params[j].kind);
    }
    const Eigen::VectorXd theta = SolveBounded(A, y, w, ridge, prior, lower);
    NcclCalibration cal = ToCalibration(params, theta, knee);
    ECHOSIM_ASSIGN_OR_RETURN(std::vector<SampleResult> eval, EvaluateNcclCalibration(model, cal, samples));
    const NcclFitSummary s = SummarizeResults(eval, options.min_bytes);
    const double score = std::max(s.max_error_from_1mib / 0.25, s.max_error_from_64mib / 0.10);
    if (score < best_score - 1e-12) {
      best_score = score;
      best = cal;
    }
  }
  NcclFitResult out;
  out.calibration = best;
  ECHOSIM_ASSIGN_OR_RETURN(out.results, EvaluateNcclCalibration(model, best, samples));
  out.calibration.fit = SummarizeResults(out.results, options.min_bytes);
  return out;
}

}  // namespace echosim
