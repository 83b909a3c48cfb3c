// vrestore::Tensor — a contiguous float32 array of up to 5 dimensions in PyTorch order
// (e.g. a clip is (N, T, C, H, W)). Copies share storage; use clone() for a deep copy.
// Usable from C++17.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace vrestore {

using Shape = std::vector<int64_t>;

class Tensor {
 public:
  static constexpr int kMaxDims = 5;

  Tensor() = default;
  // Every factory throws vrestore::Error for a shape of 0 or more than kMaxDims dimensions, a
  // negative dimension, or more elements than fit in memory arithmetic ("... is too large").
  // Uninitialised storage of the given shape (use zeros() when the contents matter).
  static Tensor empty(const Shape& shape);
  static Tensor zeros(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  // Copies `shape`-many floats from `data`.
  static Tensor from_data(const Shape& shape, const float* data);
  // Wraps memory owned elsewhere; `keep_alive` holds it for as long as the tensor (or a view) lives.
  static Tensor wrap(const Shape& shape, float* data, std::shared_ptr<void> keep_alive);

  const Shape& shape() const { return shape_; }
  int dim() const { return static_cast<int>(shape_.size()); }
  // Size of dimension d; negative d counts from the end like PyTorch.
  int64_t size(int d) const;
  int64_t numel() const { return numel_; }
  bool defined() const { return !shape_.empty(); }

  float* data() { return data_; }
  const float* data() const { return data_; }

  // Same storage, new shape of equal element count.
  Tensor reshape(const Shape& shape) const;
  // Same storage: elements [begin, begin+length) along dimension 0.
  Tensor narrow0(int64_t begin, int64_t length) const;
  // Same storage: index i (0 <= i < size(0)) along dimension 0, which is removed.
  Tensor select0(int64_t i) const;
  Tensor clone() const;

  // "(1, 5, 3, 64, 64)"
  std::string shape_str() const;

 private:
  std::shared_ptr<void> storage_;
  float* data_ = nullptr;
  Shape shape_;
  int64_t numel_ = 0;
};

std::string shape_to_string(const Shape& shape);

}  // namespace vrestore
