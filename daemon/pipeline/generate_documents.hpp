// Continuous batching over a job's documents (issue 13 item 4): documents queue in input order,
// join the live batch while the KV-cache budget (generate.max_cache_tokens), the prefill budget
// (batch.max_tokens) and the pending-output bound (generate.max_pending_documents) allow, decode
// together one token per step, leave at a stop (max_new_tokens, an eos id, a stop string, the
// position table) and are emitted strictly in input order. Internal to pipeline/ (encode_job.cpp
// feeds it from its in-order write stage).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/pipeline_config.hpp"
#include "pipeline/generator.hpp"
#include "pipeline/job.hpp"
#include "pipeline/tokenizer.hpp"

namespace qkv::pipeline::detail {

class GenerationRun {
 public:
  // `emit` gets each document's generation record (no newline), in input order.
  using Emit = std::function<void(uint64_t doc, std::string record)>;
  // `cancel` is polled between steps: JobCancelled(`cancelled`) when it is set.
  GenerationRun(const config::PipelineConfig& pipeline, const Tokenizer& tokenizer,
                std::unique_ptr<Generator> generator, JobProgress& progress,
                const CancelFlag& cancel, std::string cancelled, Emit emit);

  // Queues document `doc` (job-wide index, increasing) with its prompt (or source) ids; `where`
  // names it in messages.
  void add(uint64_t doc, std::vector<int32_t> prompt, std::string where);
  // Decodes until at most `keep_waiting` documents wait (0: until every document is emitted).
  // Throws JobFailed naming the document when one cannot be generated.
  void run(size_t keep_waiting);
  uint64_t generated_tokens() const { return generated_; }

 private:
  struct Waiting {
    uint64_t doc;
    std::vector<int32_t> prompt;
    std::string where;
  };
  struct Live {
    std::string where;
    uint64_t cache_tokens = 0;
    std::vector<int32_t> ids;
    std::vector<float> logprobs;
    std::string text;  // decoded so far (for stop strings)
  };
  void admit();
  void accept(const GeneratedToken& t);
  void finish(uint64_t doc, Live& s, const char* reason);
  void flush();

  const config::GenerateOptions& o_;
  uint32_t prefill_tokens_;
  uint64_t max_pending_;
  const Tokenizer& tokenizer_;
  std::unique_ptr<Generator> gen_;
  JobProgress& progress_;
  const CancelFlag& cancel_;
  std::string cancelled_;
  Emit emit_;
  std::deque<Waiting> waiting_;
  std::map<uint64_t, Live> live_;
  std::map<uint64_t, std::string> done_;  // finished, not yet emitted
  std::deque<uint64_t> order_;            // every queued document not yet emitted, in order
  uint64_t cache_used_ = 0;
  uint64_t generated_ = 0;
};

}  // namespace qkv::pipeline::detail
