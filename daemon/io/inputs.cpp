#include "inputs.hpp"

#include <glob.h>

#include <algorithm>
#include <system_error>

#include "io_error.hpp"

namespace qkv::io {
namespace fs = std::filesystem;

namespace {

bool is_glob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

TextFormat format_of(const fs::path& p) {
  const auto ext = without_compression(p).extension();
  if (ext == ".jsonl" || ext == ".json" || ext == ".ndjson") return TextFormat::jsonl;
  if (ext == ".txt") return TextFormat::txt;
  throw IoError(p.string() + ": cannot tell the input format from the extension '" + ext.string() +
                "'; expected .jsonl or .txt (optionally .gz/.zst), or set input.format");
}

}  // namespace

std::vector<InputFile> expand_inputs(const std::vector<std::string>& args,
                                     const TextFormat* forced) {
  std::vector<fs::path> paths;
  for (const auto& arg : args) {
    if (!is_glob(arg)) {
      paths.emplace_back(arg);
      continue;
    }
    glob_t g{};
    int rc = ::glob(arg.c_str(), 0, nullptr, &g);
    std::vector<fs::path> matched;
    if (rc == 0)
      for (size_t i = 0; i < g.gl_pathc; ++i) matched.emplace_back(g.gl_pathv[i]);
    globfree(&g);
    if (matched.empty()) throw IoError(arg + ": no file matches this pattern");
    std::sort(matched.begin(), matched.end());
    paths.insert(paths.end(), matched.begin(), matched.end());
  }
  if (paths.empty()) throw IoError("no input files given");
  std::vector<InputFile> out;
  for (auto& p : paths) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec))
      throw IoError(p.string() + ": input file not found (or not a regular file)");
    InputFile f;
    f.size = fs::file_size(p, ec);
    f.format = forced ? *forced : format_of(p);
    f.path = std::move(p);
    out.push_back(std::move(f));
  }
  return out;
}

LineStream::LineStream(std::vector<InputFile> inputs, InputOpener open, StreamLimits limits)
    : inputs_(std::move(inputs)), open_(std::move(open)), limits_(limits) {}

bool LineStream::next(RawLine& out) {
  while (current_ < inputs_.size()) {
    const auto& file = inputs_[current_].path;
    if (!reader_) {
      reader_ =
          std::make_unique<LineReader>(open_ ? open_source(file, open_(file)) : open_source(file),
                                       size_t{1} << 20, limits_.max_line_bytes);
      line_ = 0;
    }
    bool got = false;
    try {
      got = reader_->next(out.bytes, out.offset);
    } catch (const LineTooLong& e) {
      throw IoError(file.string() + ": line " + std::to_string(line_ + 1) + " (byte " +
                    std::to_string(e.offset) + " after decompression) is longer than " +
                    "limits.max_document_bytes (" + std::to_string(limits_.max_line_bytes) +
                    " bytes)");
    }
    if (limits_.max_total_bytes && expanded_ + reader_->bytes_consumed() > limits_.max_total_bytes)
      throw IoError(file.string() +
                    ": the inputs expand to more than limits.max_job_input_bytes (" +
                    std::to_string(limits_.max_total_bytes) +
                    " bytes, counted after decompression) by line " + std::to_string(line_ + 1));
    if (got) {
      out.file = static_cast<uint32_t>(current_);
      out.line = line_++;
      return true;
    }
    expanded_ += reader_->bytes_consumed();
    reader_.reset();
    bytes_done_ += inputs_[current_].size;
    ++current_;
  }
  return false;
}

}  // namespace qkv::io
