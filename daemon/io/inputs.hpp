// A job's inputs: arguments and globs expanded to files, their formats, and a stream of their
// lines in job order (sorted glob expansion, then argument order).
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "line_reader.hpp"

namespace qkv::io {

enum class TextFormat { jsonl, txt };
// How a .txt file is cut into documents: each line, blank-line separated paragraphs (joined
// with LF), or the whole file (its bytes unchanged).
enum class TxtDocuments { line, paragraph, file };

// How a pipeline frames its inputs into documents (its input.format and input.document): what
// the encoder reads, and what the shard planner counts (jobs/shard_plan.hpp).
struct Framing {
  std::optional<TextFormat> format;  // forced; nullopt: by extension
  TxtDocuments txt = TxtDocuments::line;
  const TextFormat* forced() const noexcept { return format ? &*format : nullptr; }
};

// A shard of a job (jobs/shard_plan.hpp) reads a byte range of an uncompressed file: it starts
// right after an LF and ends right after one, so it holds whole records only.
inline constexpr uint64_t kToEnd = UINT64_MAX;

struct InputFile {
  std::filesystem::path path;
  uint64_t size = 0;  // bytes on disk
  TextFormat format = TextFormat::jsonl;
  uint64_t begin = 0;     // first byte read (0: the whole file from its start, BOM rule included)
  uint64_t end = kToEnd;  // one past the last byte read
  // `-i -` (qkvd run): the process's stdin, named "<stdin>" in messages, read plain as it comes;
  // `size` is the bytes read so far.
  bool stdin_stream = false;
  bool ranged() const noexcept { return begin != 0 || end != kToEnd; }
  uint64_t bytes() const noexcept;  // on-disk bytes read: the range's, else the file's
};

// The name of stdin in messages and rejects.
inline constexpr std::string_view kStdinName = "<stdin>";
// A chunk of a stdin job ends when stdin has had nothing for this long (LineStream::ready):
// short enough not to be seen, long enough that a pipe emptied for a moment by a fast
// producer still fills whole chunks.
inline constexpr int kStdinStallMs = 10;

// Expands globs (sorted) and checks every file exists. `forced`: nullptr = by extension
// (.jsonl/.json -> jsonl, .txt -> txt, after removing .gz/.zst). With `stdin_allowed`, "-" as
// the only argument is stdin (jsonl unless forced). Throws IoError.
std::vector<InputFile> expand_inputs(const std::vector<std::string>& args, const TextFormat* forced,
                                     bool stdin_allowed = false);

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

// Reads the records of every input in order, one file open at a time, each opened by `open`
// (empty: by path). File framing only, never the text inside a record: a UTF-8 BOM at the
// start of a file is skipped; a .txt line ends at LF or CRLF; blank lines at the end of a file
// are not records; .txt files are cut per `txt_documents` (a paragraph's `line` and `offset`
// are those of its first line). Throws IoError naming the file and line when a limit is
// passed, before more than the limit is held.
class LineStream {
 public:
  explicit LineStream(std::vector<InputFile> inputs, InputOpener open = {},
                      StreamLimits limits = {}, TxtDocuments txt_documents = TxtDocuments::line);
  bool next(RawLine& out);
  const std::vector<InputFile>& inputs() const { return inputs_; }
  // On-disk bytes of the files finished so far (progress).
  uint64_t bytes_done() const { return bytes_done_; }
  // Whether next() would return without waiting for stdin longer than `wait_ms` (always, for
  // files): a chunk of a stdin job ends when stdin stalls, so its output is not held back.
  bool ready(int wait_ms = 0) const;

 private:
  // The next line of the current file (BOM and, for .txt, CR removed); false at its end.
  bool next_line(RawLine& out);
  bool next_paragraph(RawLine& out);
  bool whole_file(RawLine& out);
  void next_file();
  std::unique_ptr<ByteSource> open_current();
  void check_total(uint64_t expanded) const;  // limits.max_job_input_bytes

  std::vector<InputFile> inputs_;
  InputOpener open_;
  TxtDocuments txt_documents_;
  std::unique_ptr<LineReader> reader_;
  size_t current_ = 0;
  uint64_t line_ = 0;
  uint64_t bytes_done_ = 0;
  StreamLimits limits_;
  uint64_t expanded_ = 0;        // decompressed bytes of the files finished so far
  std::deque<RawLine> pending_;  // lines read ahead past held-back blank lines
  bool file_done_ = false;       // whole-file mode: the current file was returned
};

}  // namespace qkv::io
