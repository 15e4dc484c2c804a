// The one exception type of the model runtime: a message that says what failed and where.
#pragma once

#include <stdexcept>
#include <string>

namespace qkv::model {

class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace qkv::model
