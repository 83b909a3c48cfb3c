// VRT's transformer blocks (upstream models/network_vrt.py), composed from the ops of ops_vrt.h:
// WindowAttention, Mlp_GEGLU, TMSA and TMSAG. Field and key names mirror the upstream modules so
// a block's parameters are found under its state-dict prefix. Tensors are channel-last
// (N, D, H, W, C) inside a group, as upstream keeps them.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "core/ops_vrt.h"
#include "vrestore/tensor.h"

namespace vrestore::vrt {

// In which dtype a parameter is wanted: the model's precision, or f32 whatever the precision. An
// f16 model keeps in f32 what upstream's fp16 autocast keeps in f32 and what f16 rounding of these
// small, amplifying parameters would spoil: LayerNorm's weight and bias (normalised over as few as
// 4 channels in the 'up' reshapes) and the deformable alignment's offset branch (offsets and masks
// are f32).
enum class Keep { ModelDType, F32 };

// Where a block's parameters come from: the tensor stored under `key`, checked to have `shape`, in
// the dtype `keep` asks for (a Weights::take, or a fixture's tensors in tests). Throws
// vrestore::Error otherwise.
using TensorSource = std::function<Tensor(const std::string& key, const Shape& shape, Keep keep)>;

// nn.Linear. Keys <name>.weight (out, in), <name>.bias (out).
struct Linear {
  Tensor weight, bias;
  static Linear load(const TensorSource& source, const std::string& name, int64_t in, int64_t out);
  Tensor operator()(const Tensor& x) const { return ops::linear(x, weight, &bias); }
};

// nn.LayerNorm over the last dimension (eps 1e-5). Keys <name>.weight, <name>.bias (C), kept f32.
struct LayerNorm {
  Tensor weight, bias;
  static LayerNorm load(const TensorSource& source, const std::string& name, int64_t channels);
  Tensor operator()(const Tensor& x) const { return ops::layer_norm(x, weight, bias); }
};

// Mlp_GEGLU: fc2(gelu(fc11(x)) * fc12(x)). Keys <name>.fc11, <name>.fc12 (C -> hidden), <name>.fc2.
struct MlpGeglu {
  Linear fc11, fc12, fc2;
  static MlpGeglu load(const TensorSource& source, const std::string& name, int64_t in, int64_t hidden, int64_t out);
  Tensor operator()(const Tensor& x) const { return fc2(ops::gelu_mul(fc11(x), fc12(x))); }
};

// WindowAttention (spec §4.3): self attention with the relative position bias of the module's window,
// plus, when mutual, the mutual branch on 2-frame windows with the stored sine position encoding;
// proj maps [mutual | self] (2C) or self (C) back to C. Keys <name>.relative_position_bias_table,
// <name>.qkv_self, <name>.proj, and when mutual <name>.qkv_mut, <name>.position_bias (1, Wh*Ww, C).
struct WindowAttention {
  std::array<int, 3> window{};
  int64_t dim = 0, heads = 0;
  bool mutual = false;
  float scale = 0;  // qk_scale; 0: head_dim^-0.5 (upstream's default, qk_scale None)
  Tensor bias_table, position_bias;  // position_bias viewed as (Wh*Ww, C)
  Linear qkv_self, qkv_mut, proj;

  static WindowAttention load(const TensorSource& source, const std::string& name, int64_t dim, int64_t heads,
                              const std::array<int, 3>& window, bool mutual);
  // windows (N·nW, T, C) partitioned with geometry g (its mask is used when g is shifted) -> (N·nW, T, C).
  // `proj_in`, when given, receives the input of proj (tests compare it with upstream's).
  Tensor operator()(const Tensor& windows, const WindowGeometry& g, Tensor* proj_in = nullptr) const;
};

// TMSA block: x + reverse(attn(partition(norm1(x)))), then x + mlp(norm2(x)), with the block's
// shift (0 for even blocks, window // 2 for odd ones) clipped to the volume. Keys <name>.norm1,
// <name>.attn, <name>.norm2, <name>.mlp.
struct Tmsa {
  std::array<int, 3> window{}, shift{};
  LayerNorm norm1, norm2;
  WindowAttention attn;
  MlpGeglu mlp;

  static Tmsa load(const TensorSource& source, const std::string& name, int64_t dim, int64_t heads,
                   const std::array<int, 3>& window, const std::array<int, 3>& shift, bool mutual, double mlp_ratio);
  // x (N, D, H, W, C) -> (N, D, H, W, C).
  Tensor operator()(const Tensor& x) const;
};

// TMSAG: `depth` TMSA blocks keyed <name>.blocks.<j>, block j shifted by window // 2 when j is odd.
struct Tmsag {
  std::vector<Tmsa> blocks;
  static Tmsag load(const TensorSource& source, const std::string& name, int64_t dim, int64_t depth, int64_t heads,
                    const std::array<int, 3>& window, bool mutual, double mlp_ratio = 2.0);
  // x (N, C, D, H, W) -> (N, C, D, H, W); after_block0, when given, receives block 0's (N, D, H, W, C) output.
  Tensor operator()(const Tensor& x, Tensor* after_block0 = nullptr) const;
  // The same on channel-last tokens: y (N, D, H, W, C) -> (N, D, H, W, C).
  Tensor tokens(Tensor y, Tensor* after_block0 = nullptr) const;
};

}  // namespace vrestore::vrt
