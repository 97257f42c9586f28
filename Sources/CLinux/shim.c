#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

int berth_pidfd_open(pid_t pid, unsigned int flags) {
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

int berth_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

int berth_gethostname(char *buf, size_t len) {
    if (len == 0) {
        errno = EINVAL;
        return -1;
    }
    if (gethostname(buf, len) != 0) return -1;
    buf[len - 1] = '\0';
    return 0;
}

long berth_statfs_type(const char *path) {
    struct statfs buf;
    if (statfs(path, &buf) != 0) return -1;
    return (long)buf.f_type;
}

int berth_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
