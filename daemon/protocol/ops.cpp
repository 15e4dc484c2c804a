#include "protocol/ops.hpp"

namespace qkv::protocol {

std::string_view to_string(Op op) noexcept {
  switch (op) {
    case Op::submit:
      return "submit";
    case Op::status:
      return "status";
    case Op::wait:
      return "wait";
    case Op::cancel:
      return "cancel";
    case Op::list:
      return "list";
    case Op::stats:
      return "stats";
    case Op::reload:
      return "reload";
    case Op::health:
      return "health";
    case Op::run:
      return "run";
    case Op::plugins:
      return "plugins";
    case Op::pipelines:
      return "pipelines";
    case Op::auth:
      return "auth";
  }
  return "unknown";
}

std::optional<Op> parse_op(std::string_view name) noexcept {
  for (auto op : kOps)
    if (to_string(op) == name) return op;
  return std::nullopt;
}

std::string op_names() {
  std::string out;
  for (auto op : kOps) {
    if (!out.empty()) out += ", ";
    out += to_string(op);
  }
  return out;
}

}  // namespace qkv::protocol
