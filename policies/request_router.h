// Router: which replica of a serving cluster takes an arriving request.
//
// Implementations, one file each, registered by name in request_router.cc:
//   round_robin        replicas in turn
//   least_outstanding  fewest requests routed and not finished (join-shortest-queue)
//   least_kv           lowest KV-cache demand: used blocks plus queued prompt tokens,
//                      as a fraction of the replica's KV capacity
//   prefix_affinity    requests sharing a prefix group go to the same replica (so its prefix
//                      cache hits), by consistent hashing with bounded loads (Mirrokni,
//                      Thorup & Zadimoghaddam, SODA'18): the group's home replica unless its
//                      outstanding load exceeds 1.25 x the mean (+1), then the next replica
//                      in ring order that does not; requests without a group: least_outstanding
// Every router is deterministic: ties go to the lowest replica index.
#ifndef ECHOSIM_POLICIES_REQUEST_ROUTER_H_
#define ECHOSIM_POLICIES_REQUEST_ROUTER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "simulator/core/status.h"

namespace echosim {

struct ReplicaLoad {
  int32_t outstanding_requests = 0;  // routed here and not finished
  int64_t kv_used_blocks = 0;
  int64_t kv_total_blocks = 1;
  int64_t kv_block_tokens = 16;
  int64_t queued_prompt_tokens = 0;  // prompt tokens of sequences waiting for admission
};

struct RouteQuery {
  uint64_t request_id = 0;
  uint64_t prefix_group = 0;  // 0 = none
  int32_t prompt_tokens = 0;
};

class Router {
 public:
  virtual ~Router() = default;
  virtual const char* name() const = 0;
  // Index into `loads` (non-empty) of the replica that takes the request.
  virtual size_t Route(const RouteQuery& query, const std::vector<ReplicaLoad>& loads) = 0;
};

struct RouterInfo {
  const char* name;
  const char* description;
  std::unique_ptr<Router> (*make)();
};

const std::vector<RouterInfo>& Routers();
std::vector<std::string> RouterNames();
StatusOr<std::unique_ptr<Router>> MakeRouter(const std::string& name);

std::unique_ptr<Router> MakeRoundRobinRouter();
std::unique_ptr<Router> MakeLeastOutstandingRouter();
std::unique_ptr<Router> MakeLeastKvRouter();
std::unique_ptr<Router> MakePrefixAffinityRouter();

// The least-outstanding choice (shared by routers that fall back to it).
size_t LeastOutstanding(const std::vector<ReplicaLoad>& loads);

}  // namespace echosim

#endif  // ECHOSIM_POLICIES_REQUEST_ROUTER_H_
