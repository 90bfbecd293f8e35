// Peak chains for AMX-BF16: tdpbf16ps on full tiles (C 16x16 fp32 += A 16x32 bf16 · B 32x16 bf16
// in the VNNI pair layout), four independent accumulators tmm0..3 fed by A tiles tmm4/5 and B
// tiles tmm6/7. Compiled with -mamx-tile -mamx-bf16 (CMakeLists.txt); see peak_kernels.h.
#include <immintrin.h>
#include <stdint.h>

#include "peak_kernels.h"

namespace lmforge::cpu {
namespace {

// The 64-byte LDTILECFG operand, palette 1 (Intel SDM vol. 2, LDTILECFG).
struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];  // bytes per row of each tile
  uint8_t rows[16];
};

// Our own LDTILECFG: the header's _tile_loadconfig names only 8 bytes of the operand as read, so
// the compiler may drop stores to the rest of the struct before it.
inline void load_tile_config(const TileConfig& cfg) {
  __asm__ volatile("ldtilecfg %0" ::"m"(cfg) : "memory");
}

}  // namespace

float peak_amx_bf16(long iterations) {
  TileConfig cfg = {};
  cfg.palette_id = 1;
  for (int t = 0; t < 8; t++) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;  // 16 fp32 (C) or 32 bf16 (A) or 16 bf16 pairs (B) per row
  }
  load_tile_config(cfg);
  alignas(64) uint16_t in[16 * 32];
  for (int i = 0; i < 16 * 32; i++) in[i] = 0x3c80;  // bf16 1/64
  alignas(64) float out[16 * 16];
  __asm__ volatile("" ::: "memory");  // the tile macros below do not name their memory operands
  _tile_loadd(4, in, 64);
  _tile_loadd(5, in, 64);
  _tile_loadd(6, in, 64);
  _tile_loadd(7, in, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (long k = 0; k < iterations; k++) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, out, 64);
  _tile_release();
  __asm__ volatile("" ::: "memory");
  return out[0];
}

}  // namespace lmforge::cpu
