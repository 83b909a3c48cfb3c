// The Catch2 runner of the test binaries.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdio>

#include "cpu/amx_bf16.h"
#include "vrestore/vrestore.h"

int main(int argc, char** argv) {
  // The fixture run at float32 matmul precision High (cpu_matmul_precision_high_fixtures in
  // tests/CMakeLists.txt) is there for the AMX bf16x3 products; without AMX it would only repeat the
  // fp32 run, so it reports itself skipped.
  if (vrestore::float32_matmul_precision() == vrestore::MatmulPrecision::High && !vrestore::cpu::amx::available()) {
    std::printf("matmul precision high: skipped, this CPU (or its OS) runs no AMX-BF16\n");
    return 0;
  }
  return Catch::Session().run(argc, argv);
}
