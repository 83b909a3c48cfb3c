#include "core/finite.h"

#include <cmath>
#include <cstring>

namespace vrestore {
namespace {

// A float is NaN or +-Inf exactly when its exponent bits are all ones. Testing the bits (rather
// than std::isfinite) keeps the test correct under -ffast-math and lets the compiler vectorise it.
constexpr uint32_t kExponentBits = 0x7f800000u;

bool is_non_finite_bits(uint32_t bits) { return (bits & kExponentBits) == kExponentBits; }

}  // namespace

bool all_finite(const float* data, int64_t n) {
  uint32_t any = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, data + i, 4);
    any |= static_cast<uint32_t>(is_non_finite_bits(bits));
  }
  return any == 0;
}

NonFiniteValues find_non_finite(const float* data, int64_t n) {
  NonFiniteValues r;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, data + i, 4);
    if (!is_non_finite_bits(bits)) continue;
    if (r.count++ == 0) {
      r.first = i;
      r.first_value = data[i];
    }
  }
  return r;
}

std::string non_finite_name(float value) {
  if (std::isnan(value)) return "nan";
  return value > 0 ? "inf" : "-inf";
}

}  // namespace vrestore
