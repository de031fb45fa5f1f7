// PipelineLayout: which layers each virtual pipeline stage holds, written as Megatron-Core's
// --pipeline-model-parallel-layout string.
//
// The string lists the virtual stages in model order, separated by '|'. Within a stage,
// 'E' is the input embedding, 't' one transformer layer, 'm' one multi-token-prediction
// layer and 'L' the output layer and loss. "X*N" repeats a symbol and "(...)*N" a group,
// which may span stage boundaries: "Et*4|(t*4|)*14tmL" is 16 virtual stages, the first with
// the embedding and 4 layers, 14 of 4 layers, and the last with one layer, the MTP layer and
// the loss (DeepSeek-V3 in Megatron-Bridge's recipes). Virtual stage v (from 0) is chunk
// v / pp of pipeline rank v % pp, as Megatron-Core assigns them.
#ifndef ECHOSIM_POLICIES_PIPELINE_LAYOUT_H_
#define ECHOSIM_POLICIES_PIPELINE_LAYOUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "simulator/core/status.h"

namespace echosim {

struct LayoutStage {
  int64_t layers = 0;  // transformer layers ('t')
  int64_t mtp = 0;     // multi-token-prediction layers ('m')
  bool embedding = false;
  bool loss = false;
  bool operator==(const LayoutStage& o) const {
    return layers == o.layers && mtp == o.mtp && embedding == o.embedding && loss == o.loss;
  }
};

// Parses and expands a layout string. Errors name the character position and what was
// expected; spaces are ignored. A repeat count must be 1 .. 100000 and the expansion at most
// 100000 symbols.
StatusOr<std::vector<LayoutStage>> ParsePipelineLayout(const std::string& text);

// The layout written back in expanded form ("Etttt|tttt|...").
std::string FormatPipelineLayout(const std::vector<LayoutStage>& stages);

}  // namespace echosim

#endif  // ECHOSIM_POLICIES_PIPELINE_LAYOUT_H_
