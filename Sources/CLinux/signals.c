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

// The handlers berth_signal_pipe replaced, by signal number.
static struct sigaction berth_signal_saved[NSIG];

int berth_set_handlers(const int *signals, int count, void (*handler)(int), struct sigaction *saved) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigset_t unblock;
    sigemptyset(&unblock);
    for (int index = 0; index < count; index++) {
        if (signals[index] <= 0 || signals[index] >= NSIG) {
            errno = EINVAL;
            return -1;
        }
        if (sigaction(signals[index], &action, saved ? &saved[signals[index]] : NULL) != 0) return -1;
        sigaddset(&unblock, signals[index]);
    }
    return pthread_sigmask(SIG_UNBLOCK, &unblock, NULL) == 0 ? 0 : -1;
}

int berth_signal_pipe(const int *signals, int count) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    berth_signal_write_fd = fds[1];
    if (berth_set_handlers(signals, count, berth_signal_handler, berth_signal_saved) != 0) return -1;
    return fds[0];
}

void berth_signal_restore(const int *signals, int count) {
    for (int index = 0; index < count; index++) {
        if (signals[index] > 0 && signals[index] < NSIG) sigaction(signals[index], &berth_signal_saved[signals[index]], NULL);
    }
    int fd = berth_signal_write_fd;
    berth_signal_write_fd = -1;
    if (fd >= 0) close(fd);
}
