// Ctrl-C for long restorations: the first SIGINT (or SIGTERM, SIGHUP) only sets a flag, which the
// progress callback turns into a cancelled restore so that the output can be finished cleanly;
// a second one ends the process at once with kInterruptedExitCode, after unlinking the output's
// temporary file if one is registered (so no hidden half-written file is left behind).
#pragma once

#include <string>

namespace vrestore::cli {

// Also ignores SIGPIPE (a closed stderr pipe must not kill a run mid-file).
void install_interrupt_handler();
// Whether SIGINT or SIGTERM arrived since install_interrupt_handler().
bool interrupted();

// The file a second Ctrl-C removes before exiting (the writer's temporary file); empty: none.
// Paths longer than the handler's fixed buffer (4095 bytes) are not registered. Call from the
// main thread only; the handler reads a copy made here.
void set_interrupt_cleanup_path(const std::string& path);

// While one exists, a second Ctrl-C does not end the process at once but when the last one is
// destroyed: a file being written meanwhile (a PNG frame under its temporary name, a .safetensors
// output) is completed and renamed first, never left half-written. Keep the scope short (one
// frame, one save). Main thread only.
class DeferSecondInterrupt {
 public:
  DeferSecondInterrupt();
  ~DeferSecondInterrupt();
  DeferSecondInterrupt(const DeferSecondInterrupt&) = delete;
  DeferSecondInterrupt& operator=(const DeferSecondInterrupt&) = delete;
};

// The exit code of a run ended by Ctrl-C (128 + SIGINT, as shells report it).
inline constexpr int kInterruptedExitCode = 130;

}  // namespace vrestore::cli
