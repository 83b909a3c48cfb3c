#include "vrestore/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>

#include "core/check.h"
#include "core/checked_math.h"

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

// 64-byte aligned so that SIMD loads in the CPU kernels never straddle cache lines.
std::shared_ptr<void> allocate(int64_t numel) {
  // numel <= kMaxElements, so neither the byte count nor its rounding can overflow.
  size_t bytes = static_cast<size_t>(round_up(numel * static_cast<int64_t>(sizeof(float)), 64, "tensor: allocation"));
  void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
  if (!p) fail("tensor: out of memory allocating ", bytes, " bytes");
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

}  // namespace

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

Tensor Tensor::empty(const Shape& shape) {
  Tensor t;
  t.numel_ = checked_numel(shape);
  t.shape_ = shape;
  t.storage_ = allocate(t.numel_);
  t.data_ = static_cast<float*>(t.storage_.get());
  return t;
}

Tensor Tensor::zeros(const Shape& shape) { return full(shape, 0.0f); }

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  std::fill(t.data_, t.data_ + t.numel_, value);
  return t;
}

Tensor Tensor::from_data(const Shape& shape, const float* data) {
  VR_CHECK(data || checked_numel(shape) == 0, "tensor: from_data of shape ", shape_to_string(shape), " given NULL data");
  Tensor t = empty(shape);
  if (t.numel_) std::memcpy(t.data_, data, static_cast<size_t>(t.numel_) * sizeof(float));
  return t;
}

Tensor Tensor::wrap(const Shape& shape, float* data, std::shared_ptr<void> keep_alive) {
  Tensor t;
  t.numel_ = checked_numel(shape);
  VR_CHECK(data || t.numel_ == 0, "tensor: wrap of shape ", shape_to_string(shape), " given NULL data");
  t.shape_ = shape;
  t.storage_ = std::move(keep_alive);
  t.data_ = data;
  return t;
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
  t.data_ = data_ + begin * inner;
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
  return from_data(shape_, data_);
}

std::string Tensor::shape_str() const { return shape_to_string(shape_); }

}  // namespace vrestore
