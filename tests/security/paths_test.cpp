// Which files a client can make qkvd read or write (issue 10 items 2-4), against a real qkvd over
// its real socket, with a real secret file outside every root: `set` paths and pipelines named
// by path must stay inside roots.models / roots.input, pipelines_dir must be the operator's own,
// a folder swapped for a symlink between submit and run is caught where the file is opened
// (through openat2 and through the forced per-component fallback), and the output rules hold
// for the daemon and for `qkvd run`.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace qkv::test {
namespace {

using json = nlohmann::json;

const std::string kSecret = "hunter2-password";

std::string code_of(const json& r) { return r.value("error", json::object()).value("code", ""); }
std::string message_of(const json& r) {
  return r.value("error", json::object()).value("message", "");
}

// A Rig with a secret outside every root, a models root with a harmless vocabulary, a WordPiece
// pipeline on the real vocabulary, and a pipeline whose job waits for a release file.
struct PathRig {
  explicit PathRig(const std::string& extra = "") : rig(extra) {
    secret_dir = rig.dir.path / "secret";
    models = rig.dir.path / "models";
    fs::create_directories(secret_dir);
    fs::create_directories(models);
    secret = secret_dir / "key.txt";
    write_text(secret, "SECRET-HEADER\n" + kSecret + "\ntoken-abcdef\n");
    write_text(models / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n");
    release = rig.dir.path / "release";
    rig.write_pipeline("wp", "tokenizer:\n  plugin: tokenizer-wordpiece\n  config:\n    vocab: " +
                                 std::string(QKV_SOURCE_DIR) +
                                 "/data/vocab/bert-base-uncased/vocab.txt\n"
                                 "output: {format: jsonl}\n");
    rig.write_pipeline("block", "tokenizer: {plugin: test-bytes, config: {wait_for: " +
                                    release.string() + "}}\noutput: {format: jsonl}\n");
    set_roots("{input: [" + rig.in.string() + "], output: [" + rig.out.string() + "], models: [" +
              models.string() + "]}");
  }
  // Replaces the roots line the Rig wrote ("" drops it: no roots at all).
  void set_roots(const std::string& roots) const {
    std::string cfg = read_text(rig.config), out;
    size_t at = cfg.find("\nroots:");
    size_t end = cfg.find('\n', at + 1);
    out = cfg.substr(0, at + 1) + (roots.empty() ? "" : "roots: " + roots + "\n") +
          cfg.substr(end + 1);
    write_text(rig.config, out);
  }
  Rig rig;
  fs::path secret_dir, secret, models, release;
};

// The leak the issue shows: the secret as vocabulary, a known line as unk_token, then decode.
json leak_set(const fs::path& vocab) {
  return {{"tokenizer.config.vocab", vocab.string()},
          {"tokenizer.config.unk_token", "SECRET-HEADER"}};
}

json wait_end(ctl::Client& c, const std::string& id) {
  json job;
  eventually(
      [&] {
        job = c.call({{"op", "status"}, {"id", id}}).value("job", json::object());
        const std::string s = job.is_object() ? job.value("state", "") : "";
        return s == "done" || s == "failed" || s == "cancelled";
      },
      60s);
  return job.is_object() ? job : json::object();
}

std::string error_code_of_job(const json& job) {
  return job.value("error", json::object()).value("code", "");
}

TEST(SecurityPaths, SetCannotPointAVocabularyAtASecretInlineOrAsAJob) {
  PathRig t;
  Daemon d(t.rig);
  d.start();
  auto c = d.client();
  // Inline, decode and encode: refused (inline runs may not set keys that load files, issue
  // 11), nothing of the secret comes back.
  for (bool decode : {true, false}) {
    json req = {{"op", "run"},
                {"pipeline", "wp"},
                {"texts", {decode ? "[0,1,2]" : kSecret}},
                {"decode", decode},
                {"set", leak_set(t.secret)}};
    auto r = c.call(req);
    EXPECT_FALSE(r.value("ok", true)) << r.dump();
    EXPECT_EQ(code_of(r), "bad_request") << r.dump();
    EXPECT_EQ(r.dump().find(kSecret), std::string::npos) << r.dump();
    req["set"] = {{"tokenizer.config.vocab", "../secret/key.txt"}};
    EXPECT_FALSE(c.call(req).value("ok", true));
  }
  // As a job, decode and encode: refused at submit, no output appears.
  write_text(t.rig.in / "ids.jsonl", "[0,1,2]\n");
  write_text(t.rig.in / "text.jsonl", jsonl_of({kSecret}));
  for (bool decode : {true, false}) {
    const fs::path out = t.rig.out / (decode ? "leak-d.jsonl" : "leak-e.jsonl");
    auto r = c.call({{"op", "submit"},
                     {"pipeline", "wp"},
                     {"inputs", {(t.rig.in / (decode ? "ids.jsonl" : "text.jsonl")).string()}},
                     {"output", out.string()},
                     {"decode", decode},
                     {"set", leak_set(t.secret)}});
    EXPECT_EQ(code_of(r), "path_denied") << r.dump();
    if (r.value("ok", false)) wait_end(c, r["id"]);
    EXPECT_FALSE(fs::exists(out)) << read_text(out);
  }
  // A relative path climbing out of the pipeline's folder is refused the same way.
  auto up = c.call({{"op", "submit"},
                    {"pipeline", "wp"},
                    {"inputs", {(t.rig.in / "text.jsonl").string()}},
                    {"output", (t.rig.out / "up.jsonl").string()},
                    {"set", {{"tokenizer.config.vocab", "../secret/key.txt"}}}});
  EXPECT_EQ(code_of(up), "path_denied") << up.dump();
  // Control: the same key on a vocabulary inside roots.models works.
  write_text(t.rig.in / "hello.jsonl", jsonl_of({"hello world"}));
  auto ok = c.call({{"op", "submit"},
                    {"pipeline", "wp"},
                    {"inputs", {(t.rig.in / "hello.jsonl").string()}},
                    {"output", (t.rig.out / "hello.ids.jsonl").string()},
                    {"set", {{"tokenizer.config.vocab", (t.models / "vocab.txt").string()}}}});
  ASSERT_TRUE(ok.value("ok", false)) << ok.dump();
  wait_end(c, ok["id"]);
  EXPECT_EQ(read_text(t.rig.out / "hello.ids.jsonl"), "[2,5,6,3]\n");
}

TEST(SecurityPaths, APipelineNamedByPathIsUntrustedAsAWhole) {
  PathRig t;
  Daemon d(t.rig);
  d.start();
  auto c = d.client();
  const std::string wp = "tokenizer:\n  plugin: tokenizer-wordpiece\n  config:\n    vocab: ";
  const std::string tail = "\n    unk_token: SECRET-HEADER\noutput: {format: jsonl}\n";
  // Outside roots.input: refused whatever it says.
  write_text(t.rig.dir.path / "evil.yaml", wp + t.secret.string() + tail);
  // Inside roots.input, but its vocabulary is the secret (absolute, or relative to the file).
  write_text(t.rig.in / "evil.yaml", wp + t.secret.string() + tail);
  write_text(t.rig.in / "evil-rel.yaml", wp + "../secret/key.txt" + tail);
  write_text(t.rig.in / "ids.jsonl", "[0,1,2]\n");
  for (const fs::path& p :
       {t.rig.dir.path / "evil.yaml", t.rig.in / "evil.yaml", t.rig.in / "evil-rel.yaml"}) {
    auto r =
        c.call({{"op", "run"}, {"pipeline", p.string()}, {"texts", {"[0,1,2]"}}, {"decode", true}});
    EXPECT_EQ(code_of(r), "path_denied") << p << ": " << r.dump();
    EXPECT_EQ(r.dump().find(kSecret), std::string::npos) << r.dump();
    const fs::path out = t.rig.out / ("leak-" + p.stem().string() + ".jsonl");
    auto s = c.call({{"op", "submit"},
                     {"pipeline", p.string()},
                     {"inputs", {(t.rig.in / "ids.jsonl").string()}},
                     {"output", out.string()},
                     {"decode", true}});
    EXPECT_EQ(code_of(s), "path_denied") << p << ": " << s.dump();
    if (s.value("ok", false)) wait_end(c, s["id"]);
    EXPECT_FALSE(fs::exists(out));
  }
  // Control: a pipeline in roots.input whose vocabulary is in roots.models runs.
  write_text(t.rig.in / "fine.yaml",
             wp + (t.models / "vocab.txt").string() + "\noutput: {format: jsonl}\n");
  auto ok = c.call(
      {{"op", "run"}, {"pipeline", (t.rig.in / "fine.yaml").string()}, {"texts", {"hello"}}});
  EXPECT_TRUE(ok.value("ok", false)) << ok.dump();
}

TEST(SecurityPaths, APipelinesDirWritableByOthersIsNotTrusted) {
  PathRig t;
  Daemon d(t.rig);
  d.start();
  auto c = d.client();
  auto run = [&] { return c.call({{"op", "run"}, {"pipeline", "bytes"}, {"texts", {"hi"}}}); };
  ASSERT_TRUE(run().value("ok", false));
  const fs::path file = t.rig.pipelines / "bytes.yaml";
  ::chmod(file.c_str(), 0666);
  auto r = run();
  EXPECT_EQ(code_of(r), "path_denied") << r.dump();
  EXPECT_NE(message_of(r).find("writable by group or others"), std::string::npos) << r.dump();
  ::chmod(file.c_str(), 0644);
  ::chmod(t.rig.pipelines.c_str(), 0777);
  EXPECT_EQ(code_of(run()), "path_denied");
  ::chmod(t.rig.pipelines.c_str(), 0755);
  EXPECT_TRUE(run().value("ok", false));
}

TEST(SecurityPaths, AbsentRootsRefuseEveryClientPathNamingTheKey) {
  PathRig t;
  t.set_roots("");
  Daemon d(t.rig);
  d.start();
  auto c = d.client();
  write_text(t.rig.in / "a.jsonl", jsonl_of({"hello"}));
  auto r = c.call({{"op", "submit"},
                   {"inputs", {(t.rig.in / "a.jsonl").string()}},
                   {"output", (t.rig.out / "a.ids.jsonl").string()}});
  EXPECT_EQ(code_of(r), "path_denied") << r.dump();
  EXPECT_NE(message_of(r).find("roots.input"), std::string::npos) << r.dump();
  // (roots.models is reached only by a job's `set`, after its inputs: inline runs may not set
  // keys that load files at all, tests/reliability/limits_set_test.cpp.)
}

// ---- TOCTOU: the victim job is checked at submit, then waits behind a job blocked in the test
// plugin while the test swaps a folder of its path for a symlink; then the blocker is released.

class Swap : public ::testing::TestWithParam<bool> {
 protected:
  std::map<std::string, std::string> env() const {
    if (GetParam()) return {{"QKV_TEST_OPEN_BENEATH_FALLBACK", "1"}};
    return {};
  }
  // Submits the blocker and waits until it runs; the victim then stays queued (threads: 1).
  std::string block(ctl::Client& c, const PathRig& t) {
    write_text(t.rig.in / "blocker.jsonl", jsonl_of({"blocker"}));
    auto r = c.call({{"op", "submit"},
                     {"pipeline", "block"},
                     {"inputs", {(t.rig.in / "blocker.jsonl").string()}},
                     {"output", (t.rig.out / "blocker.jsonl").string()}});
    EXPECT_TRUE(r.value("ok", false)) << r.dump();
    const std::string id = r.value("id", "");
    EXPECT_TRUE(eventually([&] {
      return c.call({{"op", "status"}, {"id", id}})["job"].value("state", "") == "running";
    }));
    return id;
  }
  void expect_queued(ctl::Client& c, const json& submitted) {
    ASSERT_TRUE(submitted.value("ok", false)) << submitted.dump();
    auto s = c.call({{"op", "status"}, {"id", submitted["id"]}});
    ASSERT_EQ(s["job"].value("state", ""), "queued") << s.dump();
  }
};

TEST_P(Swap, AnInputFolderSwappedForASymlinkAfterSubmitIsRefusedWhereOpened) {
  PathRig t("threads: 1\n");
  write_text(t.secret_dir / "a.jsonl", jsonl_of({kSecret}));
  fs::create_directories(t.rig.in / "sub");
  write_text(t.rig.in / "sub" / "a.jsonl", jsonl_of({"public"}));
  Daemon d(t.rig);
  d.start(env());
  auto c = d.client();
  const std::string blocker = block(c, t);
  auto victim = c.call({{"op", "submit"},
                        {"pipeline", "bytes"},
                        {"inputs", {(t.rig.in / "sub" / "a.jsonl").string()}},
                        {"output", (t.rig.out / "victim.jsonl").string()}});
  expect_queued(c, victim);
  fs::rename(t.rig.in / "sub", t.rig.in / "sub-old");
  fs::create_directory_symlink(t.secret_dir, t.rig.in / "sub");
  write_text(t.release, "");
  auto job = wait_end(c, victim["id"]);
  EXPECT_EQ(job.value("state", ""), "failed") << job.dump();
  EXPECT_EQ(error_code_of_job(job), "path_denied") << job.dump();
  EXPECT_FALSE(fs::exists(t.rig.out / "victim.jsonl"));
  EXPECT_EQ(wait_end(c, blocker).value("state", ""), "done");
}

TEST_P(Swap, AnOutputFolderSwappedForASymlinkAfterSubmitIsRefusedWhereOpened) {
  PathRig t("threads: 1\n");
  fs::create_directories(t.rig.out / "sub");
  const fs::path elsewhere = t.rig.dir.path / "elsewhere";
  fs::create_directories(elsewhere);
  write_text(t.rig.in / "a.jsonl", jsonl_of({"public"}));
  Daemon d(t.rig);
  d.start(env());
  auto c = d.client();
  const std::string blocker = block(c, t);
  auto victim = c.call({{"op", "submit"},
                        {"pipeline", "bytes"},
                        {"inputs", {(t.rig.in / "a.jsonl").string()}},
                        {"output", (t.rig.out / "sub" / "victim.jsonl").string()}});
  expect_queued(c, victim);
  fs::rename(t.rig.out / "sub", t.rig.out / "sub-old");
  fs::create_directory_symlink(elsewhere, t.rig.out / "sub");
  write_text(t.release, "");
  auto job = wait_end(c, victim["id"]);
  EXPECT_EQ(job.value("state", ""), "failed") << job.dump();
  EXPECT_EQ(error_code_of_job(job), "path_denied") << job.dump();
  EXPECT_TRUE(fs::is_empty(elsewhere));
  EXPECT_EQ(wait_end(c, blocker).value("state", ""), "done");
}

INSTANTIATE_TEST_SUITE_P(Openat2AndFallback, Swap, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "fallback" : "openat2"; });

// ---- Output rules (the daemon): an output root that contains the daemon's own files.

TEST(SecurityPaths, OutputsNeverReplaceTheDaemonsOwnFiles) {
  PathRig t;
  t.set_roots("{input: [" + t.rig.dir.path.string() + "], output: [" + t.rig.dir.path.string() +
              "]}");
  Daemon d(t.rig);
  d.start();  // a root holding the spool, socket and config is no start-up error
  auto c = d.client();
  write_text(t.rig.in / "a.jsonl", jsonl_of({"hello"}));
  const std::string config_before = read_text(t.rig.config);
  for (const fs::path& out : {t.rig.spool / "x.jsonl", t.rig.socket, t.rig.config,
                              t.rig.pipelines / "x.yaml", t.rig.pipelines / "bytes.yaml"}) {
    auto r = c.call({{"op", "submit"},
                     {"inputs", {(t.rig.in / "a.jsonl").string()}},
                     {"output", out.string()}});
    EXPECT_EQ(code_of(r), "path_denied") << out << ": " << r.dump();
    if (r.value("ok", false)) wait_end(c, r["id"]);
  }
  EXPECT_EQ(read_text(t.rig.config), config_before);
  EXPECT_FALSE(fs::exists(t.rig.pipelines / "x.yaml"));
  EXPECT_TRUE(fs::is_socket(t.rig.socket));
  EXPECT_TRUE(c.call({{"op", "health"}}).value("ok", false));
}

// Submits a bytes job reading in/a.jsonl ("hello") and waits for its end.
json run_job(ctl::Client& c, const PathRig& t, const fs::path& out, json set) {
  write_text(t.rig.in / "a.jsonl", jsonl_of({"hello"}));
  auto r = c.call({{"op", "submit"},
                   {"inputs", {(t.rig.in / "a.jsonl").string()}},
                   {"output", out.string()},
                   {"set", std::move(set)}});
  EXPECT_TRUE(r.value("ok", false)) << r.dump();
  return wait_end(c, r.value("id", ""));
}

TEST(SecurityPaths, OverwriteFalseRefusesAnExistingOutput) {
  PathRig t;
  Daemon d(t.rig);
  d.start();
  auto c = d.client();
  const fs::path kept = t.rig.out / "kept.jsonl";
  write_text(kept, "keep me\n");
  auto job = run_job(c, t, kept, {{"output.overwrite", "false"}});
  EXPECT_EQ(job.value("state", ""), "failed") << job.dump();
  EXPECT_EQ(error_code_of_job(job), "output_exists") << job.dump();
  EXPECT_EQ(read_text(kept), "keep me\n");
  EXPECT_EQ(
      run_job(c, t, t.rig.out / "new.jsonl", {{"output.overwrite", "false"}}).value("state", ""),
      "done");
}

TEST(SecurityPaths, AReplacedOutputKeepsItsModeAndGroup) {
  PathRig t;
  Daemon d(t.rig);
  d.start();
  auto c = d.client();
  const fs::path priv = t.rig.out / "private.jsonl";
  write_text(priv, "old\n");
  ::chmod(priv.c_str(), 0600);
  gid_t group = ::getegid();
  if (::geteuid() == 0) {
    group = 65534;  // root may give any group
    ASSERT_EQ(::chown(priv.c_str(), uid_t(-1), group), 0);
  } else {
    std::cout << "note: not root, so the group part checks only that the group is unchanged\n";
  }
  EXPECT_EQ(run_job(c, t, priv, json::object()).value("state", ""), "done");
  struct stat st {};
  ASSERT_EQ(::stat(priv.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_gid, group);
  EXPECT_EQ(read_text(priv), bytes_ids_jsonl({"hello"}));
}

// ---- Output rules (`qkvd run`): no roots, the user's own rights, the same refusals.

TEST(SecurityPaths, QkvdRunRefusesOutputsOntoItsInputsTheDaemonsFilesAndNonRegularFiles) {
  PathRig t;
  write_text(t.rig.in / "a.jsonl", jsonl_of({"hello"}));
  const std::string input = read_text(t.rig.in / "a.jsonl");
  const std::string config = read_text(t.rig.config);
  const fs::path fifo = t.rig.out / "fifo.jsonl";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  auto run = [&](const fs::path& out) {
    return run_cmd({bin("qkvd"), "--config", t.rig.config.string(), "run", "-p", "bytes", "-i",
                    (t.rig.in / "a.jsonl").string(), "-o", out.string()});
  };
  for (const fs::path& out : {t.rig.in / "a.jsonl", t.rig.config, fifo}) {
    auto r = run(out);
    EXPECT_NE(r.code, 0) << out << ": " << r.err;
    EXPECT_NE(r.err.find("refused"), std::string::npos) << out << ": " << r.err;
  }
  EXPECT_EQ(read_text(t.rig.in / "a.jsonl"), input);
  EXPECT_EQ(read_text(t.rig.config), config);
  EXPECT_TRUE(fs::is_fifo(fifo));
  auto ok = run(t.rig.out / "fine.jsonl");  // control
  EXPECT_EQ(ok.code, 0) << ok.err;
}

}  // namespace
}  // namespace qkv::test
