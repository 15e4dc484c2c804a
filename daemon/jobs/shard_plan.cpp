#include "jobs/shard_plan.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "io/byte_source.hpp"
#include "io/io_error.hpp"
#include "jobs/job_error.hpp"

namespace qkv::jobs {
namespace fs = std::filesystem;
namespace {

bool splittable(const io::InputFile& f) {
  return f.format == io::TextFormat::jsonl && io::compression_of(f.path) == io::Compression::none;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// The first offset >= `at` right after an LF ending a non-blank line (its held-back blank lines
// would otherwise end a shard: io::LineStream drops blank lines at the end of what it reads), or
// the file's size.
uint64_t record_boundary(const io::InputFile& f, uint64_t at, const io::InputOpener& open) {
  if (at == 0 || at >= f.size) return at == 0 ? 0 : f.size;
  io::UniqueFd fd =
      open ? open(f.path) : io::UniqueFd(::open(f.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) io::throw_errno(f.path.string(), "cannot open", errno);
  char buf[1 << 16];
  bool text = false;  // the line being scanned has a non-blank byte at or after `at`
  for (uint64_t pos = at; pos < f.size;) {
    ssize_t n = ::pread(fd.get(), buf, sizeof buf, static_cast<off_t>(pos));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) io::throw_errno(f.path.string(), "read failed", errno);
    if (n == 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') {
        if (text) return pos + static_cast<uint64_t>(i) + 1;
      } else if (!is_space(buf[i])) {
        text = true;
      }
    }
    pos += static_cast<uint64_t>(n);
  }
  return f.size;
}

struct Cut {
  std::size_t file = 0;
  uint64_t offset = 0;
  auto operator<=>(const Cut&) const = default;
};

// The documents of `part` (a run of `files`), read as the shard's job reads them
// (pipeline/encode_job.cpp: its slice on the first and last file).
uint64_t count_documents(const std::vector<io::InputFile>& files, std::size_t first,
                         const ShardPart& part, const io::InputOpener& open, io::TxtDocuments txt) {
  if (part.inputs.empty()) return 0;
  std::vector<io::InputFile> run(files.begin() + static_cast<std::ptrdiff_t>(first),
                                 files.begin() + static_cast<std::ptrdiff_t>(first) +
                                     static_cast<std::ptrdiff_t>(part.inputs.size()));
  if (run.size() == 1 && part.slice.end != io::kToEnd && part.slice.begin >= part.slice.end)
    return 0;  // an empty shard
  run.front().begin = part.slice.begin;
  run.back().end = part.slice.end;
  io::LineStream stream(std::move(run), open, {}, txt);
  uint64_t n = 0;
  for (io::RawLine line; stream.next(line);) ++n;
  return n;
}

}  // namespace

std::vector<ShardPart> plan_shards(const std::vector<io::InputFile>& files, unsigned shards,
                                   const io::InputOpener& open, io::TxtDocuments txt) {
  if (files.empty() || shards == 0) return {};
  uint64_t total = 0;
  for (auto& f : files) total += f.size;
  const Cut last{files.size() - 1, files.back().size};
  std::vector<Cut> cuts{Cut{0, 0}};
  std::size_t file = 0;
  uint64_t file_start = 0;  // total offset of files[file]
  for (unsigned k = 1; k < shards; ++k) {
    const uint64_t target =
        static_cast<uint64_t>(static_cast<unsigned __int128>(total) * k / shards);
    while (file + 1 < files.size() && file_start + files[file].size <= target)
      file_start += files[file++].size;
    const io::InputFile& f = files[file];
    const uint64_t local = std::min(target - std::min(target, file_start), f.size);
    Cut c{file, 0};
    if (splittable(f))
      c.offset = record_boundary(f, local, open);
    else  // never inside: the nearer boundary of the file
      c.offset = local * 2 < f.size ? 0 : f.size;
    if (c.offset == f.size && c.file + 1 < files.size()) c = Cut{c.file + 1, 0};
    cuts.push_back(std::max(c, cuts.back()));  // the cuts never go back
  }
  cuts.push_back(last);
  std::vector<ShardPart> parts;
  uint64_t first_document = 0;
  for (unsigned k = 0; k < shards; ++k) {
    const Cut a = cuts[k], b = cuts[k + 1];
    ShardPart p;
    // A cut at the start of a file ends the shard with the file before it.
    std::size_t end_file = b.file;
    uint64_t end_offset = b.offset;
    if (b.offset == 0 && b.file > a.file) {
      end_file = b.file - 1;
      end_offset = files[end_file].size;
    }
    for (std::size_t i = a.file; i <= end_file; ++i) p.inputs.push_back(files[i].path.string());
    p.slice.begin = a.offset;
    p.slice.end = end_offset >= files[end_file].size ? io::kToEnd : end_offset;
    if (p.slice.begin >= files[a.file].size && a.file == end_file) p.slice.end = p.slice.begin;
    p.slice.first_document = first_document;
    if (k + 1 < shards) first_document += count_documents(files, a.file, p, open, txt);
    parts.push_back(std::move(p));
  }
  return parts;
}

unsigned requested_shards(const nlohmann::json& request) {
  auto it = request.find("shards");
  if (it == request.end() || it->is_null()) return 0;
  if (!it->is_number_unsigned() || *it == 0 || *it > kMaxShards)
    throw JobError(code::bad_request,
                   "field 'shards': expected an integer from 1 to " + std::to_string(kMaxShards));
  return it->get<unsigned>();
}

fs::path shard_output(const fs::path& output, unsigned shard, unsigned shards) {
  char tag[32];
  std::snprintf(tag, sizeof tag, "-%05u-of-%05u", shard, shards);
  fs::path name = output.stem();
  name += tag;
  name += output.extension();
  return output.parent_path() / name;
}

std::optional<ShardOf> shard_of(const nlohmann::json& file) {
  if (!file.is_object()) return std::nullopt;
  auto parent = file.find("parent");
  if (parent == file.end() || !parent->is_string()) return std::nullopt;
  ShardOf s;
  s.parent = parent->get<std::string>();
  auto number = [&](const char* key) -> std::optional<unsigned> {
    auto it = file.find(key);
    if (it == file.end() || !it->is_number_integer() || *it < 0 || *it > kMaxShards)
      return std::nullopt;
    return it->get<unsigned>();
  };
  auto shard = number("shard"), count = number("shards");
  if (!shard || !count) return std::nullopt;
  s.shard = *shard;
  s.shards = *count;
  if (auto it = file.find("parent_output"); it != file.end() && it->is_string())
    s.parent_output = it->get<std::string>();
  if (s.shards == 0 || s.shard >= s.shards || s.parent_output.empty()) return std::nullopt;
  return s;
}

void write_shard_of(nlohmann::json& file, const ShardOf& s) {
  file["parent"] = s.parent;
  file["shard"] = s.shard;
  file["shards"] = s.shards;
  file["parent_output"] = s.parent_output;
}

std::string shard_job_id(const std::string& parent, unsigned shard) {
  char tag[16];
  std::snprintf(tag, sizeof tag, ".s%05u", shard);
  return parent + tag;
}

}  // namespace qkv::jobs
