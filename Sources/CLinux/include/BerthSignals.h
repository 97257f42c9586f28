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
// calls write(2) only. Call it once per process; the handlers stay installed.
int berth_signal_pipe(const int *signals, int count);

#endif
