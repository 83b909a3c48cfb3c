#include "weights/weights.h"

#include <cmath>
#include <cstring>

#include "core/check.h"
#include "weights/strict_json.h"

namespace vrestore {

Weights::Weights(SafeTensorsFile file) : file_(std::move(file)) {
  const std::string& path = file_.path();
  const auto& meta = file_.metadata();
  auto version = meta.find("vrestore.format_version");
  VR_CHECK(version != meta.end(), "weights '", path,
           "': no vrestore metadata; convert the checkpoint with weights_converter/convert.py");
  VR_CHECK(version->second == kWeightsFormatVersion, "weights '", path, "': format version ", version->second,
           ", expected ", kWeightsFormatVersion);
  arch_ = file_.meta("vrestore.arch");
  const std::string& config_text = file_.meta("vrestore.config");
  config_ = parse_strict_json(config_text.data(), config_text.data() + config_text.size(),
                              concat("weights '", path, "': metadata vrestore.config"));
  VR_CHECK(config_.is_object(), "weights '", path, "': metadata vrestore.config is a JSON ", config_.type_name(),
           ", expected an object");
}

Tensor Weights::take(const std::string& name, const Shape& shape) {
  const TensorInfo* info = file_.find(name);
  VR_CHECK(info, "weights '", file_.path(), "' (", arch_, "): tensor '", name, "' is missing");
  VR_CHECK(info->shape == shape, "weights '", file_.path(), "': tensor '", name, "' has shape ",
           shape_to_string(info->shape), ", expected ", shape_to_string(shape));
  taken_.insert(name);
  return file_.load_f32(*info).to(device_, keep_f32_ ? DType::F32 : dtype_);
}

std::vector<int64_t> Weights::take_indices(const std::string& name, const Shape& shape) {
  const TensorInfo* info = file_.find(name);
  VR_CHECK(info, "weights '", file_.path(), "' (", arch_, "): tensor '", name, "' is missing");
  VR_CHECK(info->shape == shape, "weights '", file_.path(), "': tensor '", name, "' has shape ",
           shape_to_string(info->shape), ", expected ", shape_to_string(shape));
  VR_CHECK(info->dtype == FileDType::I64 || info->dtype == FileDType::I32, "weights '", file_.path(),
           "': tensor '", name, "' is ", dtype_name(info->dtype), ", expected integer indices (I64 or I32)");
  const size_t count = static_cast<size_t>(info->end - info->begin) / dtype_size(info->dtype);
  std::vector<int64_t> values(count);
  const uint8_t* bytes = file_.bytes(*info);
  for (size_t i = 0; i < count; ++i) {
    if (info->dtype == FileDType::I64) {
      std::memcpy(&values[i], bytes + 8 * i, 8);
    } else {
      int32_t v;
      std::memcpy(&v, bytes + 4 * i, 4);
      values[i] = v;
    }
  }
  taken_.insert(name);
  return values;
}

void Weights::place(Device device, DType dtype) {
  VR_CHECK(device == Device::CUDA || dtype == DType::F32, "weights '", file_.path(), "': precision ",
           dtype_name(dtype), " on ", device_name(device), "; the CPU computes in f32");
  device_ = device;
  dtype_ = dtype;
}

void Weights::finish() const {
  std::string unused;
  size_t count = 0;
  for (const TensorInfo& t : file_.tensors()) {
    if (taken_.count(t.name)) continue;
    if (count++ < 5) unused += (unused.empty() ? "'" : ", '") + t.name + "'";
  }
  VR_CHECK(count == 0, "weights '", file_.path(), "' (", arch_, "): ", count, " tensor(s) not used by the model: ",
           unused, count > 5 ? ", ..." : "");
}

namespace {

// "the string \"two\"", "the number 2.5", "null", ... for error messages.
std::string describe(const nlohmann::json& v) {
  std::string text = v.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  if (v.is_null()) return "null";
  return concat("the ", v.is_number() ? "number" : v.type_name(), " ", text);
}

}  // namespace

std::optional<int64_t> Weights::config_optional_int(const std::string& key, int64_t min, int64_t max) const {
  auto it = config_.find(key);
  if (it == config_.end() || it->is_null()) return std::nullopt;
  const std::string where = concat("weights '", file_.path(), "': config '", key, "'");
  VR_CHECK(it->is_number_integer(), where, " is ", describe(*it), ", expected an integer");
  // An unsigned value above INT64_MAX would wrap in get<int64_t>(); compare it unsigned first.
  const bool too_big = it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(max);
  const int64_t value = too_big ? max : it->get<int64_t>();
  VR_CHECK(!too_big && value >= min && value <= max, where, " is ", it->dump(), ", expected an integer from ",
           min, " to ", max);
  return value;
}

int64_t Weights::config_int(const std::string& key, int64_t min, int64_t max) const {
  std::optional<int64_t> v = config_optional_int(key, min, max);
  VR_CHECK(v.has_value(), "weights '", file_.path(), "': config '", key, "' is ",
           config_.contains(key) ? "null" : "missing", ", expected an integer");
  return *v;
}

bool Weights::config_bool(const std::string& key) const {
  auto it = config_.find(key);
  VR_CHECK(it != config_.end(), "weights '", file_.path(), "': config '", key, "' is missing, expected a boolean");
  VR_CHECK(it->is_boolean(), "weights '", file_.path(), "': config '", key, "' is ", describe(*it),
           ", expected a boolean");
  return it->get<bool>();
}

double Weights::config_number(const std::string& key) const {
  auto it = config_.find(key);
  VR_CHECK(it != config_.end(), "weights '", file_.path(), "': config '", key, "' is missing, expected a number");
  VR_CHECK(it->is_number(), "weights '", file_.path(), "': config '", key, "' is ", describe(*it),
           ", expected a number");
  const double v = it->get<double>();
  VR_CHECK(std::isfinite(v), "weights '", file_.path(), "': config '", key, "' is ", v, ", expected a finite number");
  return v;
}

}  // namespace vrestore
