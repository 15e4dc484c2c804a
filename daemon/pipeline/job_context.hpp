// Everything one running job needs, shared by the encode and decode drivers. Internal.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/pipeline_config.hpp"
#include "io/inputs.hpp"
#include "io/output_set.hpp"
#include "io/path_policy.hpp"
#include "pipeline/chunk.hpp"
#include "pipeline/job.hpp"
#include "pipeline/model_stage.hpp"
#include "pipeline/tokenizer.hpp"

namespace qkv::pipeline::detail {

struct JobContext {
  const JobSpec& spec;
  config::PipelineConfig pipeline;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::shared_ptr<const ModelStage> model;  // shared with other jobs through a StageCache
  JobProgress& progress;
  const CancelFlag& cancel;
  oneapi::tbb::task_arena* arena = nullptr;  // where the pipeline runs
  unsigned threads = 1;
  const io::PathPolicy* paths = nullptr;  // how the job's files are opened (never null in a run)
  bool std_streams = false;               // RunEnvironment::std_streams
  // An encoder-decoder's target side (input fields after the first, generated ids); null:
  // `tokenizer` serves both sides. tokenizer_for(field) picks.
  std::shared_ptr<const Tokenizer> target_tokenizer = nullptr;
  const Tokenizer& tokenizer_for(size_t field) const {
    return field > 0 && target_tokenizer ? *target_tokenizer : *tokenizer;
  }
  // Output "-" of `qkvd run`: the records go to stdout (io/stdout_stream.hpp).
  bool to_stdout() const { return std_streams && spec.output == "-"; }

  // The job's inputs, each opened through the path policy.
  io::InputOpener input_opener() const;
  // The output folder opened and checked through the path policy (PathError as JobFailed is
  // not enough: the caller keeps its code).
  io::OutputTarget open_output(const std::vector<io::InputFile>& inputs) const;
  io::StreamLimits input_limits{};  // limits.max_document_bytes, max_job_input_bytes

  // "file:line" of a record, or "inline text N".
  std::string where(const Chunk& chunk, size_t i, const std::vector<io::InputFile>& inputs) const;
};

// Runs read -> work -> write as a oneTBB parallel_pipeline inside ctx.arena with a bounded
// number of chunks in flight. `read` fills a chunk and returns false at the end; `work` runs
// in parallel and must not throw; `write` runs in input order.
void run_chunks(JobContext& ctx, const std::function<bool(Chunk&)>& read,
                const std::function<void(Chunk&)>& work, const std::function<void(Chunk&)>& write);

JobResult run_encode(JobContext& ctx);
JobResult run_decode(JobContext& ctx);

// Manifest fields shared by both directions.
struct ManifestInputs {
  std::vector<io::InputFile> files;
};

}  // namespace qkv::pipeline::detail
