// The parent manifest of a sharded job (docs/formats.md "Sharded outputs"): OUT.manifest.json lists
// every shard's files with their sizes and sha256, taken from the shards' own manifests. Written by
// whoever sees the last shard end (and again by anyone who finds every shard ended and no parent
// manifest): its bytes depend only on the shards' manifests, so writing it twice is harmless.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "io/directory.hpp"
#include "jobs/shard_plan.hpp"

namespace qkv::jobs {

// The parent manifest's path: "dir/out.jsonl" -> "dir/out.manifest.json".
std::filesystem::path parent_manifest(const std::filesystem::path& output);

// Writes the parent manifest of `s` into `folder` (the output folder, opened by the caller
// through its path policy) when every shard's manifest is there and names the job id
// `shard_id(i)`. Returns true when the parent manifest exists afterwards. Throws IoError.
bool finish_parent(const ShardOf& s, const std::shared_ptr<const io::Directory>& folder,
                   const std::function<std::string(unsigned)>& shard_id);

}  // namespace qkv::jobs
