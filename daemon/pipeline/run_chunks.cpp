// The streaming core of a pipeline run: one oneTBB parallel_pipeline over the chunks a job's
// reader yields (declared in pipeline/job_context.hpp): serial in-order read, parallel
// tokenize [-> model], serial in-order write; and JobContext::where, a document's place in
// messages.
#include <oneapi/tbb/parallel_pipeline.h>

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>

#include "crash/call_slot.hpp"
#include "pipeline/job_context.hpp"
#include "pipeline/run_job.hpp"

namespace qkv::pipeline::detail {
namespace {

std::string cancelled_message(const JobSpec& spec) {
  return spec.id.empty() ? "the job was cancelled" : "job " + spec.id + " was cancelled";
}

}  // namespace

io::InputOpener JobContext::input_opener() const {
  return [p = paths](const std::filesystem::path& f) { return p->open_input(f); };
}

io::OutputTarget JobContext::open_output(const std::vector<io::InputFile>& inputs) const {
  std::vector<std::filesystem::path> in;
  for (const auto& f : inputs) in.push_back(f.path);
  return paths->open_output(spec.output, in, pipeline.output.overwrite);
}

std::string JobContext::where(const Chunk& chunk, size_t i,
                              const std::vector<io::InputFile>& inputs) const {
  if (spec.inputs.empty() || inputs.empty())
    return "inline text " + std::to_string(chunk.first_doc + i);
  if (chunk.lines.empty()) return inputs[chunk.ids_file].path.string();  // ids read from a .bin
  const io::RawLine& line = chunk.lines[i];
  return inputs[line.file].path.string() + ":" + std::to_string(line.line + 1);
}

void run_chunks(JobContext& ctx, const std::function<bool(Chunk&)>& read,
                const std::function<void(Chunk&)>& work, const std::function<void(Chunk&)>& write) {
  namespace tbb = oneapi::tbb;
  using Ptr = std::shared_ptr<Chunk>;
  // Two chunks per worker keep every worker busy while bounding memory.
  const size_t live = std::max<size_t>(2, 2 * static_cast<size_t>(ctx.threads));
  bool done = false;
  // No exception may leave a filter: parallel_pipeline's cancellation drops the chunks still in
  // its buffers without destroying them (a leak). The first failure is kept here instead; the
  // reader then stops, later chunks are drained unwritten, and it is rethrown at the end.
  std::exception_ptr failure;
  std::atomic<bool> stopping{false};
  auto fail = [&](std::exception_ptr e) {
    if (!failure) failure = std::move(e);
    stopping.store(true, std::memory_order_relaxed);
  };
  // Each serial stage runs one chunk at a time, but on varying threads; the mutexes (never
  // contended) and Chunk::stage make that ordering visible to TSan. Locking both here first
  // orders everything the caller set up before the first stage runs.
  std::mutex read_mutex, write_mutex;
  { std::scoped_lock setup(read_mutex, write_mutex); }
  // The stages run on oneTBB workers: each carries the caller's crash owner (crash/call_slot.hpp)
  // so a plugin crash in any of them names this job.
  const crash::Owner owner = crash::current_owner();
  auto read_stage = [&](tbb::flow_control& fc) -> Ptr {
    crash::OwnerScope as_owner(owner);
    std::lock_guard lock(read_mutex);
    if (done || ctx.cancel() || stopping.load(std::memory_order_relaxed)) {
      fc.stop();
      return nullptr;
    }
    auto chunk = std::make_shared<Chunk>();
    try {
      if (!read(*chunk)) {
        done = true;
        if (chunk->documents() == 0 && !chunk->error) {
          fc.stop();
          return nullptr;
        }
      }
    } catch (...) {
      chunk->thrown = std::current_exception();
      done = true;
    }
    chunk->stage.store(1, std::memory_order_release);
    return chunk;
  };
  auto work_stage = [&](Ptr chunk) {
    crash::OwnerScope as_owner(owner);
    chunk->stage.load(std::memory_order_acquire);
    if (!chunk->error && !chunk->thrown && !stopping.load(std::memory_order_relaxed)) {
      try {
        work(*chunk);
      } catch (...) {
        chunk->thrown = std::current_exception();
      }
    }
    chunk->stage.store(2, std::memory_order_release);
    return chunk;
  };
  auto write_stage = [&](Ptr chunk) {
    crash::OwnerScope as_owner(owner);
    std::lock_guard lock(write_mutex);
    chunk->stage.load(std::memory_order_acquire);
    if (failure) {
      // drained after a failure: nothing more is written
    } else if (chunk->thrown) {
      fail(chunk->thrown);
    } else if (chunk->error) {
      fail(std::make_exception_ptr(JobFailed(*chunk->error)));
    } else if (chunk->cancelled || ctx.cancel()) {
      fail(std::make_exception_ptr(JobCancelled(cancelled_message(ctx.spec))));
    } else {
      try {
        write(*chunk);
      } catch (...) {
        fail(std::current_exception());
      }
    }
    chunk.reset();  // freed under the lock, so its memory's reuse is ordered too
  };
  auto body = [&] {
    tbb::parallel_pipeline(
        live, tbb::make_filter<void, Ptr>(tbb::filter_mode::serial_in_order, read_stage) &
                  tbb::make_filter<Ptr, Ptr>(tbb::filter_mode::parallel, work_stage) &
                  tbb::make_filter<Ptr, void>(tbb::filter_mode::serial_in_order, write_stage));
  };
#if defined(__SANITIZE_THREAD__)
  // TSan cannot see the synchronization inside libtbb (not instrumented) and reports false
  // races in parallel_pipeline's own buffers; under TSan the same stages run in order on the
  // calling thread (same output bytes), so the daemon's own threads can still be checked.
  (void)body;
  for (;;) {
    if (done || ctx.cancel() || stopping.load(std::memory_order_relaxed)) break;
    auto chunk = std::make_shared<Chunk>();
    try {
      if (!read(*chunk)) {
        done = true;
        if (chunk->documents() == 0 && !chunk->error) break;
      }
    } catch (...) {
      chunk->thrown = std::current_exception();
      done = true;
    }
    write_stage(work_stage(std::move(chunk)));
  }
#else
  if (ctx.arena)
    ctx.arena->execute(body);
  else
    body();
#endif
  {
    std::scoped_lock finished(read_mutex, write_mutex);
  }  // the caller now reads what the stages wrote
  if (failure) std::rethrow_exception(failure);
  if (ctx.cancel()) throw JobCancelled(cancelled_message(ctx.spec));
}

}  // namespace qkv::pipeline::detail
