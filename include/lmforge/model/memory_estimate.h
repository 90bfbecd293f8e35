// How much memory a model needs before any of it is allocated, and the refusal when the machine
// does not have it: so that a typo (`--n-layer 100000000`, `n_layer: 65536` in a config.json,
// a huge --batch-size) ends in a clear error naming the estimate and the machine's memory instead
// of a swap storm or std::bad_alloc, and before anything is written. All arithmetic is in double:
// absurd sizes cannot overflow. Not here: the allocations themselves (core/arena.h, Transformer).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lmforge/model/config.h"

namespace lmforge {

struct MemoryEstimate {
  std::vector<std::pair<std::string, double>> parts;  // (what, bytes), e.g. ("AdamW moments", ..)
  double total() const;
  std::string describe() const;  // "12.3 GiB (parameters 1.0 GiB, gradients 1.0 GiB, ...)"
};

// Floats of Transformer's activation buffer for N = B·T rows (Transformer::activation_bytes
// without a Transformer).
double activation_floats(const ModelConfig& cfg, double N);
// What Transformer::load keeps (parameters and their gradient arena) plus one KV cache at the
// full context, the least any use of a loaded model needs.
MemoryEstimate load_memory(const ModelConfig& cfg);
// Training from scratch or continued: parameters, gradients, AdamW's two moments and the
// activations of one (B,T) micro-batch.
MemoryEstimate training_memory(const ModelConfig& cfg, int batch_size, int seq_len);

// Bytes this process may still allocate: MemAvailable + SwapFree from /proc/meminfo (0 when it
// cannot be read, which disables the check). meminfo_path is for tests.
double available_memory_bytes(const std::string& meminfo_path = "/proc/meminfo");

// Throws UsageError "WHAT needs about X (parts) but this machine has Y available (MemAvailable +
// SwapFree in /proc/meminfo, of Z total)" when the estimate exceeds what is available.
void require_memory(const MemoryEstimate& need, const std::string& what,
                    const std::string& hint = "");

}  // namespace lmforge
