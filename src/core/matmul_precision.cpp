#include "core/matmul_precision.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/check.h"

namespace vrestore {
namespace {

constexpr const char* kPrecisionVariable = "VRESTORE_FLOAT32_MATMUL_PRECISION";
constexpr int kUnset = -1;

std::atomic<int> g_precision{kUnset};
thread_local bool t_highest_only = false;

MatmulPrecision from_environment() {
  const char* value = std::getenv(kPrecisionVariable);
  if (value == nullptr || *value == '\0' || std::strcmp(value, "highest") == 0) return MatmulPrecision::Highest;
  if (std::strcmp(value, "high") == 0) return MatmulPrecision::High;
  fail(kPrecisionVariable, " is \"", value, "\", expected highest or high (or unset for highest)");
}

}  // namespace

void set_float32_matmul_precision(MatmulPrecision precision) {
  VR_CHECK(precision == MatmulPrecision::Highest || precision == MatmulPrecision::High,
           "set_float32_matmul_precision: unknown precision ", static_cast<int>(precision));
  g_precision.store(static_cast<int>(precision), std::memory_order_relaxed);
}

MatmulPrecision float32_matmul_precision() {
  const int set = g_precision.load(std::memory_order_relaxed);
  if (set != kUnset) return static_cast<MatmulPrecision>(set);
  // A throwing initialiser leaves the static uninitialised, so a bad variable fails every call.
  static const MatmulPrecision initial = from_environment();
  return initial;
}

MatmulPrecision effective_matmul_precision() {
  return t_highest_only ? MatmulPrecision::Highest : float32_matmul_precision();
}

HighestMatmulPrecision::HighestMatmulPrecision() : saved_(t_highest_only) { t_highest_only = true; }
HighestMatmulPrecision::~HighestMatmulPrecision() { t_highest_only = saved_; }

}  // namespace vrestore
