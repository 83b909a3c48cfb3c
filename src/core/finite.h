// Finding NaN and infinity in float data: inputs and outputs of the public API are checked so
// that a non-finite value never passes silently (see RestoreOptions::allow_non_finite_input).
#pragma once

#include <cstdint>
#include <string>

namespace vrestore {

struct NonFiniteValues {
  int64_t count = 0;   // NaN and +-Inf among the values
  int64_t first = -1;  // index of the first one, -1 when count == 0
  float first_value = 0;
};

// True when none of data[0, n) is NaN or +-Inf. Cheap (one vectorised pass over the bits), so that
// it can run on every frame.
bool all_finite(const float* data, int64_t n);

// Counts the non-finite values of data[0, n) and finds the first.
NonFiniteValues find_non_finite(const float* data, int64_t n);

// "nan", "inf" or "-inf".
std::string non_finite_name(float value);

}  // namespace vrestore
