// The folder of crash record files (<spool>/crash-records/): each daemon process appends its
// records (crash/crash_handler.hpp) to its own file "<pid>-<start ns>", opened at start. The
// next start reads the files of earlier processes (the spool lock makes them all dead), recovery
// applies them (daemon/jobs/spool.cpp blames the named jobs, crash/quarantine.hpp the named
// inline requests) and then forgets them. kill -9, an OOM kill or a power loss leave an empty
// file: they blame no one.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "crash/crash_record.hpp"
#include "io/directory.hpp"

namespace qkv::crash {

class CrashLog {
 public:
  explicit CrashLog(std::filesystem::path dir);  // creates the folder

  // The records earlier processes left (not this one's file).
  std::vector<Record> earlier() const;
  // Opens this process's record file and installs the crash handler writing to it.
  void arm();
  // Removes earlier processes' files (once what they said is durable elsewhere).
  void forget_earlier() const;

 private:
  std::vector<std::string> earlier_files() const;
  io::Directory dir_;
  io::UniqueFd own_;
  std::string own_name_;
};

}  // namespace qkv::crash
