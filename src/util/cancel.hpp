// Interruptions: SIGINT and SIGTERM stop new work instead of killing the process, so a run
// can remove its temp directories, keep what it finished and say so (issue 7 B5).
//
// The handler is async-signal-safe: it stores the signal number in a lock-free atomic and
// restores the default disposition of both signals, so a second Ctrl-C kills at once.
// Work loops poll cancelled(): the step executor starts no new step, libcurl's progress
// callback aborts running transfers (at least once a second), retries are not attempted.
#pragma once

namespace lb::cancel {

/// Install the SIGINT/SIGTERM handlers (idempotent). Call once, early in main.
void install_handlers();
/// True once SIGINT or SIGTERM arrived (or request() was called).
bool cancelled();
/// The signal that cancelled the run, 0 when none.
int signal_number();
/// The conventional exit status of a run stopped by that signal: 128 + signal (130 for
/// SIGINT, 143 for SIGTERM); 1 when request() was called without a signal.
int exit_code();
/// Cancel from code (tests, or a fatal condition that must stop every worker): `sig` is
/// recorded as if delivered (0: no signal).
void request(int sig = 0);
/// Forget a cancellation (tests only).
void reset();

}  // namespace lb::cancel
