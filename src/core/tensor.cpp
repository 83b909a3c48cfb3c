#include "vrestore/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>

#include "core/check.h"
#include "core/checked_math.h"
#include "core/execution.h"
#include "core/host_pool.h"
#include "core/ops.h"
#include "cuda/memory.h"

namespace vrestore {
namespace {

// The largest element count a tensor may have: its byte count, rounded up to the 64-byte
// alignment, and any pointer offset into it then fit in int64_t/ptrdiff_t with room to spare.
constexpr int64_t kMaxElements = std::numeric_limits<int64_t>::max() / 16;

int64_t checked_numel(const Shape& shape) {
  VR_CHECK(!shape.empty() && shape.size() <= static_cast<size_t>(Tensor::kMaxDims), "tensor: shape ",
           shape_to_string(shape), " has ", shape.size(), " dimensions, expected 1 to ", Tensor::kMaxDims);
  for (int64_t d : shape)
    VR_CHECK(d >= 0, "tensor: shape ", shape_to_string(shape), " has a negative dimension");
  int64_t n = 1;
  for (int64_t d : shape)
    if (mul_overflows(n, d, n) || n > kMaxElements)
      fail("tensor: shape ", shape_to_string(shape), " is too large (more than ", kMaxElements, " elements)");
  return n;
}

// Host memory is 64-byte aligned so that SIMD loads in the CPU kernels never straddle cache lines;
// inside a model's call it comes from the model's pool (core/host_pool.h). Device memory comes
// from the CUDA backend.
std::shared_ptr<void> allocate(int64_t numel, DType dtype, Device device) {
  // numel <= kMaxElements, so neither the byte count nor its rounding can overflow.
  const int64_t bytes = numel * static_cast<int64_t>(dtype_size(dtype));
  if (device == Device::CUDA) return cuda::allocate(static_cast<size_t>(bytes));
  if (HostPool* pool = current_execution().host_pool)
    return pool->allocate(static_cast<size_t>(bytes == 0 ? 64 : bytes));
  const size_t rounded = static_cast<size_t>(round_up(bytes, 64, "tensor: allocation"));
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (!p) fail("tensor: out of memory allocating ", rounded, " bytes");
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

}  // namespace

const char* device_name(Device device) { return device == Device::CUDA ? "cuda" : "cpu"; }
const char* dtype_name(DType dtype) { return dtype == DType::F16 ? "f16" : "f32"; }
size_t dtype_size(DType dtype) { return dtype == DType::F16 ? 2 : 4; }

std::string shape_to_string(const Shape& shape) {
  std::ostringstream os;
  os << '(';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ')';
  return os.str();
}

void check_shape(const char* where, const char* what, const Tensor& t, const Shape& expected) {
  VR_CHECK(t.shape() == expected, where, ": ", what, " has shape ", t.shape_str(), ", expected ",
           shape_to_string(expected));
}

void check_rank(const char* where, const char* what, const Tensor& t, int rank) {
  VR_CHECK(t.dim() == rank, where, ": ", what, " has shape ", t.shape_str(), ", expected ", rank,
           " dimensions");
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  Tensor t;
  t.numel_ = checked_numel(shape);
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = device;
  t.storage_ = allocate(t.numel_, dtype, device);
  t.data_ = t.storage_.get();
  return t;
}

Tensor Tensor::zeros(const Shape& shape) { return full(shape, 0.0f); }

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (device == Device::CUDA) cuda::fill_zero(t.data_, t.nbytes());
  else std::memset(t.data_, 0, t.nbytes());  // all-zero bits are 0.0 in f32 and f16
  return t;
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  float* p = static_cast<float*>(t.data_);
  std::fill(p, p + t.numel_, value);
  return t;
}

Tensor Tensor::from_data(const Shape& shape, const float* data) {
  VR_CHECK(data || checked_numel(shape) == 0, "tensor: from_data of shape ", shape_to_string(shape), " given NULL data");
  Tensor t = empty(shape);
  if (t.numel_) std::memcpy(t.data_, data, t.nbytes());
  return t;
}

Tensor Tensor::wrap(const Shape& shape, float* data, std::shared_ptr<void> keep_alive) {
  return wrap(shape, DType::F32, Device::CPU, data, std::move(keep_alive));
}

Tensor Tensor::wrap(const Shape& shape, DType dtype, Device device, void* data, std::shared_ptr<void> keep_alive) {
  Tensor t;
  t.numel_ = checked_numel(shape);
  VR_CHECK(data || t.numel_ == 0, "tensor: wrap of shape ", shape_to_string(shape), " given NULL data");
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = device;
  t.storage_ = std::move(keep_alive);
  t.data_ = data;
  return t;
}

void* Tensor::checked_data(DType dtype, Device device) const {
  VR_CHECK(dtype == dtype_ && device == device_, "tensor: ", describe(), " asked for its ", dtype_name(dtype),
           " elements on ", device_name(device), "; use to(Device::", device == Device::CUDA ? "CUDA" : "CPU",
           ", DType::", dtype == DType::F16 ? "F16" : "F32", ") first");
  return data_;
}

int64_t Tensor::size(int d) const {
  int rank = dim();
  int i = d < 0 ? d + rank : d;
  VR_CHECK(i >= 0 && i < rank, "tensor: dimension ", d, " out of range for shape ", shape_str());
  return shape_[static_cast<size_t>(i)];
}

Tensor Tensor::reshape(const Shape& shape) const {
  int64_t n = checked_numel(shape);
  VR_CHECK(n == numel_, "tensor: cannot reshape ", shape_str(), " to ", shape_to_string(shape));
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::narrow0(int64_t begin, int64_t length) const {
  // begin <= size is checked before the subtraction so that no sum can overflow.
  VR_CHECK(defined() && begin >= 0 && length >= 0 && begin <= shape_[0] && length <= shape_[0] - begin, "tensor: narrow0(",
           begin, ", ", length, ") out of range for shape ", shape_str());
  Tensor t = *this;
  int64_t inner = shape_[0] ? numel_ / shape_[0] : 0;
  t.shape_[0] = length;
  t.numel_ = inner * length;
  t.data_ = static_cast<char*>(data_) + begin * inner * static_cast<int64_t>(dtype_size(dtype_));
  return t;
}

Tensor Tensor::select0(int64_t i) const {
  VR_CHECK(dim() >= 2, "tensor: select0 needs at least 2 dimensions, got ", shape_str());
  VR_CHECK(i >= 0 && i < shape_[0], "tensor: index ", i, " out of range for dimension 0 of shape ", shape_str());
  Tensor t = narrow0(i, 1);
  t.shape_.erase(t.shape_.begin());
  return t;
}

Tensor Tensor::clone() const {
  VR_CHECK(defined(), "tensor: clone of an empty tensor");
  Tensor t = empty(shape_, dtype_, device_);
  if (numel_ == 0) return t;
  if (device_ == Device::CPU) std::memcpy(t.data_, data_, nbytes());
  else cuda::copy(t.data_, device_, data_, device_, nbytes());
  return t;
}

Tensor Tensor::to(Device device, DType dtype) const {
  VR_CHECK(defined(), "tensor: to(", device_name(device), ", ", dtype_name(dtype), ") of an empty tensor");
  if (device == device_ && dtype == dtype_) return *this;
  // A precision change runs where the data is: on the device for device-to-device (never through
  // the host), else on the host before an upload or after a download (the cast op either way).
  if (device == device_) return ops::to_dtype(*this, dtype);
  if (device_ == Device::CPU) {
    const Tensor host = ops::to_dtype(*this, dtype);
    Tensor out = empty(shape_, dtype, device);
    if (numel_) cuda::copy(out.data_, device, host.data_, Device::CPU, host.nbytes());
    return out;
  }
  Tensor host = empty(shape_, dtype_, Device::CPU);
  if (numel_) cuda::copy(host.data_, Device::CPU, data_, device_, nbytes());
  return ops::to_dtype(host, dtype);
}

std::string Tensor::shape_str() const { return shape_to_string(shape_); }

std::string Tensor::describe() const {
  return concat(shape_str(), ' ', dtype_name(dtype_), " on ", device_name(device_));
}

}  // namespace vrestore
