// The accepting worker's own record of the Redis submits it accepted (docs/scale-out.md "Sharded
// jobs"): <spool>/redis/<id>.json, one per sharded parent and per submit with a request_id,
// written after Redis took the entries. So `status`, `wait` and `list` of a parent keep working
// on that worker when Redis lost the parent's hash (its TTL, a FLUSH): the shards' ends are then
// read from <stream>:results. And a retried request_id finds its job here too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/directory.hpp"

namespace qkv::jobs::redis {

class ParentRecords {
 public:
  // Creates the folder if missing and reads the records in it. Throws IoError.
  explicit ParentRecords(const std::filesystem::path& folder);

  // Stores `record` (an object with "id", "submit_ms", the parent's view fields and, for a
  // request_id, "request": {"owner", "id", "body_sha256"}) durably. Throws IoError.
  void put(const nlohmann::json& record);
  std::optional<nlohmann::json> get(const std::string& id) const;
  // The record of (owner, request_id), if kept.
  std::optional<nlohmann::json> by_request(const std::string& owner,
                                           const std::string& request_id) const;
  // The ids of the newest parents (not single jobs), newest first, at most `limit`.
  std::vector<std::string> newest_parents(std::size_t limit) const;
  // Removes the records submitted before `before_ms` (retention). Returns how many.
  std::size_t prune(int64_t before_ms);

 private:
  std::shared_ptr<const io::Directory> folder_;
  mutable std::mutex mutex_;
  std::map<std::string, nlohmann::json> records_;  // by id
};

}  // namespace qkv::jobs::redis
