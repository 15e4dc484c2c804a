// The decode direction: ids (.jsonl of arrays, or .bin + .idx.npy) -> {"text"} jsonl.
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "io/byte_source.hpp"
#include "io/formats.hpp"
#include "io/npy.hpp"
#include "io/output_set.hpp"
#include "io/stdout_stream.hpp"
#include "pipeline/job_context.hpp"
#include "pipeline/manifest.hpp"
#include "pipeline/run_job.hpp"

namespace qkv::pipeline::detail {
namespace {

constexpr size_t kChunkIds = 1u << 20;

bool is_bin(const std::filesystem::path& p) { return p.extension() == ".bin"; }

// Parses "[1,2]" or {"ids":[1,2],...}; false with `error` on anything else.
bool parse_ids(std::string_view line, std::vector<int32_t>& ids, std::string& error) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_object() && j.contains("ids")) j = j["ids"];
  if (!j.is_array()) {
    error = "expected a JSON array of token ids (or an object with \"ids\")";
    return false;
  }
  ids.clear();
  ids.reserve(j.size());
  for (const auto& v : j) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX) {
      error = "expected token ids (integers from 0 to 2147483647), got " + v.dump();
      return false;
    }
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  return true;
}

// The manifest qkv wrote beside an ids file (X.manifest.json), opened like the inputs (through
// the job's path policy); nothing when there is none or it is not one of ours.
std::optional<nlohmann::json> manifest_beside(const std::filesystem::path& ids,
                                              const io::InputOpener& open) {
  const auto path = std::filesystem::path(ids).replace_extension(".manifest.json");
  std::string text;
  try {
    auto src = open ? io::open_source(path, open(path)) : io::open_source(path);
    char buf[1 << 14];
    while (size_t n = src->read(buf, sizeof buf)) {
      text.append(buf, n);
      if (text.size() > (16u << 20)) return std::nullopt;  // not a manifest of ours
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  nlohmann::json m = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!m.is_object()) return std::nullopt;
  return m;
}

// Reads ids documents from .bin files (with X.idx.npy) and lines from .jsonl files, in order.
class IdsReader {
 public:
  IdsReader(const std::vector<io::InputFile>& inputs, bool wide, io::InputOpener open,
            io::StreamLimits limits)
      : inputs_(inputs), wide_(wide), open_(std::move(open)), limits_(limits) {}

  // Fills up to max_docs records; false at the end.
  bool fill(Chunk& c, size_t max_docs, uint64_t& next_doc) {
    c.first_doc = next_doc;
    size_t ids_in_chunk = 0;
    while (c.documents() < max_docs && ids_in_chunk < kChunkIds) {
      if (current_ >= inputs_.size()) return false;
      const auto& in = inputs_[current_];
      if (is_bin(in.path)) {
        if (!bin_) open_bin(in.path);
        if (!c.lines.empty()) return true;  // keep one kind of record per chunk
        if (doc_ + 1 >= idx_.size()) {
          next_file();
          if (!c.ids_in.empty()) return true;  // a chunk holds documents of one .bin only
          continue;
        }
        c.ids_file = static_cast<uint32_t>(current_);
        const int64_t n = idx_[doc_ + 1] - idx_[doc_];
        std::vector<int32_t> ids(static_cast<size_t>(n));
        std::string raw(static_cast<size_t>(n) * (wide_ ? 4 : 2), '\0');
        if (read_exactly(*bin_, raw) != raw.size())
          throw JobFailed(in.path.string() + ": shorter than its .idx.npy says (document " +
                          std::to_string(doc_) + ")");
        const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
        for (int64_t i = 0; i < n; ++i) {
          uint32_t v = wide_ ? uint32_t(p[4 * i]) | uint32_t(p[4 * i + 1]) << 8 |
                                   uint32_t(p[4 * i + 2]) << 16 | uint32_t(p[4 * i + 3]) << 24
                             : uint32_t(p[2 * i]) | uint32_t(p[2 * i + 1]) << 8;
          ids[static_cast<size_t>(i)] = static_cast<int32_t>(v);
        }
        // The separator a training output put after each document is not text.
        if (separator_ && !ids.empty() && ids.back() == *separator_) ids.pop_back();
        ids_in_chunk += ids.size();
        c.ids_in.push_back(std::move(ids));
        ++doc_;
        ++next_doc;
      } else {
        if (!c.ids_in.empty()) return true;
        if (!lines_) lines_.emplace(std::vector<io::InputFile>{in}, open_, limits_);
        // Stdin: a chunk also ends when no more input is there now.
        if (in.stdin_stream && !c.lines.empty() && !lines_->ready(io::kStdinStallMs)) return true;
        io::RawLine l;
        if (!lines_->next(l)) {
          next_file();
          continue;
        }
        l.file = static_cast<uint32_t>(current_);
        ids_in_chunk += l.bytes.size() / 4;
        c.lines.push_back(std::move(l));
        ++next_doc;
      }
    }
    return true;
  }

  // Bytes read from stdin (`-i -`), whose size is known only once read.
  uint64_t stdin_bytes() const { return stdin_bytes_; }

 private:
  void open_bin(const std::filesystem::path& path) {
    const auto idx_path = std::filesystem::path(path).replace_extension(".idx.npy");
    try {
      std::string bytes;
      auto idx = io::open_source(idx_path, open_(idx_path));
      bytes.resize(1 << 16);
      for (size_t got = 0;;) {
        got += read_exactly(*idx, bytes, got);
        if (got < bytes.size()) {
          bytes.resize(got);
          break;
        }
        bytes.resize(bytes.size() * 2);
      }
      std::istringstream in(bytes);
      idx_ = io::read_npy(in, idx_path).as<int64_t>();
    } catch (const io::PathError&) {
      throw;  // refused where opened: keeps its code
    } catch (const std::exception& e) {
      throw JobFailed(path.string() + ": cannot read its index " + idx_path.string() + ": " +
                      e.what());
    }
    if (idx_.empty() || idx_[0] != 0)
      throw JobFailed(idx_path.string() + ": expected offsets starting at 0");
    for (size_t i = 1; i < idx_.size(); ++i)
      if (idx_[i] < idx_[i - 1])
        throw JobFailed(idx_path.string() + ": offsets decrease at entry " + std::to_string(i));
    io::UniqueFd fd = open_(path);
    struct stat st {};
    const uint64_t expect = static_cast<uint64_t>(idx_.back()) * (wide_ ? 4 : 2);
    if (::fstat(fd.get(), &st) != 0 || static_cast<uint64_t>(st.st_size) != expect)
      throw JobFailed(path.string() + ": expected " + std::to_string(expect) + " bytes (" +
                      std::to_string(idx_.back()) + (wide_ ? " uint32" : " uint16") + " ids per " +
                      idx_path.string() + "; the tokenizer's vocabulary decides the width)");
    bin_ = io::open_source(path, std::move(fd));
    doc_ = 0;
    separator_ = separator_of(path);
  }
  // The document separator the .bin's manifest (X.manifest.json, written by qkv) records; the
  // manifest is opened like the inputs (through the job's path policy).
  std::optional<int32_t> separator_of(const std::filesystem::path& bin) const {
    const auto m = manifest_beside(bin, open_);  // none: every id is the document's
    if (!m || !m->contains("separator") || !(*m)["separator"].is_number_integer())
      return std::nullopt;
    return (*m)["separator"].get<int32_t>();
  }
  void next_file() {
    if (lines_ && inputs_[current_].stdin_stream) stdin_bytes_ += lines_->inputs()[0].bytes();
    bin_.reset();
    lines_.reset();
    idx_.clear();
    ++current_;
  }

  // Fills raw[from..] as far as the source goes; returns the bytes read.
  static size_t read_exactly(io::ByteSource& src, std::string& raw, size_t from = 0) {
    size_t got = 0;
    while (from + got < raw.size()) {
      size_t n = src.read(raw.data() + from + got, raw.size() - from - got);
      if (n == 0) break;
      got += n;
    }
    return got;
  }

  const std::vector<io::InputFile>& inputs_;
  bool wide_;
  io::InputOpener open_;
  io::StreamLimits limits_;  // per ids file (each is read by its own stream)
  size_t current_ = 0;
  std::unique_ptr<io::ByteSource> bin_;
  std::vector<int64_t> idx_;
  size_t doc_ = 0;
  std::optional<int32_t> separator_;
  std::optional<io::LineStream> lines_;
  uint64_t stdin_bytes_ = 0;
};

}  // namespace

JobResult run_decode(JobContext& ctx) {
  const auto& spec = ctx.spec;
  const bool wide = ctx.tokenizer->vocab_size() > 65536;
  const bool inline_job = spec.inputs.empty();
  std::vector<io::InputFile> inputs;
  JobResult result;
  if (!inline_job) {
    std::vector<std::string> args;
    for (const auto& a : spec.inputs) args.push_back(a);
    // .bin is read with its index; every other input is ids jsonl.
    try {
      io::TextFormat jsonl = io::TextFormat::jsonl;
      inputs = io::expand_inputs(args, &jsonl, ctx.std_streams);
    } catch (const std::exception& e) {
      throw JobFailed(e.what());
    }
    for (const auto& in : inputs) result.input_bytes += in.size;
    // Ids decode into the right text only with the vocabulary that made them.
    const TokenizerIdentity ours = ctx.tokenizer->identity();
    for (const auto& in : inputs)
      if (in.stdin_stream) {
        continue;  // no manifest beside stdin
      } else if (auto m = manifest_beside(in.path, ctx.input_opener()))
        check_decode_identity(*m, ours, in.path.string());
  } else {
    for (const auto& t : spec.texts) result.input_bytes += t.size();
    ctx.progress.documents_total = spec.texts.size();
  }
  ctx.progress.bytes_total = result.input_bytes;
  if (!inline_job && spec.output.empty()) throw JobFailed("no output path given");

  std::optional<io::OutputSet> outputs;
  io::AtomicFile* main = nullptr;
  try {
    if (!inline_job && !ctx.to_stdout()) {
      outputs.emplace(ctx.open_output(inputs));
      main = &outputs->add(outputs->main());
    }
  } catch (const io::PathError&) {
    throw;  // keeps its code (path_denied, output_exists...)
  } catch (const std::exception& e) {
    throw JobFailed(e.what());
  }
  IdsReader reader(inputs, wide, ctx.input_opener(), ctx.input_limits);
  uint64_t next_doc = 0;
  const size_t max_docs = ctx.pipeline.batch.documents;

  auto read = [&](Chunk& c) -> bool {
    if (inline_job) {
      c.first_doc = next_doc;
      while (c.lines.size() < max_docs && next_doc < spec.texts.size()) {
        io::RawLine l;
        l.bytes = spec.texts[next_doc];
        l.line = next_doc++;
        c.lines.push_back(std::move(l));
      }
      return next_doc < spec.texts.size();
    }
    try {
      return reader.fill(c, max_docs, next_doc);
    } catch (const io::PathError&) {
      throw;
    } catch (const std::exception& e) {
      c.error = e.what();
      return false;
    }
  };
  auto work = [&](Chunk& c) {
    std::vector<int32_t> ids;
    std::string text, error;
    for (size_t i = 0; i < c.documents(); ++i) {
      if (ctx.cancel()) {
        c.cancelled = true;
        return;
      }
      const std::vector<int32_t>* doc = nullptr;
      if (!c.lines.empty()) {
        if (!parse_ids(c.lines[i].bytes, ids, error)) {
          c.error = ctx.where(c, i, inputs) + ": document " + std::to_string(c.first_doc + i) +
                    ": " + error;
          return;
        }
        doc = &ids;
      } else {
        doc = &c.ids_in[i];
      }
      text.clear();
      try {
        ctx.tokenizer->decode(*doc, text);
      } catch (const std::exception& e) {
        c.error = ctx.where(c, i, inputs) + ": document " + std::to_string(c.first_doc + i) + ": " +
                  e.what();
        return;
      }
      c.tokens += doc->size();
      if (inline_job) {
        std::string r;
        io::append_text_record(r, text);
        c.records.push_back(std::move(r));
      } else {
        io::append_text_record(c.out, text);
        c.out += '\n';
      }
    }
  };
  auto write = [&](Chunk& c) {
    result.documents += c.documents();
    result.tokens += c.tokens;
    if (inline_job) {
      for (auto& r : c.records) result.inline_results.push_back(std::move(r));
    } else if (main) {
      main->write(c.out);
    } else {
      io::write_stdout(c.out);  // -o -: as each chunk is decoded
    }
    ctx.progress.documents_done += c.documents();
  };
  try {
    run_chunks(ctx, read, work, write);
    result.input_bytes += reader.stdin_bytes();
    for (auto& in : inputs)  // stdin's size is what was read (the manifest's "bytes" too)
      if (in.stdin_stream) in.size = reader.stdin_bytes();
    ctx.progress.bytes_done = result.input_bytes;
    if (inline_job) return result;
    if (!main) {  // -o -: no manifest
      result.outputs = {"-"};
      return result;
    }
    auto manifest = make_manifest(ctx.spec, ctx.pipeline, inputs, result, "utf-8", true);
    manifest["tokenizer"] = tokenizer_json(*ctx.tokenizer, ctx.pipeline);
    for (auto& p : outputs->commit(std::move(manifest))) result.outputs.push_back(p.string());
  } catch (const JobFailed&) {
    throw;
  } catch (const JobCancelled&) {
    throw;
  } catch (const io::PathError&) {
    throw;
  } catch (const io::StreamClosed&) {
    throw;  // the reader of -o - went away: qkvd run exits quietly
  } catch (const std::exception& e) {
    throw JobFailed(e.what());
  }
  return result;
}

}  // namespace qkv::pipeline::detail
