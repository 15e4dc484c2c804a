// load_model_proto: tokenizer.model (sentencepiece_model.proto, ModelProto) into a ModelSpec.
// Field numbers are those of sentencepiece_model.proto; defaults are the proto's defaults.
#include <stdexcept>
#include <string>

#include "model_spec.hpp"
#include "protobuf_reader.hpp"

namespace qkv::sentencepiece {
namespace {

using std::runtime_error;

Piece read_piece(std::string_view message) {
  Piece p;
  ProtobufReader r(message);
  while (r.next()) {
    switch (r.field()) {
      case 1:
        p.text = std::string(r.bytes());
        break;
      case 2:
        p.score = r.fixed32_float();
        break;
      case 3: {
        const uint64_t t = r.varint();
        if (t < 1 || t > 6) throw runtime_error("piece type " + std::to_string(t) + " unknown");
        p.type = static_cast<PieceType>(t);
        break;
      }
      default:
        break;
    }
  }
  return p;
}

struct TrainerFlags {
  int model_type = 1;  // UNIGRAM
  bool treat_whitespace_as_suffix = false;
};

TrainerFlags read_trainer_spec(std::string_view message, ModelSpec& spec) {
  TrainerFlags t;
  ProtobufReader r(message);
  while (r.next()) {
    switch (r.field()) {
      case 3:
        t.model_type = r.int32();
        break;
      case 24:
        t.treat_whitespace_as_suffix = r.boolean();
        break;
      case 25:
        spec.split_digits = r.boolean();
        break;
      case 35:
        spec.byte_fallback = r.boolean();
        break;
      case 44:
        spec.unk_surface = std::string(r.bytes());
        break;
      default:
        break;
    }
  }
  return t;
}

void read_normalizer_spec(std::string_view message, ModelSpec& spec) {
  ProtobufReader r(message);
  while (r.next()) {
    switch (r.field()) {
      case 1:
        spec.normalizer_name = std::string(r.bytes());
        break;
      case 2:
        spec.precompiled_charsmap = std::string(r.bytes());
        break;
      case 3:
        spec.add_dummy_prefix = r.boolean();
        break;
      case 4:
        spec.remove_extra_whitespaces = r.boolean();
        break;
      case 5:
        spec.escape_whitespaces = r.boolean();
        break;
      case 6:
        if (!r.bytes().empty())
          throw runtime_error(
              "normalizer_spec.normalization_rule_tsv is not supported (only precompiled "
              "charsmaps)");
        break;
      default:
        break;
    }
  }
}

bool has_charsmap(std::string_view message) {
  ProtobufReader r(message);
  while (r.next())
    if (r.field() == 2 && !r.bytes().empty()) return true;
  return false;
}

}  // namespace

ModelSpec load_model_proto(const std::string& bytes) {
  ModelSpec spec;
  TrainerFlags trainer;
  bool saw_normalizer = false;
  ProtobufReader r(bytes);
  while (r.next()) {
    switch (r.field()) {
      case 1:
        spec.pieces.push_back(read_piece(r.bytes()));
        break;
      case 2:
        trainer = read_trainer_spec(r.bytes(), spec);
        break;
      case 3:
        read_normalizer_spec(r.bytes(), spec);
        saw_normalizer = true;
        break;
      case 5:
        if (has_charsmap(r.bytes()))
          throw runtime_error("denormalizer_spec with a charsmap is not supported");
        break;
      default:
        break;
    }
  }
  if (spec.pieces.empty()) throw runtime_error("not a SentencePiece model: it has no pieces");
  if (!saw_normalizer) throw runtime_error("not a SentencePiece model: no normalizer_spec");
  if (trainer.model_type == 1)
    spec.algorithm = Algorithm::kUnigram;
  else if (trainer.model_type == 2)
    spec.algorithm = Algorithm::kBpe;
  else
    throw runtime_error("model_type " + std::to_string(trainer.model_type) +
                        " (WORD=3, CHAR=4) is not supported: only UNIGRAM and BPE");
  if (trainer.treat_whitespace_as_suffix)
    throw runtime_error("trainer_spec.treat_whitespace_as_suffix is not supported");
  if (spec.precompiled_charsmap.empty() && !spec.normalizer_name.empty() &&
      spec.normalizer_name != "identity")
    throw runtime_error("normalizer '" + spec.normalizer_name +
                        "' has no precompiled_charsmap: only precompiled charsmaps (nmt_nfkc, "
                        "nfkc, ...) and identity are supported");
  return spec;
}

}  // namespace qkv::sentencepiece
