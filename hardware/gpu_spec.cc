#include "hardware/gpu_spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "simulator/core/embedded_data.h"
#include "simulator/core/strings.h"
#include "simulator/core/yaml_load.h"

namespace echosim {

double GpuSpec::PeakFlopsPerS(DType dtype) const {
  switch (dtype) {
    case DType::kFp16: return peak_tflops_fp16 * 1e12;
    case DType::kFp8: return (peak_tflops_fp8 > 0 ? peak_tflops_fp8 : peak_tflops_bf16) * 1e12;
    case DType::kFp4: return peak_tflops_fp4 * 1e12;
    case DType::kBf16: break;
  }
  return peak_tflops_bf16 * 1e12;
}

double GpuSpec::AttentionFp8Speedup(bool backward, bool block_scaled, int64_t head_dim) const {
  constexpr double kNarrow = 128, kWide = 192;  // the head dims the two sets were measured at
  // MXFP8 without its own measurement takes per-tensor fp8's (a what-if: MXFP8 attention runs
  // on Blackwell only).
  const double mx_narrow = backward ? attention_mxfp8_speedup_bwd : attention_mxfp8_speedup_fwd;
  if (block_scaled && !(mx_narrow > 0)) block_scaled = false;
  const double narrow = block_scaled ? mx_narrow : (backward ? attention_fp8_speedup_bwd : attention_fp8_speedup_fwd);
  if (!(narrow > 0)) {
    const double bf16 = PeakFlopsPerS(DType::kBf16);
    return bf16 > 0 ? PeakFlopsPerS(DType::kFp8) / bf16 : 1.0;
  }
  const double wide = block_scaled ? (backward ? attention_mxfp8_speedup_bwd_d192 : attention_mxfp8_speedup_fwd_d192)
                                   : (backward ? attention_fp8_speedup_bwd_d192 : attention_fp8_speedup_fwd_d192);
  if (!(wide > 0)) return narrow;
  const double x = std::clamp((static_cast<double>(head_dim) - kNarrow) / (kWide - kNarrow), 0.0, 1.0);
  return narrow + x * (wide - narrow);
}

Status GpuSpec::Validate() const {
  struct Field {
    const char* name;
    double v;
  };
  for (const Field& f : {Field{"peak_tflops_bf16", peak_tflops_bf16},
                         Field{"peak_tflops_fp16", peak_tflops_fp16},
                         Field{"hbm_capacity_gb", hbm_capacity_gb}, Field{"hbm_tbps", hbm_tbps},
                         Field{"nvlink_gbps", nvlink_gbps}, Field{"nic_gbps", nic_gbps},
                         Field{"memory_efficiency", memory_efficiency},
                         Field{"gemm_max_efficiency_bf16", gemm_max_efficiency_bf16},
                         Field{"attention_efficiency", attention_efficiency},
                         Field{"mamba_scan_efficiency", mamba_scan_efficiency},
                         Field{"sustained_tensor_rate", sustained_tensor_rate},
                         Field{"nvlink_efficiency", nvlink_efficiency},
                         Field{"nic_efficiency", nic_efficiency}}) {
    if (!(f.v > 0)) {
      return InvalidArgument(StrCat("gpu '", name, "': ", f.name, " must be positive, got ", f.v));
    }
  }
  for (const Field& f : {Field{"memory_efficiency", memory_efficiency},
                         Field{"gemm_max_efficiency_bf16", gemm_max_efficiency_bf16},
                         Field{"attention_efficiency", attention_efficiency},
                         Field{"mamba_scan_efficiency", mamba_scan_efficiency},
                         Field{"sustained_tensor_rate", sustained_tensor_rate},
                         Field{"nvlink_efficiency", nvlink_efficiency},
                         Field{"nic_efficiency", nic_efficiency}}) {
    if (f.v > 1.0) {
      return InvalidArgument(StrCat("gpu '", name, "': ", f.name, " is a fraction of peak and must be <= 1, got ", f.v));
    }
  }
  for (const Field& f : {Field{"gemm_min_dim_half", gemm_min_dim_half},
                         Field{"gemm_flops_half", gemm_flops_half},
                         Field{"attention_fp8_speedup_fwd", attention_fp8_speedup_fwd},
                         Field{"attention_fp8_speedup_bwd", attention_fp8_speedup_bwd},
                         Field{"attention_mxfp8_speedup_fwd", attention_mxfp8_speedup_fwd},
                         Field{"attention_mxfp8_speedup_bwd", attention_mxfp8_speedup_bwd},
                         Field{"attention_fp8_speedup_fwd_d192", attention_fp8_speedup_fwd_d192},
                         Field{"attention_fp8_speedup_bwd_d192", attention_fp8_speedup_bwd_d192},
                         Field{"attention_mxfp8_speedup_fwd_d192", attention_mxfp8_speedup_fwd_d192},
                         Field{"attention_mxfp8_speedup_bwd_d192", attention_mxfp8_speedup_bwd_d192},
                         Field{"host_launch_us", host_launch_us},
                         Field{"host_loop_launch_us", host_loop_launch_us}}) {
    if (!(f.v >= 0) || !std::isfinite(f.v)) {
      return InvalidArgument(StrCat("gpu '", name, "': ", f.name, " must be a finite number >= 0, got ", f.v));
    }
  }
  for (const Field& f : {Field{"gemm_min_dim_half_fp4", gemm_min_dim_half_fp4},
                         Field{"gemm_flops_half_fp4", gemm_flops_half_fp4}}) {
    if (!std::isfinite(f.v)) {
      return InvalidArgument(StrCat("gpu '", name, "': ", f.name,
                                    " must be a finite number (>= 0, or negative for the other precisions' value), got ", f.v));
    }
  }
  return Status::Ok();
}

StatusOr<GpuSpec> ParseGpuYaml(const std::string& text, const std::string& source) {
  ECHOSIM_ASSIGN_OR_RETURN(const YAML::Node doc, LoadYamlMap(text, source, "a GPU file must be a YAML map"));
  GpuSpec g;
  std::map<std::string, double*> numbers = {
      {"peak_tflops_bf16", &g.peak_tflops_bf16},
      {"peak_tflops_fp16", &g.peak_tflops_fp16},
      {"peak_tflops_fp8", &g.peak_tflops_fp8},
      {"peak_tflops_fp4", &g.peak_tflops_fp4},
      {"peak_tflops_fp32", &g.peak_tflops_fp32},
      {"hbm_capacity_gb", &g.hbm_capacity_gb},
      {"hbm_tbps", &g.hbm_tbps},
      {"memory_efficiency", &g.memory_efficiency},
      {"gemm_max_efficiency_bf16", &g.gemm_max_efficiency_bf16},
      {"gemm_max_efficiency_fp8", &g.gemm_max_efficiency_fp8},
      {"gemm_max_efficiency_fp4", &g.gemm_max_efficiency_fp4},
      {"gemm_min_dim_half", &g.gemm_min_dim_half},
      {"gemm_flops_half", &g.gemm_flops_half},
      {"gemm_min_dim_half_fp4", &g.gemm_min_dim_half_fp4},
      {"gemm_flops_half_fp4", &g.gemm_flops_half_fp4},
      {"attention_efficiency", &g.attention_efficiency},
      {"attention_fp8_speedup_fwd", &g.attention_fp8_speedup_fwd},
      {"attention_fp8_speedup_bwd", &g.attention_fp8_speedup_bwd},
      {"attention_mxfp8_speedup_fwd", &g.attention_mxfp8_speedup_fwd},
      {"attention_mxfp8_speedup_bwd", &g.attention_mxfp8_speedup_bwd},
      {"attention_fp8_speedup_fwd_d192", &g.attention_fp8_speedup_fwd_d192},
      {"attention_fp8_speedup_bwd_d192", &g.attention_fp8_speedup_bwd_d192},
      {"attention_mxfp8_speedup_fwd_d192", &g.attention_mxfp8_speedup_fwd_d192},
      {"attention_mxfp8_speedup_bwd_d192", &g.attention_mxfp8_speedup_bwd_d192},
      {"mamba_scan_efficiency", &g.mamba_scan_efficiency},
      {"sustained_tensor_rate", &g.sustained_tensor_rate},
      {"host_launch_us", &g.host_launch_us},
      {"host_loop_launch_us", &g.host_loop_launch_us},
      {"nvlink_gbps", &g.nvlink_gbps},
      {"nvlink_efficiency", &g.nvlink_efficiency},
      {"nic_gbps", &g.nic_gbps},
      {"nic_efficiency", &g.nic_efficiency},
      {"memory_reserved_gb", &g.memory_reserved_gb},
  };
  for (const auto& kv : doc) {
    const int line = kv.first.Mark().line + 1;
    if (!kv.first.IsScalar()) {
      return InvalidArgument(StrCat(source, ":", line, ": a field name must be a plain word"));
    }
    const std::string key = kv.first.as<std::string>();
    if ((key == "name" || key == "description") && !kv.second.IsScalar()) {
      return InvalidArgument(StrCat(source, ":", line, ": field '", key, "' must be a string"));
    }
    if (key == "name") {
      g.name = kv.second.as<std::string>();
    } else if (key == "description") {
      g.description = kv.second.as<std::string>();
    } else if (key == "gemm_curve_dtype") {
      const std::string v = kv.second.IsScalar() ? kv.second.as<std::string>() : "";
      if (v == "bf16") g.gemm_curve_dtype = DType::kBf16;
      else if (v == "fp16") g.gemm_curve_dtype = DType::kFp16;
      else if (v == "fp8") g.gemm_curve_dtype = DType::kFp8;
      else if (v == "fp4") g.gemm_curve_dtype = DType::kFp4;
      else {
        return InvalidArgument(StrCat(source, ":", line, ": field 'gemm_curve_dtype': expected one of bf16, fp16, "
                                      "fp8, fp4; got '", v, "'"));
      }
    } else if (key == "attention_head_dim") {
      int v = 0;
      if (!YAML::convert<int>::decode(kv.second, v) || v <= 0) {
        return InvalidArgument(StrCat(source, ":", line, ": field 'attention_head_dim': expected a "
                                      "positive integer, got '", kv.second.Scalar(), "'"));
      }
      g.attention_head_dim = v;
    } else if (key == "sm_arch" || key == "nvlink_links" || key == "pcie_gen") {
      int v = 0;
      if (!YAML::convert<int>::decode(kv.second, v) || v < 0) {
        return InvalidArgument(StrCat(source, ":", line, ": field '", key,
                                      "': expected a non-negative integer, got '", kv.second.Scalar(), "'"));
      }
      (key == "sm_arch" ? g.sm_arch : key == "nvlink_links" ? g.nvlink_links : g.pcie_gen) = v;
    } else if (key == "nvswitch") {
      if (!YAML::convert<bool>::decode(kv.second, g.nvswitch)) {
        return InvalidArgument(StrCat(source, ":", line, ": field 'nvswitch': expected true or false, got '",
                                      kv.second.Scalar(), "'"));
      }
    } else if (auto it = numbers.find(key); it != numbers.end()) {
      try {
        *it->second = kv.second.as<double>();
      } catch (const YAML::Exception&) {
        return InvalidArgument(StrCat(source, ":", line, ": field '", key,
                                      "': expected a number, got '", kv.second.Scalar(), "'"));
      }
    } else {
      std::vector<std::string> valid = {"name", "description", "sm_arch", "nvlink_links", "nvswitch",
                                        "pcie_gen", "attention_head_dim", "gemm_curve_dtype"};
      for (const auto& [k, v] : numbers) valid.push_back(k);
      return InvalidArgument(StrCat(source, ":", line, ": unknown field '", key,
                                    "'; valid fields: ", Join(valid, ", ")));
    }
  }
  if (g.gemm_max_efficiency_fp8 <= 0) g.gemm_max_efficiency_fp8 = g.gemm_max_efficiency_bf16;
  if (g.gemm_max_efficiency_fp4 <= 0) g.gemm_max_efficiency_fp4 = g.gemm_max_efficiency_fp8;
  ECHOSIM_RETURN_IF_ERROR(g.Validate().WithContext(source));
  return g;
}

std::vector<std::string> GpuPresetNames() {
  std::vector<std::string> names;
  for (const EmbeddedFile& f : EmbeddedFilesUnder("hardware/gpus/")) {
    std::string base(f.path.substr(std::string_view("hardware/gpus/").size()));
    names.push_back(base.substr(0, base.size() - 5));
  }
  std::sort(names.begin(), names.end());
  return names;
}

StatusOr<GpuSpec> FindGpuPreset(const std::string& name) {
  const std::string path = "hardware/gpus/" + name + ".yaml";
  for (const EmbeddedFile& f : EmbeddedFilesUnder("hardware/gpus/")) {
    if (f.path == path) return ParseGpuYaml(std::string(f.contents), path);
  }
  return NotFound(StrCat("unknown gpu '", name, "'; valid gpus: ", Join(GpuPresetNames(), ", ")));
}

}  // namespace echosim
