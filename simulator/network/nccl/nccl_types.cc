#include "simulator/network/nccl/nccl_types.h"

#include <algorithm>
#include <cctype>

#include "simulator/core/strings.h"

namespace echosim {
namespace {

std::string Canonical(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '_' || c == '-' || c == ' ') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

template <typename E, int N>
StatusOr<E> ParseByName(const std::string& field, const std::string& value, const char* (*name)(E), const char* what) {
  const std::string want = Canonical(value);
  std::vector<std::string> names;
  for (int i = 0; i < N; ++i) {
    const E e = static_cast<E>(i);
    if (Canonical(name(e)) == want) return e;
    names.push_back(name(e));
  }
  return InvalidArgument(StrCat(field, ": unknown ", what, " '", value, "'; valid ", what, "s: ", Join(names, ", ")));
}

}  // namespace

const char* NcclAlgorithmName(NcclAlgorithm a) {
  switch (a) {
    case NcclAlgorithm::kTree:
      return "tree";
    case NcclAlgorithm::kRing:
      return "ring";
    case NcclAlgorithm::kCollNetDirect:
      return "collnet_direct";
    case NcclAlgorithm::kCollNetChain:
      return "collnet_chain";
    case NcclAlgorithm::kNvls:
      return "nvls";
    case NcclAlgorithm::kNvlsTree:
      return "nvls_tree";
    case NcclAlgorithm::kPat:
      return "pat";
  }
  return "?";
}

const char* NcclProtocolName(NcclProtocol p) {
  switch (p) {
    case NcclProtocol::kLl:
      return "LL";
    case NcclProtocol::kLl128:
      return "LL128";
    case NcclProtocol::kSimple:
      return "Simple";
  }
  return "?";
}

const char* NcclCollectiveName(NcclCollective c) {
  switch (c) {
    case NcclCollective::kAllReduce:
      return "all_reduce";
    case NcclCollective::kAllGather:
      return "all_gather";
    case NcclCollective::kReduceScatter:
      return "reduce_scatter";
    case NcclCollective::kBroadcast:
      return "broadcast";
    case NcclCollective::kReduce:
      return "reduce";
    case NcclCollective::kAllToAll:
      return "all_to_all";
    case NcclCollective::kSendRecv:
      return "send_recv";
  }
  return "?";
}

const char* NcclFamilyName(NcclFamily f) {
  switch (f) {
    case NcclFamily::kRing:
      return "ring";
    case NcclFamily::kTree:
      return "tree";
    case NcclFamily::kNvls:
      return "nvls";
    case NcclFamily::kCollNet:
      return "collnet";
    case NcclFamily::kPat:
      return "pat";
    case NcclFamily::kP2p:
      return "p2p";
  }
  return "?";
}

const char* NcclArchName(NcclArch a) {
  switch (a) {
    case NcclArch::kVolta:
      return "volta";
    case NcclArch::kAmpere:
      return "ampere";
    case NcclArch::kHopper:
      return "hopper";
    case NcclArch::kBlackwell:
      return "blackwell";
  }
  return "?";
}

NcclFamily FamilyOf(NcclAlgorithm a) {
  switch (a) {
    case NcclAlgorithm::kTree:
      return NcclFamily::kTree;
    case NcclAlgorithm::kRing:
      return NcclFamily::kRing;
    case NcclAlgorithm::kCollNetDirect:
    case NcclAlgorithm::kCollNetChain:
      return NcclFamily::kCollNet;
    case NcclAlgorithm::kNvls:
    case NcclAlgorithm::kNvlsTree:
      return NcclFamily::kNvls;
    case NcclAlgorithm::kPat:
      return NcclFamily::kPat;
  }
  return NcclFamily::kRing;
}

StatusOr<NcclAlgorithm> ParseNcclAlgorithm(const std::string& field, const std::string& value) {
  return ParseByName<NcclAlgorithm, kNumNcclAlgorithms>(field, value, NcclAlgorithmName, "algorithm");
}

StatusOr<NcclProtocol> ParseNcclProtocol(const std::string& field, const std::string& value) {
  return ParseByName<NcclProtocol, kNumNcclProtocols>(field, value, NcclProtocolName, "protocol");
}

StatusOr<NcclCollective> ParseNcclCollective(const std::string& field, const std::string& value) {
  return ParseByName<NcclCollective, kNumNcclCollectives>(field, value, NcclCollectiveName, "collective");
}

StatusOr<NcclFamily> ParseNcclFamily(const std::string& field, const std::string& value) {
  return ParseByName<NcclFamily, kNumNcclFamilies>(field, value, NcclFamilyName, "algorithm family");
}

std::vector<std::string> NcclCollectiveNames() {
  std::vector<std::string> names;
  for (int i = 0; i < kNumNcclCollectives; ++i) names.push_back(NcclCollectiveName(static_cast<NcclCollective>(i)));
  return names;
}

NcclCollective ToNcclCollective(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::kAllReduce:
      return NcclCollective::kAllReduce;
    case CollectiveKind::kAllGather:
      return NcclCollective::kAllGather;
    case CollectiveKind::kReduceScatter:
      return NcclCollective::kReduceScatter;
    case CollectiveKind::kAllToAll:
      return NcclCollective::kAllToAll;
    case CollectiveKind::kBroadcast:
      return NcclCollective::kBroadcast;
    case CollectiveKind::kSendRecv:
      return NcclCollective::kSendRecv;
  }
  return NcclCollective::kAllReduce;
}

NcclArch ArchOfSm(int sm_arch) {
  if (sm_arch >= 100) return NcclArch::kBlackwell;
  if (sm_arch >= 90) return NcclArch::kHopper;
  if (sm_arch >= 80) return NcclArch::kAmpere;
  return NcclArch::kVolta;
}

double BusBandwidthFactor(NcclCollective c, int64_t ranks) {
  const double n = static_cast<double>(std::max<int64_t>(ranks, 1));
  switch (c) {
    case NcclCollective::kAllReduce:
      return 2.0 * (n - 1.0) / n;
    case NcclCollective::kAllGather:
    case NcclCollective::kReduceScatter:
    case NcclCollective::kAllToAll:
      return (n - 1.0) / n;
    case NcclCollective::kBroadcast:
    case NcclCollective::kReduce:
    case NcclCollective::kSendRecv:
      return 1.0;
  }
  return 1.0;
}

}  // namespace echosim
