// The requests qkvctl sends, built from its options through the protocol's own types
// (protocol/requests.hpp), so that what qkvctl writes is what qkvd parses.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "ctl/options.hpp"
#include "protocol/requests.hpp"

namespace qkv::ctl {

// A command line that cannot become a request (e.g. `--set` without `=`): exit code kUsage.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The request of a command (`submit`, `status`, `wait`, `cancel`, `list`, `stats`, `reload`,
// `health`, `run`, `plugins`, `pipelines`). Paths become absolute, a pipeline that looks like
// a path too; `run` takes its texts from `o.texts` (the caller reads stdin first). Throws
// UsageError.
protocol::RequestBody build_request(std::string_view command, const Options& o);

}  // namespace qkv::ctl
