#include "devices.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "gemm.h"  // kernels::create_blas_handle: a dummy handle in the emulated build

namespace vrestore::emulated_test {

ExecutionScope emulated_cuda_execution() {
  static void* const blas = [] {
    void* handle = nullptr;
    REQUIRE(kernels::create_blas_handle(&handle, 0) == cudaSuccess);
    REQUIRE(handle != nullptr);
    return handle;
  }();
  return ExecutionScope(Execution{Device::CUDA, 0, nullptr, blas});
}

void check_close(const std::string& what, const Tensor& got, const Tensor& want, const Tolerance& tol) {
  INFO(what);
  REQUIRE(got.shape() == want.shape());
  const Tensor host = got.to(Device::CPU, DType::F32);
  double worst_excess = -INFINITY, max_abs = 0;
  int64_t worst = -1;
  for (int64_t i = 0; i < host.numel(); ++i) {
    const double g = host.data()[i], w = want.data()[i];
    double excess;
    if (std::isnan(w) || std::isnan(g)) {
      excess = std::isnan(w) && std::isnan(g) ? -INFINITY : INFINITY;  // NaN only where the reference has one
    } else {
      const double d = std::fabs(g - w);
      max_abs = std::max(max_abs, d);
      excess = d - (tol.abs + tol.rel * std::fabs(w));
      if (std::isinf(w) && g == w) excess = -INFINITY;
    }
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  std::ostringstream detail;
  detail << what << ": max |diff| " << max_abs;
  if (worst >= 0)
    detail << ", worst element " << worst << ": got " << host.data()[worst] << ", want " << want.data()[worst];
  INFO(detail.str() << " (tolerance " << tol.abs << " + " << tol.rel << "|want|)");
  CHECK(worst_excess <= 0);
}

void check_devices(const std::string& what, const std::vector<Operand>& operands, const Op& op,
                   const DeviceTolerances& tol) {
  std::vector<Tensor> cpu_inputs;
  for (const Operand& o : operands) cpu_inputs.push_back(o.tensor);
  const Tensor want = op(cpu_inputs);
  REQUIRE(want.device() == Device::CPU);

  const ExecutionScope cuda = emulated_cuda_execution();
  for (const DType dtype : {DType::F32, DType::F16}) {
    const std::string run = what + " [cuda " + dtype_name(dtype) + "]";
    std::vector<Tensor> inputs;
    for (const Operand& o : operands) inputs.push_back(o.tensor.to(Device::CUDA, o.f32_only ? DType::F32 : dtype));
    const Tensor got = op(inputs);
    INFO(run << ": output is " << got.describe());
    CHECK(got.device() == Device::CUDA);
    CHECK(got.dtype() == (tol.f32_output ? DType::F32 : dtype));
    check_close(run, got, want, dtype == DType::F32 ? tol.f32 : tol.f16);
  }
}

}  // namespace vrestore::emulated_test
