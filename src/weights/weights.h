// A model's parameters, taken one by one by name and shape from a converted safetensors file.
// Loading is strict in both directions: a missing or mis-shaped tensor fails at take(), and
// finish() fails if the file holds tensors the model never took.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

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

  // The tensor `name`, which must have exactly `shape`, on the placement device in the placement
  // dtype (f32 while a KeepF32 is alive).
  Tensor take(const std::string& name, const Shape& shape);

  // Where take() puts tensors: the model's device and precision (CPU f32 by default). A CUDA upload
  // runs on the current execution, i.e. into the model's memory pool when loading inside its scope.
  void place(Device device, DType dtype);
  Device device() const { return device_; }
  DType dtype() const { return dtype_; }

  // While alive, take() keeps weights in f32: layers whose outputs stay f32 in an f16 model
  // (SpyNet's flows, the offset/mask convs of deformable convolutions) load under one.
  class KeepF32 {
   public:
    explicit KeepF32(Weights& w) : w_(w) { ++w_.keep_f32_; }
    ~KeepF32() { --w_.keep_f32_; }
    KeepF32(const KeepF32&) = delete;
    KeepF32& operator=(const KeepF32&) = delete;

   private:
    Weights& w_;
  };
  // An integer tensor (I64 or I32) that must have exactly `shape`, as host values in row-major
  // order: index buffers such as VRT's relative_position_index, which models check, not compute with.
  std::vector<int64_t> take_indices(const std::string& name, const Shape& shape);
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
  Device device_ = Device::CPU;
  DType dtype_ = DType::F32;
  int keep_f32_ = 0;
};

// Supported file format version (metadata "vrestore.format_version").
inline constexpr const char* kWeightsFormatVersion = "1";

}  // namespace vrestore
