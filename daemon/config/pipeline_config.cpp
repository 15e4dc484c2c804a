#include "pipeline_config.hpp"

#include <algorithm>
#include <string>
#include <system_error>

#include "document.hpp"
#include "section.hpp"

namespace qkv::config {
namespace fs = std::filesystem;

namespace {

// Keys of the bundled tokenizer plugins that name files (SCHEMA.md): checked here so that
// --check-config reports a missing vocabulary even without loading the plugin.
constexpr const char* kTokenizerPathKeys[] = {"ranks", "encoder_json", "vocab_bpe",
                                              "tokenizer_json", "vocab"};

void read_input(Section& s, PipelineConfig::Input& in) {
  if (auto v = s.choice("format", {"auto", "jsonl", "txt"}))
    in.format = *v == "jsonl" ? InputFormat::jsonl
                : *v == "txt" ? InputFormat::txt
                              : InputFormat::automatic;
  if (auto v = s.choice("invalid_utf8", {"error", "replace"})) in.replace_invalid = *v == "replace";
  if (auto v = s.choice("document", {"line", "paragraph", "file"}))
    in.document = *v == "paragraph" ? DocumentMode::paragraph
                  : *v == "file"    ? DocumentMode::file
                                    : DocumentMode::line;
  if (auto v = s.choice("on_error", {"fail", "skip"})) in.skip_bad_records = *v == "skip";
  if (auto v = s.integer("max_errors", 0, int64_t{1} << 40))
    in.max_errors = static_cast<uint64_t>(*v);
  if (auto v = s.string("id_field")) in.id_field = *v == "none" ? std::string() : *v;
  if (auto v = s.string("prefix")) in.prefix = *v;
  auto field = s.string("field");
  if (field) in.fields = {{"text", *field}};
  if (auto m = s.mapping("fields")) {
    if (field) s.error("fields", "expected either input.field or input.fields, not both");
    std::vector<std::pair<std::string, std::string>> fields;
    for (auto it = m->begin(); it != m->end(); ++it) {
      const std::string role = it->first.Scalar();
      if (!it->second.IsScalar() || it->second.Scalar().empty()) {
        s.document().error(it->second, "input.fields." + role, "expected a jsonl field name");
        continue;
      }
      fields.emplace_back(role, it->second.Scalar());
    }
    if (fields.empty())
      s.error("fields", "expected at least one role: jsonl field");
    else {
      in.fields = std::move(fields);
      in.multi_field = true;
    }
  }
}

// Whether the value at `key` came from a client (see ClientValues).
bool from_client(const Document& doc, ClientValues client, const std::string& key) {
  return client == ClientValues::all || (client == ClientValues::overrides && doc.overridden(key));
}

void mark_client_values(host::ConfigValue& v, const std::string& key, const Document& doc,
                        ClientValues client) {
  v.from_client = from_client(doc, client, key);
  for (size_t i = 0; i < v.items.size(); ++i)
    mark_client_values(v.items[i],
                       key + "." + (v.type == QKV_VALUE_MAP ? v.keys[i] : std::to_string(i)), doc,
                       client);
}

// `plugin:` (required) and `config:` of a section naming a plugin; returns the config mapping.
std::optional<YAML::Node> read_plugin(Section& s, PluginRef& ref, ClientValues client) {
  if (auto v = s.string("plugin", true)) {
    ref.plugin = *v;
    const YAML::Node section = s.node();
    ref.plugin_where = s.document().where(section["plugin"], s.key_path("plugin"));
  }
  auto m = s.mapping("config");
  if (m) ref.config = host::ConfigValue::from_yaml(*m);
  mark_client_values(ref.config, s.key_path("config"), s.document(), client);
  return m;
}

void read_tokenizer(Section& s, PipelineConfig::Tokenizer& t, ClientValues client) {
  if (auto v = s.boolean("from_model")) t.from_model = *v;
  if (auto v = s.choice("truncation_side", {"right", "left"})) t.truncate_left = *v == "left";
  if (t.from_model) {
    // The model folder names the plugin and its files; a second source would be ambiguous.
    for (const char* key : {"plugin", "config"})
      if (s.has(key))
        s.error(key, "expected no " + s.key_path(key) +
                         " with tokenizer.from_model: true (the model folder's tokenizer files "
                         "choose it)");
    s.raw("plugin");
    s.raw("config");
    t.config.type = QKV_VALUE_MAP;
  }
  auto m = t.from_model ? std::nullopt : read_plugin(s, t, client);
  if (t.config.type == QKV_VALUE_MISSING) t.config.type = QKV_VALUE_MAP;  // plugins get {}
  if (m) {
    for (const char* key : kTokenizerPathKeys) {
      YAML::Node v = std::as_const(*m)[key];
      if (!v.IsDefined() || !v.IsScalar()) continue;
      const std::string k = s.key_path("config") + "." + key;
      if (from_client(s.document(), client, k)) continue;  // checked by the path policy
      fs::path p = s.document().resolve(k, v.Scalar());
      std::error_code ec;
      if (!fs::is_regular_file(p, ec))
        s.document().error(v, k, "expected an existing file, but " + p.string() + " is not one");
    }
  }
  YAML::Node special = s.raw("special_tokens");
  if (special.IsDefined() && !special.IsNull()) {
    if (special.IsSequence()) {
      t.special = SpecialTokens::list;
      if (auto names = s.string_list("special_tokens")) t.special_names = *names;
    } else if (auto v = s.choice("special_tokens", {"default", "none", "all"})) {
      t.special = *v == "none"  ? SpecialTokens::none
                  : *v == "all" ? SpecialTokens::all
                                : SpecialTokens::default_;
    }
  }
  if (auto v = s.boolean("add_special")) t.add_special = *v;
  if (auto v = s.integer("max_length", 0, 0x7fffffff)) t.max_length = static_cast<uint32_t>(*v);
}

void read_model(Section& s, PipelineConfig::Model& m, ClientValues client) {
  m.path_from_client = from_client(s.document(), client, s.key_path("path"));
  // A client's folder is not looked for here: the path policy resolves it inside the roots.
  if (auto v = s.path("path", m.path_from_client ? PathKind::any : PathKind::directory, true)) {
    std::error_code ec;
    m.path = fs::absolute(*v, ec).lexically_normal();
  }
  static constexpr ModelOutput outputs[] = {ModelOutput::hidden,     ModelOutput::pooled,
                                            ModelOutput::pooled_cls, ModelOutput::pooled_mean,
                                            ModelOutput::pooled_max, ModelOutput::pooled_last,
                                            ModelOutput::logprobs,   ModelOutput::topk};
  if (auto v = s.choice("output", {"hidden", "pooled", "pooled_cls", "pooled_mean", "pooled_max",
                                   "pooled_last", "logprobs", "topk"}))
    for (auto o : outputs)
      if (*v == to_string(o)) m.output = o;
  if (auto v = s.boolean("normalize")) m.normalize = *v;
  if (auto v = s.integer("dimensions", 1, 1 << 20)) m.dimensions = static_cast<uint32_t>(*v);
  if (auto v = s.string("prompt_name")) {
    if (v->empty())
      s.error("prompt_name", "expected the name of a prompt of the model folder, got \"\"");
    else
      m.prompt_name = *v;
  }
  if (auto n = s.mapping("chunk")) {
    Section c(s.document(), *n, s.key_path("chunk"));
    if (auto v = c.integer("tokens", 1, 1 << 20, true)) m.chunk.tokens = static_cast<uint32_t>(*v);
    if (auto v = c.integer("overlap", 0, 1 << 20)) m.chunk.overlap = static_cast<uint32_t>(*v);
    if (m.chunk.tokens && m.chunk.overlap >= m.chunk.tokens)
      c.error("overlap", "expected fewer than model.chunk.tokens (" +
                             std::to_string(m.chunk.tokens) + "), got " +
                             std::to_string(m.chunk.overlap));
  }
  if (auto v = s.integer("topk", 1, 100000)) m.topk = static_cast<uint32_t>(*v);
  if (auto v = s.boolean("truncate")) m.truncate = *v;
  for (auto [key, ref] : {std::pair{"attention", &m.attention}, {"positional", &m.positional}}) {
    if (auto n = s.mapping(key)) {
      Section p(s.document(), *n, s.key_path(key));
      read_plugin(p, *ref, client);
    }
  }
}

}  // namespace

fs::path model_files(const PipelineConfig::Model& m) {
  if (m.pinned && *m.pinned) {
    fs::path fd_path = "/proc/self/fd/" + std::to_string(m.pinned->get());
    std::error_code ec;
    if (fs::is_directory(fd_path, ec)) return fd_path;
  }
  return m.path;
}

const char* to_string(OutputFormat f) {
  switch (f) {
    case OutputFormat::jsonl:
      return "jsonl";
    case OutputFormat::bin:
      return "bin";
    case OutputFormat::npy:
      return "npy";
    case OutputFormat::megatron:
      return "megatron";
  }
  return "?";
}

const char* to_string(ModelOutput o) {
  switch (o) {
    case ModelOutput::hidden:
      return "hidden";
    case ModelOutput::pooled:
      return "pooled";
    case ModelOutput::pooled_cls:
      return "pooled_cls";
    case ModelOutput::pooled_max:
      return "pooled_max";
    case ModelOutput::pooled_last:
      return "pooled_last";
    case ModelOutput::pooled_mean:
      return "pooled_mean";
    case ModelOutput::logprobs:
      return "logprobs";
    case ModelOutput::topk:
      return "topk";
  }
  return "?";
}

PipelineConfig load_pipeline_config(const fs::path& file, const Overrides& overrides,
                                    ClientValues client) {
  Document doc = Document::load(file, overrides);
  PipelineConfig c;
  std::error_code ec;
  c.file = fs::absolute(file, ec).lexically_normal();
  c.dir = doc.dir;
  c.name = file.stem().string();
  if (!doc.parsed) doc.throw_if_errors();
  {
    Section s(doc, doc.root, "");
    if (auto v = s.string("description")) c.description = *v;
    {
      Section in(doc, s.raw("input"), "input");
      read_input(in, c.input);
    }
    if (!s.has("tokenizer"))
      s.error("tokenizer",
              "expected a tokenizer mapping with at least `plugin:` (required key is missing)");
    {
      Section t(doc, s.raw("tokenizer"), "tokenizer");
      read_tokenizer(t, c.tokenizer, client);
    }
    YAML::Node model = s.raw("model");
    if (model.IsDefined() && !model.IsNull()) {
      Section m(doc, model, "model");
      if (m.valid()) {
        c.model = PipelineConfig::Model{};  // not emplace(): clang 14 sees Model as not
                                            // default-constructible here
        read_model(m, *c.model, client);
      }
    }
    if (c.tokenizer.from_model && !c.model)
      doc.error(std::as_const(doc.root)["tokenizer"]["from_model"], "tokenizer.from_model",
                "expected a `model:` section too: the tokenizer comes from model.path");
    if (c.model) {  // checks across sections
      const auto& md = *c.model;
      auto at = [&](const char* key) { return std::as_const(model)[key]; };
      if (md.prompt_name && !c.input.prefix.empty())
        doc.error(at("prompt_name"), "model.prompt_name",
                  "expected either input.prefix or model.prompt_name, not both (each puts a "
                  "text before the document)");
      const bool pooled = md.output != ModelOutput::hidden && md.output != ModelOutput::logprobs &&
                          md.output != ModelOutput::topk;
      if (md.chunk.tokens && !pooled)
        doc.error(at("chunk"), "model.chunk",
                  std::string("expected a pooled model.output with model.chunk (one vector per "
                              "window), got ") +
                      to_string(md.output));
      if (md.chunk.tokens && c.input.multi_field)
        doc.error(at("chunk"), "model.chunk",
                  "expected one input field with model.chunk, but input.fields names several");
    }
    YAML::Node generate = s.raw("generate");
    if (generate.IsDefined() && !generate.IsNull()) {
      Section g(doc, generate, "generate");
      if (g.valid()) {
        c.generate = GenerateOptions{};
        read_generate(g, *c.generate);
      }
      if (!c.model)
        s.error("generate", "expected a `model:` section too: generation needs a model");
      else if (c.model->chunk.tokens)
        s.error("generate", "expected no model.chunk: a generation pipeline continues documents");
    }
    YAML::Node target = s.raw("target_tokenizer");
    if (target.IsDefined() && !target.IsNull()) {
      Section t(doc, target, "target_tokenizer");
      if (t.valid()) {
        c.target_tokenizer = PipelineConfig::Tokenizer{};
        read_tokenizer(t, *c.target_tokenizer, client);
        if (c.target_tokenizer->from_model)
          t.error("from_model",
                  "expected a plugin: with tokenizer.from_model: true the model folder's "
                  "target.spm already serves the target side");
      }
      if (!c.model || (c.input.fields.size() < 2 && !c.generate))
        s.error("target_tokenizer",
                "expected an encoder-decoder pipeline (a model with input.fields naming the "
                "decoder's field, e.g. tgt, or a generate section): nothing else reads the "
                "target side");
    }
    Section out(doc, s.raw("output"), "output");
    if (auto v = out.choice("format", {"jsonl", "bin", "npy", "megatron"}))
      c.output.format = *v == "bin"        ? OutputFormat::bin
                        : *v == "npy"      ? OutputFormat::npy
                        : *v == "megatron" ? OutputFormat::megatron
                                           : OutputFormat::jsonl;
    if (auto v = out.boolean("offsets")) c.output.offsets = *v;
    if (auto v = out.boolean("overwrite")) c.output.overwrite = *v;
    if (auto v = out.boolean("inline_id")) c.output.inline_id = *v;
    if (auto v = out.string("separator")) {
      using Kind = PipelineConfig::Output::Separator::Kind;
      auto& sep = c.output.separator;
      if (*v == "none") {
        sep.kind = Kind::none;
      } else if (!v->empty() && v->size() <= 9 && std::all_of(v->begin(), v->end(), [](char ch) {
                   return ch >= '0' && ch <= '9';
                 })) {
        sep.kind = Kind::id;
        sep.id = std::stoi(*v);
      } else if (!v->empty()) {
        sep.kind = Kind::token;
        sep.token = *v;
      } else {
        out.error("separator", "expected none, a token (e.g. <|endoftext|>) or an id");
      }
    }
    // An explicit format is checked here; one that comes from the output's extension is
    // checked by the same rules when the job starts (pipeline/output_format.cpp).
    const bool has_model = model.IsDefined() && !model.IsNull() && !c.generate;
    if (c.output.format) {
      const OutputFormat f = *c.output.format;
      if (c.generate && f != OutputFormat::jsonl)
        out.error("format", "expected jsonl: a generation pipeline writes generation jsonl");
      if (has_model && f != OutputFormat::npy)
        out.error("format", "expected npy: a pipeline with a model writes dense vectors");
      if (!has_model && f == OutputFormat::npy)
        out.error("format", "expected jsonl, bin or megatron: npy needs a `model:` section");
      if (c.output.offsets && f != OutputFormat::jsonl)
        out.error("offsets", "expected false: offsets are written only with output.format jsonl");
      if ((f == OutputFormat::bin || f == OutputFormat::megatron) && c.input.multi_field)
        out.error("format",
                  "expected jsonl: a .bin holds one id stream, but input.fields names several");
    }
    if (has_model && c.output.offsets)
      out.error("offsets", "expected false: a pipeline with a model writes dense vectors");
    if (c.output.inline_id) {
      // Only ids jsonl records have room for the id; every other output gets OUT.ids.jsonl.
      const char* bare = "expected false: output.inline_id puts the id into ids jsonl records, ";
      if (c.generate)
        out.error("inline_id", std::string(bare) +
                                   "a generation pipeline writes generation jsonl; its ids go to "
                                   "OUT.ids.jsonl");
      else if (has_model)
        out.error("inline_id", std::string(bare) +
                                   "a pipeline with a model writes dense vectors; their ids go to "
                                   "OUT.ids.jsonl");
      else if (c.output.format && *c.output.format != OutputFormat::jsonl)
        out.error("inline_id", std::string(bare) + "but output.format is " +
                                   to_string(*c.output.format) + "; its ids go to OUT.ids.jsonl");
      else if (c.input.id_field.empty())
        out.error("inline_id",
                  "expected false: input.id_field is none, so there is no id to "
                  "put into the records");
    }
    Section b(doc, s.raw("batch"), "batch");
    if (auto v = b.integer("documents", 1, 1000000)) c.batch.documents = static_cast<uint32_t>(*v);
    if (auto v = b.integer("max_tokens", 1, 1 << 30))
      c.batch.max_tokens = static_cast<uint32_t>(*v);
  }
  doc.throw_if_errors();
  return c;
}

bool looks_like_pipeline(const fs::path& file) {
  try {
    YAML::Node root = YAML::LoadFile(file.string());
    return root.IsMap() && (root["tokenizer"] || root["input"] || root["output"]);
  } catch (const std::exception&) {
    return false;
  }
}

bool names_pipeline_file(const std::string& name_or_path) {
  const auto ext = fs::path(name_or_path).extension();
  return name_or_path.find('/') != std::string::npos || ext == ".yaml" || ext == ".yml";
}

fs::path resolve_pipeline(const std::string& name_or_path, const fs::path& dir,
                          struct stat* found) {
  struct stat ignored {};
  struct stat& st = found ? *found : ignored;
  auto exists = [&](const fs::path& p) {
    if (::stat(p.c_str(), &st) == 0) return true;
    st = {};
    return false;
  };
  fs::path p(name_or_path);
  if (names_pipeline_file(name_or_path)) {
    if (found) exists(p);
    return p;
  }
  for (const char* e : {".yaml", ".yml"}) {
    fs::path candidate = dir / (name_or_path + e);
    if (exists(candidate)) return candidate;
  }
  return dir / (name_or_path + ".yaml");
}

std::vector<fs::path> list_pipelines(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace qkv::config
