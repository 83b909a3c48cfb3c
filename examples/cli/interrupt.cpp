#include "cli/interrupt.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>

namespace vrestore::cli {
namespace {

// Only a lock-free atomic may be written from a signal handler.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

// The handler may only read plain memory and call async-signal-safe functions (unlink, _exit), so
// the cleanup path lives in a fixed buffer; g_cleanup_ready says whether it is complete.
char g_cleanup_path[4096];
std::atomic<bool> g_cleanup_ready{false};

extern "C" void on_interrupt(int) {
  if (!g_interrupted.exchange(true, std::memory_order_relaxed)) return;  // first: finish cleanly
  // Second: the user wants out now; the writer's cleanup will not run, so do its part here.
  if (g_cleanup_ready.load(std::memory_order_acquire)) unlink(g_cleanup_path);
  _exit(kInterruptedExitCode);
}

}  // namespace

void install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // stays installed: the second signal is handled too (see on_interrupt)
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool interrupted() { return g_interrupted.load(std::memory_order_relaxed); }

void set_interrupt_cleanup_path(const std::string& path) {
  g_cleanup_ready.store(false, std::memory_order_release);
  if (path.empty() || path.size() >= sizeof g_cleanup_path) return;
  std::memcpy(g_cleanup_path, path.c_str(), path.size() + 1);
  g_cleanup_ready.store(true, std::memory_order_release);
}

}  // namespace vrestore::cli
