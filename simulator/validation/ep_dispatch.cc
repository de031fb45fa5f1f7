#include "simulator/validation/ep_dispatch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>

#include "hardware/calibration.h"
#include "simulator/core/stats.h"
#include "simulator/core/strings.h"
#include "simulator/scenario/simulation.h"

namespace echosim {

const std::vector<EpDispatchCell>& EpDispatchCells() {
  // arXiv 2603.07685, Table 7 "EP Scaling Performance for HybridEP and all-to-all (in us)":
  // hidden 7168, sequence length 4096, 256 experts.
  static const std::vector<EpDispatchCell> cells = {
      {"gb200", 8, "dispatch", true, 391},      {"gb200", 16, "dispatch", true, 578},
      {"gb200", 32, "dispatch", true, 612},     {"gb200", 64, "dispatch", true, 675},
      {"gb200", 8, "combine", true, 353},       {"gb200", 16, "combine", true, 527},
      {"gb200", 32, "combine", true, 646},      {"gb200", 64, "combine", true, 744},
      {"gb200", 8, "dispatch", false, 735},     {"gb200", 16, "dispatch", false, 743},
      {"gb200", 32, "dispatch", false, 769},    {"gb200", 64, "dispatch", false, 930},
      {"gb200", 8, "combine", false, 741},      {"gb200", 16, "combine", false, 765},
      {"gb200", 32, "combine", false, 758},     {"gb200", 64, "combine", false, 827},
      {"h100-sxm", 8, "dispatch", true, 661},   {"h100-sxm", 16, "dispatch", true, 1485},
      {"h100-sxm", 32, "dispatch", true, 3064}, {"h100-sxm", 64, "dispatch", true, 4626},
      {"h100-sxm", 8, "combine", true, 624},    {"h100-sxm", 16, "combine", true, 1688},
      {"h100-sxm", 32, "combine", true, 3088},  {"h100-sxm", 64, "combine", true, 4398},
      {"h100-sxm", 8, "dispatch", false, 1265}, {"h100-sxm", 16, "dispatch", false, 5774},
      {"h100-sxm", 32, "dispatch", false, 8059}, {"h100-sxm", 64, "dispatch", false, 9164},
      {"h100-sxm", 8, "combine", false, 1277},  {"h100-sxm", 16, "combine", false, 5628},
      {"h100-sxm", 32, "combine", false, 7815}, {"h100-sxm", 64, "combine", false, 8727},
  };
  return cells;
}

namespace {

// GB200 NVL72 holds up to 72 GPUs in one NVLink domain; H100 systems are 8-GPU nodes.
int DomainSize(const EpDispatchCell& c) { return std::string(c.gpu) == "gb200" ? c.ep : 8; }

scenario::Scenario CellScenario(const EpDispatchCell& c, double flex_traffic_factor) {
  scenario::Scenario s;
  s.set_name(StrCat("EP dispatch ", c.gpu, " ep", c.ep, c.flex ? " flex" : " alltoall"));
  s.mutable_cluster()->set_gpu(c.gpu);
  s.mutable_cluster()->set_gpus(static_cast<uint32_t>(c.ep));
  s.mutable_cluster()->set_gpus_per_node(static_cast<uint32_t>(DomainSize(c)));
  scenario::Training* t = s.mutable_workload()->mutable_training();
  t->set_model("custom");
  scenario::ModelShape* sh = t->mutable_shape();
  sh->set_layers(1);
  sh->set_hidden(7168);
  sh->set_heads(56);
  sh->set_ffn_hidden(2048);
  sh->set_vocab(32000);
  sh->set_experts(256);
  sh->set_top_k(8);  // DeepSeek-V3's, with its node-limited routing (see the header)
  sh->set_router_groups(8);
  sh->set_router_group_topk(4);
  sh->set_max_seq_len_tokens(4096);
  t->set_seq_len_tokens(4096);
  t->set_global_batch_seqs(static_cast<uint32_t>(c.ep));
  t->set_micro_batch_seqs(1);
  t->set_dtype("bf16");
  scenario::Parallelism* p = s.mutable_parallelism();
  p->set_tp(1);
  p->set_pp(1);
  p->set_ep(static_cast<uint32_t>(c.ep));
  p->set_dp(static_cast<uint32_t>(c.ep));
  p->set_moe_dispatcher(c.flex ? "flex" : "alltoall");
  s.mutable_output()->set_timeline(false);
  s.mutable_simulation()->set_flex_dispatch_traffic_factor(flex_traffic_factor);
  return s;
}

}  // namespace

StatusOr<std::vector<EpDispatchResult>> ValidateEpDispatch(double flex_traffic_factor) {
  std::vector<EpDispatchResult> out;
  for (const EpDispatchCell& c : EpDispatchCells()) {
    ECHOSIM_ASSIGN_OR_RETURN(TrainingRun run, RunTrainingScenario(CellScenario(c, flex_traffic_factor)));
    const std::string want = StrCat("ep.all_to_all.", c.op);
    EpDispatchResult r;
    r.cell = c;
    r.cross_domain = c.ep > DomainSize(c);
    for (const auto& g : run.result.graphs) {
      for (NodeId v = 0; v < g->num_nodes() && r.predicted_us == 0; ++v) {
        if (g->name(v) == want) r.predicted_us = DurationToSeconds(g->duration(v)) * 1e6;
      }
    }
    if (r.predicted_us <= 0) {
      return Internal(StrCat("EP dispatch validation: no '", want, "' in the step of ", c.gpu, " ep", c.ep));
    }
    r.error = r.predicted_us / c.measured_us - 1;
    out.push_back(r);
  }
  return out;
}

double FitFlexTrafficFactor(const std::vector<EpDispatchResult>& at_factor_one) {
  std::vector<double> ratio;
  for (const EpDispatchResult& r : at_factor_one) {
    if (r.cell.flex && !r.cross_domain) ratio.push_back(r.cell.measured_us / r.predicted_us);
  }
  return ratio.empty() ? 1.0 : Median(ratio);
}

std::string EpDispatchText(const std::vector<EpDispatchResult>& results, double fitted) {
  std::ostringstream o;
  o << "EP token dispatch and combine, one DeepSeek-V3-sized MoE layer (hidden 7168, 4096 tokens per\n"
       "GPU, 256 experts, DeepSeek-V3's top-8 node-limited routing, balanced, BF16): measured in the\n"
       "Megatron-Core MoE report (arXiv 2603.07685, Table 7)\n\n";
  o << "gpu       ep  op        dispatcher  measured_us  predicted_us   error  span\n";
  for (const EpDispatchResult& r : results) {
    char line[160];
    std::snprintf(line, sizeof(line), "%-9s %3d  %-8s  %-10s  %11.0f  %12.0f  %+5.1f%%  %s\n", r.cell.gpu,
                  r.cell.ep, r.cell.op, r.cell.flex ? "hybridep" : "all-to-all", r.cell.measured_us,
                  r.predicted_us, 100 * r.error, r.cross_domain ? "across nodes" : "one NVLink domain");
    o << line;
  }
  o << "\n";
  for (bool flex : {true, false}) {
    for (bool cross : {false, true}) {
      std::vector<double> e;
      for (const EpDispatchResult& r : results) {
        if (r.cell.flex == flex && r.cross_domain == cross) e.push_back(std::fabs(r.error));
      }
      if (e.empty()) continue;
      char line[160];
      std::snprintf(line, sizeof(line), "%-10s %-17s cells %2zu  median |error| %.1f%%  worst %.1f%%\n",
                    flex ? "hybridep" : "all-to-all", cross ? "across nodes" : "one NVLink domain", e.size(),
                    100 * Median(e), 100 * *std::max_element(e.begin(), e.end()));
      o << line;
    }
  }
  char fit[200];
  std::snprintf(fit, sizeof(fit),
                "\nflex dispatcher traffic factor: %.3f shipped (hardware/calibration/training.yaml), "
                "%.3f fitted on the single-domain HybridEP cells\n",
                DefaultTrainingCalibration().flex_dispatch_traffic_factor, fitted);
  o << fit;
  return o.str();
}

}  // namespace echosim
