// Test helpers that only use the CUDA runtime API, so the kernel tests run unchanged on the
// emulator and on a real GPU: device buffers, NaN-prefilled outputs and tolerance comparisons.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace vrestore::kernel_test {

#define CUDA_REQUIRE(expr)                                                                       \
  do {                                                                                           \
    cudaError_t cuda_require_status_ = (expr);                                                   \
    INFO(#expr << " -> " << cudaGetErrorName(cuda_require_status_));                             \
    REQUIRE(cuda_require_status_ == cudaSuccess);                                                \
  } while (0)

template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t count) : count_(count) {
    CUDA_REQUIRE(cudaMalloc(reinterpret_cast<void**>(&ptr_), count * sizeof(T)));
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(ptr_); }

  T* get() const { return ptr_; }
  size_t size() const { return count_; }
  void upload(const std::vector<T>& host) {
    REQUIRE(host.size() == count_);
    CUDA_REQUIRE(cudaMemcpy(ptr_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice));
  }
  // All bytes 0xFF: NaN for float and half, so an element no thread wrote is visible.
  void fill_nan() { CUDA_REQUIRE(cudaMemset(ptr_, 0xFF, count_ * sizeof(T))); }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    CUDA_REQUIRE(cudaMemcpy(host.data(), ptr_, count_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  T* ptr_ = nullptr;
  size_t count_ = 0;
};

inline std::vector<float> random_vector(size_t count, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

// fp16 storage helpers: round-to-nearest conversions, and the fp32 values fp16 storage holds.
inline std::vector<__half> to_half(const std::vector<float>& v) {
  std::vector<__half> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = __float2half_rn(v[i]);
  return h;
}
inline std::vector<float> to_float(const std::vector<__half>& h) {
  std::vector<float> v(h.size());
  for (size_t i = 0; i < h.size(); ++i) v[i] = __half2float(h[i]);
  return v;
}
inline std::vector<float> round_to_half(const std::vector<float>& v) { return to_float(to_half(v)); }
inline std::vector<float> to_float(const std::vector<float>& v) { return v; }

// Tolerance classes: fp32 kernels vs the CPU fp32 op, and fp16 kernels vs the CPU fp32 op run on
// the same fp16-rounded inputs.
constexpr double kF32Atol = 1e-5, kF32Rtol = 1e-4;
constexpr double kF16Atol = 1e-3, kF16Rtol = 1e-2;

// Per element type T (float or __half): the stored values, what the CPU reference is given (the
// values T storage holds), and the tolerance class.
template <class T>
std::vector<T> storage(const std::vector<float>& v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else return to_half(v);
}
template <class T>
std::vector<float> as_stored(const std::vector<float>& v) {
  return to_float(storage<T>(v));
}
template <class T>
constexpr double atol() { return std::is_same_v<T, float> ? kF32Atol : kF16Atol; }
template <class T>
constexpr double rtol() { return std::is_same_v<T, float> ? kF32Rtol : kF16Rtol; }

struct Comparison {
  size_t failures = 0;
  double max_abs = 0;
  std::string first_failure;  // "[op] index i: got X, expected Y"
};

// abs(got - want) <= atol + rtol*|want| element-wise; NaN never passes.
inline Comparison compare(const std::string& op, const std::vector<float>& got, const std::vector<float>& want,
                          double atol = 1e-5, double rtol = 1e-4) {
  REQUIRE(got.size() == want.size());
  Comparison c;
  for (size_t i = 0; i < got.size(); ++i) {
    const double diff = std::fabs(double(got[i]) - double(want[i]));
    if (diff <= atol + rtol * std::fabs(double(want[i]))) {
      c.max_abs = std::max(c.max_abs, diff);
      continue;
    }
    if (c.failures++ == 0) {
      std::ostringstream s;
      s << "[" << op << "] index " << i << ": got " << got[i] << ", expected " << want[i];
      c.first_failure = s.str();
    }
    c.max_abs = std::isnan(diff) ? std::numeric_limits<double>::quiet_NaN() : std::max(c.max_abs, diff);
  }
  return c;
}

#define REQUIRE_CLOSE(comparison)                                                          \
  do {                                                                                     \
    const auto& require_close_ = (comparison);                                             \
    INFO(require_close_.first_failure << " (" << require_close_.failures << " failures)"); \
    REQUIRE(require_close_.failures == 0);                                                 \
  } while (0)

}  // namespace vrestore::kernel_test
