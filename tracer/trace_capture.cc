#include "tracer/trace_capture.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "policies/parallel_plan.h"
#include "simulator/core/strings.h"
#include "tracer/chakra/chakra_io.h"

namespace echosim {
namespace fs = std::filesystem;
namespace {

ParallelPlan PlanOf(int64_t world, const Layout& l) {
  ParallelPlan p;
  p.gpus = world;
  p.tp = l.tp;
  p.pp = l.pp;
  p.dp = l.dp;
  return p;
}

StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(StrCat("cannot open '", path, "'"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

StatusOr<std::vector<TracedRank>> SelectTracedRanks(int64_t world, const std::string& spec,
                                                    const Layout* layout) {
  if (world < 1) return InvalidArgument(StrCat("--world-size ", world, " must be at least 1"));
  if (layout != nullptr) {
    if (layout->tp < 1 || layout->pp < 1 || layout->dp < 1 ||
        layout->tp * layout->pp * layout->dp != world) {
      return InvalidArgument(StrCat("--tp ", layout->tp, " x --pp ", layout->pp, " x --dp ",
                                    layout->dp, " must equal --world-size ", world));
    }
  }
  std::vector<int64_t> traced;
  if (spec == "auto") {
    if (layout == nullptr) {
      traced = {0};
    } else {
      const ParallelPlan p = PlanOf(world, *layout);
      for (int64_t s = 0; s < layout->pp; ++s) {
        ParallelPlan::Coords c;
        c.pp = s;
        traced.push_back(p.RankOf(c));
        if (layout->tp > 1) {
          c.tp = 1;
          traced.push_back(p.RankOf(c));
        }
      }
    }
  } else {
    std::stringstream ss(spec);
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (item.empty()) return InvalidArgument(StrCat("--ranks '", spec, "': empty entry"));
      int64_t r = 0;
      for (char ch : item) {
        if (ch < '0' || ch > '9' || r > world) {
          return InvalidArgument(StrCat("--ranks '", spec, "': '", item,
                                        "' is not a rank; give 'auto' or ranks like 0,8,16"));
        }
        r = r * 10 + (ch - '0');
      }
      if (r >= world) {
        return InvalidArgument(StrCat("--ranks: rank ", r, " is outside the world of ", world));
      }
      traced.push_back(r);
    }
    if (traced.empty()) return InvalidArgument("--ranks needs 'auto' or at least one rank");
  }
  std::sort(traced.begin(), traced.end());
  traced.erase(std::unique(traced.begin(), traced.end()), traced.end());
  std::vector<TracedRank> out;
  for (int64_t r : traced) out.push_back(TracedRank{r, {}});
  auto index_of = [&](int64_t r) {
    return static_cast<size_t>(std::find(traced.begin(), traced.end(), r) - traced.begin());
  };
  for (int64_t g = 0; g < world; ++g) {
    size_t chosen = 0;
    if (std::binary_search(traced.begin(), traced.end(), g)) {
      chosen = index_of(g);
    } else if (layout != nullptr) {
      const ParallelPlan p = PlanOf(world, *layout);
      const ParallelPlan::Coords cg = p.CoordsOf(g);
      int best = -1;
      size_t best_i = 0;
      for (size_t i = 0; i < traced.size(); ++i) {
        const ParallelPlan::Coords ct = p.CoordsOf(traced[i]);
        const int score = (ct.pp == cg.pp ? 2 : 0) + ((ct.tp == 0) == (cg.tp == 0) ? 1 : 0);
        if (score > best) {
          best = score;
          best_i = i;
        }
      }
      chosen = best_i;
    }
    out[chosen].stands_for.push_back(g);
  }
  return out;
}

StatusOr<RankTrace> AssembleRank(const AssembleOptions& o, int64_t rank,
                                 std::vector<Communicator>* names) {
  const fs::path raw(o.raw_dir);
  const std::string act_path = (raw / StrCat("activity.", rank, ".tsv")).string();
  const std::string nccl_path = (raw / StrCat("nccl.", rank, ".tsv")).string();
  std::error_code ec;
  const bool have_act = fs::exists(act_path, ec);
  const bool have_nccl = fs::exists(nccl_path, ec);
  if (!have_act && !have_nccl) {
    return NotFound(StrCat("rank ", rank, ": the program left neither ", act_path, " nor ",
                           nccl_path, " (did it use CUDA or NCCL, and exit normally?)"));
  }
  ActivityCapture act;
  NcclCallLog nccl;
  if (have_act) {
    ECHOSIM_ASSIGN_OR_RETURN(const std::string text, ReadText(act_path));
    ECHOSIM_ASSIGN_OR_RETURN(act, ParseActivityCapture(text, act_path));
  }
  std::vector<Communicator> comms;
  if (have_nccl) {
    ECHOSIM_ASSIGN_OR_RETURN(const std::string text, ReadText(nccl_path));
    ECHOSIM_ASSIGN_OR_RETURN(nccl, ParseNcclCallLog(text, nccl_path));
    if (nccl.rank != rank || nccl.world_size != o.world_size) {
      return InvalidArgument(StrCat(nccl_path, ": rank ", nccl.rank, " of ", nccl.world_size,
                                    ", expected rank ", rank, " of ", o.world_size,
                                    " (are WORLD_SIZE/RANK overridden by the program?)"));
    }
    ECHOSIM_ASSIGN_OR_RETURN(const auto members, ResolveCommunicators(nccl, o.layout));
    for (const std::vector<int64_t>& m : members) {
      std::string name;
      for (const Communicator& c : *names) {
        if (c.ranks == m) name = c.name;
      }
      if (name.empty()) {
        name = StrCat("comm", names->size());
        names->push_back(Communicator{name, m});
      }
      comms.push_back(Communicator{name, m});
    }
  }
  ECHOSIM_ASSIGN_OR_RETURN(ActivityLog log, MergeCapture(have_act ? &act : nullptr,
                                                         have_nccl ? &nccl : nullptr, comms));
  log.rank = rank;
  log.world_size = o.world_size;
  ECHOSIM_ASSIGN_OR_RETURN(RankTrace t, BuildRankTrace(log, o.activity));
  t.source = StrCat(o.prefix, ".", rank, ".et");
  return t;
}

StatusOr<TraceManifest> AssembleTraceSet(const AssembleOptions& o,
                                         const std::vector<TracedRank>& ranks) {
  TraceManifest m;
  m.world_size = o.world_size;
  if (o.layout != nullptr) {
    m.tp = o.layout->tp;
    m.pp = o.layout->pp;
    m.dp = o.layout->dp;
  }
  m.command = o.command;
  m.gpu = o.gpu;
  std::vector<Communicator> names;
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) return InvalidArgument(StrCat("--out: cannot create '", o.out_dir, "': ", ec.message()));
  for (const TracedRank& r : ranks) {
    ECHOSIM_ASSIGN_OR_RETURN(RankTrace t, AssembleRank(o, r.rank, &names));
    t.gpu = o.gpu;
    const std::string file = StrCat(o.prefix, ".", r.rank, ".et");
    ECHOSIM_RETURN_IF_ERROR(WriteChakraFile(t, (fs::path(o.out_dir) / file).string()));
    m.traces.push_back(TraceManifest::Entry{r.rank, file, r.stands_for});
  }
  m.communicators = names;
  ECHOSIM_RETURN_IF_ERROR(ValidateManifest(m, "manifest.json"));
  std::ofstream out(fs::path(o.out_dir) / "manifest.json", std::ios::binary);
  out << ManifestToJson(m);
  if (!out) return Internal(StrCat("failed writing ", o.out_dir, "/manifest.json"));
  return m;
}

}  // namespace echosim
