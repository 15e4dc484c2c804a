// The spool folder, Maildir-style (docs/protocol.md "Spool"):
//   tmp/       files being written (then renamed: a reader never sees a partial file)
//   incoming/  accepted jobs waiting to run; a file renamed in here by hand is a job too
//   active/    jobs running now (claimed by an atomic rename out of incoming/)
//   done/ failed/   ended jobs: <id>.json (the job file) + <id>.report.json
//   crashes/   <id> lists the crashes blamed on a job (crash records naming it; the suspect rule)
// Every step is a rename plus folder fsync (through the folders' fds, io/directory.hpp), so a crash
// at any moment leaves each job in exactly one place, and recover() finishes whatever step was cut
// short.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "crash/crash_record.hpp"
#include "io/directory.hpp"

namespace qkv::io {
class PathPolicy;
}

namespace qkv::jobs {

namespace fs = std::filesystem;

struct SpoolOptions {
  fs::path root;
  double done_days = 7;  // retention of done/ entries; 0 keeps them forever
  double failed_days = 30;
  std::size_t max_job_file_bytes = 1 << 20;
  // Test-only fault seam (QKV_TEST_SPOOL_ENOSPC_AFTER): once this many bytes have been written
  // to the spool, every further write fails with ENOSPC, as on a full disk. 0: off.
  uint64_t fail_writes_after = 0;
};

struct RecoveryReport {
  std::vector<std::string> requeued;   // were running when qkvd stopped: run again
  std::vector<std::string> blamed;     // of those, named by a crash record (once so far)
  std::vector<std::string> suspects;   // named by crash records twice: failed as suspect
  std::vector<std::string> completed;  // had ended; only the final rename was missing
  std::vector<std::string> finished;   // outputs complete (manifest names the job): done
};

class Spool {
 public:
  explicit Spool(SpoolOptions options);  // creates the folders

  const fs::path& root() const noexcept { return options_.root; }
  fs::path incoming(const std::string& name) const { return options_.root / "incoming" / name; }
  fs::path active(const std::string& id) const;

  // Stores a job file in incoming/<id>.json, fsynced, never replacing: false if id is taken.
  bool put_incoming(const std::string& id, const std::string& bytes);

  struct Waiting {
    std::string name;
    std::chrono::system_clock::time_point mtime;
    std::string not_regular;  // "directory", "fifo", "symlink"...; empty for a regular file
  };
  // incoming/ entries, oldest first; names starting with '.' are ignored (being written).
  // Entries that are no regular file are listed too (they are failed, never run).
  std::vector<Waiting> list_incoming() const;
  std::string read_incoming(const std::string& name) const;
  uid_t incoming_owner(const std::string& name) const;

  // incoming/<name> -> active/<id>.json. False when it vanished (another consumer took it).
  bool claim(const std::string& name, const std::string& id);
  // Writes the report, then moves active/<id>.json into done/ or failed/.
  void complete(const std::string& id, bool ok, const nlohmann::json& report);
  // active/<id>.json -> incoming/<id>.json (shutdown before the job ended).
  void release(const std::string& id);

  // True when `id` is used anywhere in the spool (new ids must not be).
  bool id_taken(const std::string& id) const;
  // Every job file kept (incoming/, active/, done/, failed/) that parses: id -> its object.
  std::map<std::string, nlohmann::json> job_files() const;
  // The report of an ended job, if it is still kept.
  std::optional<nlohmann::json> find_report(const std::string& id) const;

  // Finishes what a stop cut short. `crashes` are the crash records of earlier processes
  // (crash/crash_log.hpp): only a job a record names is blamed; a job blamed twice ends in
  // failed/ with code `suspect`. A job no record names (kill -9, OOM, power loss) just runs again.
  // `outputs` opens an interrupted job's output folder for its temporaries' cleanup (beneath
  // the output roots; null: by path).
  RecoveryReport recover(const std::vector<crash::Record>& crashes = {},
                         const io::PathPolicy* outputs = nullptr);
  // Removes done/ and failed/ entries older than the retention. Returns how many.
  std::size_t prune();

 private:
  fs::path dir(const char* name) const { return options_.root / name; }
  const io::Directory& folder(const char* name) const;
  // The crashes blamed on job `id` so far (crashes/<id>), a JSON array.
  nlohmann::json blames_of(const std::string& id) const;
  // The done report of a job whose end was not recorded but whose outputs are complete: the
  // manifest at its output names the job and every listed output has its recorded size.
  std::optional<nlohmann::json> finished_report(const std::string& id,
                                                const nlohmann::json& job) const;
  // Counts bytes against fail_writes_after; throws ENOSPC past it.
  void charge(std::size_t bytes);
  // Writes folder/name through a temporary file in tmp/, replacing it.
  void write_durably(const char* folder, const std::string& name, const std::string& bytes);
  SpoolOptions options_;
  std::atomic<uint64_t> written_{0};
  std::map<std::string, std::shared_ptr<const io::Directory>, std::less<>> folders_;
};

// Job ids: [A-Za-z0-9][A-Za-z0-9._-]*, at most 128 characters, not ending in ".report".
bool valid_job_id(std::string_view id) noexcept;
// A new id: UTC time, pid and a counter, so ids sort by submission.
std::string new_job_id();

}  // namespace qkv::jobs
