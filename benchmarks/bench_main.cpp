// Google Benchmark's main, plus the OpenMP thread count (set it with OMP_NUM_THREADS; the library
// parallelises with OpenMP) and the CPU kernels' instruction-set level (VRESTORE_CPU_ISA forces
// one; src/cpu/dispatch.h) in the run's context.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <string>

#include "cpu/dispatch.h"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
  benchmark::AddCustomContext("cpu_isa", vrestore::cpu::isa_name(vrestore::cpu::active_isa()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
