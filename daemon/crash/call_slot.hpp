// The per-thread crash slot: who (a job, or an inline request) this thread works for, and which
// plugin call it is inside. Set and cleared by RAII scopes around every plugin call
// (daemon/host/*_handle.cpp) and around the work done for a job (daemon/jobs/scheduler.cpp,
// daemon/pipeline/run_chunks.cpp); read only by the crash handler (crash/crash_handler.hpp), so
// a crash names the job that caused it instead of every job that happened to be running.
// The slot is an initial-exec thread_local of the executable: reading it in a signal handler
// needs no allocation and no lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace qkv::crash {

// Bounded copies, so the handler reads only the slot's own memory for the owner.
inline constexpr std::size_t kOwnerBytes = 160;     // a job id (<= 128) or "inline:<sha256 hex>"
inline constexpr std::size_t kPipelineBytes = 256;  // a pipeline name or path (cut if longer)

// Whom a thread works for; copied by value from the job's thread onto the threads that run its
// chunks.
struct Owner {
  char id[kOwnerBytes] = {};
  char pipeline[kPipelineBytes] = {};
  uint16_t id_len = 0, pipeline_len = 0;

  Owner() = default;
  Owner(std::string_view owner_id, std::string_view pipeline_name) noexcept;
  bool empty() const noexcept { return id_len == 0; }
  std::string_view id_view() const noexcept { return {id, id_len}; }
  std::string_view pipeline_view() const noexcept { return {pipeline, pipeline_len}; }
};

// The plugin call in progress: pointers to strings that outlive the call (the plugin's name in
// its LoadedPlugin, a literal for the call).
struct Call {
  const char* plugin = nullptr;
  std::size_t plugin_len = 0;
  const char* what = nullptr;  // "encode", "forward", "create", ...
};

struct Slot {
  Owner owner;
  Call call;
};

// This thread's slot (what the handler reads).
const Slot& current_slot() noexcept;
// A copy of this thread's owner, to hand to the threads doing this owner's work.
Owner current_owner() noexcept;

// Sets this thread's owner for its lifetime, then restores the previous one (a oneTBB worker
// waiting inside one job's parallel loop may run a chunk of another job meanwhile).
class OwnerScope {
 public:
  explicit OwnerScope(const Owner& owner) noexcept;
  OwnerScope(std::string_view owner_id, std::string_view pipeline) noexcept
      : OwnerScope(Owner(owner_id, pipeline)) {}
  ~OwnerScope();
  OwnerScope(const OwnerScope&) = delete;
  OwnerScope& operator=(const OwnerScope&) = delete;

 private:
  Owner previous_;
};

// Marks this thread as inside `what` of plugin `plugin` for its lifetime.
class CallScope {
 public:
  CallScope(std::string_view plugin, const char* what) noexcept;
  ~CallScope();
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

 private:
  Call previous_;
};

}  // namespace qkv::crash
