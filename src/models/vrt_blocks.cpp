// VRT's transformer blocks from ops (vrt_blocks.h); no tensor data is touched here.
#include "models/vrt_blocks.h"

#include "core/check.h"
#include "core/ops.h"

namespace vrestore::vrt {

Linear Linear::load(const TensorSource& source, const std::string& name, int64_t in, int64_t out) {
  return {source(name + ".weight", {out, in}, Keep::ModelDType), source(name + ".bias", {out}, Keep::ModelDType)};
}

LayerNorm LayerNorm::load(const TensorSource& source, const std::string& name, int64_t channels) {
  return {source(name + ".weight", {channels}, Keep::F32), source(name + ".bias", {channels}, Keep::F32)};
}

MlpGeglu MlpGeglu::load(const TensorSource& source, const std::string& name, int64_t in, int64_t hidden,
                        int64_t out) {
  return {Linear::load(source, name + ".fc11", in, hidden), Linear::load(source, name + ".fc12", in, hidden),
          Linear::load(source, name + ".fc2", hidden, out)};
}

WindowAttention WindowAttention::load(const TensorSource& source, const std::string& name, int64_t dim,
                                      int64_t heads, const std::array<int, 3>& window, bool mutual) {
  VR_CHECK(heads >= 1 && dim % heads == 0, name, ": dim ", dim, " is not a multiple of the ", heads, " heads");
  WindowAttention a;
  a.window = window;
  a.dim = dim;
  a.heads = heads;
  a.mutual = mutual;
  const int64_t table_rows = int64_t{2 * window[0] - 1} * (2 * window[1] - 1) * (2 * window[2] - 1);
  a.bias_table = source(name + ".relative_position_bias_table", {table_rows, heads}, Keep::ModelDType);
  a.qkv_self = Linear::load(source, name + ".qkv_self", dim, 3 * dim);
  a.proj = Linear::load(source, name + ".proj", mutual ? 2 * dim : dim, dim);
  if (mutual) {
    a.qkv_mut = Linear::load(source, name + ".qkv_mut", dim, 3 * dim);
    const int64_t plane = int64_t{window[1]} * window[2];
    a.position_bias = source(name + ".position_bias", {1, plane, dim}, Keep::ModelDType).reshape({plane, dim});
  }
  return a;
}

Tensor WindowAttention::operator()(const Tensor& windows, const WindowGeometry& g, Tensor* proj_in) const {
  ops::WindowAttentionParams p;
  p.heads = heads;
  p.full_window = window;
  p.geometry = g;
  p.scale = scale;
  Tensor x_out = ops::window_attention(qkv_self(windows), &bias_table, p);  // (B_, T, C)
  if (mutual) {
    // The position encoding of the full spatial window is added to both frames before qkv_mut.
    Tensor encoded = windows.clone();
    const int64_t frames = windows.size(0) * 2, plane = windows.size(1) / 2;
    Tensor framed = encoded.reshape({frames, plane, dim});
    VR_CHECK(plane == position_bias.size(0), "WindowAttention: mutual attention on windows of ", plane,
             " tokens per frame, expected the full spatial window of ", position_bias.size(0),
             " (the frame is smaller than the window)");
    ops::add_broadcast_(framed, position_bias);
    p.mutual = true;
    const Tensor mutual_out = ops::window_attention(qkv_mut(encoded), nullptr, p);  // (B_, T, C)
    const int64_t rows = windows.size(0) * windows.size(1);
    x_out = ops::cat1({mutual_out.reshape({rows, dim}), x_out.reshape({rows, dim})})
                .reshape({windows.size(0), windows.size(1), 2 * dim});
  }
  if (proj_in) *proj_in = x_out;
  return proj(x_out);
}

Tmsa Tmsa::load(const TensorSource& source, const std::string& name, int64_t dim, int64_t heads,
                const std::array<int, 3>& window, const std::array<int, 3>& shift, bool mutual, double mlp_ratio) {
  Tmsa b;
  b.window = window;
  b.shift = shift;
  b.norm1 = LayerNorm::load(source, name + ".norm1", dim);
  b.attn = WindowAttention::load(source, name + ".attn", dim, heads, window, mutual);
  b.norm2 = LayerNorm::load(source, name + ".norm2", dim);
  const auto hidden = static_cast<int64_t>(static_cast<double>(dim) * mlp_ratio);
  b.mlp = MlpGeglu::load(source, name + ".mlp", dim, hidden, dim);
  return b;
}

Tensor Tmsa::operator()(const Tensor& x) const {
  VR_CHECK(x.dim() == 5, "TMSA: x has shape ", x.shape_str(), ", expected (N, D, H, W, C)");
  const WindowGeometry g = ops::window_geometry(x.size(0), {x.size(1), x.size(2), x.size(3)}, window, shift);
  // Zero padding happens after the norm (inside the partition), so padded tokens are exact zeros.
  const Tensor attended = attn(ops::window_partition(norm1(x), g), g);
  Tensor y = ops::window_reverse(attended, g);
  ops::add_(y, x);
  ops::add_(y, mlp(norm2(y)));
  return y;
}

Tmsag Tmsag::load(const TensorSource& source, const std::string& name, int64_t dim, int64_t depth, int64_t heads,
                  const std::array<int, 3>& window, bool mutual, double mlp_ratio) {
  Tmsag group;
  const std::array<int, 3> half{window[0] / 2, window[1] / 2, window[2] / 2};
  for (int64_t j = 0; j < depth; ++j)
    group.blocks.push_back(Tmsa::load(source, name + ".blocks." + std::to_string(j), dim, heads, window,
                                      j % 2 == 0 ? std::array<int, 3>{0, 0, 0} : half, mutual, mlp_ratio));
  return group;
}

Tensor Tmsag::operator()(const Tensor& x, Tensor* after_block0) const {
  return ops::channels_first(tokens(ops::channels_last(x), after_block0));
}

Tensor Tmsag::tokens(Tensor y, Tensor* after_block0) const {
  for (size_t j = 0; j < blocks.size(); ++j) {
    y = blocks[j](y);
    if (j == 0 && after_block0) *after_block0 = y;
  }
  return y;
}

}  // namespace vrestore::vrt
