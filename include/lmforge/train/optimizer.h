// AdamW over one flat parameter arena, with per-tensor weight decay (norm gains and biases are
// not decayed), and global-norm gradient clipping. The optimizer sees the arena as a list of
// named segments (offset, numel) so it needs nothing from the model but names and a decay flag;
// its state m and v are flat arrays with the same layout as the parameters, so checkpoints store
// them per tensor under the parameter's name.
// Not here: other optimizers, sharded state (ZeRO), mixed precision master weights.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lmforge {

struct AdamWConfig {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;  // applied only to segments with decay == true
};

// One named tensor inside the flat parameter / gradient / state arrays.
struct ParamSegment {
  std::string name;
  std::vector<int64_t> shape;
  size_t offset = 0;
  size_t numel = 0;
  bool decay = true;
};

class AdamW {
 public:
  // numel: total length of the flat arrays; segments must lie within it.
  AdamW(AdamWConfig config, std::vector<ParamSegment> segments, size_t numel);

  // One update of every segment with rate lr; increments step() first (bias correction uses
  // the 1-based count of updates).
  void update(float* params, const float* grads, float lr);

  int64_t step() const { return step_; }
  void set_step(int64_t step) { step_ = step; }
  const AdamWConfig& config() const { return config_; }
  const std::vector<ParamSegment>& segments() const { return segments_; }
  std::vector<float>& m() { return m_; }
  std::vector<float>& v() { return v_; }
  const std::vector<float>& m() const { return m_; }
  const std::vector<float>& v() const { return v_; }

 private:
  AdamWConfig config_;
  std::vector<ParamSegment> segments_;
  std::vector<float> m_, v_;
  int64_t step_ = 0;
};

// L2 norm of the whole gradient (accumulated in double). When max_norm > 0 and the norm exceeds
// it, scales grads in place to norm max_norm. Returns the norm before clipping.
double clip_grad_norm(float* grads, size_t n, double max_norm);

}  // namespace lmforge
