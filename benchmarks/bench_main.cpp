// Google Benchmark's main, plus the OpenMP thread count in the run's context (set it with
// OMP_NUM_THREADS; the library parallelises with OpenMP).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <string>

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
