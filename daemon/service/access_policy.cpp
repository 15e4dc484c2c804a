#include "service/access_policy.hpp"

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <iostream>
#include <stdexcept>

namespace qkv::service {
namespace {

gid_t resolve_group(const std::string& name) {
  if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit))
    return static_cast<gid_t>(std::stoul(name));
  if (const group* g = ::getgrnam(name.c_str())) return g->gr_gid;
  throw std::runtime_error("access.admin_groups: no group '" + name + "' on this system");
}

// The uid's supplementary groups from the user database (the peer's own gid is checked apart).
bool uid_in_group(uint32_t uid, gid_t gid) {
  const passwd* pw = ::getpwuid(uid);
  if (!pw) return false;
  int n = 64;
  std::vector<gid_t> groups(n);
  if (::getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &n) < 0) {
    groups.resize(n);
    if (::getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &n) < 0) return false;
  }
  groups.resize(n);
  return std::find(groups.begin(), groups.end(), gid) != groups.end();
}

}  // namespace

AccessPolicy::AccessPolicy(std::vector<uint32_t> admin_uids,
                           const std::vector<std::string>& admin_groups,
                           std::vector<std::string> admin_tokens)
    : admin_uids_(std::move(admin_uids)), admin_tokens_(std::move(admin_tokens)) {
  for (const auto& g : admin_groups) admin_gids_.push_back(resolve_group(g));
}

bool AccessPolicy::is_admin(const protocol::Identity& who) const {
  if (who.via == protocol::via::tcp)
    return std::find(admin_tokens_.begin(), admin_tokens_.end(), who.token) != admin_tokens_.end();
  if (who.via != protocol::via::unix_socket) return false;
  if (std::find(admin_uids_.begin(), admin_uids_.end(), who.uid) != admin_uids_.end()) return true;
  for (gid_t g : admin_gids_)
    if ((who.gid >= 0 && gid_t(who.gid) == g) || uid_in_group(who.uid, g)) return true;
  return false;
}

bool AccessPolicy::may_act_on(const protocol::Identity& who,
                              const protocol::Identity& owner) const {
  return protocol::same_owner(who, owner) || is_admin(who);
}

std::string AccessPolicy::deny(const protocol::Identity& who, std::string_view what) const {
  std::cerr << "qkvd: warning: permission_denied: " << protocol::describe(who) << " asked to "
            << what << "\n";
  return "permission denied: " + std::string(what) +
         " is allowed only to its submitter and to admins (access.admin_uids, admin_groups, "
         "admin_tokens)";
}

}  // namespace qkv::service
