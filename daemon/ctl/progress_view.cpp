#include "ctl/progress_view.hpp"

#include "io/progress_bar.hpp"

namespace qkv::ctl {

ProgressView::ProgressView(std::FILE* out, bool tty, std::chrono::seconds every)
    : out_(out), tty_(tty), every_(every) {}

void ProgressView::update(const nlohmann::json& ev) {
  const auto& p = ev.value("progress", nlohmann::json::object());
  std::string state = ev.value("state", "");
  double frac = p.value("fraction", -1.0);
  auto docs = p.value("documents_done", uint64_t(0));
  double bd = double(p.value("bytes_done", uint64_t(0))),
         bt = double(p.value("bytes_total", uint64_t(0)));
  std::string id = ev.value("id", "");
  if (tty_) {
    std::fputs(io::progress_bar(state, frac, docs, bd, bt, id).c_str(), out_);
    std::fflush(out_);
    drawn_ = true;
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (state != "running") return;  // plain lines report work being done, nothing else
  if (last_ != std::chrono::steady_clock::time_point{} && now - last_ < every_) return;
  last_ = now;
  std::fprintf(out_, "job %s: %s", id.c_str(), state.c_str());
  if (frac >= 0) std::fprintf(out_, " %.0f%%", frac * 100);
  std::fprintf(out_, " (%llu documents, %s", static_cast<unsigned long long>(docs),
               human_bytes(bd).c_str());
  if (bt > 0) std::fprintf(out_, " of %s", human_bytes(bt).c_str());
  std::fprintf(out_, ")\n");
  std::fflush(out_);
}

void ProgressView::finish() {
  if (tty_ && drawn_) {
    std::fprintf(out_, "\r\033[K");
    std::fflush(out_);
  }
  drawn_ = false;
}

}  // namespace qkv::ctl
