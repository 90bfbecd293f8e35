// The parameter list of every family (see param_layout.h), read from the family's spec: the
// global tensors before the first layer tensor, every layer's tensors, then the remaining global
// ones, each present when the config's flags and features say so. Arena order matters: the spec
// lists q, k, v weights (and biases) back to back so that together they are the (QKV, C) matrix
// of one linear call; likewise gate and up form (2FF, C).
#include "lmforge/model/param_layout.h"

#include <algorithm>

#include "lmforge/model/arch.h"

namespace lmforge {

void for_each_param(
    const ModelConfig& cfg,
    const std::function<bool(const std::string&, const std::vector<int64_t>&)>& fn) {
  const ArchSpec& s = cfg.spec();
  bool go = true;
  size_t first_layer = s.tensors.size(), end_layer = 0;
  for (size_t i = 0; i < s.tensors.size(); ++i)
    if (is_layer_role(s.tensors[i].role)) {
      first_layer = std::min(first_layer, i);
      end_layer = i + 1;
    }
  auto emit = [&](size_t i, int layer) {
    const TensorRole r = s.tensors[i].role;
    if (go && has_tensor(cfg, r)) go = fn(tensor_name(cfg, r, layer), tensor_shape(cfg, r));
  };
  for (size_t i = 0; i < first_layer; ++i) emit(i, 0);
  for (int l = 0; l < cfg.n_layer && go; ++l)
    for (size_t i = first_layer; i < end_layer; ++i) emit(i, l);
  for (size_t i = end_layer; i < s.tensors.size(); ++i) emit(i, 0);
}

}  // namespace lmforge
