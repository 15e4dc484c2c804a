#include "host/plugin_error.hpp"

#include <new>

namespace qkv::host {
namespace {
// Returned when even the error cannot be allocated; never freed.
qkv_error out_of_memory_error{QKV_ERR_INTERNAL, "out of memory (while reporting an error)"};
}  // namespace

std::string_view status_name(qkv_status code) noexcept {
  switch (code) {
    case QKV_OK:
      return "ok";
    case QKV_ERR_INVALID_ARGUMENT:
      return "invalid argument";
    case QKV_ERR_INVALID_INPUT:
      return "invalid input";
    case QKV_ERR_OUT_OF_RANGE:
      return "out of range";
    case QKV_ERR_CONFIG:
      return "configuration error";
    case QKV_ERR_IO:
      return "i/o error";
    case QKV_ERR_UNSUPPORTED:
      return "unsupported";
    case QKV_ERR_CANCELLED:
      return "cancelled";
    case QKV_ERR_INTERNAL:
      return "internal error";
  }
  return "unknown status";
}

qkv_error* error_new(qkv_status code, std::string_view message) noexcept {
  try {
    return std::make_unique<qkv_error>(qkv_error{code, std::string(message)}).release();
  } catch (...) {
    return &out_of_memory_error;
  }
}

void error_free(qkv_error* error) noexcept {
  if (error != &out_of_memory_error) std::unique_ptr<qkv_error> owned(error);
}

void throw_if_error(qkv_error* error, std::string_view context) {
  if (!error) return;
  ErrorPtr owned(error);
  qkv_status code = owned->code;
  // A plugin must not return QKV_OK inside an error object; treat it as internal.
  if (code == QKV_OK) code = QKV_ERR_INTERNAL;
  std::string message(context);
  message += ": ";
  message += owned->message.empty() ? std::string(status_name(code)) : owned->message;
  throw PluginError(code, message);
}

}  // namespace qkv::host
