// Least KV demand: the replica minimising
//   (kv_used_blocks * block_tokens + queued_prompt_tokens) / (kv_total_blocks * block_tokens),
// i.e. how full its KV cache is plus what its queue will need; ties to the lowest index.
#include "policies/request_router.h"

namespace echosim {
namespace {

class LeastKvRouter : public Router {
 public:
  const char* name() const override { return "least_kv"; }
  size_t Route(const RouteQuery&, const std::vector<ReplicaLoad>& loads) override {
    size_t best = 0;
    double best_demand = 0;
    for (size_t i = 0; i < loads.size(); ++i) {
      const ReplicaLoad& l = loads[i];
      const double capacity = static_cast<double>(l.kv_total_blocks) * l.kv_block_tokens;
      const double demand =
          (static_cast<double>(l.kv_used_blocks) * l.kv_block_tokens + l.queued_prompt_tokens) /
          capacity;
      if (i == 0 || demand < best_demand) {
        best = i;
        best_demand = demand;
      }
    }
    return best;
  }
};

}  // namespace

std::unique_ptr<Router> MakeLeastKvRouter() { return std::make_unique<LeastKvRouter>(); }

}  // namespace echosim
