// Catch2 checks of an op's output against a reference tensor, shared by the CPU op test files.
#pragma once

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "support/fixtures.h"

namespace vrestore::test {

// The upstream op fixtures' acceptance (fixtures README, VRT section): max |diff| <= 1e-5 on values
// of order 1.
inline constexpr double kFixtureMaxAbs = 1e-5;
// A CPU op against its reference (docs/design.md, docs/adding_an_op.md).
inline constexpr double kOpAtol = 1e-5, kOpRtol = 1e-4;

// Prints the difference and checks max |got - want| <= max_abs.
inline void check_fixture(const std::string& what, const Tensor& got, const Tensor& want,
                          double max_abs = kFixtureMaxAbs) {
  const Diff d = compare(got, want);
  std::printf("  %-44s max|diff| = %.3g (max|ref| = %.3g)\n", what.c_str(), d.max_abs, d.ref_abs_max);
  INFO(what << ": max |diff| = " << d.max_abs);
  CHECK(d.max_abs <= max_abs);
}

// Prints the difference and checks |got - want| <= atol + rtol * |want| element-wise.
inline void check_close(const std::string& what, const Tensor& got, const Tensor& want, double atol = kOpAtol,
                        double rtol = kOpRtol) {
  const Diff d = compare(got, want, atol, rtol);
  std::printf("  %-44s max|diff| = %.3g (max|ref| = %.3g)\n", what.c_str(), d.max_abs, d.ref_abs_max);
  INFO(what << ": max |diff| = " << d.max_abs << ", worst excess over tolerance = " << d.max_excess);
  CHECK(d.max_excess <= 0.0);
}

}  // namespace vrestore::test
