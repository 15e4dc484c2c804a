// The contract between job sources (qkvd run, the socket, the spool) and pipeline runs
// (pipeline/run_job.hpp). A source builds a JobSpec, run_job executes it; neither knows how the
// other works.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace qkv::pipeline {

// One shard of a sharded job (jobs/shard_plan.hpp): a contiguous run of the job's documents.
// inputs.front() is read from byte `begin`, inputs.back() up to byte `end` (both right after an
// LF); the files between are read whole.
struct InputSlice {
  uint64_t begin = 0;
  uint64_t end = UINT64_MAX;
  // The job-wide number of the shard's first document, when known (per-document seeds of
  // generation depend on it); else the shard counts from 0.
  std::optional<uint64_t> first_document;
  bool operator==(const InputSlice&) const = default;
};

struct JobSpec {
  std::string id;  // the daemon's job id (recorded in the output manifest); empty for qkvd run
  std::string pipeline;             // file stem in the pipelines folder, or a path
  std::vector<std::string> inputs;  // files or globs (.jsonl, .txt, optionally .gz/.zst)
  std::vector<std::string> texts;   // inline documents (qkvctl run), instead of inputs
  std::string output;               // output path; empty for inline jobs
  std::vector<std::pair<std::string, std::string>> overrides;  // --set key.path=value
  bool decode = false;                                         // ids -> text direction
  std::optional<unsigned> threads;                             // worker count; default: the arena's
  std::optional<InputSlice> slice;                             // a shard's part of the inputs
};

// Live counters a job updates and any thread may read.
struct JobProgress {
  std::atomic<uint64_t> documents_done{0};
  std::atomic<uint64_t> documents_total{0};  // 0 while unknown
  std::atomic<uint64_t> bytes_done{0};
  std::atomic<uint64_t> bytes_total{0};
  std::atomic<uint64_t> generated_tokens{0};  // generation pipelines: tokens written so far
};

// Set by cancel; a pipeline run polls it between chunks and stops promptly, removing temp files.
struct CancelFlag {
  std::atomic<bool> requested{false};
  bool operator()() const noexcept { return requested.load(std::memory_order_relaxed); }
};

struct JobResult {
  uint64_t documents = 0;
  uint64_t tokens = 0;
  uint64_t input_bytes = 0;
  uint64_t truncated = 0;         // documents cut to the model's position table
  uint64_t rejected = 0;          // bad records skipped (input.on_error: skip)
  uint64_t generated_tokens = 0;  // generation pipelines
  double seconds = 0;
  std::vector<std::string> outputs;  // files written (final names)
  // `-o -`: the companions a file output would have had ("OUT.ids.jsonl"), not written.
  std::vector<std::string> not_written;
  // Inline jobs: one entry per text, the compact JSON of its ids (or vector).
  std::vector<std::string> inline_results;
};

}  // namespace qkv::pipeline
