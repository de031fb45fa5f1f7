// Names shared by the NCCL-faithful collective model: NCCL's algorithms and protocols (in
// NCCL's own index order, so constants read from tuning.cc line up), the collectives the model
// answers for, and the nccl-tests conventions for sizes and bus bandwidth.
#ifndef ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_TYPES_H_
#define ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_TYPES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "models/ops.h"
#include "simulator/core/status.h"

namespace echosim {

// NCCL_ALGO_* order of src/include/device.h.
enum class NcclAlgorithm : uint8_t { kTree, kRing, kCollNetDirect, kCollNetChain, kNvls, kNvlsTree, kPat };
inline constexpr int kNumNcclAlgorithms = 7;

// NCCL_PROTO_* order.
enum class NcclProtocol : uint8_t { kLl, kLl128, kSimple };
inline constexpr int kNumNcclProtocols = 3;

// The collectives the model answers for (a superset of CollectiveKind: NCCL also has reduce).
enum class NcclCollective : uint8_t {
  kAllReduce,
  kAllGather,
  kReduceScatter,
  kBroadcast,
  kReduce,
  kAllToAll,
  kSendRecv,
};
inline constexpr int kNumNcclCollectives = 7;

// Algorithm families share calibrated efficiencies: NVLS and NVLS-Tree are both "nvls",
// CollNet Direct and Chain are both "collnet".
enum class NcclFamily : uint8_t { kRing, kTree, kNvls, kCollNet, kPat, kP2p };
inline constexpr int kNumNcclFamilies = 6;

// Compute-capability rows of NCCL's constant tables.
enum class NcclArch : uint8_t { kVolta, kAmpere, kHopper, kBlackwell };
inline constexpr int kNumNcclArchs = 4;

const char* NcclAlgorithmName(NcclAlgorithm a);    // "ring", "tree", "nvls_tree", ...
const char* NcclProtocolName(NcclProtocol p);      // "LL", "LL128", "Simple"
const char* NcclCollectiveName(NcclCollective c);  // "all_reduce", ...
const char* NcclFamilyName(NcclFamily f);          // "ring", "tree", "nvls", "collnet", "pat", "p2p"
const char* NcclArchName(NcclArch a);              // "volta", "ampere", "hopper", "blackwell"
NcclFamily FamilyOf(NcclAlgorithm a);

// Case-insensitive; the error names `field` and lists the valid names. Accepts NCCL's spellings
// too ("CollNetDirect", "NVLSTree", "allreduce", "alltoall", "sendrecv").
StatusOr<NcclAlgorithm> ParseNcclAlgorithm(const std::string& field, const std::string& value);
StatusOr<NcclProtocol> ParseNcclProtocol(const std::string& field, const std::string& value);
StatusOr<NcclCollective> ParseNcclCollective(const std::string& field, const std::string& value);
StatusOr<NcclFamily> ParseNcclFamily(const std::string& field, const std::string& value);
std::vector<std::string> NcclCollectiveNames();

NcclCollective ToNcclCollective(CollectiveKind kind);
// Architecture row of a CUDA compute capability x10 (80 -> Ampere, 90 -> Hopper, 100 -> Blackwell).
NcclArch ArchOfSm(int sm_arch);

// nccl-tests (doc/PERFORMANCE.md): busbw = algbw * factor, factor 2(n-1)/n for all_reduce,
// (n-1)/n for all_gather, reduce_scatter and alltoall, 1 for broadcast, reduce and send/recv.
double BusBandwidthFactor(NcclCollective c, int64_t ranks);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_NETWORK_NCCL_NCCL_TYPES_H_
