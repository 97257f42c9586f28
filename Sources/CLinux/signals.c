#define _GNU_SOURCE
#include "BerthSignals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile int berth_signal_write_fd = -1;

static void berth_signal_handler(int signal) {
    int saved = errno;
    unsigned char byte = (unsigned char)signal;
    // A full pipe drops the byte: enough of that signal is already queued.
    ssize_t ignored = write(berth_signal_write_fd, &byte, 1);
    (void)ignored;
    errno = saved;
}

int berth_signal_pipe(const int *signals, int count) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    berth_signal_write_fd = fds[1];
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = berth_signal_handler;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigset_t unblock;
    sigemptyset(&unblock);
    for (int index = 0; index < count; index++) {
        if (sigaction(signals[index], &action, NULL) != 0) return -1;
        sigaddset(&unblock, signals[index]);
    }
    if (pthread_sigmask(SIG_UNBLOCK, &unblock, NULL) != 0) return -1;
    return fds[0];
}
