// Least outstanding requests (join-the-shortest-queue, Winston 1977): the replica with the
// fewest requests routed to it and not finished; ties to the lowest index.
#include "policies/request_router.h"

namespace echosim {
namespace {

class LeastOutstandingRouter : public Router {
 public:
  const char* name() const override { return "least_outstanding"; }
  size_t Route(const RouteQuery&, const std::vector<ReplicaLoad>& loads) override {
    return LeastOutstanding(loads);
  }
};

}  // namespace

std::unique_ptr<Router> MakeLeastOutstandingRouter() {
  return std::make_unique<LeastOutstandingRouter>();
}

}  // namespace echosim
