/* Test plugin in plain C with a hand-made descriptor, so each field can be broken on purpose.
 * Compile definitions pick what is wrong (defaults give a valid tokenizer "test-raw"):
 *   RAW_NAME, RAW_MAJOR, RAW_MINOR, RAW_SIZE, RAW_KIND, RAW_API_SIZE, RAW_NULL_VERSION,
 *   RAW_CREATE_ERROR (create returns an error made by the host),
 *   RAW_NULL_DESCRIPTOR (the entry returns NULL). */
#include <qkv/abi.h>

#ifndef RAW_NAME
#define RAW_NAME "test-raw"
#endif
#ifndef RAW_MAJOR
#define RAW_MAJOR QKV_ABI_MAJOR
#endif
#ifndef RAW_MINOR
#define RAW_MINOR QKV_ABI_MINOR
#endif
#ifndef RAW_SIZE
#define RAW_SIZE sizeof(qkv_plugin_descriptor)
#endif
#ifndef RAW_KIND
#define RAW_KIND QKV_KIND_TOKENIZER
#endif
#ifndef RAW_API_SIZE
#define RAW_API_SIZE sizeof(qkv_tokenizer_api)
#endif

static qkv_error* raw_create(const qkv_host* host, const qkv_config* cfg, qkv_instance** out) {
  (void)cfg;
#ifdef RAW_CREATE_ERROR
  (void)out;
  return host->error_new(host->ctx, QKV_ERR_CONFIG, "vocabulary file missing (test)");
#else
  static int instance_token; /* instances carry no state */
  (void)host;
  *out = (qkv_instance*)&instance_token;
  return 0;
#endif
}
static void raw_destroy(qkv_instance* self) { (void)self; }

static qkv_error* raw_encode(qkv_instance* self, const char* text, size_t size,
                             const qkv_encode_options* options, const qkv_token_sink* sink) {
  (void)self, (void)options;
  for (size_t i = 0; i < size; ++i) {
    int32_t id = (unsigned char)text[i];
    uint32_t offsets[2] = {(uint32_t)i, (uint32_t)i + 1};
    if (sink->append(sink->ctx, &id, offsets, 1)) break;
  }
  return 0;
}
static qkv_error* raw_decode(qkv_instance* self, const int32_t* ids, size_t n,
                             const qkv_byte_sink* sink) {
  (void)self;
  for (size_t i = 0; i < n; ++i) {
    char c = (char)ids[i];
    sink->append(sink->ctx, &c, 1);
  }
  return 0;
}
static qkv_error* raw_info(qkv_instance* self, qkv_tokenizer_info* out) {
  (void)self;
  out->vocab_size = 256;
  out->bos_id = out->eos_id = out->pad_id = out->unk_id = -1;
  out->cls_id = out->sep_id = out->mask_id = -1;
  return 0;
}
static int32_t raw_token_to_id(qkv_instance* self, const char* token, size_t size) {
  (void)self;
  return size == 1 ? (unsigned char)token[0] : -1;
}

static const qkv_tokenizer_api api = {RAW_API_SIZE, raw_encode, raw_decode, raw_info,
                                      raw_token_to_id};

#ifdef RAW_NULL_VERSION
#define RAW_VERSION 0
#else
#define RAW_VERSION "0.1.0"
#endif

static const qkv_plugin_descriptor descriptor = {
    RAW_SIZE, RAW_MAJOR, RAW_MINOR, RAW_KIND, 0, RAW_NAME, RAW_VERSION,
    "hand-made descriptor for host tests", raw_create, raw_destroy, &api, NULL, 0};

QKV_EXPORT const qkv_plugin_descriptor* qkv_plugin_entry(void) {
#ifdef RAW_NULL_DESCRIPTOR
  return descriptor.name ? 0 : &descriptor; /* always NULL; uses descriptor to keep it */
#else
  return &descriptor;
#endif
}
