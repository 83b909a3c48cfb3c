// Element-wise kernels (activation, add + activation, scale, channel concat), f32 and f16, vs the
// CPU ops (f32: 1e-5 + 1e-4·|ref|; f16: the CPU op on the same fp16-rounded inputs, 1e-3 +
// 1e-2·|ref|; concat bit-exact). Counts that are not multiples of the 16-byte pack, and pointers
// shifted off 16-byte alignment, take the scalar paths; outputs start as NaN where the kernel
// writes new memory.
#include <cstring>
#include <memory>
#include <type_traits>

#include "core/ops.h"
#include "device_buffer.h"
#include "elementwise.h"

using namespace vrestore;
using namespace vrestore::kernel_test;

namespace {

// Element counts around the packs (4 floats, 8 halves) and the 256-thread block.
constexpr int64_t kCounts[] = {1, 3, 8, 13, 256, 1000, 2053};


// A device copy of `host` starting `shift` elements into its allocation (shift 1: misaligned).
template <class T>
struct Shifted {
  DeviceBuffer<T> buffer;
  size_t shift;
  Shifted(const std::vector<T>& host, size_t s) : buffer(host.size() + s), shift(s) {
    buffer.fill_nan();
    CUDA_REQUIRE(cudaMemcpy(get(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  T* get() const { return buffer.get() + shift; }
  std::vector<float> download() const {
    std::vector<T> all = buffer.download();
    return to_float(std::vector<T>(all.begin() + long(shift), all.end()));
  }
};

Tensor tensor_of(const std::vector<float>& v) { return Tensor::from_data({int64_t(v.size())}, v.data()); }
std::vector<float> values_of(const Tensor& t) { return std::vector<float>(t.data(), t.data() + t.numel()); }

ops::Activation cpu_activation(kernels::Activation a) {
  switch (a) {
    case kernels::Activation::ReLU: return ops::Activation::ReLU;
    case kernels::Activation::LeakyReLU: return ops::Activation::LeakyReLU;
    default: return ops::Activation::None;
  }
}
// The CPU ops' result of act(x) for every activation, sigmoid included.
std::vector<float> cpu_activate(std::vector<float> x, kernels::Activation a) {
  Tensor t = tensor_of(x);
  if (a == kernels::Activation::Sigmoid) ops::sigmoid_(t);
  else ops::activate_(t, cpu_activation(a));
  return values_of(t);
}

constexpr kernels::Activation kActivations[] = {kernels::Activation::None, kernels::Activation::ReLU,
                                                kernels::Activation::LeakyReLU, kernels::Activation::Sigmoid};

template <class T>
void check_activate() {
  uint32_t seed = 1;
  for (int64_t count : kCounts)
    for (size_t shift : {0, 1})
      for (kernels::Activation a : kActivations) {
        INFO("count " << count << " shift " << shift << " activation " << int(a));
        // Sigmoid's argument spans the saturated tails as well.
        const std::vector<float> x = as_stored<T>(random_vector(size_t(count), -9, 9, seed++));
        Shifted<T> data(storage<T>(x), shift);
        kernels::ActivateParams<T> p;
        p.data = data.get();
        p.count = count;
        p.activation = a;
        CUDA_REQUIRE(kernels::activate(p, nullptr));
        REQUIRE_CLOSE(compare("activate", data.download(), cpu_activate(x, a), atol<T>(), rtol<T>()));
      }
}

template <class T>
void check_add() {
  uint32_t seed = 100;
  for (int64_t count : kCounts)
    for (size_t shift : {0, 1})
      for (kernels::Activation a : kActivations) {
        INFO("count " << count << " shift " << shift << " activation " << int(a));
        const std::vector<float> x = as_stored<T>(random_vector(size_t(count), -2, 2, seed++));
        const std::vector<float> y = as_stored<T>(random_vector(size_t(count), -2, 2, seed++));
        // b shifted independently of a when shift = 1 (a aligned, b not), so the wide path needs both.
        Shifted<T> a_dev(storage<T>(x), 0), b_dev(storage<T>(y), shift);
        kernels::AddParams<T> p;
        p.a = a_dev.get();
        p.b = b_dev.get();
        p.count = count;
        p.activation = a;
        CUDA_REQUIRE(kernels::add(p, nullptr));
        Tensor want = tensor_of(x);
        ops::add_(want, tensor_of(y));
        REQUIRE_CLOSE(compare("add", a_dev.download(), cpu_activate(values_of(want), a), atol<T>(), rtol<T>()));
      }
}

template <class T>
void check_scale() {
  uint32_t seed = 200;
  for (int64_t count : kCounts)
    for (size_t shift : {0, 1})
      for (float s : {0.5f, -3.25f, 0.0f}) {
        INFO("count " << count << " shift " << shift << " scale " << s);
        const std::vector<float> x = as_stored<T>(random_vector(size_t(count), -2, 2, seed++));
        Shifted<T> data(storage<T>(x), shift);
        CUDA_REQUIRE(kernels::scale(kernels::ScaleParams<T>{data.get(), count, s}, nullptr));
        Tensor want = tensor_of(x);
        ops::scale_(want, s);
        REQUIRE_CLOSE(compare("scale", data.download(), values_of(want), atol<T>(), rtol<T>()));
      }
}

// Concat is data movement: bit-exact against ops::cat1 on the stored values.
template <class T>
void check_concat() {
  struct Shape {
    int n, h, w;
    std::vector<int> channels;
  };
  // One part; the five of EDVR's fusion; ten parts (two launches, the second with two parts);
  // planes of 1, odd and 16-byte multiples; a part with zero channels.
  const Shape shapes[] = {{2, 3, 5, {4}},
                          {1, 4, 8, {2, 2, 2, 2, 2}},
                          {2, 1, 1, {3, 1, 2}},
                          {1, 3, 7, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
                          {2, 2, 4, {3, 0, 5}}};
  uint32_t seed = 300;
  for (const Shape& s : shapes)
    for (size_t shift : {0, 1}) {
      INFO("N=" << s.n << " " << s.h << "x" << s.w << " parts " << s.channels.size() << " shift " << shift);
      const int64_t plane = int64_t(s.h) * s.w;
      std::vector<Tensor> cpu_parts;
      std::vector<std::unique_ptr<Shifted<T>>> device_parts;
      std::vector<const T*> pointers;
      int total = 0;
      for (int c : s.channels) {
        const std::vector<float> v = as_stored<T>(random_vector(size_t(s.n) * c * plane, -3, 3, seed++));
        cpu_parts.push_back(Tensor::from_data({s.n, c, s.h, s.w}, v.data()));
        device_parts.push_back(std::make_unique<Shifted<T>>(storage<T>(v), shift));
        pointers.push_back(device_parts.back()->get());
        total += c;
      }
      Shifted<T> out(std::vector<T>(size_t(s.n) * total * plane), shift);
      CUDA_REQUIRE(cudaMemset(out.get(), 0xFF, out.buffer.size() * sizeof(T) - shift * sizeof(T)));  // NaN
      kernels::ConcatParams<T> p;
      p.parts = pointers.data();
      p.part_channels = s.channels.data();
      p.num_parts = int(s.channels.size());
      p.output = out.get();
      p.batch = s.n;
      p.plane = plane;
      CUDA_REQUIRE(kernels::concat(p, nullptr));
      const std::vector<float> got = out.download(), want = values_of(ops::cat1(cpu_parts));
      REQUIRE(got.size() == want.size());
      REQUIRE(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
    }
}

}  // namespace

TEST_CASE("activate f32 matches the CPU ops", "[kernels][elementwise]") { check_activate<float>(); }
TEST_CASE("activate f16 matches the CPU ops on rounded inputs", "[kernels][elementwise][f16]") {
  check_activate<__half>();
}
TEST_CASE("add with a fused activation f32 matches the CPU ops", "[kernels][elementwise]") { check_add<float>(); }
TEST_CASE("add with a fused activation f16 matches the CPU ops", "[kernels][elementwise][f16]") {
  check_add<__half>();
}
TEST_CASE("scale f32 matches the CPU op", "[kernels][elementwise]") { check_scale<float>(); }
TEST_CASE("scale f16 matches the CPU op", "[kernels][elementwise][f16]") { check_scale<__half>(); }
TEST_CASE("concat f32 matches the CPU op bit for bit", "[kernels][elementwise]") { check_concat<float>(); }
TEST_CASE("concat f16 matches the CPU op bit for bit", "[kernels][elementwise][f16]") { check_concat<__half>(); }
