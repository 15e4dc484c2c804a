#include "jobs/request_key.hpp"

#include "io/sha256.hpp"

namespace qkv::jobs {

const std::string* request_id_of(const nlohmann::json& request) {
  auto it = request.find("request_id");
  return it != request.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

std::string request_owner(const Submitter& who) {
  return who.via == protocol::via::tcp ? "token:" + who.token : "uid:" + std::to_string(who.uid);
}

std::string request_body_sha256(const nlohmann::json& request) {
  nlohmann::json body = request;
  for (const char* k : {"v", "tag", "op", "submitted_by", "request_id"}) body.erase(k);
  io::Sha256 h;
  h.update(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return h.hex();
}

}  // namespace qkv::jobs
