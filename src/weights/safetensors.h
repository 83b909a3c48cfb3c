// Reading and writing the safetensors format (https://huggingface.co/docs/safetensors):
// 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
// optional "__metadata__" (string -> string), then the raw little-endian tensor bytes.
// The reader memory-maps the file while it is open and validates everything before any tensor is
// touched: the header must be exactly one JSON object without duplicate keys (nothing but space
// padding after it), metadata values strings, offsets inside the data section and not overlapping.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vrestore/tensor.h"

namespace vrestore {

// Element types a safetensors file may declare (Tensor has its own DType: F32 and F16 only).
enum class FileDType { F32, F16, BF16, F64, I64, I32 };
const char* dtype_name(FileDType d);
size_t dtype_size(FileDType d);

struct TensorInfo {
  std::string name;
  FileDType dtype;
  Shape shape;     // may be empty for a scalar
  uint64_t begin;  // byte offsets relative to the data section
  uint64_t end;
};

class SafeTensorsFile {
 public:
  // Maps and validates `path`; throws vrestore::Error naming the file and the problem.
  static SafeTensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  // Tensors in file order (sorted by offset).
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // nullptr when absent.
  const TensorInfo* find(const std::string& name) const;
  // Metadata value or throws naming the missing key.
  const std::string& meta(const std::string& key) const;

  // The tensor as float32, always a copy in its own memory (never a view of the mapping, so it
  // stays valid when the file is closed, replaced or truncated); F16/BF16/F64 are converted.
  // Integer dtypes are rejected.
  Tensor load_f32(const TensorInfo& info) const;
  // Raw bytes of a tensor inside the mapping.
  const uint8_t* bytes(const TensorInfo& info) const;

 private:
  std::string path_;
  std::shared_ptr<const uint8_t> mapping_;  // whole file
  uint64_t data_start_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Writes float32 tensors (in the given order) with optional metadata. The file is written to a
// temporary file in the same folder and renamed over `path` at the end, so `path` is either left
// as it was (on any error; the temporary file is removed) or replaced whole. Names must be unique.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads every tensor of a file into memory as float32 (for tests and tools).
std::map<std::string, Tensor> load_safetensors(const std::string& path);

}  // namespace vrestore
