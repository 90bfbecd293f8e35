// Cooperative interruption for long work (Ctrl-C / SIGTERM): the signal handler only sets a flag;
// loops poll interrupt_requested() at safe points (the trainer: after a whole optimizer step) and
// then save and return normally. A second signal while the flag is set restores the default
// action and re-raises it, so a stuck process can still be killed with a second Ctrl-C.
// The flag is the one piece of process-global state lmforge has: a signal handler cannot be
// handed a context object.
// Not here: timeouts or cancellation tokens for threads.
#pragma once

namespace lmforge {

// Installs the SIGINT and SIGTERM handlers (idempotent) and clears the flag.
void install_interrupt_handlers();
// Restores the handlers that were active before install_interrupt_handlers().
void restore_interrupt_handlers();
// True once SIGINT/SIGTERM arrived (or request_interrupt() was called) since the last clear.
bool interrupt_requested();
// Sets the flag as a signal would (tests, time budgets).
void request_interrupt();
void clear_interrupt();

}  // namespace lmforge
