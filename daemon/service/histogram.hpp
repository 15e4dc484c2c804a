// A Prometheus histogram with fixed upper bounds (cumulative buckets are made when written,
// so observing is one increment). Not thread-safe: service/service_metrics.cpp locks it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace qkv::service {

class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);
  void observe(double value);
  // `name_bucket{labels,le="..."}`, `name_sum{labels}`, `name_count{labels}` lines; `labels`
  // is the rendered label list without braces (may be empty).
  void write(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::span<const double> bounds_;
  std::vector<uint64_t> counts_;  // one per bound, then +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

}  // namespace qkv::service
