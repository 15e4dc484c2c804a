// Sharded jobs (docs/scale-out.md "Sharded jobs"): one job's inputs cut into N contiguous runs of
// documents in input order. Each shard is an ordinary job with a slice of the inputs and the
// output OUT-%05d-of-%05d.<ext>, so `cat` of the shards in index order is the unsharded output.
//
// How the cuts are found without reading the corpus twice: cut k is aimed at byte k/N of the
// inputs' total size; inside an uncompressed .jsonl it moves forward to just after the next LF
// that ends a non-blank line (a few bytes read at each cut); a compressed file or a .txt (whose
// documents may be paragraphs or whole files) is never cut inside, the cut moves to its nearer
// boundary. Then each shard but the last is read once, framed as its pipeline reads it, to
// count its documents: shard k's `first_document` is the index, in the whole job, of its first
// document (the sum of the counts before it), so its outputs and ids map back to the job's.
// So the planner reads the inputs once (all but the last shard) at submit time.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/inputs.hpp"
#include "protocol/job_fields.hpp"

namespace qkv::jobs {

inline constexpr unsigned kMaxShards = 99999;  // five digits in OUT-%05d-of-%05d

// The `shards` field of a submit: 0 when absent, else 1..kMaxShards. Throws JobError(bad_request).
unsigned requested_shards(const nlohmann::json& request);

// One shard's part of the inputs: explicit files (no globs) and its byte slice of them.
struct ShardPart {
  std::vector<std::string> inputs;
  protocol::SliceFields slice;
};

// Cuts `files` (expanded, in job order) into `shards` parts; some may be empty when there are
// fewer records than shards. Each part's slice.first_document is set (.txt files framed per
// `txt`). `open` opens a file for the reads (empty: by path). Throws IoError naming the file.
std::vector<ShardPart> plan_shards(const std::vector<io::InputFile>& files, unsigned shards,
                                   const io::InputOpener& open = {},
                                   io::TxtDocuments txt = io::TxtDocuments::line);

// "dir/out.jsonl" -> "dir/out-00003-of-00064.jsonl" (index from 0); "dir/out" -> "dir/out-...".
std::filesystem::path shard_output(const std::filesystem::path& output, unsigned shard,
                                   unsigned shards);

// Which sharded job a shard job file belongs to: fields `parent`, `shard`, `shards`,
// `parent_output` of the job file (docs/protocol.md "Sharded jobs").
struct ShardOf {
  std::string parent;         // the parent job's id
  unsigned shard = 0;         // 0-based index
  unsigned shards = 0;        // how many shards the parent has
  std::string parent_output;  // the unsharded output path (its manifest lists the shards)
  bool operator==(const ShardOf&) const = default;
};
std::optional<ShardOf> shard_of(const nlohmann::json& job_file);
void write_shard_of(nlohmann::json& job_file, const ShardOf& s);
// The local spool's id of a shard: "<parent>.s00003".
std::string shard_job_id(const std::string& parent, unsigned shard);

}  // namespace qkv::jobs
