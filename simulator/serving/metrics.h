// Serving metrics: per-request latencies and their aggregates.
//
// Per request (vLLM benchmark_serving's definitions):
//   TTFT  first token time - arrival
//   TPOT  (E2E - TTFT) / (output tokens - 1), requests with at least two output tokens
//   ITL   gap between consecutive output tokens of a request
//   E2E   last token time - arrival
//   queueing delay  first scheduled - arrival
// Aggregates (p50/p90/p99/mean) come from LogHistogram: 128 buckets per factor of two, so a
// reported percentile is within 0.3% of the exact order statistic; means, counts, min and
// max are exact. Memory does not grow with the number of requests.
// SLO attainment = requests meeting every given SLO / requests that arrived (rejected ones
// fail); goodput = requests meeting the SLOs per simulated second (DistServe's definition).
#ifndef ECHOSIM_SIMULATOR_SERVING_METRICS_H_
#define ECHOSIM_SIMULATOR_SERVING_METRICS_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace echosim {

class LogHistogram {
 public:
  LogHistogram();
  void Add(double v);
  int64_t count() const { return count_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  double min() const { return count_ ? min_ : 0.0; }
  double max() const { return count_ ? max_ : 0.0; }
  // Nearest-rank percentile (q in [0, 100]); the bucket's midpoint clamped to [min, max].
  double Percentile(double q) const;
  // {"p50", "p90", "p99", "mean"} (+ "max").
  nlohmann::json Summary() const;

 private:
  static constexpr int kSub = 128;       // buckets per octave
  static constexpr int kMinExp = -45;    // 2^-45 s ~ 28 fs: below any latency
  static constexpr int kMaxExp = 40;     // 2^40 ~ 1e12
  std::vector<int64_t> buckets_;
  int64_t zeros_ = 0;
  int64_t count_ = 0;
  double sum_ = 0, min_ = 0, max_ = 0;
};

// One finished or rejected request.
struct RequestRecord {
  uint64_t id = 0;
  int32_t replica = -1;        // replica that produced its first token (-1: rejected at arrival)
  int32_t decode_replica = -1; // disaggregated clusters: replica that finished it
  double arrival_s = 0;
  int32_t input_tokens = 0;
  int32_t output_tokens = 0;
  int32_t cached_tokens = 0;   // prompt tokens found in the prefix cache
  double queue_s = 0, ttft_s = 0, tpot_s = 0, e2e_s = 0, max_itl_s = 0;
  int32_t preemptions = 0;
  bool rejected = false;
  std::string reason;          // why it was rejected
};

struct SloSpec {
  double ttft_s = 0;  // 0 = none
  double tpot_s = 0;
  bool any() const { return ttft_s > 0 || tpot_s > 0; }
};

class ServingMetrics {
 public:
  explicit ServingMetrics(SloSpec slo) : slo_(slo) {}
  void AddRequest(const RequestRecord& r);
  void AddItl(double seconds) { itl_.Add(seconds); }
  void AddIteration(int64_t seqs, int64_t tokens);
  void AddKvSample(double used_fraction) { kv_util_.Add(used_fraction); }

  int64_t arrived() const { return completed_ + rejected_; }
  int64_t completed() const { return completed_; }
  int64_t rejected() const { return rejected_; }
  int64_t slo_met() const { return slo_met_; }
  const LogHistogram& ttft() const { return ttft_; }
  const LogHistogram& tpot() const { return tpot_; }
  const LogHistogram& e2e() const { return e2e_; }
  const LogHistogram& itl() const { return itl_; }
  const LogHistogram& queue() const { return queue_; }
  int64_t input_tokens() const { return input_tokens_; }
  int64_t output_tokens() const { return output_tokens_; }
  int64_t cached_tokens() const { return cached_tokens_; }
  int64_t preemptions() const { return preemptions_; }
  int64_t iterations() const { return iterations_; }
  double mean_batch_seqs() const { return iterations_ ? batch_seqs_sum_ / iterations_ : 0.0; }
  double mean_batch_tokens() const { return iterations_ ? batch_tokens_sum_ / iterations_ : 0.0; }
  int64_t max_batch_seqs() const { return max_batch_seqs_; }
  const LogHistogram& kv_utilization() const { return kv_util_; }
  const std::map<std::string, int64_t>& rejections() const { return reject_reasons_; }
  bool Meets(const RequestRecord& r) const;
  const SloSpec& slo() const { return slo_; }

 private:
  SloSpec slo_;
  LogHistogram ttft_, tpot_, e2e_, itl_, queue_, kv_util_;
  int64_t completed_ = 0, rejected_ = 0, slo_met_ = 0;
  int64_t input_tokens_ = 0, output_tokens_ = 0, cached_tokens_ = 0, preemptions_ = 0;
  int64_t iterations_ = 0, max_batch_seqs_ = 0;
  double batch_seqs_sum_ = 0, batch_tokens_sum_ = 0;
  std::map<std::string, int64_t> reject_reasons_;
};

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_SERVING_METRICS_H_
