#include "jobs/spool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "io/atomic_file.hpp"
#include "io/io_error.hpp"
#include "io/output_set.hpp"
#include "jobs/job_json.hpp"

namespace qkv::jobs {
namespace {

const char* const kFolders[] = {"tmp", "incoming", "active", "done", "failed", "crashes"};
constexpr mode_t kSpoolFileMode = 0640;  // job files name other users' paths

std::chrono::system_clock::time_point mtime_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return {};
  return std::chrono::system_clock::time_point(std::chrono::seconds(st.st_mtim.tv_sec) +
                                               std::chrono::nanoseconds(st.st_mtim.tv_nsec));
}

// What a non-regular entry is, for the report; empty for a regular file.
std::string type_name(fs::file_type t) {
  switch (t) {
    case fs::file_type::regular:
      return {};
    case fs::file_type::directory:
      return "directory";
    case fs::file_type::symlink:
      return "symlink";
    case fs::file_type::fifo:
      return "fifo";
    case fs::file_type::socket:
      return "socket";
    case fs::file_type::block:
      return "block device";
    case fs::file_type::character:
      return "character device";
    default:
      return "special file";
  }
}

void remove_quietly(const fs::path& p) {
  std::error_code ec;
  fs::remove(p, ec);
}

}  // namespace

bool valid_job_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  };
  if (!ok(id[0]) || id[0] == '.' || id[0] == '_' || id[0] == '-') return false;
  if (!std::all_of(id.begin(), id.end(), ok)) return false;
  return !(id.size() >= 7 && id.substr(id.size() - 7) == ".report");
}

std::string new_job_id() {
  static std::atomic<unsigned> counter{0};
  const UtcTime u = utc_time(Clock::now());
  char buf[128];
  std::snprintf(buf, sizeof buf, "%04d%02d%02d-%02d%02d%02d-%03d-%x-%u", u.year, u.month, u.day,
                u.hour, u.minute, u.second, u.millisecond, unsigned(::getpid()),
                counter.fetch_add(1));
  return buf;
}

Spool::Spool(SpoolOptions options) : options_(std::move(options)) {
  for (auto* f : kFolders) {
    fs::create_directories(dir(f));
    folders_.emplace(f, std::make_shared<const io::Directory>(io::Directory::open(dir(f))));
  }
}

const io::Directory& Spool::folder(const char* name) const { return *folders_.at(name); }

json Spool::blames_of(const std::string& id) const {
  if (!folder("crashes").contains(id)) return json::array();
  try {
    auto j = json::parse(folder("crashes").read_file(id, 1 << 20));
    if (j.is_object() && j.contains("blames") && j["blames"].is_array()) return j["blames"];
  } catch (const std::exception&) {
  }
  return json::array();  // an older marker (any crash counted): no blame
}

void Spool::charge(std::size_t bytes) {
  if (!options_.fail_writes_after) return;
  if (written_.fetch_add(bytes) + bytes > options_.fail_writes_after)
    throw io::IoError(options_.root.string() +
                      ": No space left on device (test fault: QKV_TEST_SPOOL_ENOSPC_AFTER)");
}

void Spool::write_durably(const char* folder_name, const std::string& name,
                          const std::string& bytes) {
  charge(bytes.size());
  io::AtomicFile f(folders_.at("tmp"), folders_.at(folder_name), name, kSpoolFileMode);
  f.write(bytes);
  f.commit();
}

fs::path Spool::active(const std::string& id) const { return dir("active") / (id + ".json"); }

bool Spool::put_incoming(const std::string& id, const std::string& bytes) {
  charge(bytes.size());
  io::AtomicFile f(folders_.at("tmp"), folders_.at("incoming"), id + ".json", kSpoolFileMode);
  f.write(bytes);
  return f.commit_new();
}

std::vector<Spool::Waiting> Spool::list_incoming() const {
  std::vector<Waiting> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir("incoming"), ec)) {
    std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code ec2;
    out.push_back({name, mtime_of(e.path()), type_name(e.symlink_status(ec2).type())});
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) {
    return a.mtime != b.mtime ? a.mtime < b.mtime : a.name < b.name;
  });
  return out;
}

std::string Spool::read_incoming(const std::string& name) const {
  return folder("incoming").read_file(name, options_.max_job_file_bytes);
}

uid_t Spool::incoming_owner(const std::string& name) const {
  struct stat st {};
  return ::lstat(incoming(name).c_str(), &st) == 0 ? st.st_uid : uid_t(-1);
}

bool Spool::claim(const std::string& name, const std::string& id) {
  return io::move_durably(folder("incoming"), name, folder("active"), id + ".json",
                          io::Replace::no);
}

void Spool::complete(const std::string& id, bool ok, const nlohmann::json& report) {
  const char* to = ok ? "done" : "failed";
  write_durably(to, id + ".report.json", report_text(report) + "\n");
  io::move_durably(folder("active"), id + ".json", folder(to), id + ".json", io::Replace::yes);
  folder("crashes").remove(id);
}

void Spool::release(const std::string& id) {
  io::move_durably(folder("active"), id + ".json", folder("incoming"), id + ".json",
                   io::Replace::yes);
}

bool Spool::id_taken(const std::string& id) const {
  std::string f = id + ".json";
  const std::string report = id + ".report.json";
  return folder("incoming").contains(f) || folder("active").contains(f) ||
         folder("done").contains(f) || folder("failed").contains(f) ||
         folder("done").contains(report) || folder("failed").contains(report);
}

std::map<std::string, json> Spool::job_files() const {
  std::map<std::string, json> out;
  for (auto* d : {"incoming", "active", "done", "failed"}) {
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir(d), ec)) {
      std::string f = e.path().filename().string();
      if (f.size() <= 5 || !f.ends_with(".json") || f.ends_with(".report.json") || f[0] == '.')
        continue;
      try {
        out.emplace(f.substr(0, f.size() - 5),
                    json::parse(folder(d).read_file(f, options_.max_job_file_bytes)));
      } catch (const std::exception&) {
      }
    }
  }
  return out;
}

std::optional<nlohmann::json> Spool::find_report(const std::string& id) const {
  if (!valid_job_id(id)) return std::nullopt;
  for (auto* d : {"done", "failed"}) {
    const std::string report = id + ".report.json";
    if (!folder(d).contains(report)) continue;
    try {
      return nlohmann::json::parse(folder(d).read_file(report, 16 << 20));
    } catch (const std::exception&) {
      return nlohmann::json{{"id", id}, {"state", d == std::string("done") ? "done" : "failed"}};
    }
  }
  return std::nullopt;
}

std::optional<json> Spool::finished_report(const std::string& id, const json& job) const {
  if (!job.is_object() || !job.contains("output") || !job["output"].is_string()) return {};
  const std::string output = job["output"].get<std::string>();
  if (output.empty()) return {};
  fs::path manifest_file;
  json manifest;
  try {
    manifest_file = io::OutputSet(io::OutputTarget(fs::path(output))).companion(".manifest.json");
    manifest = json::parse(io::Directory::open(manifest_file.parent_path())
                               .read_file(manifest_file.filename().string(), 16 << 20));
  } catch (const std::exception&) {
    return {};
  }
  if (!manifest.is_object() || manifest.value("job_id", "") != id) return {};
  const auto outputs = manifest.find("outputs");
  if (outputs == manifest.end() || !outputs->is_array() || outputs->empty()) return {};
  std::vector<std::string> paths;
  for (const auto& o : *outputs) {
    if (!o.is_object() || !o.contains("path") || !o["path"].is_string() || !o.contains("bytes") ||
        !o["bytes"].is_number_unsigned())
      return {};
    const std::string path = o["path"].get<std::string>();
    std::error_code ec;
    if (fs::file_size(path, ec) != o["bytes"].get<uint64_t>() || ec) return {};
    paths.push_back(path);
  }
  paths.push_back(manifest_file.string());
  return json{{"id", id},
              {"state", "done"},
              {"ended_at", iso_time(Clock::now())},
              {"recovered",
               "the outputs were complete (the manifest names this job); its end "
               "had not been recorded"},
              {"result",
               {{"documents", manifest.value("documents", uint64_t{0})},
                {"tokens", manifest.value("tokens", uint64_t{0})},
                {"outputs", paths}}},
              {"job", job}};
}

RecoveryReport Spool::recover(const std::vector<crash::Record>& crashes,
                              const io::PathPolicy* outputs) {
  RecoveryReport rep;
  std::error_code ec;
  std::vector<fs::path> left;
  for (auto& e : fs::directory_iterator(dir("active"), ec)) left.push_back(e.path());
  std::sort(left.begin(), left.end());
  for (auto& path : left) {
    std::string file = path.filename().string();
    if (file.size() < 6 || file.substr(file.size() - 5) != ".json") continue;
    std::string id = file.substr(0, file.size() - 5);
    // Ended, but the crash came between writing the report and moving the job file.
    bool finished = false;
    for (auto* d : {"done", "failed"}) {
      if (!finished && folder(d).contains(id + ".report.json")) {
        io::move_durably(folder("active"), file, folder(d), file, io::Replace::yes);
        folder("crashes").remove(id);
        rep.completed.push_back(id);
        finished = true;
      }
    }
    if (finished) continue;
    json job;
    try {
      job = json::parse(folder("active").read_file(file, options_.max_job_file_bytes));
    } catch (const std::exception&) {
    }
    // Its outputs are complete, only the record was missing (a full spool, a crash right
    // after the manifest): done, never run twice.
    if (auto report = finished_report(id, job)) {
      complete(id, true, *report);
      rep.finished.push_back(id);
      continue;
    }
    // Interrupted: its half-written outputs go (the re-run writes them again).
    if (job.is_object() && job.contains("output") && job["output"].is_string())
      io::OutputSet::remove_stale_temps(job["output"].get<std::string>(), outputs);
    auto blames = blames_of(id);
    bool changed = false;
    for (auto& r : crashes) {
      if (r.owner != id) continue;
      bool known = std::any_of(blames.begin(), blames.end(),
                               [&](const json& b) { return b.value("record", "") == r.source; });
      if (known) continue;  // a recovery cut short applies the same record again
      blames.push_back({{"record", r.source},
                        {"signal", crash::signal_name(r.signal)},
                        {"signo", r.signal},
                        {"plugin", r.plugin},
                        {"call", r.call},
                        {"at", iso_time(Clock::now())}});
      changed = true;
    }
    if (blames.size() >= 2) {
      std::string what;
      for (auto& b : blames) {
        crash::Record r;
        r.signal = b.value("signo", 0);
        r.plugin = b.value("plugin", "");
        r.call = b.value("call", "");
        what += (what.empty() ? "" : "; ") + crash::describe(r);
      }
      json report = {{"id", id},
                     {"state", "failed"},
                     {"ended_at", iso_time(Clock::now())},
                     {"crashes", blames},
                     {"error",
                      {{"code", "suspect"},
                       {"message", "the job crashed qkvd twice (" + what +
                                       "); it is not run again (move it back into incoming/ "
                                       "to retry)"}}}};
      if (!job.is_null()) report["job"] = job;
      complete(id, false, report);
      rep.suspects.push_back(id);
      continue;
    }
    // The blame first: a stop between the two steps keeps it.
    if (changed) {
      write_durably("crashes", id, report_text(json{{"blames", blames}}, -1) + "\n");
      rep.blamed.push_back(id);
    }
    io::move_durably(folder("active"), file, folder("incoming"), file, io::Replace::yes);
    rep.requeued.push_back(id);
  }
  // Our own half-written files (their writer is gone); others' (hand-dropped, Maildir-style)
  // only when stale.
  io::remove_stale_temps(folder("tmp"), [](std::string_view) { return true; });
  auto stale = std::chrono::system_clock::now() - std::chrono::hours(36);
  for (auto& e : fs::directory_iterator(dir("tmp"), ec)) {
    const std::string name = e.path().filename().string();
    struct stat st {};  // through the folder fd, never following the entry
    if (::fstatat(folder("tmp").fd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    const auto mtime = std::chrono::system_clock::time_point(
        std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec));
    if (mtime < stale) folder("tmp").remove(name);
  }
  return rep;
}

std::size_t Spool::prune() {
  std::size_t removed = 0;
  auto now = std::chrono::system_clock::now();
  for (auto [name, days] :
       {std::pair{"done", options_.done_days}, {"failed", options_.failed_days}}) {
    if (days <= 0) continue;
    auto cutoff = now - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                            std::chrono::duration<double>(days * 86400.0));
    // An entry's age is its report's (the job file keeps its submission time).
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir(name), ec)) {
      std::string f = e.path().filename().string();
      bool report = f.size() > 12 && f.substr(f.size() - 12) == ".report.json";
      std::string id = report ? f.substr(0, f.size() - 12) : f.substr(0, f.size() - 5);
      if (!report && folder(name).contains(id + ".report.json")) continue;
      if (mtime_of(e.path()) >= cutoff) continue;
      remove_quietly(e.path());
      if (report) {
        remove_quietly(dir(name) / (id + ".json"));
        ++removed;
      }
    }
  }
  return removed;
}

}  // namespace qkv::jobs
