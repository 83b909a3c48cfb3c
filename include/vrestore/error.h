// vrestore's one error convention: every public C++ function reports failure by throwing
// vrestore::Error (never abort/exit). The message says where it happened and what was
// got versus expected, e.g.
//   "weights 'edvr.safetensors': tensor 'conv_first.weight' has shape (64, 3, 3, 3), expected (32, 3, 3, 3)".
// The C API (vrestore_c.h) turns the same errors into status codes plus a message.
#pragma once

#include <stdexcept>
#include <string>

namespace vrestore {

// What kind of failure an Error is, for callers that react differently (the C API turns it into
// its status code; the numbers match vrestore_status). The message says the rest.
enum class ErrorCode {
  Failed = 1,       // invalid argument, bad file or frame, model error, ...
  Cancelled = 2,    // a progress callback returned false, or a Stream was freed while working
  OutOfMemory = 3,  // an allocation failed
  Unsupported = 4,  // valid, but not available in this build or on this device (e.g. CUDA, f16)
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ErrorCode code = ErrorCode::Failed)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace vrestore
