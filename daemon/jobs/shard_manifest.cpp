#include "jobs/shard_manifest.hpp"

#include <nlohmann/json.hpp>

#include "io/atomic_file.hpp"
#include "io/io_error.hpp"

namespace qkv::jobs {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kMaxManifestBytes = 16u << 20;

std::string manifest_name(const fs::path& output) {
  return output.stem().string() + ".manifest.json";
}

}  // namespace

fs::path parent_manifest(const fs::path& output) {
  return output.parent_path() / manifest_name(output);
}

bool finish_parent(const ShardOf& s, const std::shared_ptr<const io::Directory>& dir,
                   const std::function<std::string(unsigned)>& shard_id) {
  const io::Directory& folder = *dir;
  const fs::path output = s.parent_output;
  const std::string name = manifest_name(output);
  if (folder.contains(name)) return true;
  nlohmann::json list = nlohmann::json::array();
  uint64_t documents = 0, tokens = 0;
  for (unsigned i = 0; i < s.shards; ++i) {
    const std::string shard_name = manifest_name(shard_output(output, i, s.shards));
    if (!folder.contains(shard_name)) return false;  // not ended yet
    nlohmann::json m;
    try {
      m = nlohmann::json::parse(folder.read_file(shard_name, kMaxManifestBytes));
    } catch (const nlohmann::json::exception& e) {
      throw io::IoError(folder.path_of(shard_name).string() + ": not a manifest: " + e.what());
    }
    // An older run's shard with the same name is not this job's.
    if (m.value("job_id", std::string()) != shard_id(i)) return false;
    documents += m.value("documents", uint64_t{0});
    tokens += m.value("tokens", uint64_t{0});
    list.push_back({{"shard", i},
                    {"job_id", m["job_id"]},
                    {"manifest", shard_name},
                    {"first_document", m.value("first_document", uint64_t{0})},
                    {"documents", m.value("documents", uint64_t{0})},
                    {"tokens", m.value("tokens", uint64_t{0})},
                    {"outputs", m.value("outputs", nlohmann::json::array())}});
  }
  nlohmann::json parent = {{"format_version", 1}, {"job_id", s.parent},
                           {"shards", s.shards},  {"documents", documents},
                           {"tokens", tokens},    {"parts", std::move(list)}};
  io::AtomicFile file(dir, dir, name);
  file.write(parent.dump(2) + "\n");
  file.commit();
  return true;
}

}  // namespace qkv::jobs
