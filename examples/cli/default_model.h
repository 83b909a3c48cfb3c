// The model `vrestore restore` uses when -m is omitted: vrestore_default_x4.safetensors, the small
// x4 video super-resolution model trained by weights_converter/train_default_model.py.
#pragma once

#include <string>

namespace vrestore::cli {

inline constexpr const char* kDefaultModelName = "vrestore_default_x4.safetensors";

// The first of, in order:
//   1. $VRESTORE_DEFAULT_MODEL (when set, it must exist: a wrong path is an error, not skipped);
//   2. <directory of this executable>/../share/vrestore/models/vrestore_default_x4.safetensors
//      (where `cmake --install` puts it);
//   3. <source tree>/models/vrestore_default_x4.safetensors (compiled in; a build-tree binary).
// Throws vrestore::Error naming the places looked at and saying to pass -m when none exists.
std::string default_model_path();

}  // namespace vrestore::cli
