// The protocol's ops and the version it speaks. An op added here gets its request type in
// protocol/requests.hpp (the compiler checks the two stay in step).
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace qkv::protocol {

inline constexpr int kProtocolVersion = 1;

// `auth` is answered by the server itself (the first request on a TCP connection).
enum class Op {
  submit,
  status,
  wait,
  cancel,
  list,
  stats,
  reload,
  health,
  run,
  plugins,
  pipelines,
  auth
};
inline constexpr std::array kOps = {Op::submit, Op::status,  Op::wait,      Op::cancel,
                                    Op::list,   Op::stats,   Op::reload,    Op::health,
                                    Op::run,    Op::plugins, Op::pipelines, Op::auth};
inline constexpr std::size_t kOpCount = kOps.size();

std::string_view to_string(Op op) noexcept;
std::optional<Op> parse_op(std::string_view name) noexcept;
// "submit, status, ..., run": for messages that list what is accepted.
std::string op_names();

}  // namespace qkv::protocol
