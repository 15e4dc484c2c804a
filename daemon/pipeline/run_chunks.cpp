#include <oneapi/tbb/parallel_pipeline.h>

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
  auto body = [&] {
    tbb::parallel_pipeline(
        live,
        tbb::make_filter<void, Ptr>(tbb::filter_mode::serial_in_order,
                                    [&](tbb::flow_control& fc) -> Ptr {
                                      if (done || ctx.cancel()) {
                                        fc.stop();
                                        return nullptr;
                                      }
                                      auto chunk = std::make_shared<Chunk>();
                                      if (!read(*chunk)) {
                                        done = true;
                                        if (chunk->documents() == 0) {
                                          fc.stop();
                                          return nullptr;
                                        }
                                      }
                                      return chunk;
                                    }) &
            tbb::make_filter<Ptr, Ptr>(tbb::filter_mode::parallel,
                                       [&](Ptr chunk) {
                                         work(*chunk);
                                         return chunk;
                                       }) &
            tbb::make_filter<Ptr, void>(tbb::filter_mode::serial_in_order, [&](Ptr chunk) {
              if (chunk->error) throw JobFailed(*chunk->error);
              if (chunk->cancelled || ctx.cancel()) throw JobCancelled("job " + ctx.spec.id + " was cancelled");
              write(*chunk);
            }));
  };
  if (ctx.arena) ctx.arena->execute(body);
  else body();
  if (ctx.cancel()) throw JobCancelled("job " + ctx.spec.id + " was cancelled");
}

}  // namespace qkv::detail
