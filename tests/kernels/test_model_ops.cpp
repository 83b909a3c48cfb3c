// The ops extracted from the models (kernels/model_ops.h), f32 and f16, vs the CPU ops of
// core/ops.h (f32: 1e-5 + 1e-4·|ref|; f16: the CPU op on the same fp16-rounded inputs, 1e-3 +
// 1e-2·|ref|; pad_crop bit-exact; sum_abs 1e-6 relative, as its f64 tree sums in another order).
// Outputs start as NaN; shapes straddle the 256-thread block, with size-1 planes, axes and channels.
#include <cmath>
#include <type_traits>

#include "core/ops.h"
#include "device_buffer.h"
#include "model_ops.h"

using namespace vrestore;
using namespace vrestore::kernel_test;

namespace {

template <class T>
const char* dtype_label() { return std::is_same_v<T, float> ? "f32" : "f16"; }

template <class T>
std::vector<float> download(const DeviceBuffer<T>& b) { return to_float(b.download()); }

Tensor tensor_of(const Shape& shape, const std::vector<float>& v) { return Tensor::from_data(shape, v.data()); }
std::vector<float> values_of(const Tensor& t) { return std::vector<float>(t.data(), t.data() + t.numel()); }
int64_t count_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// (N, C, H, W) shapes: one element; odd planes; a plane of several blocks with many channels; 1x1
// planes; a single column.
const Shape kPlaneShapes[] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {1, 64, 3, 300}, {3, 5, 1, 1}, {1, 2, 17, 1}};

template <class T>
void check_channel_dot() {
  uint32_t seed = 1;
  for (const Shape& s : kPlaneShapes) {
    INFO(dtype_label<T>() << " shape " << s[0] << "x" << s[1] << "x" << s[2] << "x" << s[3]);
    const std::vector<float> a = as_stored<T>(random_vector(size_t(count_of(s)), -1, 1, seed++));
    const std::vector<float> b = as_stored<T>(random_vector(size_t(count_of(s)), -1, 1, seed++));
    DeviceBuffer<T> a_dev(storage<T>(a)), b_dev(storage<T>(b)), out(size_t(s[0] * s[2] * s[3]));
    out.fill_nan();
    kernels::ChannelDotParams<T> p;
    p.a = a_dev.get();
    p.b = b_dev.get();
    p.output = out.get();
    p.batch = s[0];
    p.channels = s[1];
    p.plane = s[2] * s[3];
    CUDA_REQUIRE(kernels::channel_dot(p, nullptr));
    const Tensor want = ops::channel_dot(tensor_of(s, a), tensor_of(s, b));
    REQUIRE_CLOSE(compare("channel_dot", download(out), values_of(want), atol<T>(), rtol<T>()));
  }
}

template <class T>
void check_mul_broadcast_channels() {
  // Rank 4 and rank 5 (B, T, C, H, W): the leading dims fold into frames.
  const Shape shapes[] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {1, 64, 3, 300}, {3, 5, 1, 1}, {2, 3, 4, 5, 6}};
  uint32_t seed = 100;
  for (const Shape& s : shapes) {
    INFO(dtype_label<T>() << " rank " << s.size() << " elements " << count_of(s));
    Shape ws = s;
    ws[ws.size() - 3] = 1;
    const std::vector<float> x = as_stored<T>(random_vector(size_t(count_of(s)), -2, 2, seed++));
    const std::vector<float> w = as_stored<T>(random_vector(size_t(count_of(ws)), -2, 2, seed++));
    DeviceBuffer<T> x_dev(storage<T>(x)), w_dev(storage<T>(w));
    const int64_t channels = s[s.size() - 3], plane = s[s.size() - 2] * s[s.size() - 1];
    kernels::MulBroadcastChannelsParams<T> p;
    p.x = x_dev.get();
    p.w = w_dev.get();
    p.frames = count_of(s) / (channels * plane);
    p.channels = channels;
    p.plane = plane;
    CUDA_REQUIRE(kernels::mul_broadcast_channels(p, nullptr));
    Tensor want = tensor_of(s, x);
    ops::mul_broadcast_channels_(want, tensor_of(ws, w));
    REQUIRE_CLOSE(compare("mul_broadcast_channels", download(x_dev), values_of(want), atol<T>(), rtol<T>()));
  }
}

template <class T>
void check_mul_add() {
  uint32_t seed = 200;
  for (int64_t count : {1, 3, 256, 257, 1000})
    for (float scale : {2.0f, -0.5f}) {
      INFO(dtype_label<T>() << " count " << count << " scale " << scale);
      const std::vector<float> x = as_stored<T>(random_vector(size_t(count), -2, 2, seed++));
      const std::vector<float> m = as_stored<T>(random_vector(size_t(count), 0, 1, seed++));
      const std::vector<float> add = as_stored<T>(random_vector(size_t(count), -2, 2, seed++));
      DeviceBuffer<T> x_dev(storage<T>(x)), m_dev(storage<T>(m)), add_dev(storage<T>(add));
      kernels::MulAddParams<T> p;
      p.x = x_dev.get();
      p.m = m_dev.get();
      p.add = add_dev.get();
      p.count = count;
      p.scale = scale;
      CUDA_REQUIRE(kernels::mul_add(p, nullptr));
      Tensor want = tensor_of({count}, x);
      ops::mul_add_(want, tensor_of({count}, m), tensor_of({count}, add), scale);
      REQUIRE_CLOSE(compare("mul_add", download(x_dev), values_of(want), atol<T>(), rtol<T>()));
    }
}

template <class T>
void check_affine_channels() {
  uint32_t seed = 300;
  for (const Shape& s : kPlaneShapes)
    for (bool divide : {false, true}) {
      INFO(dtype_label<T>() << " shape " << s[0] << "x" << s[1] << "x" << s[2] << "x" << s[3] << " divide " << divide);
      const std::vector<float> x = as_stored<T>(random_vector(size_t(count_of(s)), 0, 1, seed++));
      const std::vector<float> shift = random_vector(size_t(s[1]), -0.5f, 0.5f, seed++);
      std::vector<float> scale = random_vector(size_t(s[1]), 0.2f, 2.0f, seed++);
      if (s[1] > 1) scale[1] = -scale[1];
      DeviceBuffer<T> x_dev(storage<T>(x)), out(size_t(count_of(s)));
      DeviceBuffer<float> shift_dev(shift), scale_dev(scale);
      out.fill_nan();
      kernels::AffineChannelsParams<T> p;
      p.input = x_dev.get();
      p.output = out.get();
      p.shift = shift_dev.get();
      p.scale = scale_dev.get();
      p.batch = s[0];
      p.channels = s[1];
      p.plane = s[2] * s[3];
      p.divide = divide;
      CUDA_REQUIRE(kernels::affine_channels(p, nullptr));
      const Tensor want = ops::affine_channels(tensor_of(s, x), shift, scale, divide);
      REQUIRE_CLOSE(compare("affine_channels", download(out), values_of(want), atol<T>(), rtol<T>()));
    }
}

// Data movement: bit-exact (NaN never compares equal, so an unwritten element fails).
template <class T>
void check_pad_crop() {
  struct Case {
    Shape in;
    int64_t h, w;
  };
  const Case cases[] = {{{2, 3, 5, 7}, 8, 9},      // pad both
                        {{2, 3, 5, 7}, 2, 3},      // crop both
                        {{1, 2, 5, 7}, 9, 4},      // pad rows, crop columns
                        {{1, 2, 5, 7}, 5, 7},      // same size
                        {{3, 1, 1}, 3, 5},         // 1x1 image, rank 3
                        {{2, 4, 1}, 6, 1},         // one column
                        {{1, 1, 2, 300}, 3, 301}}; // a row wider than a block
  uint32_t seed = 400;
  for (const Case& c : cases) {
    INFO(dtype_label<T>() << " in " << count_of(c.in) << " elements, rank " << c.in.size() << " -> " << c.h << "x"
                          << c.w);
    const std::vector<float> x = as_stored<T>(random_vector(size_t(count_of(c.in)), -3, 3, seed++));
    const int64_t ih = c.in[c.in.size() - 2], iw = c.in[c.in.size() - 1], planes = count_of(c.in) / (ih * iw);
    DeviceBuffer<T> x_dev(storage<T>(x)), out(size_t(planes * c.h * c.w));
    out.fill_nan();
    kernels::PadCropParams<T> p;
    p.input = x_dev.get();
    p.output = out.get();
    p.planes = planes;
    p.in_height = ih;
    p.in_width = iw;
    p.out_height = c.h;
    p.out_width = c.w;
    CUDA_REQUIRE(kernels::pad_crop(p, nullptr));
    const Tensor want = ops::pad_crop(tensor_of(c.in, x), c.h, c.w);
    REQUIRE_CLOSE(compare("pad_crop", download(out), values_of(want), 0, 0));
  }
}

// The f64 tree sum vs the CPU's sequential f64 sum: 1e-6 relative (both are far closer).
template <class T>
void check_sum_abs() {
  uint32_t seed = 500;
  // More elements than the first pass's 1024 x 256 threads, so threads stride too.
  for (int64_t count : {0, 1, 255, 256, 257, 1000, 1024 * 256 + 3})
    for (double start : {0.0, 12.5}) {
      INFO(dtype_label<T>() << " count " << count << " start " << start);
      const std::vector<float> x = as_stored<T>(random_vector(size_t(count), -4, 4, seed++));
      DeviceBuffer<T> x_dev(count ? storage<T>(x) : std::vector<T>(1));
      DeviceBuffer<double> workspace(kernels::sum_abs_workspace_bytes() / sizeof(double)), result(1);
      workspace.fill_nan();
      result.fill_nan();
      kernels::SumAbsParams<T> p;
      p.input = x_dev.get();
      p.count = count;
      p.start = start;
      p.workspace = workspace.get();
      p.result = result.get();
      CUDA_REQUIRE(kernels::sum_abs(p, nullptr));
      const double got = result.download()[0];
      const double want = count ? ops::sum_abs(tensor_of({count}, x), start) : start;
      INFO("got " << got << " want " << want);
      REQUIRE(std::fabs(got - want) <= 1e-6 * std::fabs(want));
      if (count > 1000) REQUIRE(want > 1e5);  // the case is big enough to mean something
    }
}

}  // namespace

TEST_CASE("channel_dot matches ops::channel_dot", "[kernels][model_ops]") {
  check_channel_dot<float>();
  check_channel_dot<__half>();
}

TEST_CASE("mul_broadcast_channels matches ops::mul_broadcast_channels_", "[kernels][model_ops]") {
  check_mul_broadcast_channels<float>();
  check_mul_broadcast_channels<__half>();
}

TEST_CASE("mul_add matches ops::mul_add_", "[kernels][model_ops]") {
  check_mul_add<float>();
  check_mul_add<__half>();
}

TEST_CASE("affine_channels matches ops::affine_channels, multiply and divide", "[kernels][model_ops]") {
  check_affine_channels<float>();
  check_affine_channels<__half>();
}

TEST_CASE("pad_crop matches ops::pad_crop bit for bit", "[kernels][model_ops]") {
  check_pad_crop<float>();
  check_pad_crop<__half>();
}

TEST_CASE("sum_abs matches ops::sum_abs to 1e-6 relative, with a start value", "[kernels][model_ops]") {
  check_sum_abs<float>();
  check_sum_abs<__half>();
}
