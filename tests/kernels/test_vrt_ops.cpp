// VRT's per-token kernels (vrt_tokens.h) and the fused window attention (window_attention.h) against
// the CPU backend (f32 and f16 storage, NaN-prefilled outputs) and the upstream attention fixtures.
#include <array>
#include <cstring>
#include <string>

#include "core/ops.h"
#include "core/ops_vrt.h"
#include "device_buffer.h"
#include "support/fixtures.h"
#include "vrt_tokens.h"
#include "window_attention.h"

using namespace vrestore;
using namespace vrestore::kernel_test;

namespace {

std::vector<float> values_of(const Tensor& t) { return std::vector<float>(t.data(), t.data() + t.numel()); }

Tensor cpu_tensor(const Shape& shape, const std::vector<float>& v) { return Tensor::from_data(shape, v.data()); }

template <class T>
std::vector<float> download_float(const DeviceBuffer<T>& b) {
  return to_float(b.download());
}

template <class T>
void check_linear(int rows, int in, int out, bool with_bias) {
  INFO("linear rows " << rows << " in " << in << " out " << out << (with_bias ? " +bias" : ""));
  const std::vector<float> x = as_stored<T>(random_vector(size_t(rows) * in, -2, 2, 21));
  const std::vector<float> w = as_stored<T>(random_vector(size_t(out) * in, -1, 1, 22));
  const std::vector<float> b = as_stored<T>(random_vector(size_t(out), -1, 1, 23));
  DeviceBuffer<T> dx(storage<T>(x)), dw(storage<T>(w)), db(storage<T>(b)), dout(size_t(rows) * out),
      workspace(size_t(in) * out);
  dout.fill_nan();
  kernels::LinearParams<T> p;
  p.x = dx.get();
  p.weight = dw.get();
  p.bias = with_bias ? db.get() : nullptr;
  p.out = dout.get();
  p.workspace = workspace.get();
  p.rows = rows;
  p.in_features = in;
  p.out_features = out;
  CUDA_REQUIRE(kernels::linear(p, kernels::GemmContext{}));
  const Tensor bias = cpu_tensor({out}, b);
  const Tensor want = ops::linear(cpu_tensor({rows, in}, x), cpu_tensor({out, in}, w), with_bias ? &bias : nullptr);
  REQUIRE_CLOSE(compare("linear", download_float(dout), values_of(want), atol<T>(), rtol<T>()));
}

template <class T>
void check_layer_norm_and_gelu(int rows, int channels) {
  INFO("rows " << rows << " channels " << channels);
  std::vector<float> x = random_vector(size_t(rows) * channels, -1, 1, 24);
  for (size_t i = 0; i < x.size(); ++i) x[i] = x[i] * 3.0f + float(i / size_t(channels) % 5);  // offset rows
  x = as_stored<T>(x);
  const std::vector<float> w = random_vector(size_t(channels), 0.5f, 1.5f, 25);  // f32 in both precisions
  const std::vector<float> b = random_vector(size_t(channels), -1, 1, 26);
  const std::vector<float> gate = as_stored<T>(random_vector(x.size(), -2, 2, 27));
  DeviceBuffer<T> dx(storage<T>(x)), dgate(storage<T>(gate)), dout(x.size());
  DeviceBuffer<float> dw(w), db(b);
  dout.fill_nan();
  kernels::LayerNormParams<T> ln{dx.get(), dw.get(), db.get(), dout.get(), rows, channels, 1e-5f};
  CUDA_REQUIRE(kernels::layer_norm(ln, nullptr));
  const Tensor cx = cpu_tensor({rows, channels}, x);
  REQUIRE_CLOSE(compare("layer_norm", download_float(dout),
                        values_of(ops::layer_norm(cx, cpu_tensor({channels}, w), cpu_tensor({channels}, b))), atol<T>(),
                        rtol<T>()));
  dout.fill_nan();
  CUDA_REQUIRE(kernels::gelu(kernels::GeluParams<T>{dx.get(), nullptr, dout.get(), int64_t(x.size())}, nullptr));
  REQUIRE_CLOSE(compare("gelu", download_float(dout), values_of(ops::gelu(cx)), atol<T>(), rtol<T>()));
  dout.fill_nan();
  CUDA_REQUIRE(kernels::gelu(kernels::GeluParams<T>{dx.get(), dgate.get(), dout.get(), int64_t(x.size())}, nullptr));
  REQUIRE_CLOSE(compare("gelu_mul", download_float(dout), values_of(ops::gelu_mul(cx, cpu_tensor({rows, channels}, gate))),
                        atol<T>(), rtol<T>()));
}

// Data movement: bit-exact against the CPU op on the values the storage holds.
template <class T>
void check_movement() {
  {
    const int batch = 2, rows = 37, cols = 70;  // not tile multiples; several tiles both ways
    const std::vector<float> x = as_stored<T>(random_vector(size_t(batch) * rows * cols, -3, 3, 28));
    DeviceBuffer<T> dx(storage<T>(x)), dout(x.size());
    dout.fill_nan();
    CUDA_REQUIRE(kernels::transpose(kernels::TransposeParams<T>{dx.get(), dout.get(), batch, rows, cols}, nullptr));
    REQUIRE(download_float(dout) == values_of(ops::channels_last(cpu_tensor({batch, rows, cols}, x))));
  }
  {
    const std::vector<float> x = as_stored<T>(random_vector(3 * 4 * 10, -3, 3, 29));
    const std::vector<float> y = as_stored<T>(random_vector(4 * 10, -3, 3, 30));
    DeviceBuffer<T> dx(storage<T>(x)), dy(storage<T>(y));
    CUDA_REQUIRE(kernels::add_broadcast(kernels::AddBroadcastParams<T>{dx.get(), dy.get(), 3, 40}, nullptr));
    Tensor want = cpu_tensor({3, 4, 10}, x);
    ops::add_broadcast_(want, cpu_tensor({4, 10}, y));
    // f16 rounds the sum once, like storing the CPU's f32 sum
    REQUIRE(download_float(dx) == as_stored<T>(values_of(want)));
  }
  struct Case {
    int64_t n, d, h, w, c;
    std::array<int, 3> window, shift;
  };
  for (const Case& k : {Case{2, 5, 7, 9, 3, {3, 4, 4}, {1, 2, 2}}, Case{1, 4, 6, 5, 130, {6, 4, 8}, {3, 2, 4}}}) {
    INFO("volume (" << k.n << ", " << k.d << ", " << k.h << ", " << k.w << ", " << k.c << ")");
    const WindowGeometry g = ops::window_geometry(k.n, {k.d, k.h, k.w}, k.window, k.shift);
    const std::vector<float> x = as_stored<T>(random_vector(size_t(k.n * k.d * k.h * k.w * k.c), -3, 3, 31));
    const Tensor want = ops::window_partition(cpu_tensor({k.n, k.d, k.h, k.w, k.c}, x), g);
    DeviceBuffer<T> dx(storage<T>(x)), dwin(size_t(want.numel())), dback(x.size());
    dwin.fill_nan();
    dback.fill_nan();
    CUDA_REQUIRE(kernels::window_partition(kernels::WindowPartitionParams<T>{dx.get(), dwin.get(), g, int(k.c), false}, nullptr));
    REQUIRE(download_float(dwin) == values_of(want));
    CUDA_REQUIRE(kernels::window_partition(kernels::WindowPartitionParams<T>{dwin.get(), dback.get(), g, int(k.c), true}, nullptr));
    REQUIRE(download_float(dback) == x);
  }
}

struct AttentionCase {
  int64_t n, d, h, w;
  std::array<int, 3> full, shift;
  int heads, head_dim;
  bool mutual;
};

// The kernel against ops::window_attention (CPU) on the values T storage holds.
template <class T>
void check_attention(const AttentionCase& k) {
  INFO("volume (" << k.n << ", " << k.d << ", " << k.h << ", " << k.w << "), window (" << k.full[0] << ", " << k.full[1]
                  << ", " << k.full[2] << "), heads " << k.heads << ", head dim " << k.head_dim
                  << (k.mutual ? ", mutual" : ", self"));
  const WindowGeometry g = ops::window_geometry(k.n, {k.d, k.h, k.w}, k.full, k.shift);
  const int64_t windows = int64_t{g.batch} * g.windows_per_image(), channels = int64_t{k.heads} * k.head_dim;
  const int64_t rows = int64_t{2 * k.full[0] - 1} * (2 * k.full[1] - 1) * (2 * k.full[2] - 1);
  const std::vector<float> qkv = as_stored<T>(random_vector(size_t(windows * g.tokens() * 3 * channels), -2, 2, 32));
  const std::vector<float> table = as_stored<T>(random_vector(size_t(rows * k.heads), -3, 3, 33));
  DeviceBuffer<T> dqkv(storage<T>(qkv)), dtable(storage<T>(table)), dout(size_t(windows * g.tokens() * channels));
  dout.fill_nan();
  ops::WindowAttentionParams op;
  op.heads = k.heads;
  op.full_window = k.full;
  op.geometry = g;
  op.mutual = k.mutual;
  kernels::WindowAttentionParams<T> p;
  p.qkv = dqkv.get();
  p.bias_table = k.mutual ? nullptr : dtable.get();
  p.out = dout.get();
  p.g = g;
  for (int axis = 0; axis < 3; ++axis) p.full_window[axis] = k.full[axis];
  p.heads = k.heads;
  p.head_dim = k.head_dim;
  p.scale = float(1.0 / std::sqrt(double(k.head_dim)));
  p.mutual = k.mutual;
  CUDA_REQUIRE(kernels::window_attention(p, nullptr));
  const Tensor ctable = cpu_tensor({rows, k.heads}, table);
  const Tensor want = ops::window_attention(cpu_tensor({windows, g.tokens(), 3 * channels}, qkv),
                                            k.mutual ? nullptr : &ctable, op);
  REQUIRE_CLOSE(compare("window_attention", download_float(dout), values_of(want), atol<T>(), rtol<T>()));
}

// Padding and shifts on every axis with batch 2; windows clipped on D and W (top-left index block);
// mutual with the temporal wrap-around; VRT's head dims 20 and 30 at its (6,8,8) / (2,8,8) windows
// (several query tiles and key tiles); a head dim above 32 (the wider kernel variant).
const AttentionCase kAttentionCases[] = {
    {2, 5, 7, 9, {3, 4, 4}, {1, 2, 2}, 3, 5, false}, {1, 4, 6, 5, {6, 4, 8}, {3, 2, 4}, 2, 7, false},
    {1, 3, 6, 8, {2, 4, 4}, {1, 2, 2}, 2, 6, true},  {1, 6, 9, 8, {6, 8, 8}, {3, 4, 4}, 1, 30, false},
    {1, 3, 12, 8, {2, 8, 8}, {1, 4, 4}, 2, 20, true}, {1, 2, 5, 4, {2, 4, 4}, {0, 0, 0}, 1, 40, false}};

}  // namespace

TEST_CASE("VRT linear kernel matches the CPU op", "[kernels][vrt]") {
  check_linear<float>(37, 24, 45, true);
  check_linear<float>(5, 33, 7, false);
  check_linear<__half>(37, 24, 45, true);
}

TEST_CASE("VRT layer_norm and gelu kernels match the CPU ops", "[kernels][vrt]") {
  check_layer_norm_and_gelu<float>(11, 120);
  check_layer_norm_and_gelu<float>(9, 7);
  check_layer_norm_and_gelu<__half>(11, 45);
}

TEST_CASE("VRT transpose, add_broadcast and window partition kernels move data exactly", "[kernels][vrt]") {
  check_movement<float>();
  check_movement<__half>();
}

TEST_CASE("window_attention kernel f32 matches the CPU op", "[kernels][vrt][attention]") {
  for (const AttentionCase& k : kAttentionCases) check_attention<float>(k);
}

TEST_CASE("window_attention kernel f16 matches the CPU op", "[kernels][vrt][attention]") {
  for (const AttentionCase& k : kAttentionCases) check_attention<__half>(k);
}

TEST_CASE("window_attention kernel refuses head dims it has no variant for", "[kernels][vrt][attention]") {
  kernels::WindowAttentionParams<float> p;
  p.head_dim = kernels::kWindowAttentionMaxHeadDim + 1;
  REQUIRE(kernels::window_attention(p, nullptr) == cudaErrorInvalidValue);
}

TEST_CASE("window_attention kernel reproduces the upstream self and mutual fixtures", "[kernels][vrt][attention][fixture]") {
  for (const bool mutual : {false, true}) {
    const auto f = test::load_fixture(mutual ? "ops/vrt_attn_mutual_shift.safetensors" : "ops/vrt_attn_self_shift.safetensors");
    const int64_t dim = mutual ? 120 : 96;
    const int64_t frames = mutual ? 2 : 6;
    const WindowGeometry g = ops::window_geometry(1, {frames, 16, 8}, {int(frames), 8, 8}, {0, 4, 0});
    const Tensor& x = f.at("x");
    Tensor input = x;
    if (mutual) {  // the sine encoding on both frames, as WindowAttention does before qkv_mut
      input = x.clone();
      Tensor framed = input.reshape({x.size(0) * 2, 64, dim});
      ops::add_broadcast_(framed, f.at("position_bias").reshape({64, dim}));
    }
    const std::string qkv_name = mutual ? "qkv_mut" : "qkv_self";
    const Tensor qkv = ops::linear(input, f.at(qkv_name + ".weight"), &f.at(qkv_name + ".bias"));
    const std::vector<float> table = values_of(f.at("relative_position_bias_table"));
    DeviceBuffer<float> dqkv(values_of(qkv)), dtable(table), dout(size_t(x.numel()));
    dout.fill_nan();
    kernels::WindowAttentionParams<float> p;
    p.qkv = dqkv.get();
    p.bias_table = mutual ? nullptr : dtable.get();
    p.out = dout.get();
    p.g = g;
    p.full_window[0] = int(frames);
    p.full_window[1] = p.full_window[2] = 8;
    p.heads = 6;
    p.head_dim = int(dim / 6);
    p.scale = float(1.0 / std::sqrt(double(p.head_dim)));
    p.mutual = mutual;
    CUDA_REQUIRE(kernels::window_attention(p, nullptr));
    const Tensor got = cpu_tensor(x.shape(), download_float(dout));
    if (mutual) {
      // proj_in's first C channels are the mutual result
      const Tensor want = f.at("proj_in");
      std::vector<float> head(size_t(x.numel()));
      for (int64_t r = 0; r < x.size(0) * x.size(1); ++r)
        std::memcpy(head.data() + r * dim, want.data() + r * 2 * dim, size_t(dim) * sizeof(float));
      const test::Diff d = test::compare(got, cpu_tensor(x.shape(), head));
      std::printf("  %-44s max|diff| = %.3g\n", "kernel vrt_attn_mutual_shift (mutual half)", d.max_abs);
      CHECK(d.max_abs <= 1e-5);
    } else {
      const Tensor out = ops::linear(got, f.at("proj.weight"), &f.at("proj.bias"));
      const test::Diff d = test::compare(out, f.at("out"));
      std::printf("  %-44s max|diff| = %.3g\n", "kernel vrt_attn_self_shift", d.max_abs);
      CHECK(d.max_abs <= 1e-5);
    }
  }
}
