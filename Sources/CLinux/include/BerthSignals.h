// Signals turned into bytes on a pipe, for the agent's poll(2) loop.
#ifndef BERTH_SIGNALS_H
#define BERTH_SIGNALS_H

// Installs, for each of `signals`, a handler that writes the signal number
// (one byte) to a non-blocking, close-on-exec pipe, and unblocks the signals
// in the calling thread. Returns the pipe's read end, or -1 with errno set.
//
// Here because a Swift closure cannot be a signal handler (Swift code is not
// async-signal-safe), and signalfd(2) only sees a signal that every thread
// blocks, which a multi-threaded Swift process cannot promise. The handler
// calls write(2) only. One at a time per process: berth_signal_restore
// puts back the handlers it replaced and closes the pipe's write end.
int berth_signal_pipe(const int *signals, int count);

// For each of `signals`: `handler` (SA_RESTART, nothing else blocked while
// it runs), the replaced action saved in saved[signal] when `saved` is not
// NULL, and the signal unblocked in the calling thread. Async-signal-safe
// (the shim's children call it). 0, or -1 with errno set.
struct sigaction;
int berth_set_handlers(const int *signals, int count, void (*handler)(int), struct sigaction *saved);

// Undoes berth_signal_pipe for the same `signals` (the caller closes the
// read end).
void berth_signal_restore(const int *signals, int count);

#endif
