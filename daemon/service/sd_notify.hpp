// systemd's readiness protocol, written directly to $NOTIFY_SOCKET (no libsystemd): one
// datagram of "KEY=value" lines. A no-op when not started by systemd.
#pragma once

#include <string_view>

namespace qkv::service {

// Returns false when NOTIFY_SOCKET is unset or the datagram could not be sent.
bool sd_notify(std::string_view state) noexcept;
void notify_ready(std::string_view status) noexcept;
void notify_reloading() noexcept;  // RELOADING=1 with MONOTONIC_USEC (systemd >= 253 wants it)
void notify_stopping() noexcept;

}  // namespace qkv::service
