#include "simulator/core/engine.h"

namespace echosim {

uint32_t Engine::RegisterHandler(EventHandler* handler) {
  ECHOSIM_CHECK(handler != nullptr);
  handlers_.push_back(handler);
  return static_cast<uint32_t>(handlers_.size() - 1);
}

uint64_t Engine::Run(Time until) {
  stop_ = false;
  uint64_t delivered = 0;
  while (!queue_.empty() && !stop_) {
    if (queue_.Top().time > until) break;
    const Event ev = queue_.Pop();
    now_ = ev.time;
    ECHOSIM_CHECK(ev.kind < handlers_.size());
    handlers_[ev.kind]->OnEvent(*this, ev);
    ++delivered;
  }
  events_processed_ += delivered;
  return delivered;
}

}  // namespace echosim
