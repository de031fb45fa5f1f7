#include "simulator/serving/metrics.h"

#include <algorithm>
#include <cmath>

namespace echosim {

LogHistogram::LogHistogram() : buckets_(static_cast<size_t>((kMaxExp - kMinExp) * kSub), 0) {}

void LogHistogram::Add(double v) {
  if (count_ == 0) {
    min_ = max_ = v;
  } else {
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
  }
  ++count_;
  sum_ += v;
  if (!(v > 0)) {
    ++zeros_;
    return;
  }
  int exp = 0;
  const double m = std::frexp(v, &exp);  // v = m * 2^exp, m in [0.5, 1)
  int64_t idx = static_cast<int64_t>(exp - kMinExp) * kSub +
                static_cast<int64_t>((m - 0.5) * 2.0 * kSub);
  idx = std::clamp<int64_t>(idx, 0, static_cast<int64_t>(buckets_.size()) - 1);
  ++buckets_[static_cast<size_t>(idx)];
}

double LogHistogram::Percentile(double q) const {
  if (count_ == 0) return 0.0;
  const int64_t rank = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(q / 100.0 * count_)));
  if (rank <= zeros_) return min_;
  int64_t seen = zeros_;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const int exp = static_cast<int>(i / kSub) + kMinExp;
      const double lo = std::ldexp(0.5 + 0.5 * static_cast<double>(i % kSub) / kSub, exp);
      const double hi = std::ldexp(0.5 + 0.5 * static_cast<double>(i % kSub + 1) / kSub, exp);
      return std::clamp(0.5 * (lo + hi), min_, max_);
    }
  }
  return max_;
}

nlohmann::json LogHistogram::Summary() const {
  return {{"p50", Percentile(50)}, {"p90", Percentile(90)}, {"p99", Percentile(99)},
          {"mean", mean()}, {"max", max()}};
}

bool ServingMetrics::Meets(const RequestRecord& r) const {
  if (r.rejected) return false;
  if (slo_.ttft_s > 0 && r.ttft_s > slo_.ttft_s) return false;
  if (slo_.tpot_s > 0 && r.output_tokens > 1 && r.tpot_s > slo_.tpot_s) return false;
  return true;
}

void ServingMetrics::AddRequest(const RequestRecord& r) {
  if (r.rejected) {
    ++rejected_;
    ++reject_reasons_[r.reason];
    return;
  }
  ++completed_;
  if (Meets(r)) ++slo_met_;
  ttft_.Add(r.ttft_s);
  if (r.output_tokens > 1) tpot_.Add(r.tpot_s);
  e2e_.Add(r.e2e_s);
  queue_.Add(r.queue_s);
  input_tokens_ += r.input_tokens;
  output_tokens_ += r.output_tokens;
  cached_tokens_ += r.cached_tokens;
  preemptions_ += r.preemptions;
}

void ServingMetrics::AddIteration(int64_t seqs, int64_t tokens) {
  ++iterations_;
  batch_seqs_sum_ += static_cast<double>(seqs);
  batch_tokens_sum_ += static_cast<double>(tokens);
  max_batch_seqs_ = std::max(max_batch_seqs_, seqs);
}

}  // namespace echosim
