// `-o -`: ids jsonl (or generation jsonl) records straight to stdout, chunk by chunk, in input
// order. No temporary file, no rename, no companions and no manifest (docs/cli.md).
#include <unistd.h>

#include <cerrno>

#include "output_writer.hpp"
#include "stdout_stream.hpp"

namespace qkv::io {

void write_stdout(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE) throw StreamClosed();
    if (n < 0) throw_errno("<stdout>", "write failed", errno);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

namespace {

class StdoutWriter final : public OutputWriter {
 public:
  StdoutWriter(std::vector<std::string> fields, bool offsets, bool inline_id)
      : fields_(std::move(fields)), offsets_(offsets), inline_id_(inline_id) {}

  bool wants_offsets() const override { return offsets_; }
  int64_t append_document(std::string& chunk, const DocumentIds& doc) const override {
    return append_ids_line(chunk, doc, fields_, offsets_, inline_id_);
  }
  void write_chunk(const ChunkOutput& chunk) override { write_stdout(chunk.bytes); }
  AtomicFile& add_companion(std::string_view suffix) override {
    throw IoError("-o - writes stdout only; OUT" + std::string(suffix) + " needs -o FILE");
  }
  void retire_companion(std::string_view) override {}
  std::string dtype() const override { return "int32"; }
  std::vector<std::filesystem::path> commit(nlohmann::json) override { return {"-"}; }

 private:
  std::vector<std::string> fields_;
  bool offsets_;
  bool inline_id_;
};

}  // namespace

std::unique_ptr<OutputWriter> make_stdout_writer(std::vector<std::string> fields, bool offsets,
                                                 bool inline_id) {
  return std::make_unique<StdoutWriter>(std::move(fields), offsets, inline_id);
}

}  // namespace qkv::io
