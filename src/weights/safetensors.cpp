#include "weights/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/check.h"
#include "core/checked_math.h"
#include "weights/strict_json.h"

namespace vrestore {
namespace {

using json = nlohmann::json;

// A header larger than this is not a weights file (the biggest real headers are ~200 KB).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
// Elements of one tensor.
constexpr uint64_t kMaxElements = 1ull << 40;

FileDType parse_dtype(const std::string& file, const std::string& name, const std::string& s) {
  if (s == "F32") return FileDType::F32;
  if (s == "F16") return FileDType::F16;
  if (s == "BF16") return FileDType::BF16;
  if (s == "F64") return FileDType::F64;
  if (s == "I64") return FileDType::I64;
  if (s == "I32") return FileDType::I32;
  fail("safetensors '", file, "': tensor '", name, "' has unsupported dtype '", s,
       "', expected one of F32, F16, BF16, F64, I64, I32");
}

float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400u)) { mant <<= 1; --exp; }
      bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// torch.save writes a zip archive (PK\3\4) since PyTorch 1.6, a bare pickle (0x80, protocol 2..5)
// before. Only asked once the first 8 bytes failed as a header length, since a real safetensors
// header length may start with these bytes too. `start` holds at least 8 bytes.
bool looks_like_pytorch_checkpoint(const uint8_t* start) {
  const bool zip = start[0] == 'P' && start[1] == 'K' && start[2] == 3 && start[3] == 4;
  const bool pickle = start[0] == 0x80 && start[1] >= 2 && start[1] <= 5;
  return zip || pickle;
}

std::shared_ptr<const uint8_t> map_file(const std::string& path, uint64_t& size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("safetensors '", path, "': cannot open: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("safetensors '", path, "': not a regular file");
  }
  size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail("safetensors '", path, "': file is ", size, " bytes, too short for the 8-byte header length");
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) fail("safetensors '", path, "': mmap failed: ", std::strerror(errno));
  return std::shared_ptr<const uint8_t>(static_cast<const uint8_t*>(p),
                                        [size](const uint8_t* q) { ::munmap(const_cast<uint8_t*>(q), size); });
}

// Writes all of data or throws.
void write_all(int fd, const void* data, size_t size, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, std::min<size_t>(size, size_t{1} << 30));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("safetensors '", path, "': write failed: ", std::strerror(errno));
    p += n;
    size -= static_cast<size_t>(n);
  }
}

// A new file next to `path` (same directory, so that rename() is atomic), created exclusively.
int create_temporary(const std::string& path, std::string& temp_path) {
  static std::atomic<unsigned> counter{0};
  for (int attempt = 0; attempt < 100; ++attempt) {
    temp_path = concat(path, ".tmp-", ::getpid(), "-", counter++);
    int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST) fail("safetensors '", path, "': cannot open for writing: ", std::strerror(errno));
  }
  fail("safetensors '", path, "': cannot create a temporary file next to it");
}

}  // namespace

const char* dtype_name(FileDType d) {
  switch (d) {
    case FileDType::F32: return "F32";
    case FileDType::F16: return "F16";
    case FileDType::BF16: return "BF16";
    case FileDType::F64: return "F64";
    case FileDType::I64: return "I64";
    case FileDType::I32: return "I32";
  }
  return "?";
}

size_t dtype_size(FileDType d) {
  switch (d) {
    case FileDType::F16:
    case FileDType::BF16: return 2;
    case FileDType::F32:
    case FileDType::I32: return 4;
    case FileDType::F64:
    case FileDType::I64: return 8;
  }
  return 0;
}

SafeTensorsFile SafeTensorsFile::open(const std::string& path) {
  SafeTensorsFile f;
  f.path_ = path;
  uint64_t file_size = 0;
  f.mapping_ = map_file(path, file_size);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | f.mapping_.get()[i];
  if (header_len > kMaxHeaderBytes || header_len > file_size - 8) {
    // The usual mistake is passing the PyTorch checkpoint itself; a huge "header length" says nothing.
    if (looks_like_pytorch_checkpoint(f.mapping_.get()))
      fail("'", path, "' looks like a PyTorch checkpoint (.pth), not a safetensors file: convert it first with "
           "weights_converter/convert.py (or vrestore-convert)");
    fail("safetensors '", path, "': header length ", header_len, " exceeds the file (", file_size, " bytes)");
  }
  f.data_start_ = 8 + header_len;
  const uint64_t data_size = file_size - f.data_start_;

  const char* header_text = reinterpret_cast<const char*>(f.mapping_.get() + 8);
  const json header = parse_strict_json(header_text, header_text + header_len, concat("safetensors '", path, "': header"));
  VR_CHECK(header.is_object(), "safetensors '", path, "': header is a JSON ", header.type_name(),
           ", expected an object");

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      VR_CHECK(v.is_object(), "safetensors '", path, "': __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        VR_CHECK(m.value().is_string(), "safetensors '", path, "': metadata '", m.key(), "' is not a string");
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    VR_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets") &&
                 v["dtype"].is_string() && v["shape"].is_array() && v["data_offsets"].is_array() &&
                 v["data_offsets"].size() == 2,
             "safetensors '", path, "': entry '", name, "' needs dtype, shape and two data_offsets");
    TensorInfo info;
    info.name = name;
    info.dtype = parse_dtype(path, name, v["dtype"].get<std::string>());
    VR_CHECK(v["shape"].size() <= 8, "safetensors '", path, "': tensor '", name, "' has ", v["shape"].size(),
             " dimensions, expected at most 8");
    uint64_t count = 1;
    for (const json& d : v["shape"]) {
      VR_CHECK(d.is_number_unsigned(), "safetensors '", path, "': tensor '", name, "' has shape entry ", d.dump(),
               ", expected a non-negative integer");
      const uint64_t n = d.get<uint64_t>();
      // 2^40 elements (4 TiB of F32) is beyond any weights file; the bound keeps every later
      // byte count and offset computation far from overflow.
      VR_CHECK(n <= kMaxElements && !mul_overflows(count, n, count) && count <= kMaxElements, "safetensors '", path,
               "': tensor '", name, "' is too large (more than ", kMaxElements, " elements)");
      info.shape.push_back(static_cast<int64_t>(n));
    }
    const json& off = v["data_offsets"];
    VR_CHECK(off[0].is_number_unsigned() && off[1].is_number_unsigned(), "safetensors '", path, "': tensor '",
             name, "' has non-integer data_offsets");
    info.begin = off[0].get<uint64_t>();
    info.end = off[1].get<uint64_t>();
    VR_CHECK(info.begin <= info.end && info.end <= data_size, "safetensors '", path, "': tensor '", name,
             "' data_offsets [", info.begin, ", ", info.end, ") lie outside the data section of ", data_size,
             " bytes");
    const uint64_t expected_bytes = checked_mul<uint64_t>(count, dtype_size(info.dtype), "safetensors");
    VR_CHECK(info.end - info.begin == expected_bytes, "safetensors '", path, "': tensor '", name, "' has ",
             info.end - info.begin, " bytes, expected ", expected_bytes, " for ", dtype_name(info.dtype), " ",
             shape_to_string(info.shape));
    f.tensors_.push_back(std::move(info));
  }

  std::sort(f.tensors_.begin(), f.tensors_.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < f.tensors_.size(); ++i) {
    const TensorInfo& a = f.tensors_[i - 1];
    const TensorInfo& b = f.tensors_[i];
    VR_CHECK(b.begin >= a.end || a.begin == a.end || b.begin == b.end, "safetensors '", path, "': tensors '",
             a.name, "' [", a.begin, ", ", a.end, ") and '", b.name, "' [", b.begin, ", ", b.end, ") overlap");
  }
  return f;
}

const TensorInfo* SafeTensorsFile::find(const std::string& name) const {
  for (const TensorInfo& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

const std::string& SafeTensorsFile::meta(const std::string& key) const {
  auto it = metadata_.find(key);
  VR_CHECK(it != metadata_.end(), "safetensors '", path_, "': metadata '", key, "' is missing");
  return it->second;
}

const uint8_t* SafeTensorsFile::bytes(const TensorInfo& info) const {
  return mapping_.get() + data_start_ + info.begin;
}

Tensor SafeTensorsFile::load_f32(const TensorInfo& info) const {
  Shape shape = info.shape.empty() ? Shape{1} : info.shape;
  const uint8_t* src = bytes(info);
  VR_CHECK(shape.size() <= static_cast<size_t>(Tensor::kMaxDims), "safetensors '", path_, "': tensor '",
           info.name, "' has ", shape.size(), " dimensions, at most ", Tensor::kMaxDims, " are supported");
  // open() bounded the element count to kMaxElements, so this product cannot overflow.
  const int64_t n = static_cast<int64_t>((info.end - info.begin) / dtype_size(info.dtype));
  switch (info.dtype) {
    case FileDType::F32: {
      // Always a copy: a tensor never refers to the mapping, so nothing depends on the file once
      // it is closed (a loaded model survives the file being replaced or truncated in place).
      Tensor t = Tensor::empty(shape);
      std::memcpy(t.data(), src, static_cast<size_t>(n) * 4);
      return t;
    }
    case FileDType::F16: {
      Tensor t = Tensor::empty(shape);
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        t.data()[i] = half_to_float(h);
      }
      return t;
    }
    case FileDType::BF16: {
      Tensor t = Tensor::empty(shape);
      for (int64_t i = 0; i < n; ++i) {
        uint32_t bits = 0;
        std::memcpy(reinterpret_cast<uint8_t*>(&bits) + 2, src + 2 * i, 2);
        std::memcpy(&t.data()[i], &bits, 4);
      }
      return t;
    }
    case FileDType::F64: {
      Tensor t = Tensor::empty(shape);
      for (int64_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, src + 8 * i, 8);
        t.data()[i] = static_cast<float>(d);
      }
      return t;
    }
    default:
      fail("safetensors '", path_, "': tensor '", info.name, "' has dtype ", dtype_name(info.dtype),
           ", expected a floating-point dtype");
  }
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    VR_CHECK(t.defined(), "safetensors '", path, "': tensor '", name, "' is empty");
    VR_CHECK(name != "__metadata__", "safetensors '", path, "': tensor name '__metadata__' is reserved");
    VR_CHECK(!header.contains(name), "safetensors '", path, "': tensor name '", name, "' is given twice");
    const uint64_t bytes = checked_mul<uint64_t>(static_cast<uint64_t>(t.numel()), 4, "safetensors");
    const uint64_t end = checked_add(offset, bytes, "safetensors");
    header[name] = {{"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    fail("safetensors '", path, "': a tensor name or metadata entry is not valid UTF-8: ", e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned

  // Written to a temporary file beside `path` and renamed over it at the end: a reader never sees
  // a half-written file, a failed write leaves an existing file untouched, and a file that is
  // still mapped by a reader (such as `path` itself) keeps its old contents.
  std::string temp_path;
  const int fd = create_temporary(path, temp_path);
  try {
    const uint64_t n = text.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xff);
    write_all(fd, len, 8, path);
    write_all(fd, text.data(), text.size(), path);
    for (const auto& entry : tensors)
      write_all(fd, entry.second.data(), static_cast<size_t>(entry.second.numel()) * 4, path);
    if (::fsync(fd) != 0) fail("safetensors '", path, "': fsync failed: ", std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(temp_path.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(temp_path.c_str());
    fail("safetensors '", path, "': write failed: ", std::strerror(e));
  }
  if (::rename(temp_path.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(temp_path.c_str());
    fail("safetensors '", path, "': cannot replace it: ", std::strerror(e));
  }
}

std::map<std::string, Tensor> load_safetensors(const std::string& path) {
  SafeTensorsFile f = SafeTensorsFile::open(path);
  std::map<std::string, Tensor> out;
  for (const TensorInfo& info : f.tensors()) out[info.name] = f.load_f32(info);  // copies
  return out;
}

}  // namespace vrestore
