// Prefix affinity by consistent hashing with bounded loads (Mirrokni, Thorup &
// Zadimoghaddam, "Consistent Hashing with Bounded Loads", SODA'18): a request of prefix
// group g has home replica h(g) mod n (h: the SplitMix64 finaliser, Steele et al. 2014);
// a replica is eligible when its outstanding requests, this one included, are at most
// ceil(1.25 * (total outstanding + 1) / n); the request goes to the first eligible replica
// from the home one in ring order. Requests with no group go to the least outstanding.
#include <cmath>

#include "policies/request_router.h"

namespace echosim {
namespace {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class PrefixAffinityRouter : public Router {
 public:
  static constexpr double kLoadBound = 1.25;
  const char* name() const override { return "prefix_affinity"; }
  size_t Route(const RouteQuery& q, const std::vector<ReplicaLoad>& loads) override {
    if (q.prefix_group == 0) return LeastOutstanding(loads);
    const size_t n = loads.size();
    int64_t total = 0;
    for (const ReplicaLoad& l : loads) total += l.outstanding_requests;
    const double bound = std::ceil(kLoadBound * static_cast<double>(total + 1) / n);
    const size_t home = Mix(q.prefix_group) % n;
    for (size_t k = 0; k < n; ++k) {
      const size_t i = (home + k) % n;
      if (loads[i].outstanding_requests + 1 <= bound) return i;
    }
    return LeastOutstanding(loads);
  }
};

}  // namespace

std::unique_ptr<Router> MakePrefixAffinityRouter() {
  return std::make_unique<PrefixAffinityRouter>();
}

}  // namespace echosim
