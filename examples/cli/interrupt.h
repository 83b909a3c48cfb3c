// Ctrl-C for long restorations: the first SIGINT (or SIGTERM) only sets a flag, which the
// progress callback turns into a cancelled restore so that the output can be finished cleanly;
// a second one ends the process at once (the handler resets itself).
#pragma once

namespace vrestore::cli {

void install_interrupt_handler();
// Whether SIGINT or SIGTERM arrived since install_interrupt_handler().
bool interrupted();

// The exit code of a run ended by Ctrl-C (128 + SIGINT, as shells report it).
inline constexpr int kInterruptedExitCode = 130;

}  // namespace vrestore::cli
