// The writer of one job's output, one implementation per output format (docs/formats.md):
//   ids jsonl         io/ids_jsonl_writer.cpp
//   ids .bin + .idx   io/ids_bin_writer.cpp
//   Megatron .bin + .idx   io/megatron_writer.cpp
//   tensors .npy (+ .offsets.npy)   io/tensor_npy_writer.cpp
//   generation jsonl   io/generation_jsonl_writer.cpp (records from append_generation_record)
//   ids or generation jsonl to stdout (`qkvd run -o -`)   io/stdout_writer.cpp
// The pipeline makes one writer per job from its output config and never asks which format it is.
// Pipeline workers format documents into a chunk's bytes in parallel (append_document is const);
// the one writer thread hands chunks over in document order (write_chunk), then commit() writes the
// trailing files and the manifest, all or nothing (io/output_set.hpp).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "output_set.hpp"

namespace qkv::io {

class AtomicFile;

// One document's token ids, one entry per input field.
struct DocumentIds {
  std::span<const std::vector<int32_t>> ids;
  std::span<const std::vector<uint32_t>> offsets;  // per field, 2 per id; only if wants_offsets()
  std::string_view id;  // output.inline_id: the record's input.id_field as JSON ("": null)
};

// One model output of a chunk: rows of `width` floats, `row_counts` rows per document.
struct TensorRows {
  std::string_view suffix;  // "" for the main output, e.g. ".perplexity"
  uint32_t width = 0;       // floats per row; 1 for per-token scalars
  bool per_document = false;
  std::span<const float> values;
  std::span<const int64_t> row_counts;
};

// What a chunk carries to the writer thread.
struct ChunkOutput {
  std::string_view bytes;               // append_document's output, in document order
  std::span<const int64_t> doc_tokens;  // ids append_document wrote for each document
  std::span<const TensorRows> tensors;  // model outputs (empty without a model)
  std::span<const int64_t> windows;     // model.chunk: document, byte begin, byte end per row
};

class OutputWriter {
 public:
  virtual ~OutputWriter() = default;
  // Whether append_document needs token offsets (the tokenizer computes them only then).
  virtual bool wants_offsets() const { return false; }
  // Worker threads: one document's bytes onto its chunk; returns the ids written (a training
  // output's separator included). Throws std::exception (e.g. an id that does not fit the
  // format) with a message the caller prefixes with the document.
  virtual int64_t append_document(std::string& chunk, const DocumentIds& doc) const = 0;
  // The writer thread: the chunks in document order.
  virtual void write_chunk(const ChunkOutput& chunk) = 0;
  // A further file of this output (e.g. OUT.rejects.jsonl), committed with the rest.
  virtual AtomicFile& add_companion(std::string_view suffix) = 0;
  // A further file this run does not write: one an earlier run left goes at commit
  // (OutputSet::retire).
  virtual void retire_companion(std::string_view suffix) = 0;
  // The manifest's "dtype" of the ids or values written.
  virtual std::string dtype() const = 0;
  // After the last chunk: trailing files, then every file renamed into place with `manifest`
  // (which gains "outputs") written last. Returns the final paths, manifest last.
  virtual std::vector<std::filesystem::path> commit(nlohmann::json manifest) = 0;
};

// Token ids as JSON lines: [ids] per document, {"ids":..,"offsets":..} with offsets, and one
// object keyed by field name when `fields` has several names. `inline_id` (output.inline_id)
// starts each record with the document's id: {"id":..,"ids":[..]}, {"id":..,"ids":..,
// "offsets":..}, {"id":..,"<role>":..}. The same record, without the newline, is an inline
// job's result (append_ids_record).
std::unique_ptr<OutputWriter> make_ids_jsonl_writer(const OutputTarget& output,
                                                    std::vector<std::string> fields, bool offsets,
                                                    bool inline_id = false);
void append_ids_record(std::string& out, const DocumentIds& doc,
                       std::span<const std::string> fields, bool offsets, bool inline_id = false);
// One ids jsonl line (the record and its LF), as both jsonl writers append it; returns the ids.
int64_t append_ids_line(std::string& out, const DocumentIds& doc,
                        std::span<const std::string> fields, bool offsets, bool inline_id);
// `-o -`: the records of make_ids_jsonl_writer (or generation records, handed over whole by
// write_chunk) written to stdout as each chunk completes (io/stdout_stream.hpp: StreamClosed
// on EPIPE). No companions (add_companion throws), no manifest: commit returns {"-"}.
std::unique_ptr<OutputWriter> make_stdout_writer(std::vector<std::string> fields, bool offsets,
                                                 bool inline_id);
// Token ids for training: X.bin (uint16, or uint32 when `wide`) and X.idx.npy (int64 document
// start offsets, one more than documents). Reads only the first field. `separator` follows
// each document unless the document already ends with it (BERT's [SEP] is not doubled); it
// lies inside the document's range.
std::unique_ptr<OutputWriter> make_ids_bin_writer(const OutputTarget& output, bool wide,
                                                  std::optional<int32_t> separator);
// Token ids as Megatron-LM's indexed dataset (the MMIDIDX format its preprocess_data.py
// writes): X.bin (uint16 when the vocabulary has fewer than 65500 ids, else int32) and X.idx;
// one sequence per document, separator as above.
std::unique_ptr<OutputWriter> make_megatron_writer(const OutputTarget& output, uint32_t vocab_size,
                                                   std::optional<int32_t> separator);
// The ids of one document for a training output: the first field's ids, then `separator`
// unless they already end with it. Appends the little-endian ids to `out`; returns the count.
int64_t append_training_ids(std::string& out, std::span<const int32_t> ids, bool wide,
                            std::optional<int32_t> separator);
// Model outputs: X<suffix>.npy float32 per tensor, X<suffix>.offsets.npy (int64 row offsets)
// for per-token tensors; with `windows` (model.chunk) X.windows.npy int64 [rows, 3].
std::unique_ptr<OutputWriter> make_tensor_npy_writer(const OutputTarget& output,
                                                     bool windows = false);

// One generated continuation (docs/formats.md "generation jsonl"):
// {"text":..,"ids":[..],"finish_reason":"length"|"eos"|"stop"[,"logprobs":[..]]}, no newline.
// `text` must be valid UTF-8.
struct GenerationRecord {
  std::string_view text;
  std::span<const int32_t> ids;
  std::string_view finish_reason;
  const std::vector<float>* logprobs = nullptr;  // generate.logprobs: true
};
void append_generation_record(std::string& out, const GenerationRecord& record);
// Generation records as JSON lines, written as the chunks' bytes.
std::unique_ptr<OutputWriter> make_generation_jsonl_writer(const OutputTarget& output);

}  // namespace qkv::io
