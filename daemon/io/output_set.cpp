#include "output_set.hpp"

#include "sha256.hpp"

namespace qkv::io {
namespace fs = std::filesystem;

namespace {
std::string checksum(const AtomicFile& f) {
  Sha256 h;
  f.read_back([&](std::string_view chunk) { h.update(chunk); });
  return h.hex();
}
}  // namespace

fs::path OutputSet::stem_of(const fs::path& main) {
  const auto ext = main.extension();
  return (ext == ".jsonl" || ext == ".bin" || ext == ".npy") ? fs::path(main).replace_extension()
                                                             : main;
}

OutputSet::OutputSet(fs::path main)
    : main_(std::move(main)),
      stem_(stem_of(main_)),
      dir_(std::make_shared<const Directory>(Directory::open(main_.parent_path()))) {}

std::size_t OutputSet::remove_stale_temps(const fs::path& main) noexcept {
  try {
    const std::string name = main.filename().string();
    const std::string companion_prefix = stem_of(main).filename().string() + ".";
    return io::remove_stale_temps(Directory::open(main.parent_path()), [&](std::string_view f) {
      return f == name || f.substr(0, companion_prefix.size()) == companion_prefix;
    });
  } catch (...) {
    return 0;
  }
}

fs::path OutputSet::companion(std::string_view suffix) const {
  return fs::path(stem_.string() + std::string(suffix));
}

AtomicFile& OutputSet::add(const fs::path& final_path) {
  // Companions live next to the main file; anything else gets its own folder fd.
  if (final_path.parent_path() == main_.parent_path())
    files_.push_back(
        std::make_unique<AtomicFile>(dir_, dir_, final_path.filename().string(), 0644));
  else
    files_.push_back(std::make_unique<AtomicFile>(final_path));
  return *files_.back();
}

std::vector<fs::path> OutputSet::commit(nlohmann::json manifest) {
  nlohmann::json outputs = nlohmann::json::array();
  for (auto& f : files_) {
    f->sync();
    outputs.push_back(
        {{"path", f->final_path().string()}, {"bytes", f->size()}, {"sha256", checksum(*f)}});
  }
  manifest["outputs"] = std::move(outputs);
  AtomicFile m(dir_, dir_, companion(".manifest.json").filename().string());
  m.write(manifest.dump(2));
  m.write("\n");
  m.sync();
  std::vector<fs::path> done;
  for (auto& f : files_) {
    f->commit();
    done.push_back(f->final_path());
  }
  m.commit();
  done.push_back(m.final_path());
  return done;
}

}  // namespace qkv::io
