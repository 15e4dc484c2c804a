// A job's inputs: arguments and globs expanded to files, their formats, and a stream of their
// lines in job order (sorted glob expansion, then argument order).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "line_reader.hpp"

namespace qkv::io {

enum class TextFormat { jsonl, txt };

struct InputFile {
  std::filesystem::path path;
  uint64_t size = 0;  // bytes on disk
  TextFormat format = TextFormat::jsonl;
};

// Expands globs (sorted) and checks every file exists. `forced`: nullptr = by extension
// (.jsonl/.json -> jsonl, .txt -> txt, after removing .gz/.zst). Throws IoError.
std::vector<InputFile> expand_inputs(const std::vector<std::string>& args,
                                     const TextFormat* forced);

struct RawLine {
  std::string bytes;
  uint32_t file = 0;    // index into the inputs
  uint64_t line = 0;    // 0-based line number in its file
  uint64_t offset = 0;  // byte offset of the line in its (decompressed) file
};

// Opens one input file for reading (a job's: PathPolicy::open_input).
using InputOpener = std::function<UniqueFd(const std::filesystem::path&)>;

// Bounds on what a job's inputs may expand to, counted after decompression (0: no limit).
// The messages name the settings (limits.max_document_bytes, limits.max_job_input_bytes).
struct StreamLimits {
  uint64_t max_line_bytes = 0;   // one document (line)
  uint64_t max_total_bytes = 0;  // all inputs together
};

// Reads the lines of every input in order, one file open at a time, each opened by `open`
// (empty: by path). Throws IoError naming the file and line when a limit is passed, before
// more than the limit is held.
class LineStream {
 public:
  explicit LineStream(std::vector<InputFile> inputs, InputOpener open = {},
                      StreamLimits limits = {});
  bool next(RawLine& out);
  const std::vector<InputFile>& inputs() const { return inputs_; }
  // On-disk bytes of the files finished so far (progress).
  uint64_t bytes_done() const { return bytes_done_; }

 private:
  std::vector<InputFile> inputs_;
  InputOpener open_;
  std::unique_ptr<LineReader> reader_;
  size_t current_ = 0;
  uint64_t line_ = 0;
  uint64_t bytes_done_ = 0;
  StreamLimits limits_;
  uint64_t expanded_ = 0;  // decompressed bytes of the files finished so far
};

}  // namespace qkv::io
