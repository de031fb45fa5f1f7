#include "simulator/network/nccl/nccl_system.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "simulator/core/strings.h"

namespace echosim {
namespace {

constexpr double kEps = 1e-9;

int FloorDiv(double capacity, double speed) {
  if (!(speed > 0)) return 0;
  const double q = std::floor(capacity / speed + kEps);
  return q > 1e6 ? 1000000 : static_cast<int>(q);
}

// Walks `ladder` (decreasing speeds): the first rung <= max_bw with at least one channel, then
// lower rungs while they stay above 0.49x the best; keeps the largest channels * speed.
NcclGraph SearchLadder(const std::vector<double>& ladder, double max_bw,
                       const std::function<int(double)>& channels_at) {
  NcclGraph best;
  size_t i = 0;
  while (i < ladder.size() && (ladder[i] > max_bw + kEps || channels_at(ladder[i]) < 1)) ++i;
  if (i == ladder.size()) {
    // Nothing fits: NCCL falls back to one channel at the slowest rung.
    best.channels = 1;
    best.bw_intra_GBps = best.bw_inter_GBps = ladder.empty() ? 0.1 : ladder.back();
    return best;
  }
  best.channels = channels_at(ladder[i]);
  best.bw_intra_GBps = best.bw_inter_GBps = ladder[i];
  for (size_t j = i + 1; j < ladder.size() && ladder[j] / best.bw_inter_GBps > 0.49; ++j) {
    const int ch = channels_at(ladder[j]);
    if (ch * ladder[j] > best.channels * best.bw_inter_GBps + kEps) {
      best.channels = ch;
      best.bw_intra_GBps = best.bw_inter_GBps = ladder[j];
    }
  }
  return best;
}

// SRCH: channels at >= 25 GB/s are duplicated (speed divided accordingly), except on sm > 80
// when the speed is < 50 and there are more than 4 channels.
void DuplicateChannels(int sm_arch, int max_channels, NcclGraph* g) {
  if (g->channels == 0 || g->bw_intra_GBps < 25.0) return;
  if (sm_arch > 80 && g->bw_intra_GBps < 50.0 && g->channels > 4) return;
  const int dup = std::min(g->channels * 2, max_channels);
  const int div = (dup + g->channels - 1) / g->channels;
  g->bw_intra_GBps /= div;
  g->bw_inter_GBps /= div;
  g->channels = dup;
}

double Scale(double capacity, int channels, double bw) {
  if (!(capacity > 0) || channels <= 0 || !(bw > 0)) return 1.0;
  return std::max(1.0, capacity / (channels * bw));
}

}  // namespace

NcclGraph NcclGraph::Physical() const {
  NcclGraph g = *this;
  g.bw_intra_GBps *= Scale(capacity_intra_GBps, channels, bw_intra_GBps);
  g.bw_inter_GBps *= Scale(capacity_inter_GBps, channels, bw_inter_GBps);
  return g;
}

StatusOr<NcclComm> BuildNcclComm(const NcclHardware& hw, const NcclConstants& c, int64_t ranks, int64_t nodes) {
  if (ranks < 1) return InvalidArgument(StrCat("communicator needs at least 1 rank, got ", ranks));
  if (nodes < 1 || nodes > ranks) {
    return InvalidArgument(StrCat("communicator of ", ranks, " ranks cannot span ", nodes, " nodes"));
  }
  if (ranks % nodes != 0) {
    return InvalidArgument(StrCat("communicator of ", ranks, " ranks over ", nodes,
                                  " nodes is not uniform (ranks must be a multiple of nodes)"));
  }
  if (ranks / nodes > hw.gpus_per_node) {
    return InvalidArgument(
        StrCat("communicator puts ", ranks / nodes, " ranks on each node but nodes have ", hw.gpus_per_node, " GPUs"));
  }
  if (ranks > (1 << 24)) return InvalidArgument(StrCat("communicator of ", ranks, " ranks is too large"));
  NcclComm m;
  m.sm_arch = hw.sm_arch;
  m.arch = ArchOfSm(hw.sm_arch);
  m.ranks = static_cast<int>(ranks);
  m.nodes = static_cast<int>(nodes);
  m.ranks_per_node = m.ranks / m.nodes;
  m.amd_cpu = hw.amd_cpu;
  m.intra_link = hw.nvlink_links > 0 ? NcclLink::kNvlink : NcclLink::kPci;
  const int arch = static_cast<int>(m.arch);
  const int gen = std::clamp(hw.pcie_gen, 3, 6);
  const double pcie = c.pcie_x16_bw_GBps[gen];
  m.intra_capacity_GBps =
      hw.nvlink_links > 0 ? hw.nvlink_links * c.nvlink_bw_per_link_GBps[arch] * hw.nvlink_scale : pcie;
  m.intra_line_GBps = hw.nvlink_links > 0 && hw.nvlink_GBps > 0 ? hw.nvlink_GBps : m.intra_capacity_GBps;
  m.nic_path_GBps = std::min(hw.nic_GBps, pcie);
  m.nics_used = std::max(1, std::min(hw.nics_per_node, m.ranks_per_node));
  m.nvls = m.arch >= NcclArch::kHopper && hw.nvswitch && hw.nvlink_links > 0 && m.ranks_per_node >= 2;
  m.collnet = hw.collnet && m.nodes > 1;
  const int ppn = m.ranks_per_node;
  if (m.ranks == 1) return m;

  const double intra = m.intra_capacity_GBps;
  const int max_ch = c.ring_max_channels;
  if (m.nodes == 1) {
    const std::vector<double>& ladder = c.speed_intra_GBps[arch];
    m.ring = SearchLadder(ladder, intra, [&](double s) { return std::min(max_ch, FloorDiv(intra, s)); });
    DuplicateChannels(hw.sm_arch, max_ch, &m.ring);
    m.ring.capacity_intra_GBps = m.ring.capacity_inter_GBps = intra;
    // Non-ring patterns see the node's bandwidth scaled by ppn/(ppn-1) (one GPU fewer to feed).
    const double tree_cap = intra * ppn / (ppn - 1.0);
    const int tree_max = m.ring.channels;
    m.tree = SearchLadder(ladder, intra, [&](double s) { return std::min(tree_max, FloorDiv(tree_cap, s)); });
    DuplicateChannels(hw.sm_arch, tree_max, &m.tree);
    m.tree.capacity_intra_GBps = m.tree.capacity_inter_GBps = intra;
    if (m.nvls) {
      // SRCH ncclTopoSearchTryNvls: one channel per GPU (its head); every channel takes its speed
      // on each GPU's NVLink in both directions, twice on the head: (ppn + 1) * s <= L.
      m.nvls_graph = SearchLadder(ladder, intra, [&](double s) {
        return s * ppn <= tree_cap + kEps && (ppn + 1) * s <= intra + kEps ? ppn : 0;
      });
      m.nvls_graph.channels = ppn;
      // SRCH pass 2 (2.21+): NVLS raises bwInter one rung at a time while it is below twice
      // bwIntra; on one node no path checks bwInter, so it climbs to 2x or the top rung.
      if (c.formula_generation >= 221) {
        auto it = std::find(ladder.begin(), ladder.end(), m.nvls_graph.bw_inter_GBps);
        size_t k = static_cast<size_t>(it - ladder.begin());
        while (k > 0 && k < ladder.size() && ladder[k] < 2 * m.nvls_graph.bw_intra_GBps - kEps) --k;
        if (k < ladder.size()) m.nvls_graph.bw_inter_GBps = ladder[k];
      }
      const double cap = ppn * intra / (ppn + 1);
      m.nvls_graph.capacity_intra_GBps = cap;
      m.nvls_graph.capacity_inter_GBps = m.nvls_graph.bw_inter_GBps / m.nvls_graph.bw_intra_GBps * cap;
    }
    m.collnet_graph = m.ring;
    return m;
  }

  const std::vector<double>& ladder = c.speed_inter_GBps[arch];
  const int nics_used = m.nics_used;
  const double path = m.nic_path_GBps;
  auto ring_channels = [&](double s) {
    int ch = std::min(max_ch, nics_used * FloorDiv(path, s));
    if (ppn > 1) ch = std::min(ch, FloorDiv(intra, s));
    return ch;
  };
  m.ring = SearchLadder(ladder, path, ring_channels);
  DuplicateChannels(hw.sm_arch, max_ch, &m.ring);
  const double net_cap = ppn > 1 ? std::min(nics_used * path, intra) : nics_used * path;
  m.ring.capacity_intra_GBps = m.ring.capacity_inter_GBps = net_cap;

  const int tree_max = m.ring.channels;
  m.tree = SearchLadder(ladder, path, [&](double s) { return std::min(tree_max, ring_channels(s)); });
  // SRCH pass 2: trees may raise bwIntra one rung at a time while it is below 2x bwInter and
  // the channels still fit the intra-node links.
  {
    auto it = std::find(ladder.begin(), ladder.end(), m.tree.bw_inter_GBps);
    size_t k = static_cast<size_t>(it - ladder.begin());
    while (k > 0 && k < ladder.size() && ladder[k] < 2 * m.tree.bw_inter_GBps - kEps &&
           (ppn == 1 || m.tree.channels * ladder[k - 1] <= intra + kEps)) {
      --k;
    }
    if (k < ladder.size()) m.tree.bw_intra_GBps = ladder[k];
  }
  DuplicateChannels(hw.sm_arch, tree_max, &m.tree);
  m.tree.capacity_inter_GBps = net_cap;
  m.tree.capacity_intra_GBps = ppn > 1 ? intra : m.tree.channels * m.tree.bw_intra_GBps;

  if (m.nvls) {
    const double nvls_cap = intra * ppn / (ppn - 1.0);
    const std::vector<double>& intra_ladder = c.speed_intra_GBps[arch];
    NcclGraph in = SearchLadder(intra_ladder, intra, [&](double s) {
      return s * ppn <= nvls_cap + kEps && (ppn + 1) * s <= intra + kEps ? ppn : 0;
    });
    NcclGraph out = SearchLadder(ladder, path, [&](double s) {
      return nics_used * FloorDiv(path, s) >= 1 ? std::min(ppn, nics_used * FloorDiv(path, s)) : 0;
    });
    m.nvls_graph.channels = std::min(ppn, std::max(1, out.channels));
    m.nvls_graph.bw_intra_GBps = in.bw_intra_GBps;
    m.nvls_graph.bw_inter_GBps = out.bw_inter_GBps;
    m.nvls_graph.capacity_intra_GBps = ppn * intra / (ppn + 1);
    m.nvls_graph.capacity_inter_GBps = nics_used * path;
  }
  m.collnet_graph = m.ring;
  return m;
}

}  // namespace echosim
