#include <oneapi/tbb/parallel_pipeline.h>

#include <mutex>

#include "pipeline/job_context.hpp"
#include "pipeline/runner.hpp"

namespace qkv::detail {

std::string JobContext::where(const Chunk& chunk, size_t i, const std::vector<io::InputFile>& inputs) const {
  if (spec.inputs.empty() || inputs.empty()) return "inline text " + std::to_string(chunk.first_doc + i);
  if (chunk.lines.empty()) return inputs[chunk.ids_file].path.string();  // ids read from a .bin
  const io::RawLine& line = chunk.lines[i];
  return inputs[line.file].path.string() + ":" + std::to_string(line.line + 1);
}

void run_chunks(JobContext& ctx, const std::function<bool(Chunk&)>& read, const std::function<void(Chunk&)>& work,
                const std::function<void(Chunk&)>& write) {
  namespace tbb = oneapi::tbb;
  using Ptr = std::shared_ptr<Chunk>;
  // Two chunks per worker keep every worker busy while bounding memory.
  const size_t live = std::max<size_t>(2, 2 * static_cast<size_t>(ctx.threads));
  bool done = false;
  // Each serial stage runs one chunk at a time, but on varying threads; the mutexes (never
  // contended) and Chunk::stage make that ordering visible to TSan. Locking both here first
  // orders everything the caller set up before the first stage runs.
  std::mutex read_mutex, write_mutex;
  { std::scoped_lock setup(read_mutex, write_mutex); }
  auto body = [&] {
    tbb::parallel_pipeline(
        live,
        tbb::make_filter<void, Ptr>(tbb::filter_mode::serial_in_order,
                                    [&](tbb::flow_control& fc) -> Ptr {
                                      std::lock_guard lock(read_mutex);
                                      if (done || ctx.cancel()) {
                                        fc.stop();
                                        return nullptr;
                                      }
                                      auto chunk = std::make_shared<Chunk>();
                                      if (!read(*chunk)) {
                                        done = true;
                                        if (chunk->documents() == 0 && !chunk->error) {
                                          fc.stop();
                                          return nullptr;
                                        }
                                      }
                                      chunk->stage.store(1, std::memory_order_release);
                                      return chunk;
                                    }) &
            tbb::make_filter<Ptr, Ptr>(tbb::filter_mode::parallel,
                                       [&](Ptr chunk) {
                                         chunk->stage.load(std::memory_order_acquire);
                                         if (!chunk->error) work(*chunk);
                                         chunk->stage.store(2, std::memory_order_release);
                                         return chunk;
                                       }) &
            tbb::make_filter<Ptr, void>(tbb::filter_mode::serial_in_order, [&](Ptr chunk) {
              std::lock_guard lock(write_mutex);
              chunk->stage.load(std::memory_order_acquire);
              if (chunk->error) throw JobFailed(*chunk->error);
              if (chunk->cancelled || ctx.cancel()) throw JobCancelled("job " + ctx.spec.id + " was cancelled");
              write(*chunk);
              chunk.reset();  // freed under the lock, so its memory's reuse is ordered too
            }));
  };
#if defined(__SANITIZE_THREAD__)
  // TSan cannot see the synchronization inside libtbb (not instrumented) and reports false
  // races in parallel_pipeline's own buffers; under TSan the same stages run in order on the
  // calling thread (same output bytes), so the daemon's own threads can still be checked.
  (void)body;
  while (!done && !ctx.cancel()) {
    Chunk chunk;
    done = !read(chunk);
    if (chunk.documents() == 0 && !chunk.error) break;
    if (!chunk.error) work(chunk);
    if (chunk.error) throw JobFailed(*chunk.error);
    if (chunk.cancelled || ctx.cancel()) break;
    write(chunk);
  }
#else
  if (ctx.arena) ctx.arena->execute(body);
  else body();
#endif
  { std::scoped_lock finished(read_mutex, write_mutex); }  // the caller now reads what the stages wrote
  if (ctx.cancel()) throw JobCancelled("job " + ctx.spec.id + " was cancelled");
}

}  // namespace qkv::detail
