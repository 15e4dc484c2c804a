// The encode direction: text documents -> ids or model outputs, written by the io/ writer of the
// pipeline's output format (io/output_writer.hpp), or returned inline.
#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdio>
#include <optional>

#include "io/atomic_file.hpp"
#include "io/json_fields.hpp"
#include "io/output_writer.hpp"
#include "io/stdout_stream.hpp"
#include "io/utf8.hpp"
#include "pipeline/buffer_pool.hpp"
#include "pipeline/document_text.hpp"
#include "pipeline/generate_documents.hpp"
#include "pipeline/job_context.hpp"
#include "pipeline/manifest.hpp"
#include "pipeline/output_format.hpp"
#include "pipeline/run_job.hpp"
#include "pipeline/token_window.hpp"

namespace qkv::pipeline::detail {
namespace {

constexpr size_t kChunkBytes = 8u << 20;  // a chunk also ends after this many input bytes

void append_float(std::string& out, float v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// Rows [row, row + n) of a tensor as JSON: a vector, or a list of vectors.
void append_rows(std::string& out, const StageTensor& t, int64_t row, int64_t n) {
  auto row_json = [&](int64_t r) {
    if (t.width == 1) {
      append_float(out, t.values[r]);
      return;
    }
    out += '[';
    for (uint32_t i = 0; i < t.width; ++i) {
      if (i) out += ',';
      append_float(out, t.values[r * t.width + i]);
    }
    out += ']';
  };
  if (t.per_document && n == 1) {
    row_json(row);
    return;
  }
  out += '[';
  for (int64_t r = 0; r < n; ++r) {
    if (r) out += ',';
    row_json(row + r);
  }
  out += ']';
}

// A record's keys: the field roles when the pipeline reads several fields, else none (a bare
// list of ids).
std::vector<std::string> output_keys(const config::PipelineConfig& p) {
  std::vector<std::string> keys;
  if (p.input.multi_field)
    for (const auto& [role, field] : p.input.fields) keys.push_back(role);
  return keys;
}

// The one place the writer is chosen, for the job's output format and separator
// (pipeline/output_format.hpp).
std::unique_ptr<io::OutputWriter> make_writer(const config::PipelineConfig& p,
                                              const io::OutputTarget& output,
                                              config::OutputFormat format,
                                              std::optional<int32_t> separator,
                                              uint32_t vocab_size) {
  switch (format) {
    case config::OutputFormat::jsonl:
      return io::make_ids_jsonl_writer(output, output_keys(p), p.output.offsets,
                                       p.output.inline_id);
    case config::OutputFormat::bin:
      return io::make_ids_bin_writer(output, vocab_size > 65536, separator);
    case config::OutputFormat::megatron:
      return io::make_megatron_writer(output, vocab_size, separator);
    case config::OutputFormat::npy:
      return io::make_tensor_npy_writer(output, p.model && p.model->chunk.tokens != 0);
  }
  throw JobFailed("pipeline " + p.name + ": unknown output format");
}

bool is_training_format(config::OutputFormat f) {
  return f == config::OutputFormat::bin || f == config::OutputFormat::megatron;
}

void append_stage(StageOutput& into, StageOutput&& part) {
  into.truncated_documents += part.truncated_documents;
  if (into.tensors.empty()) {
    into.tensors = std::move(part.tensors);
    return;
  }
  for (size_t i = 0; i < into.tensors.size() && i < part.tensors.size(); ++i) {
    auto& a = into.tensors[i];
    auto& b = part.tensors[i];
    a.values.insert(a.values.end(), b.values.begin(), b.values.end());
    a.row_counts.insert(a.row_counts.end(), b.row_counts.begin(), b.row_counts.end());
  }
}

class Encoder {
 public:
  explicit Encoder(JobContext& ctx) : ctx_(ctx), p_(ctx.pipeline) {
    for (const auto& [role, field] : p_.input.fields) field_names_.push_back(field);
    if (!ctx.spec.inputs.empty()) {
      const io::Framing framing = input_framing(p_);
      try {
        inputs_ = io::expand_inputs(ctx.spec.inputs, framing.forced(), ctx.std_streams);
      } catch (const std::exception& e) {
        throw JobFailed(e.what());
      }
      if (const auto& slice = ctx.spec.slice) {  // a shard: its byte range of the inputs
        inputs_.front().begin = slice->begin;
        inputs_.back().end = slice->end;
        next_doc_ = slice->first_document.value_or(0);
      }
      for (const auto& in : inputs_) {
        input_bytes_ += in.bytes();
        from_stdin_ = from_stdin_ || in.stdin_stream;
      }
      ctx.progress.bytes_total = input_bytes_;
      stream_.emplace(inputs_, ctx.input_opener(), ctx.input_limits, framing.txt);
      if (p_.input.multi_field)
        for (const auto& in : inputs_)
          if (in.format == io::TextFormat::txt)
            throw JobFailed(in.path.string() +
                            ": a .txt input has one text per line, but pipeline " + p_.name +
                            " reads several fields (input.fields); use .jsonl");
    } else {
      if (p_.input.multi_field)
        throw JobFailed("pipeline " + p_.name +
                        " reads several fields (input.fields); inline texts give only one");
      for (const auto& t : ctx.spec.texts) input_bytes_ += t.size();
      ctx.progress.documents_total = ctx.spec.texts.size();
      ctx.progress.bytes_total = input_bytes_;
    }
    record_keys_ = output_keys(p_);
    // A jsonl input may carry ids; they go to OUT.ids.jsonl unless the records hold them.
    for (const auto& in : inputs_)
      if (in.format == io::TextFormat::jsonl && !p_.input.id_field.empty()) reads_ids_ = true;
    ids_file_wanted_ = reads_ids_ && !p_.output.inline_id && !ctx.to_stdout();
    set_up_text();
  }

  JobResult run() {
    const bool inline_job = ctx_.spec.inputs.empty();
    if (!inline_job) {
      if (ctx_.spec.output.empty()) throw JobFailed("no output path given");
      try {
        format_ = output_format_for(p_, ctx_.spec.output);
        if (is_training_format(format_)) separator_ = document_separator(p_, *ctx_.tokenizer);
        if (ctx_.to_stdout())  // ids or generation records, chunk by chunk; no companions
          writer_ = io::make_stdout_writer(output_keys(p_), p_.output.offsets, p_.output.inline_id);
        else
          writer_ = p_.generate ? io::make_generation_jsonl_writer(ctx_.open_output(inputs_))
                                : make_writer(p_, ctx_.open_output(inputs_), format_, separator_,
                                              ctx_.tokenizer->vocab_size());
        // Always written when skipping, so an old run's rejects never outlive it.
        if (p_.input.skip_bad_records && !ctx_.to_stdout())
          rejects_ = &writer_->add_companion(".rejects.jsonl");
      } catch (const JobFailed&) {
        throw;
      } catch (const io::PathError&) {
        throw;  // keeps its code (path_denied, output_exists...)
      } catch (const std::exception& e) {
        throw JobFailed(e.what());
      }
    }
    JobResult result;
    result.input_bytes = input_bytes_;
    if (p_.generate) start_generation(result, inline_job);

    auto read = [&](Chunk& c) { return read_chunk(c); };
    auto work = [&](Chunk& c) { encode_chunk(c); };
    auto write = [&](Chunk& c) {
      documents_with_id_ += c.ids_present;
      if (ids_file_wanted_) write_ids(c);
      for (uint32_t f : c.doc_files) {
        if (f >= documents_per_input_.size()) documents_per_input_.resize(f + 1);
        ++documents_per_input_[f];
      }
      result.documents += c.documents();
      result.tokens += c.tokens;
      result.truncated += c.truncated + c.model_out.truncated_documents;
      if (c.rejected) write_rejects(c, result);
      if (generation_) {
        for (auto& pr : c.prompts) generation_->add(pr.doc, std::move(pr.ids), std::move(pr.where));
        generation_->run(p_.batch.documents);  // decode while the next chunks are read
        if (c.bytes_done) ctx_.progress.bytes_done = c.bytes_done;
        return;
      }
      if (inline_job) {
        for (auto& r : c.records) result.inline_results.push_back(std::move(r));
      } else {
        write_chunk(c);
        out_buffers_.give(std::move(c.out));
      }
      ctx_.progress.documents_done += c.documents();
      if (c.bytes_done) ctx_.progress.bytes_done = c.bytes_done;
    };
    try {
      run_chunks(ctx_, read, work, write);
      if (generation_) {
        // The rest of the generation runs in the job's arena too, so --threads bounds it (the
        // attention plugins' loops otherwise spread over the whole machine's default arena).
        auto drain = [&] { generation_->run(0); };
        if (ctx_.arena)
          ctx_.arena->execute(drain);
        else
          drain();
        result.generated_tokens = generation_->generated_tokens();
      }
      if (from_stdin_) {  // its size is what was read (the manifest's "bytes" too)
        inputs_ = stream_->inputs();
        input_bytes_ = 0;
        for (const auto& in : inputs_) input_bytes_ += in.bytes();
        result.input_bytes = input_bytes_;
      }
      ctx_.progress.bytes_done = input_bytes_;
      if (inline_job) return result;
      if (ctx_.to_stdout()) {  // no manifest: say which companion a file output would have had
        if (reads_ids_ && !p_.output.inline_id && documents_with_id_ > 0)
          result.not_written.push_back("OUT.ids.jsonl");
        result.outputs = {"-"};
        return result;
      }
      if (!ids_file_) writer_->retire_companion(".ids.jsonl");  // an old run's ids never outlive it
      auto manifest = make_manifest(ctx_.spec, p_, inputs_, result, writer_->dtype());
      manifest["tokenizer"] = tokenizer_json(*ctx_.tokenizer, p_);
      add_document_ranges(manifest, documents_per_input_);
      manifest["format"] = p_.generate ? "generation-jsonl" : config::to_string(format_);
      if (!text_.prefix().empty()) manifest["prefix"] = text_.prefix();
      if (chunk_tokens_)
        manifest["chunk"] = {{"tokens", chunk_tokens_},
                             {"overlap", p_.model->chunk.overlap},
                             {"windows", windows_written_}};
      if (p_.generate) manifest["generated_tokens"] = result.generated_tokens;
      if (p_.input.skip_bad_records) manifest["rejected_records"] = result.rejected;
      manifest["id_field"] =
          reads_ids_ ? nlohmann::json(p_.input.id_field) : nlohmann::json(nullptr);
      manifest["documents_with_id"] = documents_with_id_;
      if (is_training_format(format_))
        manifest["separator"] = separator_ ? nlohmann::json(*separator_) : nlohmann::json(nullptr);
      auto paths = writer_->commit(std::move(manifest));
      for (auto& p : paths) result.outputs.push_back(p.string());
    } catch (const std::exception& e) {
      if (dynamic_cast<const JobFailed*>(&e) || dynamic_cast<const JobCancelled*>(&e) ||
          dynamic_cast<const io::PathError*>(&e) || dynamic_cast<const io::StreamClosed*>(&e))
        throw;
      throw JobFailed(e.what());  // I/O errors (e.g. a full disk), with the file named
    }
    return result;
  }

 private:
  // The prefix (input.prefix or the model folder's prompt) and lower-casing documents get
  // before tokenizing; the tokenizer's specials of the empty text (truncation and windows keep
  // them at the ends).
  void set_up_text() {
    std::string prefix = p_.input.prefix;
    bool lower = false;
    if (ctx_.model && p_.model) {
      const TextConventions t = ctx_.model->text_conventions();
      lower = t.lower_case;
      // An explicit prompt name, else the folder's default unless input.prefix replaces it.
      const std::string name =
          p_.model->prompt_name.value_or(prefix.empty() ? t.default_prompt_name : "");
      if (!name.empty()) {
        auto it = t.prompts.find(name);
        if (it == t.prompts.end()) {
          std::string known;
          for (const auto& [n, text] : t.prompts) known += (known.empty() ? "" : ", ") + n;
          throw JobFailed(p_.file.string() + ": model.prompt_name: '" + name +
                          "' is not a prompt of " + p_.model->path.string() +
                          "/config_sentence_transformers.json (prompts: " +
                          (known.empty() ? std::string("none") : known) + ")");
        }
        prefix = it->second;
      }
      try {
        ctx_.tokenizer->encode("", empty_ids_, nullptr);
        if (ctx_.target_tokenizer) ctx_.target_tokenizer->encode("", target_empty_ids_, nullptr);
      } catch (const std::exception& e) {
        throw JobFailed(std::string("the tokenizer cannot encode the empty text: ") + e.what());
      }
      chunk_tokens_ = p_.model->chunk.tokens;
      // A Pooling module with include_prompt: false (INSTRUCTOR-style folders) pools without
      // the prompt's tokens. SentenceTransformer.encode passes prompt_length =
      // len(tokenize([prompt])["input_ids"][0]) - 1: the prompt with the tokenizer's specials,
      // less one (its trailing [SEP]); Pooling zeroes that many first mask positions.
      if (!t.include_prompt && !prefix.empty()) {
        if (chunk_tokens_)
          throw JobFailed(p_.file.string() + ": model.chunk with " + p_.model->path.string() +
                          "'s Pooling include_prompt: false is not supported (the prompt is in "
                          "the first window only); unset model.chunk or the prompt");
        DocumentText::Prepared prompt;
        DocumentText("", lower).prepare(prefix, prompt);
        std::vector<int32_t> prompt_ids;
        try {
          ctx_.tokenizer->encode(prompt.text(), prompt_ids, nullptr);
        } catch (const std::exception& e) {
          throw JobFailed("the tokenizer cannot encode the prompt '" + prefix + "': " + e.what());
        }
        unpooled_ = prompt_ids.empty() ? 0 : static_cast<uint32_t>(prompt_ids.size() - 1);
      }
      const size_t limit = ctx_.model->max_tokens(0);
      if (chunk_tokens_ && limit && chunk_tokens_ > limit)
        throw JobFailed(
            p_.file.string() + ": model.chunk.tokens: " + std::to_string(chunk_tokens_) +
            " is more than the model's " + std::to_string(limit) + " tokens per document");
      if (chunk_tokens_ && chunk_tokens_ <= empty_ids_.size() + p_.model->chunk.overlap)
        throw JobFailed(
            p_.file.string() + ": model.chunk.tokens: " + std::to_string(chunk_tokens_) +
            " leaves no text in a window after " + std::to_string(empty_ids_.size()) +
            " special tokens and an overlap of " + std::to_string(p_.model->chunk.overlap));
    }
    text_ = DocumentText(prefix, lower);
    other_text_ = DocumentText("", lower);
  }

  bool read_chunk(Chunk& c) {
    c.first_doc = next_doc_;
    size_t bytes = 0;
    const size_t max_docs = p_.batch.documents;
    if (!stream_) {
      const auto& texts = ctx_.spec.texts;
      while (c.lines.size() < max_docs && next_doc_ < texts.size()) {
        io::RawLine l;
        l.bytes = texts[next_doc_];
        l.line = next_doc_++;
        c.lines.push_back(std::move(l));
      }
      return next_doc_ < texts.size();
    }
    while (c.lines.size() < max_docs && bytes < kChunkBytes) {
      // Stdin: a chunk also ends when no more input is there now, so output is not held back.
      if (from_stdin_ && !c.lines.empty() && !stream_->ready(io::kStdinStallMs)) break;
      io::RawLine l;
      bool more;
      try {
        more = stream_->next(l);
      } catch (const io::PathError&) {
        throw;  // refused where opened: keeps its code (path_denied)
      } catch (const std::exception& e) {
        c.error = e.what();
        return false;
      }
      if (!more) {
        c.bytes_done = input_bytes_;
        return false;
      }
      bytes += l.bytes.size() + 1;
      ++next_doc_;
      const auto& in = inputs_[l.file];
      if (io::compression_of(in.path) == io::Compression::none)
        c.bytes_done = stream_->bytes_done() + l.offset - in.begin + l.bytes.size() + 1;
      c.lines.push_back(std::move(l));
    }
    if (c.bytes_done == 0) c.bytes_done = stream_->bytes_done();
    return true;
  }

  // The texts of one record under the UTF-8 policy; what is wrong with the record, if anything.
  // `id`: the record's input.id_field as JSON, "" when it has none.
  std::optional<std::string> texts_of(Chunk& c, size_t i, std::vector<std::string>& texts,
                                      std::string& id) {
    io::RawLine& l = c.lines[i];
    const bool jsonl = stream_ && inputs_[l.file].format == io::TextFormat::jsonl;
    texts.clear();
    id.clear();
    if (jsonl) {
      io::FieldsResult r = io::extract_fields(l.bytes, field_names_, p_.input.replace_invalid,
                                              reads_ids_ ? p_.input.id_field : std::string_view());
      if (!r.error.empty()) return r.error;
      if (r.invalid)
        return "invalid UTF-8 in field \"" + field_names_[r.invalid->field] + "\" at byte " +
               std::to_string(r.invalid->doc_offset) + " of the document's text (byte " +
               std::to_string(l.offset + r.invalid->line_offset) +
               " of the file); set input.invalid_utf8: replace to turn invalid bytes into U+FFFD";
      texts = std::move(r.texts);
      id = std::move(r.id);
      return std::nullopt;
    }
    const size_t bad = io::utf8_first_invalid(l.bytes);
    if (bad != l.bytes.size()) {
      if (!p_.input.replace_invalid)
        return "invalid UTF-8 at byte " + std::to_string(bad) + " of the document's text" +
               (stream_ ? " (byte " + std::to_string(l.offset + bad) + " of the file)"
                        : std::string()) +
               "; set input.invalid_utf8: replace to turn invalid bytes into U+FFFD";
      texts.push_back(io::utf8_repair(l.bytes));
    } else {
      texts.push_back(std::move(l.bytes));
    }
    return std::nullopt;
  }

  // A record that cannot become a document: with input.on_error: skip (file jobs) it goes to
  // the chunk's rejects and the caller moves on (true); else it fails the job (false).
  bool bad_record(Chunk& c, size_t i, const std::string& what) {
    if (!p_.input.skip_bad_records || !stream_) {
      c.error = doc_error(c, i, what);
      return false;
    }
    const io::RawLine& l = c.lines[i];
    const nlohmann::json reject{{"file", inputs_[l.file].path.string()},
                                {"line", l.line + 1},
                                {"byte_offset", l.offset},
                                {"error", what}};
    c.rejects += reject.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    c.rejects += '\n';
    ++c.rejected;
    return true;
  }

  std::string doc_error(const Chunk& c, size_t i, const std::string& what) const {
    return ctx_.where(c, i, inputs_) + ": document " + std::to_string(c.first_doc + i) + ": " +
           what;
  }

  void encode_chunk(Chunk& c) {
    const size_t n = c.documents();
    const size_t nf = field_names_.size();
    const bool inline_job = !stream_;
    const bool model = ctx_.model != nullptr;
    // Inline results are always id records; files are as their writer wants.
    const bool offsets = !model && (inline_job ? p_.output.offsets : writer_->wants_offsets());
    const bool chunking = model && chunk_tokens_ != 0;
    DocumentText::Prepared prepared;
    std::vector<int32_t> window;
    std::vector<std::string> texts;
    std::string id;
    std::vector<std::vector<int32_t>> ids(nf);
    std::vector<std::vector<uint32_t>> offs(nf);
    TokenBatch batch;
    if (model) {
      batch.ids.resize(nf);
      batch.cu_seqlens.assign(nf, std::vector<int32_t>{0});
    }
    c.doc_tokens.reserve(n);
    if (!inline_job && !model && !generation_) {
      // Ids as text take about 1.5x their input's bytes (more for CJK); room for 2x up front
      // spares most regrowth, and a reused buffer is already faulted in.
      size_t in_bytes = 0;
      for (const auto& l : c.lines) in_bytes += l.bytes.size();
      c.out = out_buffers_.take(2 * in_bytes + 4096);
    }
    for (size_t i = 0; i < n; ++i) {
      if (ctx_.cancel()) {
        c.cancelled = true;
        return;
      }
      if (auto bad = texts_of(c, i, texts, id)) {
        if (bad_record(c, i, *bad)) continue;
        return;
      }
      int64_t doc_tokens = 0;
      bool doc_truncated = false;
      std::optional<std::string> rejected;
      for (size_t f = 0; f < nf; ++f) {
        ids[f].clear();
        offs[f].clear();
        try {
          (f == 0 ? text_ : other_text_).prepare(texts[f], prepared);
          const bool with_offsets = offsets || (chunking && f == 0);
          ctx_.tokenizer_for(f).encode(prepared.text(), ids[f], with_offsets ? &offs[f] : nullptr);
          if (with_offsets) prepared.map_offsets(offs[f]);
        } catch (const std::exception& e) {
          rejected = e.what();
          break;
        }
        if (generation_ && f == 0 && !encoder_decoder_) {
          if (auto bad = fit_prompt(ids[f], doc_truncated)) {
            rejected = std::move(bad);
            break;
          }
        } else if (model && !(chunking && f == 0)) {
          const size_t limit = ctx_.model->max_tokens(f);
          if (limit && ids[f].size() > limit) {
            if (!p_.model->truncate) {
              rejected = "has " + std::to_string(ids[f].size()) +
                         " tokens, the model takes at most " + std::to_string(limit) +
                         "; set model.truncate: true to cut such documents";
              break;
            }
            truncate_tokens(ids[f], offsets ? &offs[f] : nullptr, limit,
                            special_frame(ids[f], f > 0 && ctx_.target_tokenizer ? target_empty_ids_
                                                                                 : empty_ids_),
                            p_.tokenizer.truncate_left);
            doc_truncated = true;
          }
        }
        doc_tokens += static_cast<int64_t>(ids[f].size());
      }
      if (rejected) {
        if (bad_record(c, i, *rejected)) continue;
        return;
      }
      if (doc_truncated) ++c.truncated;
      c.tokens += static_cast<uint64_t>(doc_tokens);
      c.doc_tokens.push_back(doc_tokens);
      c.doc_files.push_back(c.lines[i].file);
      const size_t id_lines_before = c.id_lines.size();
      c.ids_present += !id.empty();
      if (ids_file_wanted_) {
        c.id_lines += id.empty() ? std::string_view("null") : std::string_view(id);
        c.id_lines += '\n';
      }
      if (generation_) {
        c.prompts.push_back({c.first_doc + i, std::move(ids[0]), ctx_.where(c, i, inputs_)});
        ids[0] = {};
        continue;
      }
      if (chunking) {
        if (!add_windows(c, batch, ids[0], offs[0], window)) return;
        continue;
      }
      if (model) {
        // Start a new model batch when this document would overflow the current one.
        const size_t in_batch = batch.ids[0].size();
        if (in_batch > 0 && in_batch + ids[0].size() > p_.batch.max_tokens && !run_model(c, batch))
          return;
        for (size_t f = 0; f < nf; ++f) {
          batch.ids[f].insert(batch.ids[f].end(), ids[f].begin(), ids[f].end());
          batch.cu_seqlens[f].push_back(static_cast<int32_t>(batch.ids[f].size()));
        }
        if (unpooled_) batch.unpooled.push_back(unpooled_);
        continue;
      }
      const io::DocumentIds doc{ids, offs, id};
      if (inline_job) {
        std::string record;
        io::append_ids_record(record, doc, record_keys_, offsets);
        c.records.push_back(std::move(record));
        continue;
      }
      const size_t out_before = c.out.size();
      try {
        c.doc_tokens.back() = writer_->append_document(c.out, doc);
      } catch (const std::exception& e) {
        c.out.resize(out_before);  // no partial row
        c.doc_tokens.pop_back();
        c.doc_files.pop_back();
        c.id_lines.resize(id_lines_before);
        c.ids_present -= !id.empty();
        c.tokens -= static_cast<uint64_t>(doc_tokens);
        if (doc_truncated) --c.truncated;
        if (bad_record(c, i, e.what())) continue;
        return;
      }
    }
    if (generation_) return;
    if (model && !run_model(c, batch)) return;
    if (model && inline_job) inline_model_records(c);
  }

  // model.chunk: one sequence per window of the document (its specials around each), and the
  // window's document and byte range.
  bool add_windows(Chunk& c, TokenBatch& batch, const std::vector<int32_t>& ids,
                   const std::vector<uint32_t>& offs, std::vector<int32_t>& window) {
    const SpecialFrame frame = special_frame(ids, empty_ids_);
    const int64_t doc = static_cast<int64_t>(c.doc_tokens.size()) - 1;  // within the chunk
    for (const TokenWindow& w :
         token_windows(ids.size(), frame, chunk_tokens_, p_.model->chunk.overlap)) {
      window.assign(ids.begin(), ids.begin() + long(frame.head));
      window.insert(window.end(), ids.begin() + long(w.begin), ids.begin() + long(w.end));
      window.insert(window.end(), ids.end() - long(frame.tail), ids.end());
      const size_t in_batch = batch.ids[0].size();
      if (in_batch > 0 && in_batch + window.size() > p_.batch.max_tokens && !run_model(c, batch))
        return false;
      batch.ids[0].insert(batch.ids[0].end(), window.begin(), window.end());
      batch.cu_seqlens[0].push_back(static_cast<int32_t>(batch.ids[0].size()));
      const bool text = w.end > w.begin && offs.size() >= 2 * w.end;
      c.windows.insert(c.windows.end(), {doc, text ? int64_t(offs[2 * w.begin]) : 0,
                                         text ? int64_t(offs[2 * w.end - 1]) : 0});
    }
    return true;
  }

  bool run_model(Chunk& c, TokenBatch& batch) {
    if (batch.documents() == 0) return true;
    try {
      append_stage(c.model_out, ctx_.model->run(batch));
    } catch (const std::exception& e) {
      c.error =
          "model stage failed on documents " + std::to_string(c.first_doc) + "..: " + e.what();
      return false;
    }
    for (size_t f = 0; f < batch.ids.size(); ++f) {
      batch.ids[f].clear();
      batch.cu_seqlens[f].assign(1, 0);
    }
    batch.unpooled.clear();
    return true;
  }

  void inline_model_records(Chunk& c) {
    if (c.model_out.tensors.empty()) return;
    const StageTensor& t = c.model_out.tensors[0];
    if (!c.windows.empty()) {  // model.chunk: a list of the document's window vectors
      for (size_t w = 0; w < c.windows.size() / 3;) {
        const int64_t doc = c.windows[3 * w];
        int64_t n = 0;
        while (w + size_t(n) < c.windows.size() / 3 && c.windows[3 * (w + size_t(n))] == doc) ++n;
        std::string r = "[";
        for (int64_t k = 0; k < n; ++k) {
          if (k) r += ',';
          append_rows(r, t, int64_t(w) + k, 1);
        }
        r += ']';
        w += size_t(n);
        c.records.push_back(std::move(r));
      }
      return;
    }
    int64_t row = 0;
    for (int64_t n : t.row_counts) {
      std::string r;
      append_rows(r, t, row, n);
      row += n;
      c.records.push_back(std::move(r));
    }
  }

  // Generation pipelines: one job-wide run that the write stage feeds in input order.
  void start_generation(JobResult& result, bool inline_job) {
    GenerateSetup setup;
    setup.options = *p_.generate;
    const auto& tok = *ctx_.tokenizer;
    const int32_t eos = tok.eos_id() >= 0 ? tok.eos_id() : tok.sep_id();
    if (eos >= 0) setup.fallback_eos_ids = {eos};
    setup.fallback_decoder_start = tok.token_id("[CLS]") >= 0 ? tok.token_id("[CLS]") : eos;
    bos_ = tok.eos_id() >= 0 ? tok.eos_id() : tok.token_id("[CLS]");
    std::unique_ptr<Generator> g;
    try {
      g = ctx_.model->generator(setup);
    } catch (const std::exception& e) {
      throw JobFailed(p_.file.string() + ": generate: " + e.what());
    }
    encoder_decoder_ = g->encoder_decoder();
    table_ = ctx_.model->max_tokens(0);
    auto emit = [this, &result, inline_job](uint64_t, std::string record) {
      ctx_.progress.documents_done += 1;
      if (inline_job) {
        result.inline_results.push_back(std::move(record));
        return;
      }
      record += '\n';
      writer_->write_chunk({record, {}, {}, {}});
    };
    // An encoder-decoder's generated ids are the target side (MarianTokenizer decodes them
    // with target.spm).
    const Tokenizer& out_tok =
        encoder_decoder_ && ctx_.target_tokenizer ? *ctx_.target_tokenizer : *ctx_.tokenizer;
    generation_ = std::make_unique<GenerationRun>(
        p_, out_tok, std::move(g), ctx_.progress, ctx_.cancel,
        ctx_.spec.id.empty() ? "the job was cancelled" : "job " + ctx_.spec.id + " was cancelled",
        std::move(emit));
  }

  // A decoder prompt with BOS when asked, cut from the left so that it fits the position table
  // with max_new_tokens (model.truncate: true), else what is wrong with it.
  std::optional<std::string> fit_prompt(std::vector<int32_t>& ids, bool& truncated) const {
    const auto& g = *p_.generate;
    if (g.add_bos) {
      if (bos_ < 0) return "generate.add_bos: the vocabulary has no BOS / end-of-text token";
      ids.insert(ids.begin(), bos_);
    }
    if (ids.empty()) return "the prompt has no tokens: a decoder needs at least one to continue";
    if (!table_) return std::nullopt;
    const size_t room = table_ > g.max_new_tokens ? table_ - g.max_new_tokens : 1;
    if (ids.size() <= room) return std::nullopt;
    if (!p_.model->truncate)
      return "has " + std::to_string(ids.size()) + " prompt tokens; with max_new_tokens " +
             std::to_string(g.max_new_tokens) + " the model's " + std::to_string(table_) +
             " positions take at most " + std::to_string(room) +
             "; set model.truncate: true to cut prompts from the left";
    ids.erase(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(room));
    truncated = true;
    return std::nullopt;
  }

  // The writer thread: a chunk's rejected records onto OUT.rejects.jsonl, until there are more
  // than input.max_errors.
  void write_rejects(const Chunk& c, JobResult& result) {
    result.rejected += c.rejected;
    if (result.rejected > p_.input.max_errors)
      throw JobFailed(std::to_string(result.rejected) +
                      " bad records, more than input.max_errors (" +
                      std::to_string(p_.input.max_errors) +
                      "); one of them: " + c.rejects.substr(0, c.rejects.find('\n')));
    if (rejects_) {
      rejects_->write(c.rejects);
      return;
    }
    // -o -: no OUT.rejects.jsonl; its lines go to stderr.
    for (size_t at = 0; at < c.rejects.size();) {
      const size_t end = c.rejects.find('\n', at);
      std::fprintf(stderr, "qkvd run: rejected: %.*s\n", int(end - at), c.rejects.data() + at);
      at = end + 1;
    }
  }

  // The writer thread: a chunk's id lines onto OUT.ids.jsonl, which is made at the first
  // document with an id (its earlier documents get null lines), so inputs without ids give no
  // file at all.
  void write_ids(const Chunk& c) {
    if (!ids_file_) {
      if (c.ids_present == 0) {
        ids_before_first_ += c.doc_files.size();
        return;
      }
      ids_file_ = &writer_->add_companion(".ids.jsonl");
      std::string block;
      for (int k = 0; k < 4096; ++k) block += "null\n";
      for (uint64_t left = ids_before_first_; left > 0;) {
        const uint64_t n = std::min<uint64_t>(left, 4096);
        ids_file_->write(std::string_view(block).substr(0, 5 * n));
        left -= n;
      }
    }
    ids_file_->write(c.id_lines);
  }

  // Hands a finished chunk to the writer, in document order (the writer thread).
  void write_chunk(const Chunk& c) {
    std::vector<io::TensorRows> tensors;
    for (const auto& t : c.model_out.tensors)
      tensors.push_back({t.suffix, t.width, t.per_document, t.values, t.row_counts});
    std::vector<int64_t> windows = c.windows;
    for (size_t w = 0; w < windows.size(); w += 3) windows[w] += documents_written_;
    windows_written_ += windows.size() / 3;
    documents_written_ += static_cast<int64_t>(c.doc_tokens.size());
    writer_->write_chunk({c.out, c.doc_tokens, tensors, windows});
  }

  JobContext& ctx_;
  const config::PipelineConfig& p_;
  std::vector<std::string> field_names_;
  std::vector<io::InputFile> inputs_;
  std::optional<io::LineStream> stream_;
  uint64_t input_bytes_ = 0;
  uint64_t next_doc_ = 0;
  std::vector<uint64_t> documents_per_input_;  // the manifest's document ranges
  std::vector<std::string> record_keys_;
  // Chunks' output bytes, reused: as many as run_chunks keeps in flight (2 per worker).
  BufferPool out_buffers_{std::max<size_t>(2, 2 * static_cast<size_t>(ctx_.threads))};
  config::OutputFormat format_ = config::OutputFormat::jsonl;
  std::optional<int32_t> separator_;          // training formats only
  std::unique_ptr<io::OutputWriter> writer_;  // none for inline jobs
  io::AtomicFile* rejects_ = nullptr;         // OUT.rejects.jsonl (input.on_error: skip)
  bool from_stdin_ = false;                   // `-i -`
  bool reads_ids_ = false;              // input.id_field is read (a jsonl input, id_field not none)
  bool ids_file_wanted_ = false;        // ... and goes to OUT.ids.jsonl (not output.inline_id)
  io::AtomicFile* ids_file_ = nullptr;  // OUT.ids.jsonl, from the first document with an id
  uint64_t ids_before_first_ = 0;       // documents written before it (null lines)
  uint64_t documents_with_id_ = 0;
  std::unique_ptr<GenerationRun> generation_;  // generation pipelines only
  bool encoder_decoder_ = false;
  DocumentText text_;                      // the first field's text before tokenizing
  DocumentText other_text_;                // other fields: the model's lower-casing only
  std::vector<int32_t> empty_ids_;         // the tokenizer's ids for "": its specials
  std::vector<int32_t> target_empty_ids_;  // the same of ctx_.target_tokenizer
  uint32_t unpooled_ = 0;                  // first tokens of each document pooling leaves out
  uint32_t chunk_tokens_ = 0;              // model.chunk.tokens (0: whole documents)
  int64_t documents_written_ = 0;          // the writer thread's count, for window rows
  uint64_t windows_written_ = 0;
  int32_t bos_ = -1;
  size_t table_ = 0;  // decoder positions (0: unbounded)
};

}  // namespace

JobResult run_encode(JobContext& ctx) { return Encoder(ctx).run(); }

}  // namespace qkv::pipeline::detail

namespace qkv::pipeline {

io::Framing input_framing(const config::PipelineConfig& p) {
  io::Framing f;
  if (p.input.format == config::InputFormat::jsonl) f.format = io::TextFormat::jsonl;
  if (p.input.format == config::InputFormat::txt) f.format = io::TextFormat::txt;
  switch (p.input.document) {
    case config::DocumentMode::paragraph:
      f.txt = io::TxtDocuments::paragraph;
      break;
    case config::DocumentMode::file:
      f.txt = io::TxtDocuments::file;
      break;
    case config::DocumentMode::line:
      break;
  }
  return f;
}

}  // namespace qkv::pipeline
