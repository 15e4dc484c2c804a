#include "cli/attention_command.hpp"

#include <iostream>
#include <stdexcept>

#include "host/attention_handle.hpp"
#include "host/plugin_instance.hpp"
#include "io/npy.hpp"

namespace qkv::cli {
namespace {

namespace fs = std::filesystem;

struct AttentionOptions {
  std::string plugin;
  fs::path q, k, v, out, probs;
  fs::path cu_q, cu_k;
  bool causal = false;
  uint32_t heads_kv = 0;  // 0: from k's shape
  float scale = 0.0f;
};

// A usage problem with the inputs: the message names the file and what is wrong.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

io::NpyArray load_tensor(const fs::path& file, const char* what) {
  auto a = io::read_npy(file);
  if (a.dtype != "<f4")
    throw InputError(file.string() + ": " + what + " must be float32, got dtype '" + a.dtype + "'");
  if (a.shape.size() != 3)
    throw InputError(file.string() + ": " + what + " must be [tokens, heads, head_dim], got " +
                     std::to_string(a.shape.size()) + " dimensions");
  return a;
}

std::vector<int32_t> load_cu(const fs::path& file, int64_t tokens) {
  auto a = io::read_npy(file);
  if (a.dtype != "<i4")
    throw InputError(file.string() + ": cu_seqlens must be int32, got dtype '" + a.dtype + "'");
  if (a.shape.size() != 1 || a.shape[0] < 1)
    throw InputError(file.string() + ": cu_seqlens must be a vector of batch+1 offsets");
  auto cu = a.as<int32_t>();
  if (cu.front() != 0) throw InputError(file.string() + ": cu_seqlens[0] must be 0");
  for (size_t i = 1; i < cu.size(); ++i)
    if (cu[i] < cu[i - 1])
      throw InputError(file.string() + ": cu_seqlens must not decrease (index " +
                       std::to_string(i) + ")");
  if (cu.back() != tokens)
    throw InputError(file.string() + ": cu_seqlens ends at " + std::to_string(cu.back()) +
                     " but the tensor has " + std::to_string(tokens) + " tokens");
  return cu;
}

// NAME from the configured plugin folders, or a path to a plugin library.
const host::LoadedPlugin& find_plugin(CliContext& ctx, host::PluginRegistry& own,
                                      const std::string& name) {
  if (name.find('/') != std::string::npos || name.ends_with(".so")) {
    if (!own.load_file(name)) throw InputError(own.errors().back());
    return *own.all().front();
  }
  return ctx.plugins().require(QKV_KIND_ATTENTION, name);
}

int run_attention(CliContext& ctx, const AttentionOptions& o) {
  const auto q = load_tensor(o.q, "q"), k = load_tensor(o.k, "k"), v = load_tensor(o.v, "v");
  const int64_t tq = q.shape[0], hq = q.shape[1], d = q.shape[2];
  const int64_t tk = k.shape[0], hkv = k.shape[1];
  if (k.shape != v.shape)
    throw InputError(o.v.string() + ": v must have k's shape [" + std::to_string(tk) + ", " +
                     std::to_string(hkv) + ", " + std::to_string(k.shape[2]) + "]");
  if (k.shape[2] != d)
    throw InputError(o.k.string() + ": head_dim " + std::to_string(k.shape[2]) +
                     " differs from q's " + std::to_string(d));
  if (o.heads_kv != 0 && o.heads_kv != hkv)
    throw InputError("--heads-kv " + std::to_string(o.heads_kv) + " but " + o.k.string() + " has " +
                     std::to_string(hkv) + " heads");
  if (hkv == 0 || hq % hkv != 0)
    throw InputError("q has " + std::to_string(hq) + " heads, not a multiple of k/v's " +
                     std::to_string(hkv));
  if (o.cu_q.empty() != o.cu_k.empty())
    throw InputError("--cu-seqlens-q and --cu-seqlens-k go together");
  std::vector<int32_t> cu_q{0, static_cast<int32_t>(tq)}, cu_k{0, static_cast<int32_t>(tk)};
  if (!o.cu_q.empty()) {
    cu_q = load_cu(o.cu_q, tq);
    cu_k = load_cu(o.cu_k, tk);
    if (cu_q.size() != cu_k.size())
      throw InputError("cu_seqlens_q has " + std::to_string(cu_q.size() - 1) +
                       " sequences, cu_seqlens_k " + std::to_string(cu_k.size() - 1));
  }

  host::PluginRegistry own;
  const auto& plugin = find_plugin(ctx, own, o.plugin);
  host::AttentionHandle attention(
      host::create_instance(plugin, host::ConfigValue{}, fs::current_path()));

  const auto qf = q.as<float>(), kf = k.as<float>(), vf = v.as<float>();
  std::vector<float> out(qf.size(), 0.0f), probs;
  if (!o.probs.empty()) {
    size_t n = 0;
    for (size_t b = 0; b + 1 < cu_q.size(); ++b)
      n += static_cast<size_t>(hq) * (cu_q[b + 1] - cu_q[b]) * (cu_k[b + 1] - cu_k[b]);
    probs.assign(n, 0.0f);
  }
  qkv_attention_args a{};
  a.struct_size = sizeof a;
  a.batch = static_cast<uint32_t>(cu_q.size() - 1);
  a.heads_q = static_cast<uint32_t>(hq);
  a.heads_kv = static_cast<uint32_t>(hkv);
  a.head_dim = static_cast<uint32_t>(d);
  a.mask = o.causal ? QKV_MASK_CAUSAL : QKV_MASK_NONE;
  a.scale = o.scale;
  a.cu_seqlens_q = cu_q.data();
  a.cu_seqlens_k = cu_k.data();
  a.q = qf.data();
  a.k = kf.data();
  a.v = vf.data();
  a.out = out.data();
  a.probs = probs.empty() ? nullptr : probs.data();
  attention.forward(a);

  io::write_npy<float>(o.out, q.shape, out);
  if (!o.probs.empty()) {
    const int64_t n = static_cast<int64_t>(probs.size());
    io::write_npy<float>(o.probs, std::span(&n, 1), probs);
  }
  std::cerr << "qkvd attention: " << plugin.name << ": " << a.batch << " sequence(s), " << tq
            << " queries x " << tk << " keys, heads " << hq << "/" << hkv << ", head_dim " << d
            << (o.causal ? ", causal" : "") << " -> " << o.out.string() << "\n";
  return 0;
}

}  // namespace

void register_attention_command(CLI::App& app, CliContext& ctx) {
  auto o = std::make_shared<AttentionOptions>();
  CLI::App* sub = app.add_subcommand(
      "attention",
      "Run one attention call on .npy files (float32 q/k/v [tokens, heads, head_dim])");
  sub->add_option("--plugin", o->plugin, "attention plugin name (or path to its library)")
      ->required();
  sub->add_option("--q", o->q, "queries, float32 [tokens_q, heads_q, head_dim]")->required();
  sub->add_option("--k", o->k, "keys, float32 [tokens_k, heads_kv, head_dim]")->required();
  sub->add_option("--v", o->v, "values, float32, shaped like k")->required();
  sub->add_option("--out", o->out, "output .npy, float32 shaped like q")->required();
  sub->add_flag("--causal", o->causal, "causal mask (bottom-right aligned when lengths differ)");
  sub->add_option("--cu-seqlens-q", o->cu_q,
                  "int32 [batch+1] query offsets (default: one sequence)");
  sub->add_option("--cu-seqlens-k", o->cu_k, "int32 [batch+1] key/value offsets");
  sub->add_option("--heads-kv", o->heads_kv, "key/value heads (checked against k's shape)");
  sub->add_option("--scale", o->scale, "softmax scale (default 1/sqrt(head_dim))");
  sub->add_option("--probs", o->probs, "also write the probabilities, flat float32");
  sub->callback([&ctx, o] {
    try {
      ctx.exit_code = run_attention(ctx, *o);
    } catch (const io::NpyError& e) {
      std::cerr << "qkvd attention: " << e.what() << "\n";
      ctx.exit_code = 2;
    } catch (const InputError& e) {
      std::cerr << "qkvd attention: " << e.what() << "\n";
      ctx.exit_code = 2;
    } catch (const std::exception& e) {
      std::cerr << "qkvd attention: " << e.what() << "\n";
      ctx.exit_code = 1;
    }
  });
}

}  // namespace qkv::cli
