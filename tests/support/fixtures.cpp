#include "support/fixtures.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "core/check.h"
#include "weights/safetensors.h"

namespace vrestore::test {

std::string fixtures_dir() {
  if (const char* env = std::getenv("VRESTORE_FIXTURES")) return env;
  return std::string(VRESTORE_SOURCE_DIR) + "/../shared/fixtures";
}

std::string scratch_dir() {
  std::string dir = std::string(VRESTORE_BINARY_DIR) + "/test_scratch";
  std::filesystem::create_directories(dir);
  return dir;
}

std::map<std::string, Tensor> load_fixture(const std::string& relative_path) {
  return load_safetensors(fixtures_dir() + "/" + relative_path);
}

Diff compare(const Tensor& a, const Tensor& b, double atol, double rtol) {
  VR_CHECK(a.shape() == b.shape(), "compare: got shape ", a.shape_str(), ", expected ", b.shape_str());
  Diff d;
  d.max_excess = -INFINITY;
  for (int64_t i = 0; i < a.numel(); ++i) {
    double ref = b.data()[i];
    double e = std::fabs(static_cast<double>(a.data()[i]) - ref);
    if (std::isnan(e)) e = INFINITY;
    d.max_abs = std::max(d.max_abs, e);
    d.max_excess = std::max(d.max_excess, e - (atol + rtol * std::fabs(ref)));
    d.ref_abs_max = std::max(d.ref_abs_max, std::fabs(ref));
  }
  return d;
}

}  // namespace vrestore::test

#include "support/models.h"

namespace vrestore::test {

std::string converted_weights(const std::string& fixture_case) {
  std::string path = std::string(VRESTORE_BINARY_DIR) + "/test_scratch/weights/" + fixture_case + ".safetensors";
  VR_CHECK(std::filesystem::exists(path), "test: ", path,
           " does not exist; run the 'convert_fixture_weights' test first (ctest does)");
  return path;
}

}  // namespace vrestore::test
