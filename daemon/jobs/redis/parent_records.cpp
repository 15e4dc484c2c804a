#include "jobs/redis/parent_records.hpp"

#include <algorithm>
#include <iostream>

#include "io/atomic_file.hpp"
#include "io/io_error.hpp"

namespace qkv::jobs::redis {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kMaxRecordBytes = 1u << 20;

bool is_record_name(const std::string& name) {
  return name.size() > 5 && name.ends_with(".json") && name[0] != '.';
}

}  // namespace

ParentRecords::ParentRecords(const fs::path& folder) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw io::IoError(folder.string() + ": cannot create the folder: " + ec.message());
  folder_ = std::make_shared<const io::Directory>(io::Directory::open(folder));
  for (const auto& e : fs::directory_iterator(folder)) {
    const std::string name = e.path().filename().string();
    if (!is_record_name(name) || !e.is_regular_file()) continue;
    try {
      auto r = nlohmann::json::parse(folder_->read_file(name, kMaxRecordBytes));
      if (r.is_object() && r.value("id", "") + ".json" == name) records_[r["id"]] = std::move(r);
    } catch (const std::exception& ex) {
      std::cerr << "qkvd: warning: " << folder_->path_of(name).string()
                << ": not a Redis submit record, ignored: " << ex.what() << "\n";
    }
  }
}

void ParentRecords::put(const nlohmann::json& record) {
  const std::string id = record.at("id").get<std::string>();
  io::AtomicFile file(folder_, folder_, id + ".json", 0600);
  file.write(record.dump() + "\n");
  file.commit();
  std::lock_guard lock(mutex_);
  records_[id] = record;
}

std::optional<nlohmann::json> ParentRecords::get(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = records_.find(id);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

std::optional<nlohmann::json> ParentRecords::by_request(const std::string& owner,
                                                        const std::string& request_id) const {
  std::lock_guard lock(mutex_);
  for (const auto& [id, r] : records_) {
    auto req = r.find("request");
    if (req != r.end() && req->is_object() && req->value("owner", "") == owner &&
        req->value("id", "") == request_id)
      return r;
  }
  return std::nullopt;
}

std::vector<std::string> ParentRecords::newest_parents(std::size_t limit) const {
  std::vector<std::pair<int64_t, std::string>> all;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, r] : records_)
      if (r.value("shards", 0u) > 0) all.emplace_back(r.value("submit_ms", int64_t{0}), id);
  }
  std::sort(all.rbegin(), all.rend());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < all.size() && i < limit; ++i) out.push_back(all[i].second);
  return out;
}

std::size_t ParentRecords::prune(int64_t before_ms) {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (auto it = records_.begin(); it != records_.end();) {
    if (it->second.value("submit_ms", int64_t{0}) < before_ms) {
      folder_->remove(it->first + ".json");
      it = records_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

}  // namespace qkv::jobs::redis
