// The checked VRT ops of ops_vrt.h: validate (got-vs-expected), resolve the geometry, allocate the
// output on the input's device and dtype, fill the args (op_args_vrt.h) and run one backend.
#include "core/ops_vrt.h"

#include <algorithm>
#include <climits>
#include <cmath>

#include "core/op_dispatch.h"

namespace vrestore::ops {
namespace {

using detail::check_operand;
using detail::dispatch;
using detail::output_like;

// The kernels index rows, channels and window tokens with int.
void check_int(const char* op, const char* what, int64_t v) {
  VR_CHECK(v >= 0 && v <= INT_MAX, op, ": ", what, " is ", v, ", expected at most ", INT_MAX);
}

int64_t leading_rows(const Tensor& x) { return x.size(-1) == 0 ? 0 : x.numel() / x.size(-1); }

Tensor transpose(const Tensor& x, int64_t batch, int64_t rows, int64_t cols, const Shape& out_shape) {
  TransposeArgs a{x, batch, rows, cols, output_like(x, out_shape)};
  if (x.numel() > 0) dispatch(a, x);
  return a.out;
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor* bias) {
  const char* op = "linear";
  check_operand(op, "x", x, x);
  check_operand(op, "weight", weight, x);
  check_rank(op, "weight", weight, 2);
  VR_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), op, ": x has shape ", x.shape_str(), ", expected (..., ",
           weight.size(1), ") (the in_features of weight ", weight.shape_str(), ")");
  const int64_t out_features = weight.size(0);
  if (bias) {
    check_operand(op, "bias", *bias, x);
    check_shape(op, "bias", *bias, {out_features});
  }
  LinearArgs a;
  a.x = x;
  a.weight = weight;
  if (bias) a.bias = *bias;
  a.rows = leading_rows(x);
  a.in_features = weight.size(1);
  a.out_features = out_features;
  check_int(op, "the number of rows", a.rows);
  Shape shape = x.shape();
  shape.back() = out_features;
  a.out = output_like(x, shape);  // (..., out_features)
  if (a.out.numel() > 0) dispatch(a, x);
  return a.out;
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  const char* op = "layer_norm";
  check_operand(op, "x", x, x);
  VR_CHECK(x.dim() >= 1 && x.size(-1) >= 1, op, ": x has shape ", x.shape_str(), ", expected (..., C) with C >= 1");
  const int64_t channels = x.size(-1);
  check_operand(op, "weight", weight, x, /*always_f32=*/true);
  check_operand(op, "bias", bias, x, /*always_f32=*/true);
  check_shape(op, "weight", weight, {channels});
  check_shape(op, "bias", bias, {channels});
  VR_CHECK(eps > 0 && std::isfinite(eps), op, ": eps is ", eps, ", expected a positive number");
  LayerNormArgs a{x, weight, bias, leading_rows(x), channels, eps, output_like(x, x.shape())};
  check_int(op, "the number of rows", a.rows);
  if (a.rows > 0) dispatch(a, x);
  return a.out;
}

Tensor gelu(const Tensor& x) {
  check_operand("gelu", "x", x, x);
  GeluArgs a{x, Tensor(), output_like(x, x.shape())};
  if (x.numel() > 0) dispatch(a, x);
  return a.out;
}

Tensor gelu_mul(const Tensor& x, const Tensor& gate) {
  check_operand("gelu", "x", x, x);
  check_operand("gelu", "gate", gate, x);
  check_shape("gelu", "gate", gate, x.shape());
  GeluArgs a{x, gate, output_like(x, x.shape())};
  if (x.numel() > 0) dispatch(a, x);
  return a.out;
}

void add_broadcast_(Tensor& x, const Tensor& y) {
  const char* op = "add_broadcast";
  check_operand(op, "x", x, x);
  check_operand(op, "y", y, x);
  bool trailing = y.dim() <= x.dim() && y.numel() > 0;
  for (int d = 1; trailing && d <= y.dim(); ++d) trailing = x.size(-d) == y.size(-d);
  VR_CHECK(trailing, op, ": y has shape ", y.shape_str(), ", expected the trailing dimensions of x ", x.shape_str());
  if (x.numel() > 0) dispatch(AddBroadcastArgs{x, y}, x);
}

Tensor channels_last(const Tensor& x) {
  check_operand("channels_last", "x", x, x);
  VR_CHECK(x.dim() >= 3, "channels_last: x has shape ", x.shape_str(), ", expected (N, C, S...) with at least 3 dimensions");
  Shape shape{x.size(0)};
  for (int d = 2; d < x.dim(); ++d) shape.push_back(x.size(d));
  shape.push_back(x.size(1));
  return transpose(x, x.size(0), x.size(1), x.numel() / std::max<int64_t>(1, x.size(0) * x.size(1)),
                   shape);
}

Tensor channels_first(const Tensor& x) {
  check_operand("channels_first", "x", x, x);
  VR_CHECK(x.dim() >= 3, "channels_first: x has shape ", x.shape_str(), ", expected (N, S..., C) with at least 3 dimensions");
  Shape shape{x.size(0), x.size(-1)};
  for (int d = 1; d < x.dim() - 1; ++d) shape.push_back(x.size(d));
  return transpose(x, x.size(0), x.numel() / std::max<int64_t>(1, x.size(0) * x.size(-1)),
                   x.size(-1), shape);
}

WindowGeometry window_geometry(int64_t batch, const std::array<int64_t, 3>& size, const std::array<int, 3>& window,
                               const std::array<int, 3>& shift) {
  const char* op = "window_geometry";
  VR_CHECK(batch >= 1 && batch <= INT_MAX, op, ": batch is ", batch, ", expected 1 to ", INT_MAX);
  WindowGeometry g;
  g.batch = static_cast<int>(batch);
  const char* axis_name[3] = {"D", "H", "W"};
  int64_t padded_volume = batch;
  for (int axis = 0; axis < 3; ++axis) {
    const int64_t s = size[axis];
    VR_CHECK(s >= 1 && s <= INT_MAX / 2, op, ": ", axis_name[axis], " is ", s, ", expected 1 to ", INT_MAX / 2);
    VR_CHECK(window[axis] >= 1, op, ": window ", axis_name[axis], " is ", window[axis], ", expected >= 1");
    VR_CHECK(shift[axis] >= 0 && shift[axis] < window[axis], op, ": shift ", axis_name[axis], " is ", shift[axis],
             ", expected 0 to window - 1 = ", window[axis] - 1);
    g.size[axis] = static_cast<int>(s);
    // Upstream get_window_size: "<=", so a volume exactly one window large is not shifted either.
    g.window[axis] = s <= window[axis] ? static_cast<int>(s) : window[axis];
    g.shift[axis] = s <= window[axis] ? 0 : shift[axis];
    g.padded[axis] = static_cast<int>((s + g.window[axis] - 1) / g.window[axis] * g.window[axis]);
    padded_volume *= g.padded[axis];
  }
  VR_CHECK(padded_volume <= INT_MAX, op, ": the padded volume has ", padded_volume, " tokens, expected at most ", INT_MAX);
  return g;
}

namespace {

// A geometry built by hand must still be one window_geometry could have produced.
void check_geometry(const char* op, const WindowGeometry& g) {
  int64_t volume = g.batch;
  for (int axis = 0; axis < 3; ++axis) {
    VR_CHECK(g.size[axis] >= 1 && g.window[axis] >= 1 && g.window[axis] <= g.size[axis] && g.shift[axis] >= 0 &&
                 g.shift[axis] < g.window[axis] && g.padded[axis] % g.window[axis] == 0 &&
                 g.padded[axis] >= g.size[axis] && g.padded[axis] - g.size[axis] < g.window[axis],
             op, ": window geometry axis ", axis, " (size ", g.size[axis], ", window ", g.window[axis], ", shift ",
             g.shift[axis], ", padded ", g.padded[axis], ") is inconsistent (use ops::window_geometry)");
    volume *= g.padded[axis];
  }
  VR_CHECK(g.batch >= 1 && volume <= INT_MAX, op, ": window geometry of ", volume, " padded tokens, expected 1 to ",
           INT_MAX);
}

void check_geometry_of(const char* op, const Tensor& volume, const WindowGeometry& g) {
  check_geometry(op, g);
  const Shape want{g.batch, g.size[0], g.size[1], g.size[2], volume.dim() == 5 ? volume.size(4) : 1};
  VR_CHECK(volume.dim() == 5 && volume.shape() == want, op, ": volume ", volume.shape_str(),
           " does not match the window geometry (expected ", shape_to_string(want), ")");
}

}  // namespace

Tensor window_partition(const Tensor& x, const WindowGeometry& g) {
  const char* op = "window_partition";
  check_operand(op, "x", x, x);
  check_geometry_of(op, x, g);
  const int64_t channels = x.size(4);
  const int64_t windows = int64_t{g.batch} * g.windows_per_image();
  WindowPartitionArgs a{x, g, channels, false, output_like(x, {windows, g.tokens(), channels})};  // (N·nW, T, C)
  if (a.out.numel() > 0) dispatch(a, x);
  return a.out;
}

Tensor window_reverse(const Tensor& windows, const WindowGeometry& g) {
  const char* op = "window_reverse";
  check_operand(op, "windows", windows, windows);
  check_geometry(op, g);
  const int64_t count = int64_t{g.batch} * g.windows_per_image();
  VR_CHECK(windows.dim() == 3 && windows.size(0) == count && windows.size(1) == g.tokens(), op, ": windows has shape ",
           windows.shape_str(), ", expected (", count, ", ", g.tokens(), ", C) for the window geometry");
  const int64_t channels = windows.size(2);
  WindowPartitionArgs a{windows, g, channels, true,
                        output_like(windows, {g.batch, g.size[0], g.size[1], g.size[2], channels})};  // (N, D, H, W, C)
  check_geometry_of(op, a.out, g);
  if (a.out.numel() > 0) dispatch(a, windows);
  return a.out;
}

Tensor window_attention(const Tensor& qkv, const Tensor* bias_table, const WindowAttentionParams& p) {
  const char* op = "window_attention";
  check_operand(op, "qkv", qkv, qkv);
  check_rank(op, "qkv", qkv, 3);
  const WindowGeometry& g = p.geometry;
  check_geometry(op, g);
  const int64_t tokens = g.tokens(), windows = int64_t{g.batch} * g.windows_per_image();
  VR_CHECK(qkv.size(0) == windows && qkv.size(1) == tokens, op, ": qkv has shape ", qkv.shape_str(), ", expected (",
           windows, ", ", tokens, ", 3C) for ", g.batch, " volume(s) of ", g.windows_per_image(), " windows of ", tokens,
           " tokens");
  VR_CHECK(p.heads >= 1 && qkv.size(2) % (3 * p.heads) == 0 && qkv.size(2) > 0, op, ": qkv has ", qkv.size(2),
           " channels, expected a positive multiple of 3 * heads = ", 3 * p.heads);
  const int64_t channels = qkv.size(2) / 3, head_dim = channels / p.heads;
  for (int axis = 0; axis < 3; ++axis)
    VR_CHECK(p.full_window[axis] >= g.window[axis], op, ": the module window (", p.full_window[0], ", ",
             p.full_window[1], ", ", p.full_window[2], ") is smaller than the effective window (", g.window[0], ", ",
             g.window[1], ", ", g.window[2], ")");
  WindowAttentionArgs a;
  a.qkv = qkv;
  a.g = g;
  for (int axis = 0; axis < 3; ++axis) a.full_window[axis] = p.full_window[axis];
  a.heads = p.heads;
  a.head_dim = head_dim;
  a.scale = p.scale != 0 ? p.scale : static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  a.mutual = p.mutual;
  if (p.mutual) {
    VR_CHECK(bias_table == nullptr, op, ": mutual attention has no relative position bias, got a bias table");
    VR_CHECK(g.window[0] == 2, op, ": mutual attention needs 2-frame windows, got an effective window of ", g.window[0],
             " frame(s)");
  } else {
    VR_CHECK(bias_table != nullptr, op, ": self attention needs the relative position bias table");
    const int64_t rows = int64_t{2 * p.full_window[0] - 1} * (2 * p.full_window[1] - 1) * (2 * p.full_window[2] - 1);
    check_operand(op, "bias_table", *bias_table, qkv);
    check_shape(op, "bias_table", *bias_table, {rows, p.heads});
    a.bias_table = *bias_table;
  }
  a.out = output_like(qkv, {windows, tokens, channels});  // (N·nW, T, C)
  dispatch(a, qkv);
  return a.out;
}

Tensor nearest4_warp(const Tensor& x, const Tensor& flow) {
  const char* op = "nearest4_warp";
  check_operand(op, "x", x, x);
  check_operand(op, "flow", flow, x, /*always_f32=*/true);
  check_rank(op, "x", x, 4);
  check_shape(op, "flow", flow, {x.size(0), 2, x.size(2), x.size(3)});
  Nearest4WarpArgs a;
  a.x = x;
  a.flow = flow;
  a.batch = x.size(0);
  a.channels = x.size(1);
  a.height = x.size(2);
  a.width = x.size(3);
  check_int(op, "N·4C", a.batch * 4 * a.channels);
  check_int(op, "H·W", a.height * a.width);
  a.out = output_like(x, {a.batch, 4 * a.channels, a.height, a.width});
  if (a.out.numel() > 0) dispatch(a, x);
  return a.out;
}

FlowGuidedOffset flow_guided_offset(const Tensor& raw, const Tensor& flows, float max_residue) {
  const char* op = "flow_guided_offset";
  check_operand(op, "raw", raw, raw);
  check_operand(op, "flows", flows, raw, /*always_f32=*/true);
  check_rank(op, "raw", raw, 4);
  check_rank(op, "flows", flows, 4);
  VR_CHECK(raw.size(1) > 0 && raw.size(1) % 27 == 0, op, ": raw has ", raw.size(1),
           " channels, expected 27·G (offsets and mask of G deformable groups)");
  const int64_t groups = raw.size(1) / 27;
  VR_CHECK(flows.size(1) >= 2 && flows.size(1) % 2 == 0 && (9 * groups) % (flows.size(1) / 2) == 0, op,
           ": flows has ", flows.size(1), " channels, expected 2·k for k neighbours dividing the ", 9 * groups,
           " offset pairs");
  check_shape(op, "flows", flows, {raw.size(0), flows.size(1), raw.size(2), raw.size(3)});
  FlowGuidedOffsetArgs a;
  a.x = raw;
  a.flows = flows;
  a.batch = raw.size(0);
  a.groups = groups;
  a.neighbours = flows.size(1) / 2;
  a.plane = raw.size(2) * raw.size(3);
  a.max_residue = max_residue;
  check_int(op, "N·27G·H·W", raw.numel());
  a.offset = Tensor::empty({a.batch, 18 * groups, raw.size(2), raw.size(3)}, DType::F32, raw.device());
  a.mask = Tensor::empty({a.batch, 9 * groups, raw.size(2), raw.size(3)}, DType::F32, raw.device());
  if (raw.numel() > 0) dispatch(a, raw);
  return {a.offset, a.mask};
}

}  // namespace vrestore::ops
