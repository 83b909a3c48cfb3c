// The run-time side of vrestore::set_float32_matmul_precision (include/vrestore/vrestore.h): the
// process-wide setting, and a per-thread scope with which a model keeps its products in fp32.
#pragma once

#include "vrestore/vrestore.h"

namespace vrestore {

// The precision the ops of this thread may use now: Highest inside a HighestMatmulPrecision scope,
// else the last set_float32_matmul_precision() value, else the environment variable
// VRESTORE_FLOAT32_MATMUL_PRECISION (highest or high, read once; anything else is a vrestore::Error
// on every call), else Highest. (Kernels read it on the calling thread, before they fan out.)
MatmulPrecision effective_matmul_precision();

// Keeps this thread's products at Highest until the scope ends, whatever the setting (scopes nest).
// For a model whose golden cases do not hold at High (VRT).
class HighestMatmulPrecision {
 public:
  HighestMatmulPrecision();
  ~HighestMatmulPrecision();
  HighestMatmulPrecision(const HighestMatmulPrecision&) = delete;
  HighestMatmulPrecision& operator=(const HighestMatmulPrecision&) = delete;

 private:
  bool saved_;
};

}  // namespace vrestore
