// A model's parameters, taken one by one by name and shape from a converted safetensors file.
// Loading is strict in both directions: a missing or mis-shaped tensor fails at take(), and
// finish() fails if the file holds tensors the model never took.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "weights/safetensors.h"

namespace vrestore {

class Weights {
 public:
  explicit Weights(SafeTensorsFile file);
  static Weights open(const std::string& path) { return Weights(SafeTensorsFile::open(path)); }

  const SafeTensorsFile& file() const { return file_; }
  const std::string& arch() const { return arch_; }          // "basicsr.EDVR", ...
  const nlohmann::json& config() const { return config_; }   // upstream constructor arguments

  // The tensor `name`, which must have exactly `shape`.
  Tensor take(const std::string& name, const Shape& shape);
  bool contains(const std::string& name) const { return file_.find(name) != nullptr; }
  // Throws naming the tensors that were never taken.
  void finish() const;

  // Config accessors. Errors name the file and the key, say what was found and what was expected,
  // e.g. "weights 'w.safetensors': config 'center_frame_idx' is the string \"two\", expected an
  // integer". Integers must lie in [min, max].
  int64_t config_int(const std::string& key, int64_t min = std::numeric_limits<int64_t>::min(),
                     int64_t max = std::numeric_limits<int64_t>::max()) const;
  // An integer in [min, max], or nullopt when the key is absent or null (upstream's "None").
  std::optional<int64_t> config_optional_int(const std::string& key, int64_t min, int64_t max) const;
  bool config_bool(const std::string& key) const;
  // A finite number (integer or not).
  double config_number(const std::string& key) const;

 private:
  SafeTensorsFile file_;
  std::string arch_;
  nlohmann::json config_;
  std::set<std::string> taken_;
};

// Supported file format version (metadata "vrestore.format_version").
inline constexpr const char* kWeightsFormatVersion = "1";

}  // namespace vrestore
