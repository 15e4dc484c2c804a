// A JobRunner for scheduler tests: "documents" are the inputs; each takes `step` to process,
// polling cancel between them like the real runner does between chunks.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "jobs/job_error.hpp"
#include "jobs/job_runner.hpp"

namespace qkv::test {

class FakeRunner : public jobs::JobRunner {
 public:
  std::chrono::milliseconds step{1};
  std::atomic<int> runs{0};
  std::atomic<int> max_parallel{0};

  pipeline::JobResult run(const pipeline::JobSpec& spec, pipeline::JobProgress& progress,
                          pipeline::CancelFlag& cancel) override {
    ++runs;
    int now = ++parallel_;
    for (int m = max_parallel.load(); now > m && !max_parallel.compare_exchange_weak(m, now);) {
    }
    struct Leave {
      std::atomic<int>& n;
      ~Leave() { --n; }
    } leave{parallel_};
    if (!spec.inputs.empty() && spec.inputs[0] == "fail")
      throw jobs::JobError("pipeline_error", "fake failure");
    progress.documents_total = spec.inputs.size();
    pipeline::JobResult r;
    for (size_t i = 0; i < spec.inputs.size(); ++i) {
      if (cancel()) return r;
      std::this_thread::sleep_for(step);
      ++progress.documents_done;
      ++r.documents;
    }
    return r;
  }

 private:
  std::atomic<int> parallel_{0};
};

}  // namespace qkv::test
