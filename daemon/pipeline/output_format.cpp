#include "pipeline/output_format.hpp"

#include <string>

#include "pipeline/run_job.hpp"

namespace qkv::pipeline::detail {
namespace fs = std::filesystem;
using config::OutputFormat;

namespace {

std::optional<OutputFormat> format_of_extension(const fs::path& output) {
  const std::string ext = output.extension().string();
  if (ext == ".jsonl") return OutputFormat::jsonl;
  if (ext == ".bin") return OutputFormat::bin;
  if (ext == ".npy") return OutputFormat::npy;
  return std::nullopt;
}

}  // namespace

OutputFormat output_format_for(const config::PipelineConfig& p, const fs::path& output) {
  const std::string where = "output " + output.string() + ": ";
  const std::optional<OutputFormat> by_ext = format_of_extension(output);
  OutputFormat f;
  if (output == "-") {  // `qkvd run -o -`: stdout takes JSON lines only
    const bool model = p.model && !p.generate;
    if (model || (p.output.format && *p.output.format != OutputFormat::jsonl))
      throw JobFailed(
          "-o - writes ids jsonl (or generation jsonl) to stdout, but pipeline " + p.name +
          (model ? std::string(" runs a model, whose outputs are .npy")
                 : " sets output.format: " + std::string(config::to_string(*p.output.format))) +
          "; give -o FILE");
    f = OutputFormat::jsonl;
  } else if (p.output.format) {
    f = *p.output.format;
    if (f == OutputFormat::megatron) {
      if (by_ext != OutputFormat::bin)
        throw JobFailed(where + "Megatron data is OUT.bin + OUT.idx: name the output *.bin");
    } else if (by_ext && *by_ext != f) {
      throw JobFailed(where + "the extension says " + config::to_string(*by_ext) +
                      ", but pipeline " + p.name + " sets output.format: " + config::to_string(f) +
                      "; rename the output or change output.format");
    }
  } else if (by_ext) {
    f = *by_ext;
  } else {
    throw JobFailed(where + "cannot tell the format from the extension '" +
                    output.extension().string() +
                    "'; use .jsonl (ids), .bin (training ids) or .npy (model outputs), or set "
                    "output.format");
  }
  if (p.generate) {
    if (f != OutputFormat::jsonl)
      throw JobFailed(where + "pipeline " + p.name +
                      " generates text, written as generation jsonl: name the output *.jsonl");
    return f;
  }
  const bool model = p.model.has_value();
  if (model && f != OutputFormat::npy)
    throw JobFailed(where + "pipeline " + p.name +
                    " runs a model, whose outputs are dense vectors: name the output *.npy");
  if (!model && f == OutputFormat::npy)
    throw JobFailed(where + ".npy holds model outputs, but pipeline " + p.name +
                    " has no model: use .jsonl or .bin");
  if (p.output.offsets && f != OutputFormat::jsonl)
    throw JobFailed(where + "output.offsets are written only to .jsonl outputs");
  if (p.output.inline_id && f != OutputFormat::jsonl)
    throw JobFailed(where +
                    "output.inline_id puts the id into ids jsonl records, but this "
                    "output is " +
                    config::to_string(f) +
                    "; drop output.inline_id (the ids then go to OUT.ids.jsonl) or name the "
                    "output *.jsonl");
  if ((f == OutputFormat::bin || f == OutputFormat::megatron) && p.input.multi_field)
    throw JobFailed(where + "a .bin holds one id stream, but pipeline " + p.name +
                    " reads several fields (input.fields); use .jsonl");
  return f;
}

std::optional<int32_t> document_separator(const config::PipelineConfig& p, const Tokenizer& t) {
  using Kind = config::PipelineConfig::Output::Separator::Kind;
  const auto& sep = p.output.separator;
  switch (sep.kind) {
    case Kind::none:
      return std::nullopt;
    case Kind::id:
      if (sep.id < 0 || static_cast<uint32_t>(sep.id) >= t.vocab_size())
        throw JobFailed("pipeline " + p.name + ": output.separator " + std::to_string(sep.id) +
                        " is not an id of the vocabulary (it has " +
                        std::to_string(t.vocab_size()) + ")");
      return sep.id;
    case Kind::token: {
      const int32_t id = t.token_id(sep.token);
      if (id < 0)
        throw JobFailed("pipeline " + p.name + ": output.separator '" + sep.token +
                        "' is not a token of the vocabulary");
      return id;
    }
    case Kind::default_:
      break;
  }
  if (t.eos_id() >= 0) return t.eos_id();
  if (t.sep_id() >= 0) return t.sep_id();
  return std::nullopt;
}

}  // namespace qkv::pipeline::detail
