// One chunk of documents moving through the parallel pipeline, and what a pipeline run keeps
// for the whole job. Internal to pipeline/ (run_job.cpp, run_chunks.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "io/inputs.hpp"
#include "pipeline/model_stage.hpp"

namespace qkv::pipeline::detail {

struct Chunk {
  uint64_t first_doc = 0;                    // job-wide number of the first document
  std::vector<io::RawLine> lines;            // input records (jsonl/txt lines, or inline texts)
  std::vector<std::vector<int32_t>> ids_in;  // decode from .bin: ids per document
  uint32_t ids_file = 0;                     // the input those came from (one file per chunk)
  uint64_t bytes_done = 0;                   // reader progress after this chunk (on-disk bytes)
  uint64_t input_bytes = 0;

  // Filled by the parallel stage.
  std::string out;                   // formatted bytes of the main output
  std::vector<std::string> records;  // inline jobs: one result per document
  std::vector<int64_t> doc_tokens;   // ids per document (bin idx)
  std::vector<uint32_t> doc_files;   // the input of each document written (manifest ranges)
  std::string id_lines;              // OUT.ids.jsonl: one line per document written
  uint64_t ids_present = 0;          // documents of id_lines whose record had an id (not null)
  uint64_t tokens = 0;
  uint64_t truncated = 0;
  std::string rejects;  // input.on_error: skip: one OUT.rejects.jsonl line per bad record
  uint64_t rejected = 0;
  StageOutput model_out;  // model outputs, documents in order
  // model.chunk: 3 per window (document within this chunk's written ones, byte begin, byte
  // end); the writer thread adds the documents written before.
  std::vector<int64_t> windows;
  // Generation pipelines: each document's prompt (or source) ids and its place, for the
  // in-order write stage to queue (pipeline/generate_documents.hpp).
  struct Prompt {
    uint64_t doc;
    std::vector<int32_t> ids;
    std::string where;
  };
  std::vector<Prompt> prompts;
  std::optional<std::string> error;  // the first failure, in document order
  bool cancelled = false;
  std::exception_ptr thrown;  // an exception a stage caught, rethrown in order

  // Stage hand-off marker (release/acquire): makes the pipeline's ordering visible to TSan,
  // which cannot see the synchronization inside the (uninstrumented) libtbb.
  std::atomic<int> stage{0};

  size_t documents() const { return lines.empty() ? ids_in.size() : lines.size(); }
};

}  // namespace qkv::pipeline::detail
