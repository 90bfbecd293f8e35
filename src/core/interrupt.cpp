// SIGINT/SIGTERM → a lock-free flag polled by long loops (see interrupt.h for the why).
#include "lmforge/core/interrupt.h"

#include <atomic>
#include <csignal>

namespace lmforge {
namespace {

// sig_atomic_t-compatible lock-free atomic: the only thing a handler may safely touch.
std::atomic<int> g_flag{0};
bool g_installed = false;
struct sigaction g_old_int, g_old_term;

extern "C" void on_signal(int sig) {
  if (g_flag.exchange(1) != 0) {
    // Second signal: the user insists; fall back to the default action.
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}

}  // namespace

void install_interrupt_handlers() {
  g_flag.store(0);
  if (g_installed) return;
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // interrupted fread/fwrite resume instead of failing with EINTR
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
  g_installed = true;
}

void restore_interrupt_handlers() {
  if (!g_installed) return;
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  g_installed = false;
}

bool interrupt_requested() {
  return g_flag.load(std::memory_order_relaxed) != 0;
}
void request_interrupt() {
  g_flag.store(1);
}
void clear_interrupt() {
  g_flag.store(0);
}

}  // namespace lmforge
