#include "protocol/identity.hpp"

namespace qkv::protocol {

nlohmann::json submitted_by(const Identity& who) {
  nlohmann::json j = {{"via", who.via}};
  if (who.via == via::tcp) {
    j["token"] = who.token;
  } else {
    j["uid"] = who.uid;
    if (who.pid >= 0) j["pid"] = who.pid;
  }
  return j;
}

Identity identity_from_json(const nlohmann::json& j) {
  Identity who;
  who.via = via::spool;
  if (!j.is_object()) return who;
  auto via_field = j.find("via");
  if (via_field != j.end() && via_field->is_string())
    who.via = via_field->get<std::string>();
  else if (j.contains("uid"))  // job files of older versions: a socket client's uid, no `via`
    who.via = via::unix_socket;
  // Job files of older versions said "socket" for the Unix socket.
  if (who.via == "socket") who.via = via::unix_socket;
  if (auto it = j.find("uid"); it != j.end() && it->is_number_unsigned())
    who.uid = it->get<uint32_t>();
  if (auto it = j.find("pid"); it != j.end() && it->is_number_integer())
    who.pid = it->get<int64_t>();
  if (auto it = j.find("token"); it != j.end() && it->is_string())
    who.token = it->get<std::string>();
  if (who.via == via::tcp && who.token.empty()) who.via = via::spool;  // no proof: not a token
  return who;
}

bool same_owner(const Identity& a, const Identity& b) {
  bool a_tcp = a.via == via::tcp, b_tcp = b.via == via::tcp;
  if (a_tcp || b_tcp) return a_tcp && b_tcp && a.token == b.token;
  return a.uid == b.uid;
}

std::string describe(const Identity& who) {
  if (who.via == via::tcp) return "token '" + who.token + "' (tcp)";
  std::string s = "uid " + std::to_string(who.uid) + " (" + who.via;
  if (who.pid >= 0) s += ", pid " + std::to_string(who.pid);
  return s + ")";
}

}  // namespace qkv::protocol
