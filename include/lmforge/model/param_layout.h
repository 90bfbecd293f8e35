// The parameter tensors a ModelConfig implies, in arena order, with their Hugging Face names and
// (arena) shapes: one definition shared by Transformer's arena layout and the checks that run
// before any weight is allocated (a checkpoint's tensor list against its config.json).
// Not here: storage (core/arena.h), on-disk transposition of GPT-2's Conv1D weights.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lmforge/model/config.h"

namespace lmforge {

// Calls fn(name, shape) for each parameter tensor in arena order; stops early when fn returns
// false. Generates names as it goes: nothing proportional to n_layer is held.
void for_each_param(const ModelConfig& cfg,
                    const std::function<bool(const std::string&, const std::vector<int64_t>&)>& fn);

}  // namespace lmforge
