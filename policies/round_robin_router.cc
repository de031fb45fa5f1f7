// Round robin: the i-th request goes to replica i mod n.
#include "policies/request_router.h"

namespace echosim {
namespace {

class RoundRobinRouter : public Router {
 public:
  const char* name() const override { return "round_robin"; }
  size_t Route(const RouteQuery&, const std::vector<ReplicaLoad>& loads) override {
    return next_++ % loads.size();
  }

 private:
  uint64_t next_ = 0;
};

}  // namespace

std::unique_ptr<Router> MakeRoundRobinRouter() { return std::make_unique<RoundRobinRouter>(); }

}  // namespace echosim
