// Serving workloads: a stream of requests (arrival time, prompt and output lengths, optional
// shared-prefix group), read from a trace file or generated, always one request at a time so
// memory stays proportional to what is live, not to the trace length.
//
// Workload spec strings (the CLI's --workload and the scenario's serving.workload):
//   trace:FILE      a trace file; the format is recognised from its header:
//                     Azure LLM inference trace 2023: TIMESTAMP,ContextTokens,GeneratedTokens
//                       (TIMESTAMP "YYYY-MM-DD hh:mm:ss.fffffff" or seconds)
//                     generic CSV: a header naming arrival_s, input_tokens, output_tokens and
//                       optionally prefix_id, prefix_tokens, session_id
//                     JSONL (FILE ending in .jsonl, or a first line starting with '{'): one
//                       object per line with the same keys
//                   Arrival times are taken relative to the first request.
//   poisson:qps=Q,input=DIST,output=DIST[,requests=N][,prefix_groups=G,prefix_tokens=T]
//   gamma:qps=Q,cv=C,input=DIST,output=DIST[,...]   Gamma inter-arrivals with coefficient of
//                   variation C (C > 1 is burstier than Poisson; C = 1 is Poisson)
//   constant:qps=Q,input=DIST,output=DIST[,...]     evenly spaced arrivals; qps=inf puts every
//                   request at t=0 (benchmark_serving.py's request rate inf; needs requests=N)
// Length distributions DIST (tokens, rounded, at least 1):
//   fixed:N   uniform:MIN:MAX (inclusive)   lognormal:MEAN:SIGMA[:MAX] (MEAN is the
//   distribution's mean: mu = ln(MEAN) - SIGMA^2/2; values above MAX are drawn again, as a
//   dataset's length filter drops them)   quantiles:V0:V1:...:VN (inverse CDF: V_k at probability
//   k/N, linear in between; a distribution given by its published quantiles)
//   trace:FILE (resampled uniformly from a trace's column:
//   input from ContextTokens/input_tokens, output from GeneratedTokens/output_tokens)
// Synthetic prefix groups: each request draws one of G groups uniformly; its first
// min(T, input) tokens are that group's shared content (a system prompt).
// Sessions (session_id in a trace): every turn's whole content is the session's content, so a
// later turn's prompt finds the earlier turns in a prefix cache.
//
// Every error names the spec key, or FILE:LINE, and the valid choices.
#ifndef ECHOSIM_SIMULATOR_SERVING_WORKLOAD_H_
#define ECHOSIM_SIMULATOR_SERVING_WORKLOAD_H_

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "simulator/core/status.h"
#include "simulator/core/time.h"
#include "simulator/serving/random.h"

namespace echosim {

struct Request {
  uint64_t id = 0;
  Time arrival = 0;
  int32_t input_tokens = 0;
  int32_t output_tokens = 0;
  uint64_t prefix_group = 0;  // 0 = none
  int32_t prefix_tokens = 0;
};

// Options applied to every workload.
struct WorkloadOptions {
  uint64_t seed = 1;
  double duration_s = 0;      // arrivals at or after this time are dropped (0 = no limit)
  int64_t max_requests = 0;   // stop after this many (0 = no limit)
  double time_scale = 1.0;    // multiplies trace inter-arrival gaps (0.5 = twice the rate)
  double target_qps = 0;      // rescale a trace's arrival rate to this mean (0 = as recorded)
  bool skip_bad_lines = false;  // skip malformed trace lines (counted) instead of failing
};

// A stream of requests in non-decreasing arrival order.
class RequestSource {
 public:
  virtual ~RequestSource() = default;
  // Fills *r with the next request; false when the stream is exhausted.
  virtual StatusOr<bool> Next(Request* r) = 0;
  // Malformed lines skipped so far (skip_bad_lines), and the first few messages.
  virtual int64_t skipped_lines() const { return 0; }
  virtual const std::vector<std::string>& skip_messages() const;
};

// Parses `spec` and opens its source (files are opened and their header checked here).
StatusOr<std::unique_ptr<RequestSource>> MakeRequestSource(const std::string& spec,
                                                           const WorkloadOptions& options);

// --- Building blocks, exposed for tests and the fuzz target -------------------------------

enum class TraceFormat { kAzure, kCsv, kJsonl };

// Column layout of a CSV trace, from its header line.
struct TraceColumns {
  TraceFormat format = TraceFormat::kAzure;
  int arrival = -1, input = -1, output = -1;
  int prefix_id = -1, prefix_tokens = -1, session_id = -1;
  size_t count = 0;
};
// Recognises the header of a CSV trace (Azure or generic); the error names the columns needed.
StatusOr<TraceColumns> ParseTraceHeader(std::string_view header);

// One trace record before arrival-time normalisation.
struct TraceRecord {
  double arrival_s = 0;
  int32_t input_tokens = 0;
  int32_t output_tokens = 0;
  std::string prefix_id;   // empty = none
  int32_t prefix_tokens = -1;  // -1 = not given
  std::string session_id;  // empty = none
};
// Splits one CSV line into cells (RFC 4180 quoting: "a, b" and "" inside quotes), trimmed.
Status SplitCsvLine(std::string_view line, std::vector<std::string>* cells);
// Parses one data line of a CSV trace / one JSONL line. Errors describe the problem without
// the file and line (the caller prefixes them).
Status ParseCsvTraceLine(std::string_view line, const TraceColumns& columns, TraceRecord* out);
Status ParseJsonlTraceLine(std::string_view line, TraceRecord* out);
// "2023-11-16 18:15:46.6805900" (UTC, fractional seconds optional) or a plain number of
// seconds -> seconds.
StatusOr<double> ParseTimestampSeconds(std::string_view text);

// A token-length distribution (DIST above).
class LengthDistribution {
 public:
  // `column` is "input" or "output" (which trace column trace:FILE resamples).
  static StatusOr<LengthDistribution> Parse(std::string_view text, std::string_view column,
                                            const std::string& field);
  int32_t Sample(Rng& rng) const;
  double Mean() const;
  std::string Describe() const;

 private:
  enum class Kind { kFixed, kUniform, kLognormal, kEmpirical, kQuantiles } kind_ = Kind::kFixed;
  int32_t a_ = 1, b_ = 1;
  double mu_ = 0, sigma_ = 0, mean_ = 1;
  std::string text_;
  std::shared_ptr<const std::vector<int32_t>> values_;  // kEmpirical
  std::vector<double> quantiles_;                        // kQuantiles
};

// The synthetic part of a spec: "poisson:qps=5,input=...,output=...".
struct SyntheticSpec {
  enum class Arrivals { kPoisson, kGamma, kConstant } arrivals = Arrivals::kPoisson;
  double qps = 0;
  double cv = 1;
  LengthDistribution input, output;
  int64_t requests = 0;
  int64_t prefix_groups = 0;
  int32_t prefix_tokens = 0;
};
StatusOr<SyntheticSpec> ParseSyntheticSpec(std::string_view spec);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_SERVING_WORKLOAD_H_
