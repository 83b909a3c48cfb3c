// Test helpers for model cases: converted fixture weights (made by tests/convert_fixtures.sh).
#pragma once

#include <string>

namespace vrestore::test {

// <build>/test_scratch/weights/<case>.safetensors
std::string converted_weights(const std::string& fixture_case);

}  // namespace vrestore::test
