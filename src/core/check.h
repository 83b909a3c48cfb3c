// Internal helpers for building error messages and argument checks.
#pragma once

#include <sstream>
#include <string>
#include <utility>

#include "vrestore/error.h"
#include "vrestore/tensor.h"

namespace vrestore {

template <typename... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream os;
  (os << ... << std::forward<Parts>(parts));
  return os.str();
}

template <typename... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  throw Error(concat(std::forward<Parts>(parts)...));
}

// Throws "<where>: <what> has shape (..), expected (..)" unless t has exactly `expected`.
void check_shape(const char* where, const char* what, const Tensor& t, const Shape& expected);
// Throws unless t has `rank` dimensions.
void check_rank(const char* where, const char* what, const Tensor& t, int rank);

}  // namespace vrestore

#define VR_CHECK(cond, ...)                                  \
  do {                                                       \
    if (!(cond)) ::vrestore::fail(__VA_ARGS__);              \
  } while (0)
