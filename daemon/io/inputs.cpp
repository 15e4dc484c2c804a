#include "inputs.hpp"

#include <fcntl.h>
#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <string_view>
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

std::vector<InputFile> expand_inputs(const std::vector<std::string>& args, const TextFormat* forced,
                                     bool stdin_allowed) {
  if (stdin_allowed && std::find(args.begin(), args.end(), "-") != args.end()) {
    if (args.size() != 1) throw IoError("-i - reads stdin: give no other input");
    InputFile f;
    f.path = std::string(kStdinName);
    f.stdin_stream = true;
    f.format = forced ? *forced : TextFormat::jsonl;
    return {std::move(f)};
  }
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

LineStream::LineStream(std::vector<InputFile> inputs, InputOpener open, StreamLimits limits,
                       TxtDocuments txt_documents)
    : inputs_(std::move(inputs)),
      open_(std::move(open)),
      txt_documents_(txt_documents),
      limits_(limits) {}

namespace {
constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\f\v") == std::string_view::npos;
}
}  // namespace

namespace {

// At most `left` bytes of `inner` (the end of a shard's byte range).
class RangeSource final : public ByteSource {
 public:
  RangeSource(std::unique_ptr<ByteSource> inner, uint64_t left)
      : inner_(std::move(inner)), left_(left) {}
  size_t read(char* buf, size_t n) override {
    if (left_ == 0) return 0;
    size_t got = inner_->read(buf, static_cast<size_t>(std::min<uint64_t>(n, left_)));
    left_ -= got;
    return got;
  }

 private:
  std::unique_ptr<ByteSource> inner_;
  uint64_t left_;
};

// Counts the bytes read into `count` (an InputFile's size, in LineStream's own vector, which
// never grows): stdin's size is known only as it is read.
class CountingSource final : public ByteSource {
 public:
  CountingSource(std::unique_ptr<ByteSource> inner, uint64_t& count)
      : inner_(std::move(inner)), count_(count) {}
  size_t read(char* buf, size_t n) override {
    const size_t got = inner_->read(buf, n);
    count_ += got;
    return got;
  }
  bool ready(int wait_ms) const override { return inner_->ready(wait_ms); }

 private:
  std::unique_ptr<ByteSource> inner_;
  uint64_t& count_;
};

}  // namespace

uint64_t InputFile::bytes() const noexcept {
  const uint64_t last = std::min(end, size);
  return last > begin ? last - begin : 0;
}

std::unique_ptr<ByteSource> LineStream::open_current() {
  InputFile& in = inputs_[current_];
  const auto& file = in.path;
  if (in.stdin_stream) {
    UniqueFd fd(::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0));
    if (!fd) throw_errno(file.string(), "cannot read", errno);
    return std::make_unique<CountingSource>(open_source(file, std::move(fd)), in.size);
  }
  if (!in.ranged()) return open_ ? open_source(file, open_(file)) : open_source(file);
  if (in.end <= in.begin) return std::make_unique<RangeSource>(nullptr, 0);  // an empty shard
  if (compression_of(file) != Compression::none)
    throw IoError(file.string() +
                  ": a compressed input is read whole; a byte range (a shard "
                  "starting or ending inside it) is not possible");
  UniqueFd fd = open_ ? open_(file) : UniqueFd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_errno(file.string(), "cannot open", errno);
  // Seek, never read, the bytes before the range: a shard costs only its own bytes.
  if (::lseek(fd.get(), static_cast<off_t>(in.begin), SEEK_SET) < 0)
    throw_errno(file.string(), "cannot seek to byte " + std::to_string(in.begin), errno);
  const uint64_t left = in.end == kToEnd ? kToEnd : in.end - std::min(in.end, in.begin);
  return std::make_unique<RangeSource>(open_source(file, std::move(fd)), left);
}

bool LineStream::ready(int wait_ms) const {
  if (!pending_.empty() || current_ >= inputs_.size() || !reader_) return true;
  return reader_->ready(wait_ms);
}

bool LineStream::next_line(RawLine& out) {
  const auto& file = inputs_[current_].path;
  if (!reader_) {
    reader_ = std::make_unique<LineReader>(open_current(), size_t{1} << 20, limits_.max_line_bytes);
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
  check_total(expanded_ + reader_->bytes_consumed());
  if (!got) return false;
  out.file = static_cast<uint32_t>(current_);
  out.line = line_++;
  out.offset += inputs_[current_].begin;  // offsets stay those of the whole file
  if (out.line == 0 && inputs_[current_].begin == 0 &&
      std::string_view(out.bytes).starts_with(kBom)) {
    out.bytes.erase(0, kBom.size());
    out.offset += kBom.size();
  }
  if (inputs_[current_].format == TextFormat::txt && !out.bytes.empty() && out.bytes.back() == '\r')
    out.bytes.pop_back();
  return true;
}

void LineStream::check_total(uint64_t expanded) const {
  if (limits_.max_total_bytes && expanded > limits_.max_total_bytes)
    throw IoError(inputs_[current_].path.string() +
                  ": the inputs expand to more than limits.max_job_input_bytes (" +
                  std::to_string(limits_.max_total_bytes) +
                  " bytes, counted after decompression) by line " + std::to_string(line_ + 1));
}

void LineStream::next_file() {
  if (reader_) expanded_ += reader_->bytes_consumed();
  reader_.reset();
  file_done_ = false;
  bytes_done_ += inputs_[current_].bytes();
  ++current_;
}

bool LineStream::whole_file(RawLine& out) {
  if (file_done_) return false;
  file_done_ = true;
  auto src = open_current();
  out.bytes.clear();
  char buf[1 << 16];
  const uint64_t max_doc = limits_.max_line_bytes;
  while (size_t n = src->read(buf, sizeof buf)) {
    out.bytes.append(buf, n);
    if (max_doc && out.bytes.size() > max_doc)
      throw IoError(inputs_[current_].path.string() +
                    ": the file is one document (input.document: file) longer than "
                    "limits.max_document_bytes (" +
                    std::to_string(max_doc) + " bytes)");
    check_total(expanded_ + out.bytes.size());
  }
  expanded_ += out.bytes.size();
  out.file = static_cast<uint32_t>(current_);
  out.line = 0;
  out.offset = 0;
  if (std::string_view(out.bytes).starts_with(kBom)) {
    out.bytes.erase(0, kBom.size());
    out.offset = kBom.size();
  }
  return true;
}

bool LineStream::next_paragraph(RawLine& out) {
  RawLine l;
  bool started = false;
  while (next_line(l)) {
    if (is_blank(l.bytes)) {
      if (started) return true;
      continue;
    }
    if (!started) {
      out = std::move(l);
      started = true;
    } else {
      out.bytes += '\n';
      out.bytes += l.bytes;
    }
  }
  return started;
}

bool LineStream::next(RawLine& out) {
  while (current_ < inputs_.size()) {
    const bool txt = inputs_[current_].format == TextFormat::txt;
    if (txt && txt_documents_ == TxtDocuments::file) {
      if (whole_file(out)) return true;
    } else if (txt && txt_documents_ == TxtDocuments::paragraph) {
      if (next_paragraph(out)) return true;
    } else {
      if (!pending_.empty()) {
        out = std::move(pending_.front());
        pending_.pop_front();
        return true;
      }
      // Blank lines are held back until text follows them: then they are records (empty
      // documents in a .txt, bad records in a .jsonl); at the end of the file they are not.
      std::vector<RawLine> held;
      RawLine l;
      while (next_line(l)) {
        if (is_blank(l.bytes)) {
          held.push_back(std::move(l));
          l = RawLine{};
          continue;
        }
        if (held.empty()) {
          out = std::move(l);
          return true;
        }
        for (auto& h : held) pending_.push_back(std::move(h));
        pending_.push_back(std::move(l));
        out = std::move(pending_.front());
        pending_.pop_front();
        return true;
      }
      // The end of the file: held-back blank lines are not records.
    }
    next_file();
  }
  return false;
}

}  // namespace qkv::io
