// Catch2 runner of the emulated kernel tests; reports the schedule and the emulator's work.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "cuda_compat.h"

// `--schedule forward|reverse|random` (consumed here, the rest goes to Catch) overrides
// VRESTORE_EMU_SCHEDULE; ctest runs the suite once per schedule this way.
int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  for (size_t i = 1; i + 1 < args.size(); ++i) {
    if (std::string(args[i]) != "--schedule") continue;
    const std::string name = args[i + 1];
    if (name == "forward") cuemu::set_schedule(cuemu::Schedule::Forward);
    else if (name == "reverse") cuemu::set_schedule(cuemu::Schedule::Reverse);
    else if (name == "random") cuemu::set_schedule(cuemu::Schedule::Random);
    else {
      std::fprintf(stderr, "unknown schedule '%s' (forward, reverse or random)\n", name.c_str());
      return 2;
    }
    args.erase(args.begin() + long(i), args.begin() + long(i) + 2);
    break;
  }
  const auto start = std::chrono::steady_clock::now();
  const int failures = Catch::Session().run(int(args.size()), args.data());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const cuemu::Stats s = cuemu::stats();
  if (s.threads)
    std::printf("cuda emulator (%s schedule): %llu blocks, %llu threads, %llu switches in %.2f s\n",
                cuemu::schedule_name(cuemu::schedule()), (unsigned long long)s.blocks, (unsigned long long)s.threads,
                (unsigned long long)s.switches, seconds);
  return failures;
}
