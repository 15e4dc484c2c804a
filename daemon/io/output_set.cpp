#include "output_set.hpp"

#include "path_policy.hpp"
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

OutputTarget::OutputTarget(const fs::path& main)
    : folder(std::make_shared<const Directory>(Directory::open(main.parent_path()))), main(main) {}

OutputSet::OutputSet(OutputTarget target)
    : target_(std::move(target)),
      main_(target_.main),
      stem_(stem_of(main_)),
      dir_(target_.folder) {}

std::size_t OutputSet::remove_stale_temps(const fs::path& main, const PathPolicy* policy) noexcept {
  try {
    const std::string name = main.filename().string();
    const std::string companion_prefix = stem_of(main).filename().string() + ".";
    const auto folder =
        policy ? policy->open_output_folder(main.parent_path())
               : std::make_shared<const Directory>(Directory::open(main.parent_path()));
    return io::remove_stale_temps(*folder, [&](std::string_view f) {
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
  // Companions live next to the main file, in the folder the target was checked through.
  if (final_path.parent_path() != main_.parent_path())
    throw IoError(final_path.string() + ": not in the folder of the output " + main_.string());
  const std::string name = final_path.filename().string();
  if (target_.check) target_.check(name);
  files_.push_back(std::make_unique<AtomicFile>(dir_, dir_, name, 0644));
  files_.back()->keep_mode_and_group();
  return *files_.back();
}

void OutputSet::retire(const fs::path& final_path) {
  if (final_path.parent_path() != main_.parent_path())
    throw IoError(final_path.string() + ": not in the folder of the output " + main_.string());
  const std::string name = final_path.filename().string();
  require_entry_name(name, main_.parent_path());
  for (const auto& f : files_)
    if (f->final_path().filename() == name) return;  // written after all
  retired_.push_back(name);
}

void OutputSet::place(AtomicFile& f) const {
  if (target_.replace) return f.commit();
  if (!f.commit_new())
    throw PathError("output_exists", f.final_path().string() +
                                         " appeared while the job ran, and output.overwrite is "
                                         "false; nothing was replaced");
}

std::vector<fs::path> OutputSet::commit(nlohmann::json manifest) {
  nlohmann::json outputs = nlohmann::json::array();
  for (auto& f : files_) {
    f->sync();
    outputs.push_back(
        {{"path", f->final_path().string()}, {"bytes", f->size()}, {"sha256", checksum(*f)}});
  }
  manifest["outputs"] = std::move(outputs);
  const std::string manifest_name = companion(".manifest.json").filename().string();
  if (target_.check) target_.check(manifest_name);
  AtomicFile m(dir_, dir_, manifest_name);
  m.keep_mode_and_group();
  m.write(manifest.dump(2));
  m.write("\n");
  m.sync();
  std::vector<fs::path> done;
  for (auto& f : files_) {
    place(*f);
    done.push_back(f->final_path());
  }
  if (target_.replace)
    for (const auto& name : retired_) dir_->remove(name);  // the manifest's rename syncs the folder
  place(m);
  done.push_back(m.final_path());
  return done;
}

}  // namespace qkv::io
