// Who may do what (docs/service.md, "Security model"): a submitter sees, waits on and cancels
// only its own jobs; admins (access.admin_uids, admin_groups, admin_tokens) see and cancel
// all jobs and may reload. Every refusal is logged.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/identity.hpp"

namespace qkv::service {

class AccessPolicy {
 public:
  // Group names are resolved now; an unknown group is an error naming it.
  AccessPolicy(std::vector<uint32_t> admin_uids, const std::vector<std::string>& admin_groups,
               std::vector<std::string> admin_tokens);
  bool is_admin(const protocol::Identity& who) const;
  // Whether `who` may see or cancel a job submitted by `owner`.
  bool may_act_on(const protocol::Identity& who, const protocol::Identity& owner) const;
  // The permission_denied message, logged with who asked.
  std::string deny(const protocol::Identity& who, std::string_view what) const;

 private:
  std::vector<uint32_t> admin_uids_;
  std::vector<gid_t> admin_gids_;
  std::vector<std::string> admin_tokens_;
};

}  // namespace qkv::service
