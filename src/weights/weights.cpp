#include "weights/weights.h"

#include "core/check.h"

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
  try {
    config_ = nlohmann::json::parse(file_.meta("vrestore.config"));
  } catch (const nlohmann::json::exception& e) {
    fail("weights '", path, "': metadata vrestore.config is not valid JSON: ", e.what());
  }
  VR_CHECK(config_.is_object(), "weights '", path, "': metadata vrestore.config is not a JSON object");
}

Tensor Weights::take(const std::string& name, const Shape& shape) {
  const TensorInfo* info = file_.find(name);
  VR_CHECK(info, "weights '", file_.path(), "' (", arch_, "): tensor '", name, "' is missing");
  VR_CHECK(info->shape == shape, "weights '", file_.path(), "': tensor '", name, "' has shape ",
           shape_to_string(info->shape), ", expected ", shape_to_string(shape));
  taken_.insert(name);
  return file_.load_f32(*info);
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

int64_t Weights::config_int(const std::string& key) const {
  auto it = config_.find(key);
  VR_CHECK(it != config_.end() && it->is_number_integer(), "weights '", file_.path(), "': config '", key,
           "' is missing or not an integer");
  return it->get<int64_t>();
}

bool Weights::config_bool(const std::string& key) const {
  auto it = config_.find(key);
  VR_CHECK(it != config_.end() && it->is_boolean(), "weights '", file_.path(), "': config '", key,
           "' is missing or not a boolean");
  return it->get<bool>();
}

double Weights::config_number(const std::string& key) const {
  auto it = config_.find(key);
  VR_CHECK(it != config_.end() && it->is_number(), "weights '", file_.path(), "': config '", key,
           "' is missing or not a number");
  return it->get<double>();
}

}  // namespace vrestore
