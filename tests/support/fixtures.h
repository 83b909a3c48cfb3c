// Test helpers: where the golden fixtures live and how outputs are compared with them.
#pragma once

#include <map>
#include <string>

#include "vrestore/tensor.h"

namespace vrestore::test {

// $VRESTORE_FIXTURES, else <repo>/../shared/fixtures.
std::string fixtures_dir();
// Directory for files the tests write (converted weights, outputs); created on demand.
std::string scratch_dir();

// All tensors of a fixture safetensors file, as float32.
std::map<std::string, Tensor> load_fixture(const std::string& relative_path);

struct Diff {
  double max_abs = 0;        // max |a - b|
  double max_excess = 0;     // max (|a - b| - (atol + rtol*|b|)); <= 0 means within tolerance
  double ref_abs_max = 0;
};
// Compares same-shaped tensors (b is the reference); throws on a shape mismatch.
Diff compare(const Tensor& a, const Tensor& b, double atol = 0, double rtol = 0);

}  // namespace vrestore::test
