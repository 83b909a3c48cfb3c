// Size arithmetic on values that come from outside (shapes, file offsets, options): every product
// and sum of sizes goes through these helpers, so that a huge value gives a "too large" error
// naming where it happened instead of wrapping around (undefined behaviour for signed integers).
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "core/check.h"

namespace vrestore {

// out = a * b; returns true (out unspecified) when the product does not fit in T.
template <typename T>
bool mul_overflows(T a, T b, T& out) {
  static_assert(std::is_integral_v<T>, "sizes are integers");
  return __builtin_mul_overflow(a, b, &out);
}

// out = a + b; returns true (out unspecified) when the sum does not fit in T.
template <typename T>
bool add_overflows(T a, T b, T& out) {
  static_assert(std::is_integral_v<T>, "sizes are integers");
  return __builtin_add_overflow(a, b, &out);
}

// a * b, or throws "<where>: size <a> * <b> is too large".
template <typename T>
T checked_mul(T a, T b, const char* where) {
  T r;
  if (mul_overflows(a, b, r)) fail(where, ": size ", +a, " * ", +b, " is too large");
  return r;
}

// a + b, or throws "<where>: size <a> + <b> is too large".
template <typename T>
T checked_add(T a, T b, const char* where) {
  T r;
  if (add_overflows(a, b, r)) fail(where, ": size ", +a, " + ", +b, " is too large");
  return r;
}

// a + b for a, b >= 0, clamped to the largest int64_t: for ends of ranges that are clamped to a
// limit right afterwards anyway (a chunk's end plus a look-ahead of "everything").
inline int64_t saturating_add(int64_t a, int64_t b) {
  int64_t r;
  return add_overflows(a, b, r) ? std::numeric_limits<int64_t>::max() : r;
}

// The smallest multiple of `multiple` (> 0) that is >= value (>= 0), or throws naming `where`.
inline int64_t round_up(int64_t value, int64_t multiple, const char* where) {
  VR_CHECK(value >= 0 && multiple > 0, where, ": cannot round ", value, " up to a multiple of ", multiple);
  return checked_add(value, (multiple - value % multiple) % multiple, where);
}

}  // namespace vrestore
