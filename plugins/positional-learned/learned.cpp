#include "learned.hpp"

#include <qkv/positions.hpp>

#include <stdexcept>
#include <string>
#include <utility>

namespace qkv::positional {

LearnedTable::LearnedTable(std::string name, const float* table, int64_t rows, int64_t dim)
    : name_(std::move(name)), table_(table), rows_(rows), dim_(dim) {
  if (!table_ || rows_ <= 0 || dim_ <= 0)
    throw std::invalid_argument("learned position table '" + name_ + "' is empty (shape [" +
                                std::to_string(rows_) + ", " + std::to_string(dim_) + "])");
}

void LearnedTable::add(float* x, uint32_t dim, size_t row_stride,
                       std::span<const int32_t> positions) const {
  if (positions.empty()) return;
  if (dim != dim_)
    throw std::invalid_argument("dim " + std::to_string(dim) +
                                " does not match the learned table '" + name_ + "' of shape [" +
                                std::to_string(rows_) + ", " + std::to_string(dim_) + "]");
  if (!x) throw std::invalid_argument("x is null");
  if (row_stride < dim)
    throw std::invalid_argument("row_stride " + std::to_string(row_stride) + " < dim " +
                                std::to_string(dim));
  sdk::check_positions(
      positions, rows_,
      "the learned table '" + name_ + "' of " + std::to_string(rows_) + " positions");
  for (size_t t = 0; t < positions.size(); ++t) {
    const float* src = table_ + static_cast<size_t>(positions[t]) * static_cast<size_t>(dim_);
    float* row = x + t * row_stride;
    for (uint32_t i = 0; i < dim; ++i) row[i] += src[i];
  }
}

}  // namespace qkv::positional
