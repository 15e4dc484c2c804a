// Learned absolute positions (GPT-2's wpe, BERT's position_embeddings): a [max_positions, dim]
// float table owned by someone else (the host's model weights), added row by row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace qkv::positional {

class LearnedTable {
 public:
  // `table` holds rows*dim floats, row-major; it must outlive this object. `name` is only
  // used in messages. Throws std::invalid_argument on an empty or inconsistent table.
  LearnedTable(std::string name, const float* table, int64_t rows, int64_t dim);

  int64_t rows() const noexcept { return rows_; }
  int64_t dim() const noexcept { return dim_; }
  const std::string& name() const noexcept { return name_; }

  // x[t*row_stride + i] += table[positions[t]][i], i < dim. Checks everything first: throws
  // std::out_of_range (a position past the table, naming it and the table size) or
  // std::invalid_argument (dim mismatch, bad stride), leaving x untouched.
  void add(float* x, uint32_t dim, size_t row_stride, std::span<const int32_t> positions) const;

 private:
  std::string name_;
  const float* table_;
  int64_t rows_;
  int64_t dim_;
};

}  // namespace qkv::positional
