// Validation of the serving simulator against published vLLM measurements
// (../shared/data/measured/serving/serving_vllm_trtllm_benchmarks.csv).
//
// Every row is rebuilt as its source states it: model (a preset of the same shape; FP8
// checkpoints run fp8 GEMMs with a bf16 KV cache), GPU, TP, the engine's scheduler (vLLM
// v0.5/v0.6 without chunked prefill -> vllm_v0 with max_num_batched_tokens =
// max(max_model_len, 2048); with chunked prefill -> sarathi, V0's chunked-prefill policy,
// with its 512-token default budget), max_num_seqs, max-model-len from the notes, GPU memory
// utilisation 0.95 (the LambdaLabs harness default), all prompts at t = 0 (request rate inf)
// and the ShareGPT shape. Predicted output tokens/s and median TPOT are compared with the
// measured ones (where a row reports only an inter-token latency, that is compared with the
// median TPOT: with one token per step both are the mean step time a request sees).
//
// ShareGPT shape: benchmark_serving.py samples ShareGPT conversations (seed 0) and keeps
// prompts of at most 1024 tokens and prompt + completion of at most 2048; the model stops
// at its end-of-sequence token or the completion's length. The LambdaLabs result file of the
// 320-prompt run (results/prompt_320/4xH100-80GB-SXM/Meta-Llama-3.1-70B-Instruct-FP8_tp4_len2048.json
// @a4f9f437) lists every prompt and output length (65,578 and 62,996 tokens in all, means 205
// and 197, medians 77 and 150, 50 empty outputs counted as one token); their ventiles
// (5% steps) define both distributions (LengthDistribution quantiles:...), used for every row.
//
// Rows that cannot be represented are listed with why (no preset for the model or GPU,
// TensorRT-LLM or an unnamed engine, multi-step scheduling, throughput of unstated kind).
// The two host-overhead constants (simulator/serving/serving_calibration.h) are fitted on the
// represented rows of each GPU type by grid search; every row is reported with constants
// fitted on the other rows of its GPU type only (leave-one-out). With all prompts at t = 0 the schedule does not depend on
// timing, so makespan and each request's TPOT are exactly linear in the two constants: three
// simulations per row give the linear model the fit uses, and the reported predictions are
// full simulations with the fitted constants.
#ifndef ECHOSIM_SIMULATOR_SERVING_SERVING_VALIDATION_H_
#define ECHOSIM_SIMULATOR_SERVING_SERVING_VALIDATION_H_

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "simulator/core/status.h"

namespace echosim {

struct ServingValidationRow {
  int line = 0;
  std::string engine, model, gpu, dataset, request_rate;
  int tp = 0;
  int num_prompts = 0;
  bool represented = false;
  std::string reason;          // why not represented
  std::string preset, gpu_preset, dtype, scheduler;
  int max_batch_tokens = 0, max_num_seqs = 0, max_model_len = 0;
  std::string tpot_metric;     // "median TPOT" or "inter-token latency"
  bool tpot_comparable = true; // false: the row's latencies fail Little's law (see tpot_note)
  std::string tpot_note;
  double measured_tokens_per_s = 0, measured_tpot_ms = 0;
  // Leave-one-out predictions (constants fitted without this row).
  double fit_base_us = 0, fit_per_seq_us = 0, fit_new_request_us = 0;
  double predicted_tokens_per_s = 0, predicted_tpot_ms = 0;
  double error_tokens_per_s = 0, error_tpot = 0;
  // With the constants fitted on every row (in-sample).
  double predicted_tokens_per_s_all = 0, predicted_tpot_ms_all = 0;
  double error_tokens_per_s_all = 0, error_tpot_all = 0;
};

struct ServingValidationReport {
  std::vector<ServingValidationRow> rows;
  int represented = 0;
  double median_abs_error_tokens_per_s = 0, median_abs_error_tpot = 0;  // leave-one-out
  double max_abs_error_tokens_per_s = 0, max_abs_error_tpot = 0;
  double median_abs_error_tokens_per_s_all = 0, median_abs_error_tpot_all = 0;
  struct Constants {
    double base_us = 0, per_seq_us = 0, new_request_us = 0;
  };
  std::map<std::string, Constants> fit;      // by GPU type, fitted on every row of that type
  std::map<std::string, Constants> shipped;  // serving_calibration.h, for the same GPU types
  double wall_s = 0;
};

// `data_dir` holds serving/serving_vllm_trtllm_benchmarks.csv.
StatusOr<ServingValidationReport> RunServingValidation(const std::string& data_dir);
nlohmann::json ServingValidationJson(const ServingValidationReport& report);
std::string ServingValidationText(const ServingValidationReport& report);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_SERVING_SERVING_VALIDATION_H_
