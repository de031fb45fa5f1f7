#include "policies/request_router.h"

#include "simulator/core/strings.h"

namespace echosim {

const std::vector<RouterInfo>& Routers() {
  static const std::vector<RouterInfo> kRouters = {
      {"round_robin", "replicas in turn", &MakeRoundRobinRouter},
      {"least_outstanding", "fewest unfinished requests", &MakeLeastOutstandingRouter},
      {"least_kv", "lowest KV-cache demand (used blocks + queued prompts)", &MakeLeastKvRouter},
      {"prefix_affinity", "same prefix group, same replica (bounded-load consistent hashing)",
       &MakePrefixAffinityRouter},
  };
  return kRouters;
}

std::vector<std::string> RouterNames() {
  std::vector<std::string> names;
  for (const RouterInfo& r : Routers()) names.push_back(r.name);
  return names;
}

StatusOr<std::unique_ptr<Router>> MakeRouter(const std::string& name) {
  for (const RouterInfo& r : Routers()) {
    if (name == r.name) return r.make();
  }
  return NotFound(StrCat("unknown router '", name, "'; valid routers: ", Join(RouterNames(), ", ")));
}

size_t LeastOutstanding(const std::vector<ReplicaLoad>& loads) {
  size_t best = 0;
  for (size_t i = 1; i < loads.size(); ++i) {
    if (loads[i].outstanding_requests < loads[best].outstanding_requests) best = i;
  }
  return best;
}

}  // namespace echosim
