// vrestore's one error convention: every public C++ function reports failure by throwing
// vrestore::Error (never abort/exit). The message says where it happened and what was
// got versus expected, e.g.
//   "weights 'edvr.safetensors': tensor 'conv_first.weight' has shape (64, 3, 3, 3), expected (32, 3, 3, 3)".
// The C API (vrestore_c.h) turns the same errors into status codes plus a message.
#pragma once

#include <stdexcept>
#include <string>

namespace vrestore {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace vrestore
