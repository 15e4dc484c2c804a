// The small-M path of gemm() (model/gemm.hpp): decode steps multiply a few rows by every weight
// matrix, where packing B each call (what the GEMM tiles need) reads and writes the weights
// once more than the product itself. gemv() streams B in place instead, once for up to
// kGemvRowGroup rows, split into the same fixed column tiles (kGemmTileN) on oneTBB. Each
// element is reduced in gemm's exact order (FMA chains over kGemmBlockK-row blocks of K, added
// block by block), so a row gets the same bits from either path and never depends on how many
// rows share the call.
#pragma once

#include "model/gemm.hpp"

namespace qkv::model {

// gemm() takes this path for m <= kGemvMaxRows (bench/generate: the batch-1 decode figure).
inline constexpr size_t kGemvMaxRows = 8;
// Rows sharing one pass over B (their accumulators fill the register file).
inline constexpr size_t kGemvRowGroup = 4;

void gemv(const GemmArgs& args, bool parallel = true);

// One column tile (args.n <= kGemmTileN), all rows and K, on the dispatched target.
void gemv_highway_tile(const GemmArgs& tile);

}  // namespace qkv::model
