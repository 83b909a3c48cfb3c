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
// DeferSecondInterrupt scopes open, and whether a second signal arrived meanwhile. The handler
// and the scope's end each write their flag, then read the other's (sequentially consistent), so
// at least one of them sees both and exits: the signal is never lost.
std::atomic<int> g_defer_depth{0};
std::atomic<bool> g_exit_pending{false};
static_assert(std::atomic<int>::is_always_lock_free);

[[noreturn]] void exit_now() {
  // The writer's cleanup will not run, so do its part here.
  if (g_cleanup_ready.load(std::memory_order_acquire)) unlink(g_cleanup_path);
  _exit(kInterruptedExitCode);
}

extern "C" void on_interrupt(int) {
  if (!g_interrupted.exchange(true, std::memory_order_relaxed)) return;  // first: finish cleanly
  // Second: the user wants out now, once no file is half-written.
  g_exit_pending.store(true);
  if (g_defer_depth.load() > 0) return;
  exit_now();
}

}  // namespace

void install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // stays installed: the second signal is handled too (see on_interrupt)
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGHUP, &action, nullptr);  // the terminal went away: like Ctrl-C
  // A closed stderr (`vrestore ... 2>&1 | head`) must not kill the run mid-file: writes to it
  // then fail quietly and the output is still completed.
  signal(SIGPIPE, SIG_IGN);
}

bool interrupted() { return g_interrupted.load(std::memory_order_relaxed); }

DeferSecondInterrupt::DeferSecondInterrupt() { g_defer_depth.fetch_add(1); }

DeferSecondInterrupt::~DeferSecondInterrupt() {
  if (g_defer_depth.fetch_sub(1) == 1 && g_exit_pending.load()) exit_now();
}

void set_interrupt_cleanup_path(const std::string& path) {
  g_cleanup_ready.store(false, std::memory_order_release);
  if (path.empty() || path.size() >= sizeof g_cleanup_path) return;
  std::memcpy(g_cleanup_path, path.c_str(), path.size() + 1);
  g_cleanup_ready.store(true, std::memory_order_release);
}

}  // namespace vrestore::cli
