#include "util/cancel.hpp"

#include <signal.h>

#include <atomic>

namespace lb::cancel {

namespace {

// -1: not cancelled; otherwise the signal number (0: request() without a signal).
std::atomic<int> g_state{-1};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free flag");

void restore_default(int sig) {
  struct sigaction sa = {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  (void)::sigaction(sig, &sa, nullptr);
}

extern "C" void on_signal(int sig) {
  int expected = -1;
  (void)g_state.compare_exchange_strong(expected, sig);
  // A second signal takes the default action (terminate) at once.
  restore_default(SIGINT);
  restore_default(SIGTERM);
}

}  // namespace

void install_handlers() {
  struct sigaction sa = {};
  sa.sa_handler = &on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // code that does not poll cancelled() never sees EINTR
  for (int sig : {SIGINT, SIGTERM}) {
    struct sigaction old = {};
    // An ignored signal stays ignored (nohup, a shell's background job).
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    (void)::sigaction(sig, &sa, nullptr);
  }
}

bool cancelled() {
  return g_state.load(std::memory_order_relaxed) >= 0;
}

int signal_number() {
  int s = g_state.load(std::memory_order_relaxed);
  return s > 0 ? s : 0;
}

int exit_code() {
  int s = signal_number();
  return s > 0 ? 128 + s : 1;
}

void request(int sig) {
  int expected = -1;
  (void)g_state.compare_exchange_strong(expected, sig);
}

void reset() {
  g_state.store(-1);
}

}  // namespace lb::cancel
