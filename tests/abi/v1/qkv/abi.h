/*
 * qkv plugin ABI, version 1.
 *
 * The only contract between the qkv daemon (the host) and a plugin library. Pure C:
 * fixed-width integers, float pointers, opaque handles. Nothing crosses this boundary that
 * needs a C++ runtime, and no exception ever does.
 *
 * Evolution rules (frozen from the first release tag on):
 *   - every struct starts with `struct_size`; new fields are only ever appended;
 *   - a reader must check `struct_size` before touching a field added after 1.0;
 *   - a host refuses a plugin whose abi_major differs or whose abi_minor is newer than its own.
 *
 * One exported symbol per library: `qkv_plugin_entry` (see QKV_ENTRY_SYMBOL).
 */
#ifndef QKV_ABI_H
#define QKV_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QKV_ABI_MAJOR 1
#define QKV_ABI_MINOR 0
#define QKV_ENTRY_SYMBOL "qkv_plugin_entry"

#if defined(_WIN32)
#define QKV_EXPORT __declspec(dllexport)
#else
#define QKV_EXPORT __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------- common types */

typedef enum qkv_kind {
  QKV_KIND_TOKENIZER = 1,
  QKV_KIND_POSITIONAL = 2,
  QKV_KIND_ATTENTION = 3
} qkv_kind;

typedef enum qkv_status {
  QKV_OK = 0,
  QKV_ERR_INVALID_ARGUMENT = 1, /* a call's arguments break the contract (shapes, nulls) */
  QKV_ERR_INVALID_INPUT = 2,    /* the data itself is unusable (e.g. unknown token id)    */
  QKV_ERR_OUT_OF_RANGE = 3,     /* e.g. a position past a learned table                   */
  QKV_ERR_CONFIG = 4,           /* bad plugin configuration                               */
  QKV_ERR_IO = 5,               /* a file the plugin needs cannot be read                  */
  QKV_ERR_UNSUPPORTED = 6,      /* valid request this plugin does not implement            */
  QKV_ERR_CANCELLED = 7,        /* a sink asked to stop                                    */
  QKV_ERR_INTERNAL = 8          /* anything else, including a caught C++ exception         */
} qkv_status;

/* Error objects are created by the host (qkv_host.error_new) and owned by the host; a plugin
 * returns them and never frees them. NULL means success everywhere. */
typedef struct qkv_error qkv_error;

/* An instance of a plugin, created by its descriptor's `create`. Opaque to the host. */
typedef struct qkv_instance qkv_instance;

/* The plugin's own configuration subtree (a YAML mapping). Opaque to the plugin. */
typedef struct qkv_config qkv_config;

typedef enum qkv_log_level {
  QKV_LOG_DEBUG = 0,
  QKV_LOG_INFO = 1,
  QKV_LOG_WARN = 2,
  QKV_LOG_ERROR = 3
} qkv_log_level;

typedef enum qkv_value_type {
  QKV_VALUE_MISSING = 0,
  QKV_VALUE_SCALAR = 1, /* string, number or bool: returned as its YAML text */
  QKV_VALUE_LIST = 2,
  QKV_VALUE_MAP = 3,
  QKV_VALUE_NULL = 4
} qkv_value_type;

/* A read-only tensor owned by the host (weights of the model a plugin serves). f32, row-major. */
typedef struct qkv_tensor_view {
  uint32_t struct_size;
  uint32_t ndim;
  int64_t shape[8];
  const float* data;
} qkv_tensor_view;

/* ---------------------------------------------------------------- host services */

/* Passed to `create`; valid until the instance is destroyed. Functions may be called from any
 * thread. `ctx` is the first argument of every function. */
typedef struct qkv_host {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  void* ctx;

  void (*log)(void* ctx, qkv_log_level level, const char* message);

  /* Makes an error object the plugin returns to the host. `message` is copied. */
  qkv_error* (*error_new)(void* ctx, qkv_status code, const char* message);

  /* Looks up `path` in `cfg`: dot-separated keys, list items by index ("layouts.0").
   * For scalars, *text and *size receive the YAML text (valid while the instance lives).
   * For lists, *size receives the length. Returns the value's type. */
  qkv_value_type (*config_get)(void* ctx, const qkv_config* cfg, const char* path, const char** text,
                               size_t* size);

  /* Writes "file:line:column" of `path` (or of the subtree when path is empty) into buf
   * (NUL-terminated, truncated to buf_size). Returns the length it needed. For messages. */
  size_t (*config_where)(void* ctx, const qkv_config* cfg, const char* path, char* buf,
                         size_t buf_size);

  /* Resolves the scalar at `path` as a file path relative to the config file's folder.
   * Returns an error if missing; *out (NUL-terminated) lives as long as the instance. */
  qkv_error* (*config_path)(void* ctx, const qkv_config* cfg, const char* path, const char** out);

  /* Looks up a weight tensor of the model this instance serves, by name. Returns an error when
   * there is no model or no such tensor. */
  qkv_error* (*tensor_get)(void* ctx, const char* name, qkv_tensor_view* out);
} qkv_host;

/* ---------------------------------------------------------------- output sinks */

/* A tokenizer appends ids through this; `offsets` is NULL unless offsets were requested, else
 * 2*n values: [begin, end) byte offsets of each token in the text passed to encode.
 * A non-zero return asks the plugin to stop and return QKV_ERR_CANCELLED. */
typedef struct qkv_token_sink {
  uint32_t struct_size;
  void* ctx;
  int (*append)(void* ctx, const int32_t* ids, const uint32_t* offsets, size_t n);
} qkv_token_sink;

typedef struct qkv_byte_sink {
  uint32_t struct_size;
  void* ctx;
  int (*append)(void* ctx, const char* bytes, size_t n);
} qkv_byte_sink;

/* ---------------------------------------------------------------- plugin descriptor */

/* The instance's compute functions may NOT be called concurrently; the host then gives each
 * worker thread its own instance. Absent: any function may be called from many threads. */
#define QKV_PLUGIN_FLAG_NOT_THREAD_SAFE 0x1u

typedef struct qkv_plugin_descriptor {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  uint32_t kind; /* qkv_kind */
  uint32_t flags;
  const char* name;        /* unique per kind, e.g. "tokenizer-bpe" */
  const char* version;     /* the plugin's own version, e.g. "1.2.0" */
  const char* description; /* one line */

  /* Creates an instance. On failure returns an error made with host->error_new and leaves
   * *out untouched. `host` outlives the instance. */
  qkv_error* (*create)(const qkv_host* host, const qkv_config* cfg, qkv_instance** out);
  void (*destroy)(qkv_instance* instance);

  /* Kind-specific function table: qkv_tokenizer_api, qkv_positional_api or qkv_attention_api.
   * Each starts with its own struct_size. */
  const void* api;
} qkv_plugin_descriptor;

typedef const qkv_plugin_descriptor* (*qkv_plugin_entry_fn)(void);

/* ---------------------------------------------------------------- tokenizer */

typedef enum qkv_special_policy {
  QKV_SPECIAL_DEFAULT = 0, /* what the vocabulary's reference tool does */
  QKV_SPECIAL_NONE = 1,    /* special-token text is ordinary text */
  QKV_SPECIAL_ALL = 2,     /* every special token of the vocabulary is matched */
  QKV_SPECIAL_LIST = 3     /* only the names in `special_names` are matched */
} qkv_special_policy;

#define QKV_ENCODE_OFFSETS 0x1u          /* fill the sink's offsets */
#define QKV_ENCODE_ADD_SPECIAL 0x2u      /* post-processing, e.g. BERT's [CLS] ... [SEP] */

typedef struct qkv_encode_options {
  uint32_t struct_size;
  uint32_t flags;          /* QKV_ENCODE_* */
  uint32_t special_policy; /* qkv_special_policy */
  uint32_t max_length;     /* 0: no truncation; else keep at most this many ids (specials count) */
  const char* const* special_names; /* QKV_SPECIAL_LIST only */
  size_t special_count;
} qkv_encode_options;

typedef struct qkv_tokenizer_info {
  uint32_t struct_size;
  uint32_t vocab_size; /* one past the largest id, specials included */
  /* -1 where the vocabulary has none */
  int32_t bos_id, eos_id, pad_id, unk_id, cls_id, sep_id, mask_id;
} qkv_tokenizer_info;

typedef struct qkv_tokenizer_api {
  uint32_t struct_size;
  /* `text` is valid UTF-8: the host validates or repairs input before it gets here. */
  qkv_error* (*encode)(qkv_instance* self, const char* text, size_t size,
                       const qkv_encode_options* options, const qkv_token_sink* sink);
  /* Appends the exact bytes the ids stand for (may be invalid UTF-8 for partial sequences). */
  qkv_error* (*decode)(qkv_instance* self, const int32_t* ids, size_t n, const qkv_byte_sink* sink);
  qkv_error* (*info)(qkv_instance* self, qkv_tokenizer_info* out);
  /* Id of a token given by its vocabulary string (e.g. "[CLS]", "<|endoftext|>"); -1 if none. */
  int32_t (*token_to_id)(qkv_instance* self, const char* token, size_t size);
} qkv_tokenizer_api;

/* ---------------------------------------------------------------- positional */

typedef enum qkv_positional_mode {
  QKV_POSITIONAL_ADDITIVE = 1, /* x[t] += PE(position[t]) on embeddings */
  QKV_POSITIONAL_ROTARY = 2    /* rotate q and k per head */
} qkv_positional_mode;

typedef struct qkv_positional_info {
  uint32_t struct_size;
  uint32_t mode;          /* qkv_positional_mode */
  int64_t max_positions;  /* 0: unbounded */
  uint32_t dim;           /* additive: model dim it was built for (0: any); rotary: head_dim (0: any) */
} qkv_positional_info;

typedef struct qkv_positional_api {
  uint32_t struct_size;
  qkv_error* (*info)(qkv_instance* self, qkv_positional_info* out);
  /* Additive: for t < n, x[t*row_stride + i] += PE(positions[t])[i], i < dim. */
  qkv_error* (*add)(qkv_instance* self, float* x, size_t n, uint32_t dim, size_t row_stride,
                    const int32_t* positions);
  /* Rotary: x is [n, heads, head_dim] with token stride row_stride (floats) and head stride
   * head_dim; each head vector of token t is rotated for positions[t]. Call once for q, once
   * for k. */
  qkv_error* (*rotate)(qkv_instance* self, float* x, size_t n, uint32_t heads, uint32_t head_dim,
                       size_t row_stride, const int32_t* positions);
} qkv_positional_api;

/* ---------------------------------------------------------------- attention */

typedef enum qkv_mask_kind {
  QKV_MASK_NONE = 0,  /* every query sees every key of its sequence pair */
  QKV_MASK_CAUSAL = 1 /* bottom-right aligned: query i of Lq sees keys j <= i + Lk - Lq */
} qkv_mask_kind;

/* One packed variable-length batch. Sequence b has queries [cu_seqlens_q[b], cu_seqlens_q[b+1])
 * and keys/values [cu_seqlens_k[b], cu_seqlens_k[b+1]). Self-attention passes the same arrays
 * twice; cross-attention passes decoder q and encoder k/v with their own cu_seqlens.
 *
 * Layouts (floats): q[t*q_stride + h*head_dim + i], h < heads_q; k and v likewise with
 * heads_kv and k_stride / v_stride; out like q with out_stride. A stride of 0 means packed
 * (heads*head_dim). heads_q % heads_kv == 0; query head h reads kv head h / (heads_q/heads_kv).
 *
 * probs (optional, NULL to skip): for b in order, for h < heads_q, a row-major [Lq_b, Lk_b]
 * block of softmax probabilities; masked entries are 0. Rows with no visible key give zero
 * output and zero probabilities. */
typedef struct qkv_attention_args {
  uint32_t struct_size;
  uint32_t batch;
  uint32_t heads_q;
  uint32_t heads_kv;
  uint32_t head_dim;
  uint32_t mask; /* qkv_mask_kind */
  float scale;   /* 0: 1/sqrt(head_dim) */
  const int32_t* cu_seqlens_q; /* batch+1 entries, cu[0] == 0 */
  const int32_t* cu_seqlens_k;
  const float* q;
  const float* k;
  const float* v;
  float* out;
  float* probs;
  size_t q_stride, k_stride, v_stride, out_stride;
} qkv_attention_args;

typedef struct qkv_attention_api {
  uint32_t struct_size;
  qkv_error* (*forward)(qkv_instance* self, const qkv_attention_args* args);
} qkv_attention_api;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* QKV_ABI_H */
