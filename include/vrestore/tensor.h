// vrestore::Tensor — a contiguous array of up to 5 dimensions in PyTorch order (e.g. a clip is
// (N, T, C, H, W)), of float32 or float16 elements, in host memory or on a CUDA device. Copies
// share storage; use clone() for a deep copy and to() to move or convert. Usable from C++17 and
// free of CUDA types: device memory is a plain pointer the tensor releases through the backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace vrestore {

using Shape = std::vector<int64_t>;

// Where a tensor's elements live (and which backend runs the ops on it); also where a Model runs.
enum class Device { CPU, CUDA };
// Element type: IEEE binary32 or binary16.
enum class DType { F32, F16 };
// A binary16 value as stored (the bits); arithmetic on f16 data happens in the backends.
struct Half {
  uint16_t bits;
};

const char* device_name(Device device);  // "cpu", "cuda"
const char* dtype_name(DType dtype);     // "f32", "f16"
size_t dtype_size(DType dtype);          // 4, 2

class Tensor {
 public:
  static constexpr int kMaxDims = 5;

  Tensor() = default;
  // Every factory throws vrestore::Error for a shape of 0 or more than kMaxDims dimensions, a
  // negative dimension, or more elements than fit in memory arithmetic ("... is too large").
  // Uninitialised storage of the given shape, dtype and device (CUDA: through the CUDA backend;
  // "built without CUDA" otherwise).
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  // Host float32 tensors.
  static Tensor zeros(const Shape& shape);
  // Zeros of any dtype on any device (CUDA: set on the current stream).
  static Tensor zeros(const Shape& shape, DType dtype, Device device);
  static Tensor full(const Shape& shape, float value);
  // Copies `shape`-many floats from `data`.
  static Tensor from_data(const Shape& shape, const float* data);
  // Wraps host float32 memory owned elsewhere; `keep_alive` holds it for as long as the tensor
  // (or a view) lives.
  static Tensor wrap(const Shape& shape, float* data, std::shared_ptr<void> keep_alive);
  // Wraps memory of any dtype on any device (e.g. an engine's device frame); `data` must stay
  // valid while `keep_alive` (which may be empty) is held.
  static Tensor wrap(const Shape& shape, DType dtype, Device device, void* data, std::shared_ptr<void> keep_alive);

  const Shape& shape() const { return shape_; }
  int dim() const { return static_cast<int>(shape_.size()); }
  // Size of dimension d; negative d counts from the end like PyTorch.
  int64_t size(int d) const;
  int64_t numel() const { return numel_; }
  bool defined() const { return !shape_.empty(); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }

  // Checked typed access: T is float (F32) or Half (F16) and the tensor must be on `device`;
  // anything else throws vrestore::Error naming the tensor's shape, dtype and device.
  template <class T>
  T* data(Device device = Device::CPU) {
    return static_cast<T*>(checked_data(dtype_of<T>(), device));
  }
  template <class T>
  const T* data(Device device = Device::CPU) const {
    return static_cast<const T*>(checked_data(dtype_of<T>(), device));
  }
  // Shorthand for data<float>(): a host float32 tensor's elements.
  float* data() { return data<float>(); }
  const float* data() const { return data<float>(); }

  // Same storage, new shape of equal element count.
  Tensor reshape(const Shape& shape) const;
  // Same storage: elements [begin, begin+length) along dimension 0.
  Tensor narrow0(int64_t begin, int64_t length) const;
  // Same storage: index i (0 <= i < size(0)) along dimension 0, which is removed.
  Tensor select0(int64_t i) const;
  // A deep copy on the same device, of the same dtype.
  Tensor clone() const;
  // A copy on `device` with elements of `dtype` (f32 <-> f16 rounds to nearest even); returns this
  // tensor itself (shared storage) when both already match.
  Tensor to(Device device, DType dtype) const;

  // "(1, 5, 3, 64, 64)"
  std::string shape_str() const;
  // "(1, 5, 3, 64, 64) f16 on cuda"
  std::string describe() const;

 private:
  template <class T>
  static constexpr DType dtype_of() {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, Half>, "Tensor::data<T>: T is float or Half");
    return std::is_same_v<T, float> ? DType::F32 : DType::F16;
  }
  void* checked_data(DType dtype, Device device) const;

  std::shared_ptr<void> storage_;
  void* data_ = nullptr;
  Shape shape_;
  int64_t numel_ = 0;
  DType dtype_ = DType::F32;
  Device device_ = Device::CPU;
};

std::string shape_to_string(const Shape& shape);

}  // namespace vrestore
