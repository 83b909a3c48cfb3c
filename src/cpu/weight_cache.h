// Memoised weight preparation for the CPU convolutions. conv2d receives plain weight tensors on
// every call; packing them into GEMM panels (and, for Winograd, transforming them first) costs as
// much as a small convolution, and models call the same layers with the same weights every frame.
//
// An entry is keyed by the weight's address, shape and preparation kind, and keeps a copy of the
// weight values it was made from: a lookup compares the current values with that copy (memcmp) and
// rebuilds on any difference, so a hit always returns exactly what a fresh preparation would (a
// tensor freed and another allocated at the same address, or weights edited in place, are detected).
// Entries are shared_ptr-owned, so an entry evicted while another thread uses it stays valid.
// The cache is bounded (least recently used entries are evicted beyond kWeightCacheBytes) and
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace vrestore::cpu {

inline constexpr size_t kWeightCacheBytes = size_t{256} << 20;

enum class WeightPrep : int { Packed = 0, Winograd4x4 = 1, Winograd4x4Bf16x3 = 2, PackedBf16x3 = 3, TapsBf16x3 = 4 };

// The shape of a convolution's weight (Cout, Cin, kh, kw): with the preparation kind, the key of an
// entry. (Preparations that depend on the kernel's layout differ between views of the same values,
// e.g. (16, 72, 1, 1) and (16, 8, 3, 3).)
struct WeightShape {
  int64_t out_channels, in_channels, kernel_h, kernel_w;
  int64_t count() const { return out_channels * in_channels * kernel_h * kernel_w; }
};

// The prepared form of the weight (shape.count() floats), built with make() on a miss; `bytes` of
// make()'s result count against the bound.
std::shared_ptr<const void> cached_weights_untyped(const float* weight, const WeightShape& shape, WeightPrep kind,
                                                   const std::function<std::shared_ptr<const void>(size_t& bytes)>& make);

template <class T, class Make>
std::shared_ptr<const T> cached_weights(const float* weight, const WeightShape& shape, WeightPrep kind, Make&& make) {
  return std::static_pointer_cast<const T>(
      cached_weights_untyped(weight, shape, kind, [&](size_t& bytes) -> std::shared_ptr<const void> {
        auto value = std::make_shared<T>(make());
        bytes = prepared_bytes(*value);
        return value;
      }));
}

// Entries currently held and their total size (tests).
struct WeightCacheStats {
  size_t entries = 0, bytes = 0;
};
WeightCacheStats weight_cache_stats();

}  // namespace vrestore::cpu
