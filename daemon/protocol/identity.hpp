// Who sent a request, as the daemon proved it: SO_PEERCRED on the Unix socket, a token name on
// TCP, the file owner for a job dropped into the spool. Its JSON form is a job's `submitted_by`.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace qkv::protocol {

namespace via {
inline constexpr const char* unix_socket = "unix";
inline constexpr const char* tcp = "tcp";
inline constexpr const char* spool = "spool";
}  // namespace via

struct Identity {
  std::string via = via::unix_socket;
  uint32_t uid = 0;   // unix, spool
  int64_t gid = -1;   // unix (primary group of the peer process)
  int64_t pid = -1;   // unix; -1 when unknown
  std::string token;  // tcp: the NAME of the token the client proved
  bool operator==(const Identity&) const = default;
};

// {"via":"unix","uid":N,"pid":P} or {"via":"tcp","token":NAME} or {"via":"spool","uid":N}.
nlohmann::json submitted_by(const Identity& who);
// The inverse, for job files and reports; anything unreadable is an unknown spool submitter.
Identity identity_from_json(const nlohmann::json& j);
// Whether two identities are the same owner: the same token on TCP, else the same uid (a
// file dropped into the spool belongs to the uid that owns it).
bool same_owner(const Identity& a, const Identity& b);
// For logs: "uid 1000 (unix, pid 42)" or "token 'ci' (tcp)".
std::string describe(const Identity& who);

}  // namespace qkv::protocol
