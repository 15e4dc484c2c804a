#include "output_set.hpp"

#include "sha256.hpp"

namespace qkv::io {
namespace fs = std::filesystem;

OutputSet::OutputSet(fs::path main) : main_(std::move(main)) {
  const auto ext = main_.extension();
  stem_ = (ext == ".jsonl" || ext == ".bin" || ext == ".npy") ? fs::path(main_).replace_extension()
                                                              : main_;
}

fs::path OutputSet::companion(std::string_view suffix) const {
  return fs::path(stem_.string() + std::string(suffix));
}

AtomicFile& OutputSet::add(const fs::path& final_path) {
  files_.push_back(std::make_unique<AtomicFile>(final_path));
  return *files_.back();
}

std::vector<fs::path> OutputSet::commit(nlohmann::json manifest) {
  nlohmann::json outputs = nlohmann::json::array();
  for (auto& f : files_) {
    f->sync();
    outputs.push_back({{"path", f->final_path().string()},
                       {"bytes", f->size()},
                       {"sha256", sha256_file(f->temp_path())}});
  }
  manifest["outputs"] = std::move(outputs);
  AtomicFile m(companion(".manifest.json"));
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
