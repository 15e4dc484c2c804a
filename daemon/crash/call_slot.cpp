#include "crash/call_slot.hpp"

#include "crash/signal_stack.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace qkv::crash {
namespace {

// initial-exec: the handler must not reach the dynamic TLS allocator (__tls_get_addr).
thread_local Slot slot __attribute__((tls_model("initial-exec")));

uint16_t copy_bounded(char* to, std::size_t cap, std::string_view from) noexcept {
  std::size_t n = std::min(cap, from.size());
  std::memcpy(to, from.data(), n);
  return static_cast<uint16_t>(n);
}

}  // namespace

Owner::Owner(std::string_view owner_id, std::string_view pipeline_name) noexcept {
  id_len = copy_bounded(id, kOwnerBytes, owner_id);
  pipeline_len = copy_bounded(pipeline, kPipelineBytes, pipeline_name);
}

const Slot& current_slot() noexcept { return slot; }
Owner current_owner() noexcept { return slot.owner; }

OwnerScope::OwnerScope(const Owner& owner) noexcept : previous_(slot.owner) { slot.owner = owner; }
OwnerScope::~OwnerScope() { slot.owner = previous_; }

CallScope::CallScope(std::string_view plugin, const char* what) noexcept : previous_(slot.call) {
  ensure_signal_stack();  // a plugin's stack overflow must still reach the handler
  // The owner is complete before the call is marked (a signal may come between the stores).
  Call c{plugin.data(), plugin.size(), what};
  std::atomic_signal_fence(std::memory_order_seq_cst);
  slot.call = c;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}
CallScope::~CallScope() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  slot.call = previous_;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

}  // namespace qkv::crash
